//! GPU exclusivity and packing, retries, keep-going vs --fail-fast, timeouts — all with real
//! child processes and the real database.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{text, Env};
use std::time::{Duration, Instant};

#[test]
fn gpu_jobs_never_share_a_device_and_all_devices_are_busy() {
    let env = Env::new();
    let log = env.path().join("gpu.log");
    let pipe = format!(
        r#"
name: gpu-test
stages:
  work:
    kind: command
    resources: {{ gpus: 1 }}
    matrix:
      i: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    params:
      run: "s=$(python3 -c 'import time; print(time.time())'); sleep 0.6; e=$(python3 -c 'import time; print(time.time())'); echo {{{{ i }}}} $CUDA_VISIBLE_DEVICES $s $e >> {log}"
"#,
        log = log.display()
    );
    let p = env.pipeline("g.yaml", &pipe);
    let out = env.run(&[
        "run",
        p.to_str().unwrap(),
        "--fake-gpus",
        "4",
        "--jobs",
        "12",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lines = std::fs::read_to_string(&log).unwrap();
    let mut iv: Vec<(String, f64, f64)> = lines
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[1].to_string(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(iv.len(), 12);
    for (dev, _, _) in &iv {
        assert!(["0", "1", "2", "3"].contains(&dev.as_str()), "device {dev}");
    }
    for a in 0..iv.len() {
        for b in a + 1..iv.len() {
            let (da, sa, ea) = &iv[a];
            let (db, sb, eb) = &iv[b];
            if da == db {
                assert!(ea <= sb || eb <= sa, "jobs {a} and {b} overlap on GPU {da}");
            }
        }
    }
    // While work was queued (the first 8 starts), all four devices were busy: each of the
    // first four jobs started before any job ended.
    iv.sort_by(|x, y| x.1.total_cmp(&y.1));
    let first_end = iv.iter().map(|x| x.2).fold(f64::INFINITY, f64::min);
    assert!(
        iv[3].1 < first_end,
        "the 4th job started only after one ended: {iv:?}"
    );
    // Devices recorded with the runs match.
    let devs = env.sql("select distinct devices from runs where stage='work' order by 1");
    assert_eq!(devs.len(), 4, "{devs:?}");
}

#[test]
fn retries_then_success_records_every_attempt() {
    let env = Env::new();
    let counter = env.path().join("count");
    let pipe = format!(
        r#"
name: retry-test
stages:
  flaky:
    kind: command
    retries: 2
    params:
      run: "n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}; [ $n -ge 3 ]"
"#,
        c = counter.display()
    );
    let p = env.pipeline("r.yaml", &pipe);
    let out = env.run(&[
        "run",
        p.to_str().unwrap(),
        "--quiet",
        "--retry-delay",
        "0.1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows = env.sql("select attempt, status from runs order by id");
    let got: Vec<String> = rows.iter().map(|r| format!("{}:{}", r[0], r[1])).collect();
    assert_eq!(got, vec!["1:failed", "2:failed", "3:succeeded"]);
}

const FAILING: &str = r#"
name: failing
stages:
  bad:
    kind: command
    params: { run: "echo broken >&2; exit 7" }
  after_bad:
    kind: command
    needs: [bad]
    params: { run: "echo never" }
  slow:
    kind: command
    params: { run: "sleep 2" }
"#;

#[test]
fn keep_going_skips_dependants_and_finishes_the_rest() {
    let env = Env::new();
    let p = env.pipeline("f.yaml", FAILING);
    let out = env.run(&["run", p.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let rows = env.sql("select stage, status from runs order by stage");
    let got: Vec<String> = rows.iter().map(|r| format!("{}:{}", r[0], r[1])).collect();
    assert_eq!(
        got,
        vec!["after_bad:skipped", "bad:failed", "slow:succeeded"]
    );
    let err = env.scalar("select error from runs where stage='bad'");
    assert!(err.contains("exited with code 7"), "{err}");
    assert!(err.contains("broken"), "log tail in the error: {err}");
}

#[test]
fn fail_fast_stops_the_others() {
    let env = Env::new();
    let p = env.pipeline("f.yaml", FAILING);
    let t = Instant::now();
    let out = env.run(&[
        "run",
        p.to_str().unwrap(),
        "--quiet",
        "--fail-fast",
        "--grace",
        "0.5",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "fail-fast waited for the slow job"
    );
    let slow = env.scalar("select status from runs where stage='slow'");
    assert!(slow == "cancelled" || slow.is_empty(), "slow: {slow}");
}

#[test]
fn timeout_kills_the_job_and_says_so() {
    let env = Env::new();
    let p = env.pipeline(
        "t.yaml",
        r#"
name: timeout-test
stages:
  hang:
    kind: command
    timeout: 1s
    params: { run: "sleep 60" }
  other:
    kind: command
    params: { run: "echo fine" }
"#,
    );
    let t = Instant::now();
    let out = env.run(&["run", p.to_str().unwrap(), "--quiet", "--grace", "0.5"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(t.elapsed() < Duration::from_secs(10));
    let err = env.scalar("select error from runs where stage='hang'");
    assert!(err.contains("timed out after 1.0s"), "{err}");
    assert_eq!(
        env.scalar("select status from runs where stage='other'"),
        "succeeded"
    );
}
