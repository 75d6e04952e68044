//! Matrix runs of command stages end to end: results recorded, second run fully cached,
//! a changed parameter reruns exactly the jobs downstream of it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{text, Env};

const PIPE: &str = r#"
name: cache-test
defaults:
  steps: 5
stages:
  prepare:
    kind: command
    params:
      run: "echo prepared > $DDMD_ARTIFACTS/data.txt"
  train:
    kind: command
    needs: [prepare]
    matrix:
      lr: [0.1, 0.01]
    params:
      run: "python3 -c 'import ddmd_events as e; [e.metric(\"loss\", 1.0/(i+1), i) for i in range({{ steps }})]' && echo lr={{ lr }} > $DDMD_ARTIFACTS/w.txt"
  evaluate:
    kind: command
    needs: [train]
    params:
      run: "test -f {{ needs.train[0].artifacts }}/w.txt && echo ok"
  summary:
    kind: command
    needs: [evaluate]
    fan_in: true
    params:
      run: "echo all done"
"#;

#[test]
fn second_run_is_cached_and_a_change_reruns_downstream_only() {
    let env = Env::new();
    let p = env.pipeline("p.yaml", PIPE);
    let p = p.to_str().unwrap();

    let out = env.run(&["run", p, "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        env.scalar("select count(*) from runs where status='succeeded'"),
        "6"
    );
    // Every metric of both train jobs, exactly once.
    assert_eq!(
        env.scalar(
            "select count(*) from metrics m join runs r on r.id=m.run_id where r.stage='train'"
        ),
        "10"
    );
    let names = env.sql("select job_name from runs where stage='train' order by job_name");
    assert_eq!(
        names,
        vec![
            vec!["train[lr=0.01]".to_string()],
            vec!["train[lr=0.1]".to_string()]
        ]
    );
    let evals = env.sql("select job_name from runs where stage='evaluate' order by job_name");
    assert_eq!(
        evals,
        vec![
            vec!["evaluate[lr=0.01]".to_string()],
            vec!["evaluate[lr=0.1]".to_string()]
        ]
    );

    // Second run: nothing executes.
    let out = env.run(&["run", p, "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        env.scalar("select count(*) from runs where status='succeeded'"),
        "6",
        "{}",
        text(&out)
    );
    assert_eq!(
        env.scalar("select count(*) from runs where status='cached' and invocation_id=2"),
        "6"
    );

    // plan says so too, without writing anything.
    let out = env.run(&["plan", p]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("6 jobs: 0 to run, 6 cached"), "{s}");

    // Changing `steps` for train only: train x2, evaluate x2, summary rerun; prepare cached.
    let out = env.run(&["plan", p, "--set", "train.steps=3"]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("6 jobs: 5 to run, 1 cached"), "{s}");
    let out = env.run(&["run", p, "--quiet", "--set", "train.steps=3"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows =
        env.sql("select stage, status from runs where invocation_id=3 order by stage, job_name");
    let got: Vec<String> = rows.iter().map(|r| format!("{}:{}", r[0], r[1])).collect();
    assert_eq!(
        got,
        vec![
            "evaluate:succeeded",
            "evaluate:succeeded",
            "prepare:cached",
            "summary:succeeded",
            "train:succeeded",
            "train:succeeded"
        ]
    );
}

#[test]
fn sweep_on_the_command_line_adds_jobs() {
    let env = Env::new();
    let p = env.pipeline(
        "s.yaml",
        r#"
name: sweep-test
defaults: { lr: 0.1 }
stages:
  train:
    kind: command
    params: { run: "echo {{ lr }}" }
  report:
    kind: command
    needs: [train]
    fan_in: true
    params: { run: "echo done" }
"#,
    );
    let out = env.run(&[
        "plan",
        p.to_str().unwrap(),
        "--set",
        "lr=0.1,0.01,0.001",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let jobs: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job"].as_str().unwrap())
        .collect();
    assert_eq!(
        jobs,
        vec![
            "train[lr=0.1]",
            "train[lr=0.01]",
            "train[lr=0.001]",
            "report"
        ]
    );
    assert_eq!(v[3]["needs"].as_array().unwrap().len(), 3);
    assert!(!env.db().exists(), "plan must not create the database");
}
