//! Security (issue 9, item 7), through the binary: `query` cannot write (INSERT, UPDATE,
//! DELETE, DDL, ATTACH, PRAGMA writes, VACUUM INTO, several statements, load_extension); a
//! running orchestrator holds no network socket; user strings are escaped in reports.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{text, Env};
use sha2::{Digest, Sha256};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn db_hashes(env: &Env) -> Vec<(String, String)> {
    ["runs.sqlite", "runs.sqlite-wal"]
        .iter()
        .map(|f| {
            let bytes = std::fs::read(env.home().join(f)).unwrap_or_default();
            (f.to_string(), hex::encode(Sha256::digest(&bytes)))
        })
        .collect()
}

#[test]
fn query_refuses_every_kind_of_write() {
    let env = Env::new();
    let p = env.pipeline(
        "q.yaml",
        "name: q\nstages:\n  a:\n    kind: command\n    params: { run: \"python3 -c 'import ddmd_events as e; e.metric(\\\"m\\\", 1, 0)'\" }\n",
    );
    let out = env.run(&["run", p.to_str().unwrap_or_default(), "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let attached = env.path().join("attached.sqlite");
    let vacuumed = env.path().join("vacuumed.sqlite");
    let writes = [
        "INSERT INTO metrics (run_id, seq, key, step, value) VALUES (1, 999, 'x', 0, 1)".to_string(),
        "UPDATE runs SET status = 'failed'".into(),
        "DELETE FROM metrics".into(),
        "DROP TABLE metrics".into(),
        "CREATE TABLE evil (x)".into(),
        "CREATE TEMP TABLE t (x)".into(),
        "ALTER TABLE runs ADD COLUMN evil TEXT".into(),
        "REPLACE INTO pipelines (id, name, spec_hash, spec_text, created_at) VALUES (1, 'x', '', '', 0)".into(),
        "WITH c AS (SELECT 1) INSERT INTO params (run_id, key, value) SELECT 1, 'k', 'v' FROM c".into(),
        format!("ATTACH DATABASE '{}' AS other", attached.display()),
        "PRAGMA user_version = 7".into(),
        "PRAGMA journal_mode = DELETE".into(),
        "PRAGMA writable_schema = 1".into(),
        "PRAGMA wal_checkpoint(TRUNCATE)".into(),
        "PRAGMA foreign_keys = OFF".into(),
        format!("VACUUM INTO '{}'", vacuumed.display()),
        "VACUUM".into(),
        "REINDEX".into(),
        "ANALYZE".into(),
        "SELECT 1; DELETE FROM runs".into(),
        "SELECT load_extension('/lib/x86_64-linux-gnu/libc.so.6')".into(),
        "BEGIN IMMEDIATE".into(),
    ];
    let before = db_hashes(&env);
    let user_version = env.scalar("pragma user_version");
    let mut refused = 0;
    for sql in &writes {
        let out = env.run(&["query", sql]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{sql}: {}", text(&out));
        if out.status.code() != Some(0) {
            refused += 1;
            assert!(err.contains("error:"), "{sql}: {}", text(&out));
        }
        // Refused or harmless: the database is unchanged either way.
        assert_eq!(
            before,
            db_hashes(&env),
            "{sql} changed the database: {}",
            text(&out)
        );
    }
    assert!(!attached.exists(), "ATTACH created a file");
    assert!(!vacuumed.exists(), "VACUUM INTO wrote a copy");
    assert_eq!(env.scalar("pragma user_version"), user_version);
    assert_eq!(env.scalar("select count(*) from metrics"), "1");
    assert_eq!(
        env.scalar("select count(*) from runs where status = 'succeeded'"),
        "1"
    );
    // Every statement that would write must be refused outright, not silently ignored.
    assert_eq!(refused, writes.len(), "some writes were not refused");
    eprintln!(
        "query: {} write statements tried, {refused} refused, database unchanged",
        writes.len()
    );
}

/// Inodes of the inet sockets a process holds (from its fds).
fn socket_inodes(pid: u32) -> Vec<String> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in rd.flatten() {
            if let Ok(target) = std::fs::read_link(e.path()) {
                let t = target.to_string_lossy().into_owned();
                if let Some(ino) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                    v.push(ino.to_string());
                }
            }
        }
    }
    v
}

/// (table, local address, state, inode) of every inet socket of the machine.
fn inet_sockets() -> Vec<(String, String, String, String)> {
    let mut v = Vec::new();
    for t in ["tcp", "tcp6", "udp", "udp6"] {
        let Ok(s) = std::fs::read_to_string(format!("/proc/net/{t}")) else {
            continue;
        };
        for l in s.lines().skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() > 9 {
                v.push((
                    t.to_string(),
                    f[1].to_string(),
                    f[3].to_string(),
                    f[9].to_string(),
                ));
            }
        }
    }
    v
}

#[test]
fn a_running_orchestrator_holds_no_network_socket() {
    let env = Env::new();
    let marker = env.path().join("started");
    let p = env.pipeline(
        "n.yaml",
        &format!(
            "name: n\nstages:\n  a:\n    kind: command\n    matrix: {{ i: [1, 2] }}\n    params: {{ run: \"touch {m}; sleep 2\" }}\n",
            m = marker.display()
        ),
    );
    let mut child = env
        .cmd()
        .args([
            "run",
            p.to_str().unwrap_or_default(),
            "--quiet",
            "--fake-gpus",
            "2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let t = Instant::now();
    while !marker.exists() && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(marker.exists(), "the job did not start");
    let mine = socket_inodes(child.id());
    let inet = inet_sockets();
    let held: Vec<_> = inet.iter().filter(|s| mine.contains(&s.3)).collect();
    let status = child.wait().expect("wait");
    assert!(status.success());
    // Unix sockets (none expected either) would show up in `mine` without an inet entry.
    assert!(
        held.is_empty(),
        "the orchestrator holds inet sockets: {held:?}"
    );
    eprintln!(
        "orchestrator pid {}: {} socket fds, 0 of the machine's {} inet sockets",
        child.id(),
        mine.len(),
        inet.len()
    );
}

#[test]
fn user_strings_are_escaped_in_the_report() {
    let env = Env::new();
    let p = env.pipeline(
        "x.yaml",
        r#"
name: xss
description: "<script>alert('description')</script>"
stages:
  a:
    kind: command
    matrix: { v: ["<script>alert(1)</script>", "<b>bold</b>"] }
    params:
      run: "python3 -c 'import ddmd_events as e; e.metric(\"<svg/onload=alert(2)>\", 1, 0); e.log(\"<script>alert(3)</script>\")'"
"#,
    );
    let out = env.run(&["run", p.to_str().unwrap_or_default(), "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dir = env.path().join("report");
    let out = env.run(&[
        "report",
        "--pipeline",
        "xss",
        "--out",
        dir.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // It prints the path of the report's index.html (once printed as `.../index.html/index.html`).
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        std::path::Path::new(&printed).is_file() && printed.ends_with("index.html"),
        "printed {printed:?}"
    );
    let mut html = String::new();
    let mut files = 0;
    for e in walk(&dir) {
        if e.extension()
            .map(|x| x == "html" || x == "svg")
            .unwrap_or(false)
        {
            html.push_str(&std::fs::read_to_string(&e).unwrap_or_default());
            files += 1;
        }
    }
    assert!(files > 0, "no HTML written under {}", dir.display());
    for raw in ["<script>alert", "<svg/onload", "<b>bold</b>"] {
        assert!(
            !html.contains(raw),
            "`{raw}` appears unescaped in the report"
        );
    }
    assert!(
        html.contains("&lt;b&gt;bold&lt;&#x2f;b&gt;") || html.contains("&lt;b&gt;bold&lt;/b&gt;"),
        "the matrix value is not shown (escaped) in the report"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
