//! Worker faults (issue 9, item 4): a job that segfaults, aborts, runs out of memory, reports
//! NaN and exits non-zero, or hangs past its `timeout` (ignoring SIGTERM) is recorded as failed
//! with that reason; its dependants are skipped; the jobs that do not depend on it finish.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{text, Env};
use std::time::{Duration, Instant};

const PIPE: &str = r#"
name: faults
stages:
  segv:
    kind: command
    params: { run: "kill -SEGV $$" }
  abort:
    kind: command
    params: { run: "python3 -c 'import os; os.abort()'" }
  oom:
    kind: command
    params:
      # 256 MB of address space, then ask for 1 GiB.
      run: "ulimit -v 262144; python3 -c 'x = bytearray(1 << 30)'"
  nan:
    kind: command
    params:
      run: "python3 -c 'import ddmd_events as e, sys\nfor s in range(3): e.metric(\"train/loss\", 1.0 / (2 - s) if s < 2 else float(\"nan\"), s)\ne.flush()\nsys.exit(\"loss became NaN at step 2\")'"
  hang:
    kind: command
    timeout: 1s
    params:
      run: "python3 -c 'import signal, time, os\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nopen(os.environ[\"DDMD_JOB_DIR\"] + \"/pid\", \"w\").write(str(os.getpid()))\ntime.sleep(120)'"
  after_segv:
    kind: command
    needs: [segv]
    params: { run: "echo never" }
  ok:
    kind: command
    matrix: { i: [1, 2, 3] }
    params: { run: "python3 -c 'import ddmd_events as e; e.metric(\"v\", {{ i }}, 0)'" }
  after_ok:
    kind: command
    needs: [ok]
    fan_in: true
    params: { run: "echo all ok" }
"#;

#[test]
fn crashing_jobs_are_recorded_with_their_reason_and_the_rest_finish() {
    let env = Env::new();
    let p = env.pipeline("faults.yaml", PIPE);
    let t = Instant::now();
    let out = env.run(&[
        "run",
        p.to_str().unwrap_or_default(),
        "--quiet",
        "--jobs",
        "2",
        "--grace",
        "1",
    ]);
    let took = t.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{}", text(&out));
    assert!(took < Duration::from_secs(60), "took {took:?}");

    let status = |stage: &str| {
        env.sql(&format!(
            "select status, coalesce(error, '') from runs where stage = '{stage}'"
        ))
    };
    let one = |stage: &str| {
        let rows = status(stage);
        assert_eq!(rows.len(), 1, "{stage}: {rows:?}");
        (rows[0][0].clone(), rows[0][1].clone())
    };
    let expect_failed = |stage: &str, needles: &[&str]| {
        let (st, err) = one(stage);
        assert_eq!(st, "failed", "{stage}: {err}");
        for n in needles {
            assert!(
                err.contains(n),
                "{stage}: `{n}` not in the recorded error: {err}"
            );
        }
    };
    expect_failed("segv", &["killed by signal 11", "SIGSEGV"]);
    expect_failed(
        "abort",
        &[
            "exited with code 134",
            "killed by signal 6 (SIGABRT: aborted)",
        ],
    );
    expect_failed("oom", &["exited with code 1", "MemoryError"]);
    expect_failed("nan", &["exited with code 1", "loss became NaN at step 2"]);
    expect_failed("hang", &["timed out after 1.0s"]);
    // The NaN itself is recorded (value NULL, raw 'NaN'), next to the finite points.
    let nan = env.sql(
        "select m.step, coalesce(m.value, 'null'), coalesce(m.raw, '') from metrics m join runs r on r.id = m.run_id \
         where r.stage = 'nan' order by m.step",
    );
    assert_eq!(nan.len(), 3, "{nan:?}");
    assert_eq!(nan[2], vec!["2".to_string(), "null".into(), "NaN".into()]);

    // The hung process (which ignored SIGTERM) was killed after the grace period.
    let job_dir = env.scalar("select job_dir from runs where stage = 'hang'");
    let pid: i32 = std::fs::read_to_string(std::path::Path::new(&job_dir).join("pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .expect("the hang job wrote its pid");
    let alive = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("time.sleep"))
        .unwrap_or(false);
    assert!(!alive, "the timed-out job's process {pid} is still alive");

    let (st, err) = one("after_segv");
    assert_eq!(st, "skipped", "{err}");
    let ok =
        env.sql("select status, count(*) from runs where stage in ('ok', 'after_ok') group by 1");
    assert_eq!(
        ok,
        vec![vec!["succeeded".to_string(), "4".to_string()]],
        "{}",
        text(&out)
    );
    assert_eq!(env.scalar("select status from invocations"), "failed");

    // A rerun reruns exactly the failed jobs (and the skipped one), nothing that succeeded.
    let plan = env.run(&["plan", p.to_str().unwrap_or_default()]);
    let plan_text =
        String::from_utf8_lossy(&plan.stdout).into_owned() + &String::from_utf8_lossy(&plan.stderr);
    for job in ["ok[i=1]", "ok[i=2]", "ok[i=3]", "after_ok"] {
        let line = plan_text
            .lines()
            .find(|l| l.starts_with(job))
            .unwrap_or_else(|| panic!("{job} not in the plan:\n{plan_text}"));
        assert!(line.contains("cached"), "{line}");
    }
    for job in ["segv", "abort", "oom", "nan", "hang", "after_segv"] {
        let line = plan_text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(job))
            .unwrap_or_else(|| panic!("{job} not in the plan:\n{plan_text}"));
        assert!(line.contains("run"), "{line}");
    }
}
