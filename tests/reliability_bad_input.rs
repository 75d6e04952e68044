//! Bad input through the real binary (issue 9, item 1): every malformed pipeline of
//! `tests/bad_pipelines/` and every bad command line of `tests/bad_pipelines/args/`, through
//! both `validate` and `run`, against a home that already holds a run database.
//!
//! Each case must exit 2 with the expected message (file, line, what was expected), print no
//! panic or backtrace, leave every file of the home unchanged, and cost under a second of CPU.
//! The bound is on CPU time (from `wait4`), not wall time: the test machine runs several
//! builds at once, and loading libtorch alone takes most of a second of wall time there.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{repo, snapshot, text, Env};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    wall: Duration,
    cpu: Duration,
}

/// Runs the binary and reaps it with `wait4`, which gives this child's own CPU time even
/// while other tests run children in parallel.
#[expect(
    clippy::zombie_processes,
    reason = "reaped by wait4, which clippy cannot see"
)]
fn run_measured(env: &Env, cwd: &Path, args: &[String]) -> Ran {
    let mut cmd: Command = env.cmd();
    cmd.current_dir(cwd)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let mut child = cmd.spawn().expect("spawn ddmd-pipe");
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = so.read_to_end(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = se.read_to_end(&mut s);
        s
    });
    let mut status = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child, with valid out-pointers.
    let rc = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    assert!(rc > 0, "wait4 failed");
    let wall = t.elapsed();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let code = if libc::WIFEXITED(status) {
        Some(libc::WEXITSTATUS(status))
    } else {
        None
    };
    Ran {
        code,
        stdout: String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned(),
        wall,
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
    }
}

/// A home with a real database: the valid base pipeline, run once.
fn home_with_database() -> Env {
    let env = Env::new();
    let base = corpus().join("args").join("base.yml");
    let out = env.run(&["run", base.to_str().unwrap_or_default(), "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(env.db().exists());
    env
}

fn corpus() -> PathBuf {
    repo().join("tests").join("bad_pipelines")
}

/// Expected substrings, `{file}` replaced; a leading `RUN_ONLY` line is returned as a flag.
fn expectations(path: &Path, file: &str) -> (bool, Vec<String>) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (every case needs its .expect)", path.display()));
    let mut run_only = false;
    let mut out = Vec::new();
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        if l == "RUN_ONLY" {
            run_only = true;
        } else {
            out.push(l.replace("{file}", file));
        }
    }
    assert!(!out.is_empty(), "{}: no expectation", path.display());
    (run_only, out)
}

#[derive(Default)]
struct Tally {
    invocations: usize,
    max_wall: Duration,
    max_cpu: Duration,
}

fn check(env: &Env, cwd: &Path, case: &str, args: Vec<String>, expect: &[String], t: &mut Tally) {
    let before = snapshot(&env.home());
    let r = run_measured(env, cwd, &args);
    let what = format!(
        "case {case}: ddmd-pipe {args:?}\nexit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        r.code, r.stdout, r.stderr
    );
    assert_eq!(r.code, Some(2), "{what}");
    for e in expect {
        assert!(r.stderr.contains(e.as_str()), "missing `{e}` in {what}");
    }
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE", "stack overflow"] {
        assert!(!r.stderr.contains(bad), "`{bad}` in {what}");
    }
    assert!(!r.stdout.contains("ok:"), "{what}");
    assert_eq!(before, snapshot(&env.home()), "the home changed: {what}");
    assert!(r.cpu < Duration::from_secs(1), "{:?} of CPU: {what}", r.cpu);
    assert!(
        r.wall < Duration::from_secs(20),
        "{:?} of wall time: {what}",
        r.wall
    );
    t.invocations += 1;
    t.max_wall = t.max_wall.max(r.wall);
    t.max_cpu = t.max_cpu.max(r.cpu);
}

fn files_with(dir: &Path, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("corpus folder")
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(ext))
        .collect();
    v.sort();
    v
}

#[test]
fn every_malformed_pipeline_exits_2_with_its_message_and_changes_nothing() {
    let env = home_with_database();
    let dir = corpus();
    let cases = files_with(&dir, ".yaml");
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut t = Tally::default();
    for f in &cases {
        let (_, expect) = expectations(&dir.join(format!("{f}.expect")), f);
        for cmd in ["validate", "run"] {
            check(&env, &dir, f, vec![cmd.into(), f.clone()], &expect, &mut t);
        }
    }
    eprintln!(
        "bad pipelines: {} files, {} invocations, max wall {:?}, max CPU {:?}",
        cases.len(),
        t.invocations,
        t.max_wall,
        t.max_cpu
    );
}

#[test]
fn bad_command_lines_exit_2_with_their_message_and_change_nothing() {
    let env = home_with_database();
    let dir = corpus().join("args");
    let cases = files_with(&dir, ".args");
    assert!(cases.len() >= 15, "only {} cases", cases.len());
    let mut t = Tally::default();
    for f in &cases {
        let text = std::fs::read_to_string(dir.join(f)).expect("args file");
        let args: Vec<String> = text.lines().map(str::to_string).collect();
        let file = args.first().cloned().unwrap_or_default();
        let (run_only, expect) = expectations(&dir.join(format!("{f}.expect")), &file);
        for cmd in ["validate", "run"] {
            if run_only && cmd == "validate" {
                continue;
            }
            let mut full = vec![cmd.to_string()];
            full.extend(args.iter().cloned());
            check(&env, &dir, f, full, &expect, &mut t);
        }
    }
    eprintln!(
        "bad command lines: {} cases, {} invocations, max wall {:?}, max CPU {:?}",
        cases.len(),
        t.invocations,
        t.max_wall,
        t.max_cpu
    );
}

/// Every corpus file has its expectations and every expectation its file (a typo in a name
/// would otherwise silently drop a case).
#[test]
fn corpus_files_and_expectations_pair_up() {
    for (dir, ext) in [(corpus(), ".yaml"), (corpus().join("args"), ".args")] {
        let cases = files_with(&dir, ext);
        let expects = files_with(&dir, &format!("{ext}.expect"));
        let stems: Vec<String> = expects
            .iter()
            .map(|e| e.trim_end_matches(".expect").to_string())
            .collect();
        assert_eq!(cases, stems, "in {}", dir.display());
    }
}

/// A closed stderr (`ddmd-pipe run p.yaml 2>&1 | head -1`) once made a job's task panic on
/// `eprintln!` and the orchestrator wait forever for it (and the final summary line panicked
/// the main thread: exit 101). Now the run finishes, records every job and exits 0.
#[test]
fn a_closed_stderr_does_not_hang_the_run() {
    let env = Env::new();
    let base = corpus().join("args").join("base.yml");
    let mut child = env
        .cmd()
        .args(["run", base.to_str().unwrap_or_default(), "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Read the first line (the invocation banner), then close the pipe like `head -1` does.
    let mut se = child.stderr.take().expect("stderr");
    let mut first = Vec::new();
    let mut b = [0u8; 1];
    while se.read(&mut b).map(|n| n == 1).unwrap_or(false) && b[0] != b'\n' {
        first.push(b[0]);
    }
    drop(se);
    let t = Instant::now();
    let done = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break Some(st);
        }
        if t.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let Some(status) = done else {
        panic!(
            "the run hung after its stderr closed (first line: {})",
            String::from_utf8_lossy(&first)
        )
    };
    // Not 101: writing to the closed stderr must not panic either.
    assert_eq!(status.code(), Some(0), "{status}");
    assert_eq!(
        env.scalar("select count(*) from runs where status='succeeded'"),
        "3",
        "train x2 and summary"
    );
    assert_eq!(
        env.scalar("select status from invocations order by id desc limit 1"),
        "succeeded"
    );
}
