//! GPU exclusivity and packing, retries, keep-going vs --fail-fast, timeouts — all with real
//! child processes and the real database.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{pid_alive, read_pid, text, Env};

#[test]
fn gpu_jobs_never_share_a_device_and_all_devices_are_busy() {
    let env = Env::new();
    let log = env.path().join("gpu.log");
    let started = env.path().join("started");
    std::fs::create_dir_all(&started).unwrap();
    // Each job marks its start, then waits (up to 120 s) until four jobs have started: the
    // first four can only get past that point if the scheduler runs four at once, so the
    // test asserts that event instead of timing how long the jobs overlapped. Timestamps are
    // taken inside the job, so two jobs that overlap on one device are seen whatever the load.
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
      run: "s=$(date +%s.%N); touch {started}/{{{{ i }}}}; n=0; while [ $(ls {started} | wc -l) -lt 4 ]; do n=$((n+1)); [ $n -lt 1200 ] || {{ echo 'fewer than 4 jobs ran at once' >&2; exit 3; }}; sleep 0.1; done; sleep 0.2; e=$(date +%s.%N); echo {{{{ i }}}} $CUDA_VISIBLE_DEVICES $s $e >> {log}"
"#,
        log = log.display(),
        started = started.display()
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
    let iv: Vec<(String, f64, f64)> = lines
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
    // While work was queued, all four devices were busy: by the times the orchestrator
    // recorded, the fourth job started before the first one ended. The barrier above makes
    // the margin the time the jobs waited for each other, not a sleep.
    let mut rec: Vec<(f64, f64)> = env
        .sql("select started_at, ended_at from runs where stage='work'")
        .iter()
        .map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap()))
        .collect();
    assert_eq!(rec.len(), 12, "{rec:?}");
    rec.sort_by(|x, y| x.0.total_cmp(&y.0));
    let first_end = rec.iter().map(|x| x.1).fold(f64::INFINITY, f64::min);
    assert!(
        rec[3].0 < first_end,
        "the 4th job started only after one ended (recorded start, end): {rec:?}"
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
    let pid = env.path().join("slow.pid");
    // `bad` fails only once `slow` runs (its pid file exists), so fail-fast always has a
    // running sibling to stop; `slow` would run for a minute if nothing stopped it.
    let pipe = format!(
        r#"
name: failing
stages:
  bad:
    kind: command
    params: {{ run: "n=0; while [ ! -s {pid} ] && [ $n -lt 1200 ]; do n=$((n+1)); sleep 0.1; done; echo broken >&2; exit 7" }}
  after_bad:
    kind: command
    needs: [bad]
    params: {{ run: "echo never" }}
  slow:
    kind: command
    params: {{ run: "echo $$ > {pid}.tmp && mv {pid}.tmp {pid} && exec sleep 60" }}
"#,
        pid = pid.display()
    );
    let p = env.pipeline("f.yaml", &pipe);
    let out = env.run(&[
        "run",
        p.to_str().unwrap(),
        "--quiet",
        "--fail-fast",
        "--grace",
        "0.5",
        "--jobs",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // The slow job was stopped, not waited for: its process is gone and its run cancelled.
    let slow_pid = read_pid(&pid);
    assert!(
        !pid_alive(slow_pid),
        "the slow job (pid {slow_pid}) outlived the fail-fast run"
    );
    let status =
        |stage: &str| env.scalar(&format!("select status from runs where stage='{stage}'"));
    assert_eq!(status("slow"), "cancelled", "{}", text(&out));
    assert_eq!(status("bad"), "failed", "{}", text(&out));
    // The dependant of the failure never ran (skipped, or not even queued).
    let after = status("after_bad");
    assert!(after == "skipped" || after.is_empty(), "after_bad: {after}");
}

#[test]
fn timeout_kills_the_job_and_says_so() {
    let env = Env::new();
    let pid = env.path().join("hang.pid");
    let pipe = format!(
        r#"
name: timeout-test
stages:
  hang:
    kind: command
    timeout: 1s
    params: {{ run: "echo $$ > {pid}.tmp && mv {pid}.tmp {pid} && exec sleep 60" }}
  other:
    kind: command
    params: {{ run: "echo fine" }}
"#,
        pid = pid.display()
    );
    let p = env.pipeline("t.yaml", &pipe);
    let out = env.run(&["run", p.to_str().unwrap(), "--quiet", "--grace", "0.5"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Had the timeout not fired, the job would have slept its minute and succeeded: the
    // recorded error and the process being gone say it was stopped, whatever the load.
    let err = env.scalar("select error from runs where stage='hang'");
    assert!(err.contains("timed out after 1.0s"), "{err}");
    // (No pid file: the timeout struck before the shell got that far, so nothing runs.)
    if pid.exists() {
        let hang_pid = read_pid(&pid);
        assert!(
            !pid_alive(hang_pid),
            "the timed-out job (pid {hang_pid}) is still running"
        );
    }
    assert_eq!(
        env.scalar("select status from runs where stage='other'"),
        "succeeded"
    );
}
