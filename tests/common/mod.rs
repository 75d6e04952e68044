//! Helpers for the integration tests: a temporary home, the real binary, the real database.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of these helpers"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn db(&self) -> PathBuf {
        self.home().join("runs.sqlite")
    }

    /// Writes a pipeline file into the temp dir and returns its path.
    pub fn pipeline(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write pipeline");
        p
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ddmd-pipe"));
        c.arg("--home").arg(self.home());
        c.current_dir(self.dir.path());
        c.env_remove("DDMD_HOME");
        c.env_remove("DDMD_FAKE_GPUS");
        c.env("PYTHONPATH", repo().join("python"));
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run ddmd-pipe")
    }

    /// Read-only SQL through the real `query` command (CSV output); every value a string.
    pub fn sql(&self, sql: &str) -> Vec<Vec<String>> {
        let out = self.run(&["query", sql, "--format", "csv"]);
        assert!(
            out.status.success(),
            "query failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut rows = parse_csv(&String::from_utf8_lossy(&out.stdout));
        if !rows.is_empty() {
            rows.remove(0); // header
        }
        rows
    }

    pub fn scalar(&self, sql: &str) -> String {
        self.sql(sql)
            .first()
            .and_then(|r| r.first().cloned())
            .unwrap_or_default()
    }
}

/// Whether `pid` names a live process: a zombie (state `Z` in `/proc/<pid>/stat`, exited but
/// not yet reaped by whoever inherited it) counts as gone.
pub fn pid_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        // The state follows the command name, which is in parentheses and may hold spaces.
        .and_then(|s| Some(s[s.rfind(')')? + 1..].trim_start().starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}

pub fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// RFC 4180: quoted fields may hold commas, doubled quotes and line breaks.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Path (relative to the home) -> sha256 of the content, for every file under the home.
pub fn snapshot(home: &Path) -> std::collections::BTreeMap<PathBuf, String> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<PathBuf, String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let bytes = std::fs::read(&p).unwrap_or_default();
                let rel = p.strip_prefix(root).unwrap_or(&p).to_path_buf();
                out.insert(rel, {
                    use sha2::Digest;
                    hex::encode(sha2::Sha256::digest(&bytes))
                });
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(home, home, &mut out);
    out
}

/// The DOM of a local HTML file after headless Chromium ran its scripts (`--dump-dom`),
/// killed after 90 s. Chromium comes from Debian's package (`scripts/test` installs it).
pub fn chromium_dom(file: &Path) -> String {
    let bin = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|c| {
            Command::new("sh")
                .args(["-c", &format!("command -v {c}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("chromium is not installed (scripts/test installs it)");
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--virtual-time-budget=3000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", file.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while child.try_wait().expect("wait chromium").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    reader.join().unwrap_or_default()
}
