//! Interrupts and crashes of the orchestrator: Ctrl-C cancels and leaves no child behind;
//! SIGKILL mid-run loses and duplicates nothing, and the next run completes the pipeline.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{pid_alive, text, Env};
use std::time::{Duration, Instant};

fn wait_for(cond: impl Fn() -> bool, secs: u64) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn sigint_cancels_running_jobs_and_the_next_run_finishes() {
    let env = Env::new();
    let pids = env.path().join("pids");
    std::fs::create_dir_all(&pids).unwrap();
    let pipe = format!(
        r#"
name: sigint-test
defaults: {{ nap: 300 }}
stages:
  long:
    kind: command
    matrix: {{ i: [1, 2] }}
    params:
      run: "sleep {{{{ nap }}}} & echo $! > {p}/{{{{ i }}}}.child; echo $$ > {p}/{{{{ i }}}}.sh; wait"
  after:
    kind: command
    needs: [long]
    params: {{ run: "echo after" }}
"#,
        p = pids.display()
    );
    let p = env.pipeline("s.yaml", &pipe);
    let child = env
        .cmd()
        .args([
            "run",
            p.to_str().unwrap(),
            "--quiet",
            "--jobs",
            "2",
            "--grace",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_for(
            || pids.join("1.child").exists() && pids.join("2.child").exists(),
            20
        ),
        "jobs did not start"
    );
    let read = |f: &str| -> i32 {
        std::fs::read_to_string(pids.join(f))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let job_pids = [read("1.child"), read("2.child"), read("1.sh"), read("2.sh")];
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    for pid in job_pids {
        assert!(
            // A deadline for an event, not a speed bound: the jobs sleep for 300 s, so one
            // still there after 30 s was not stopped.
            wait_for(|| !pid_alive(pid), 30),
            "process {pid} outlived the run"
        );
    }
    let rows = env.sql("select status, count(*) from runs group by 1 order by 1");
    assert_eq!(
        rows,
        vec![vec!["cancelled".to_string(), "2".to_string()]],
        "{}",
        text(&out)
    );

    // The next run does the rest.
    let out = env.run(&["run", p.to_str().unwrap(), "--quiet", "--set", "nap=0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        env.scalar("select count(*) from runs where status='succeeded' and invocation_id=2"),
        "4",
        "long x2 and after x2 (after fans out over long)"
    );
}

#[test]
fn sigkill_mid_run_loses_and_duplicates_nothing() {
    let env = Env::new();
    let pipe = r#"
name: sigkill-test
stages:
  train:
    kind: command
    matrix: { i: [1, 2, 3, 4] }
    params:
      run: "python3 -c 'import ddmd_events as e, time\nfor s in range(40):\n    e.metric(\"loss\", 1.0/(s+1), s); e.flush(); time.sleep(0.02)'"
"#;
    let p = env.pipeline("k.yaml", pipe);
    let mut child = env
        .cmd()
        .args(["run", p.to_str().unwrap(), "--quiet", "--jobs", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill once metrics are flowing.
    let db = env.db();
    assert!(wait_for(|| db.exists(), 20));
    std::thread::sleep(Duration::from_millis(900));
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();

    let out = env.run(&["run", p.to_str().unwrap(), "--quiet", "--jobs", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Every job succeeded exactly once; each succeeded run has its 40 points once.
    let rows = env
        .sql("select job_name, count(*) from runs where status='succeeded' group by 1 order by 1");
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows.iter().all(|r| r[1] == "1"), "{rows:?}");
    let counts = env.sql(
        "select r.id, count(*), count(distinct m.step) from runs r join metrics m on m.run_id=r.id \
         where r.status='succeeded' group by r.id",
    );
    assert_eq!(counts.len(), 4);
    for c in counts {
        assert_eq!(c[1], "40", "{c:?}");
        assert_eq!(c[2], "40", "{c:?}");
    }
    assert_eq!(env.scalar("pragma integrity_check"), "ok");
}
