//! `plan` says why a job runs again (issue 19, item 2): the parameter and its old and new
//! value, the upstream job or input file that changed, or how its latest run ended.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{text, Env};

/// The DECISION column of `plan`, job by job.
fn decisions(env: &Env, args: &[&str]) -> Vec<(String, String)> {
    let mut all = vec!["plan", "p.yaml"];
    all.extend_from_slice(args);
    let out = env.run(&all);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    let col = s.lines().next().and_then(|h| h.find("DECISION")).unwrap();
    s.lines()
        .skip(1)
        .filter(|l| l.len() > col)
        .map(|l| {
            let job = l.split_whitespace().next().unwrap_or_default().to_string();
            (job, l[col..].to_string())
        })
        .collect()
}

/// `plan`'s extra arguments, and the (job, decision) lines it must print.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);

const PIPE: &str = "name: p
stages:
  train:
    kind: command
    inputs: [train.sh]
    params:
      iterations: 160
      opt: { lr: 0.1 }
      run: sh train.sh {{ iterations }} {{ opt.lr }}
  evaluate:
    kind: command
    needs: [train]
    params: { run: 'test -d {{ needs.train[0].artifacts }}' }
";

#[test]
fn a_rerun_names_what_changed() {
    let env = Env::new();
    env.pipeline("p.yaml", PIPE);
    std::fs::write(env.path().join("train.sh"), "echo training $1 $2\n").unwrap();
    let out = env.run(&["run", "p.yaml", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let cases: &[Case] = &[
        (
            &["--set", "train.iterations=400", "--set", "train.opt.lr=0.5"],
            &[
                (
                    "train",
                    "run: changed since run 1: iterations 160 → 400, opt.lr 0.1 → 0.5",
                ),
                (
                    "evaluate",
                    "run: changed since run 2: upstream train changed",
                ),
            ],
        ),
        (
            &["--set", "train.iterations=160"],
            &[
                ("train", "cached: result of run 1"),
                ("evaluate", "cached: result of run 2"),
            ],
        ),
    ];
    for (args, want) in cases {
        let got = decisions(&env, args);
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(j, d)| (j.to_string(), d.to_string()))
            .collect();
        assert_eq!(got, want, "plan {args:?}");
    }

    // An input file's content.
    std::fs::write(env.path().join("train.sh"), "echo training: $1 $2\n").unwrap();
    assert_eq!(
        decisions(&env, &[])[0].1,
        "run: changed since run 1: input train.sh changed"
    );
}

#[test]
fn after_a_failure_or_a_cancel_plan_says_so() {
    let env = Env::new();
    env.pipeline(
        "p.yaml",
        "name: p
stages:
  fails:
    kind: command
    params: { run: 'exit 3' }
  slow:
    kind: command
    params: { run: 'sleep 30' }
",
    );
    // --fail-fast: the first failure stops the other running job, recorded as cancelled.
    let out = env.run(&["run", "p.yaml", "--quiet", "--fail-fast", "--jobs", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let id = |job: &str| env.scalar(&format!("select id from runs where job_name = '{job}'"));
    assert_eq!(
        decisions(&env, &[]),
        [
            (
                "fails".to_string(),
                format!("run: run {} failed", id("fails"))
            ),
            (
                "slow".to_string(),
                format!("run: run {} was cancelled", id("slow"))
            ),
        ]
    );
    // A change after a failure: both said.
    assert_eq!(
        decisions(&env, &["--set", "fails.run=exit 4"])[0].1,
        format!(
            "run: run {} failed; changed since: run \"exit 3\" → \"exit 4\"",
            id("fails")
        )
    );
}
