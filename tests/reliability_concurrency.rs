//! Concurrency (issue 9, item 6): two `ddmd-pipe run` of the same pipeline on the same home
//! never run a job twice — the second is refused with a message naming the holder — while
//! runs of different pipelines share the home (and its database) and both finish.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{text, Env};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

fn pipeline(env: &Env, name: &str, log: &std::path::Path, nap: f64) -> std::path::PathBuf {
    pipeline_with(env, name, log, &format!("sleep {nap}"))
}

/// The same pipeline whose jobs wait (up to 120 s) until `gate` exists: a test holds the run
/// open for exactly as long as it needs instead of guessing how long a nap must last.
fn gated_pipeline(
    env: &Env,
    name: &str,
    log: &std::path::Path,
    gate: &std::path::Path,
) -> std::path::PathBuf {
    let wait = format!(
        "n=0; while [ ! -e {gate} ] && [ $n -lt 1200 ]; do n=$((n+1)); sleep 0.1; done",
        gate = gate.display()
    );
    pipeline_with(env, name, log, &wait)
}

fn pipeline_with(env: &Env, name: &str, log: &std::path::Path, wait: &str) -> std::path::PathBuf {
    let text = format!(
        r#"
name: {name}
stages:
  work:
    kind: command
    matrix: {{ i: [1, 2, 3, 4] }}
    params:
      run: "echo {name} {{{{ i }}}} >> {log}; {wait}; python3 -c 'import ddmd_events as e; e.metric(\"done\", {{{{ i }}}}, 0)'"
"#,
        log = log.display()
    );
    env.pipeline(&format!("{name}.yaml"), &text)
}

fn spawn_run(env: &Env, p: &std::path::Path) -> Child {
    env.cmd()
        .args([
            "run",
            p.to_str().unwrap_or_default(),
            "--quiet",
            "--jobs",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn run")
}

fn lines(log: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn a_second_run_of_the_same_pipeline_is_refused_while_the_first_runs() {
    let env = Env::new();
    let log = env.path().join("log");
    let gate = env.path().join("gate");
    let p = gated_pipeline(&env, "conc", &log, &gate);
    let first = spawn_run(&env, &p);
    // Events, not timing: the second run starts once the first has a job running, and that
    // job (with the first run) waits for the gate, opened only after the second has answered.
    let t = Instant::now();
    while lines(&log).is_empty() && t.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!lines(&log).is_empty(), "the first run did not start a job");
    let second = env.run(&["run", p.to_str().unwrap_or_default(), "--quiet"]);
    std::fs::write(&gate, "").expect("open the gate");
    let first: Output = first.wait_with_output().expect("first run");
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("another `ddmd-pipe run` of pipeline `conc`")
            && err.contains(&format!(
                "(pid {})",
                env.scalar("select pid from invocations where id = 1")
            )),
        "{}",
        text(&second)
    );
    // Each job ran once; the refused run recorded nothing.
    assert_eq!(lines(&log), vec!["conc 1", "conc 2", "conc 3", "conc 4"]);
    assert_eq!(env.scalar("select count(*) from invocations"), "1");
    assert_eq!(env.scalar("select count(*) from runs"), "4");
    // Afterwards a run finds everything cached and runs nothing.
    let third = env.run(&["run", p.to_str().unwrap_or_default(), "--quiet"]);
    assert_eq!(third.status.code(), Some(0), "{}", text(&third));
    assert_eq!(lines(&log).len(), 4);
}

/// Both started at the same instant, several times: exactly one runs the jobs, each once.
#[test]
fn simultaneous_starts_run_each_job_once() {
    for round in 0..4 {
        let env = Env::new();
        let log = env.path().join("log");
        let p = pipeline(&env, "race", &log, 0.2);
        let a = spawn_run(&env, &p);
        let b = spawn_run(&env, &p);
        let a = a.wait_with_output().expect("a");
        let b = b.wait_with_output().expect("b");
        let mut codes = [a.status.code(), b.status.code()];
        codes.sort();
        // Either one was refused (0 and 2), or the second started after the first ended and
        // found everything cached (0 and 0): never a job run twice.
        assert!(
            codes == [Some(0), Some(2)] || codes == [Some(0), Some(0)],
            "round {round}: {}\n{}",
            text(&a),
            text(&b)
        );
        assert_eq!(
            lines(&log),
            vec!["race 1", "race 2", "race 3", "race 4"],
            "round {round}"
        );
        assert_eq!(
            env.scalar("select count(*) from runs where status = 'succeeded'"),
            "4",
            "round {round}"
        );
        assert_eq!(env.scalar("pragma integrity_check"), "ok");
    }
}

/// Different pipelines on one home write the one database at the same time; both finish.
#[test]
fn two_pipelines_share_a_home_and_its_database() {
    let env = Env::new();
    let log = env.path().join("log");
    let p1 = pipeline(&env, "one", &log, 0.3);
    let p2 = pipeline(&env, "two", &log, 0.3);
    let a = spawn_run(&env, &p1);
    let b = spawn_run(&env, &p2);
    let a = a.wait_with_output().expect("a");
    let b = b.wait_with_output().expect("b");
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    assert_eq!(b.status.code(), Some(0), "{}", text(&b));
    assert_eq!(lines(&log).len(), 8);
    assert_eq!(
        env.sql("select p.name, count(*) from runs r join pipelines p on p.id = r.pipeline_id where r.status = 'succeeded' group by 1 order by 1"),
        vec![vec!["one".to_string(), "4".into()], vec!["two".to_string(), "4".into()]]
    );
    assert_eq!(env.scalar("select count(*) from metrics"), "8");
    assert_eq!(env.scalar("pragma integrity_check"), "ok");
}

/// Pipelines that share a job (same stage, parameters and command: the same cache key), started
/// together on one home (issue 12): the shared job runs once, the others wait for it and take
/// its result, and every run succeeds.
#[test]
fn pipelines_sharing_a_job_run_it_once_and_all_succeed() {
    for round in 0..3 {
        let env = Env::new();
        let log = env.path().join("shared-log");
        let own = env.path().join("own-log");
        let paths: Vec<_> = ["alpha", "beta", "gamma"]
            .iter()
            .map(|name| {
                let text = format!(
                    r#"
name: {name}
stages:
  teacher:
    kind: command
    params:
      run: "echo ran >> {log}; sleep 1; echo done > $DDMD_ARTIFACTS/result"
  own:
    kind: command
    needs: [teacher]
    params:
      run: "cat {{{{ needs.teacher[0].artifacts }}}}/result >> {own}; echo {name} >> {own}"
"#,
                    log = log.display(),
                    own = own.display()
                );
                env.pipeline(&format!("{name}.yaml"), &text)
            })
            .collect();
        let children: Vec<_> = paths.iter().map(|p| spawn_run(&env, p)).collect();
        for c in children {
            let out = c.wait_with_output().expect("run");
            assert_eq!(out.status.code(), Some(0), "round {round}: {}", text(&out));
        }
        assert_eq!(
            lines(&log),
            vec!["ran"],
            "round {round}: the shared job ran more than once"
        );
        assert_eq!(
            lines(&own),
            vec!["alpha", "beta", "done", "done", "done", "gamma"],
            "round {round}"
        );
        // One run executed the shared job; the two others recorded its result as cached.
        assert_eq!(
            env.sql(
                "select status, count(*) from runs where stage = 'teacher' group by status order by status"
            ),
            vec![
                vec!["cached".to_string(), "2".to_string()],
                vec!["succeeded".to_string(), "1".to_string()]
            ],
            "round {round}"
        );
    }
}

/// Six different pipelines started at the same moment on a home that does not exist yet
/// (issue 12): every one creates or opens the new database without "database is locked".
#[test]
fn six_pipelines_opening_a_new_home_together_all_succeed() {
    for round in 0..10 {
        let env = Env::new();
        let paths: Vec<_> = (0..6)
            .map(|i| {
                env.pipeline(
                    &format!("p{i}.yaml"),
                    // Distinct commands: the same command would be one shared job.
                    &format!("name: p{i}\nstages:\n  a: {{ kind: command, params: {{ run: \"echo p{i}\" }} }}\n"),
                )
            })
            .collect();
        let children: Vec<_> = paths.iter().map(|p| spawn_run(&env, p)).collect();
        for c in children {
            let out = c.wait_with_output().expect("run");
            assert_eq!(out.status.code(), Some(0), "round {round}: {}", text(&out));
        }
        assert_eq!(env.scalar("select count(*) from runs where status = 'succeeded'"), "6", "{:?}", env.sql("select r.id, p.name, r.status, r.cache_key from runs r join pipelines p on p.id = r.pipeline_id"));
    }
}
