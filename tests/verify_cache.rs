//! `--verify`: a cached result whose artifact was changed or removed since its run recorded it
//! is not taken; the job runs again (alone: its key, so its dependants' keys, are unchanged)
//! and the plan names the file. Without `--verify` the cache trusts the folder, as before.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{text, Env};

const PIPELINE: &str = r#"
name: verify
stages:
  make:
    kind: command
    params:
      run: "echo weights-v1 > $DDMD_ARTIFACTS/w.txt && python3 -c 'import ddmd_events as e; e.artifact(\"weights\", \"w.txt\")'"
  use:
    kind: command
    needs: [make]
    params:
      run: "cat {{ needs.make[0].artifacts }}/w.txt > $DDMD_ARTIFACTS/seen.txt"
"#;

#[test]
fn a_changed_artifact_reruns_its_job_under_verify() {
    let env = Env::new();
    let p = env.pipeline("v.yaml", PIPELINE);
    let p = p.to_str().unwrap();
    let out = env.run(&["run", p, "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dir = env.scalar("select artifact_dir from runs where job_name = 'make'");
    let w = std::path::Path::new(&dir).join("w.txt");
    assert_eq!(std::fs::read_to_string(&w).unwrap(), "weights-v1\n");

    // Intact: --verify hashes and takes both results.
    let out = env.run(&["run", p, "--verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--verify: 1 artifact(s) of 2 cached result(s) hashed"),
        "{err}"
    );
    assert!(err.contains("0 succeeded, 2 cached"), "{err}");

    // Changed by hand: the plain cache still trusts it; --verify names it and reruns `make`.
    std::fs::write(&w, "tampered\n").unwrap();
    let out = env.run(&["plan", p]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 jobs: 0 to run, 2 cached"));
    let out = env.run(&["plan", p, "--verify"]);
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains("run: artifact weights (w.txt) changed since run 1 wrote it (sha256 ")
            && plan.contains("(--verify)")
            && plan.contains("2 jobs: 1 to run, 1 cached"),
        "{plan}"
    );
    let out = env.run(&["run", p, "--verify", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(&w).unwrap(),
        "weights-v1\n",
        "restored by the rerun"
    );
    let runs = env.sql("select job_name, status from runs order by id");
    let make: Vec<&str> = runs
        .iter()
        .filter(|r| r[0] == "make")
        .map(|r| r[1].as_str())
        .collect();
    assert_eq!(make.last(), Some(&"succeeded"), "{runs:?}");
    assert_eq!(
        runs.iter()
            .filter(|r| r[0] == "make" && r[1] == "succeeded")
            .count(),
        2,
        "{runs:?}"
    );
    assert_eq!(
        runs.iter()
            .filter(|r| r[0] == "use" && r[1] == "succeeded")
            .count(),
        1,
        "the dependant's key did not change: {runs:?}"
    );

    // Removed: named as missing.
    std::fs::remove_file(&w).unwrap();
    let out = env.run(&["plan", p, "--verify"]);
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains("artifact weights (w.txt) is missing (--verify)"),
        "{plan}"
    );
}
