//! The rules of command stages (issue 19, item 3; docs/PIPELINES.md, "Command stages"): one
//! base folder, the pipeline file's, for relative paths in `run` and `inputs`, where the
//! command runs; `{{ pipeline_dir }}` and `{{ home }}`; the failing job's log tail in the run's
//! output; the rendered command in `runs show`; `ddmd-pipe env` to run a job by hand.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{repo, text, Env};
use std::process::{Command, Stdio};

/// The shipped sweep pipeline, copied with the script it runs into a folder outside the
/// repository, runs unchanged from another folder, with no PYTHONPATH of ours.
#[test]
fn a_pipeline_copied_outside_the_repository_runs_unchanged() {
    let env = Env::new();
    let project = env.path().join("elsewhere/project");
    std::fs::create_dir_all(project.join("pipelines")).unwrap();
    std::fs::create_dir_all(project.join("python")).unwrap();
    std::fs::copy(
        repo().join("pipelines/sweep.yaml"),
        project.join("pipelines/sweep.yaml"),
    )
    .unwrap();
    std::fs::copy(
        repo().join("python/toy_train.py"),
        project.join("python/toy_train.py"),
    )
    .unwrap();
    let out = env
        .cmd()
        .env_remove("PYTHONPATH")
        .args([
            "run",
            "elsewhere/project/pipelines/sweep.yaml",
            "--quiet",
            "--fake-gpus",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        env.scalar("select count(*) from runs where status = 'succeeded'"),
        "6"
    );
}

#[test]
fn run_and_inputs_share_the_pipeline_folder_and_the_template_names_it() {
    let env = Env::new();
    let dir = env.path().join("sub");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("job.sh"), "pwd > \"$DDMD_ARTIFACTS/pwd\"\n").unwrap();
    std::fs::write(
        dir.join("p.yaml"),
        "name: p
stages:
  a:
    kind: command
    inputs: [job.sh]
    params:
      run: sh job.sh && echo '{{ pipeline_dir }} {{ home }}' > $DDMD_ARTIFACTS/names
",
    )
    .unwrap();
    let out = env.run(&["run", "sub/p.yaml", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let artifacts = env.scalar("select artifact_dir from runs");
    let read = |f: &str| std::fs::read_to_string(format!("{artifacts}/{f}")).unwrap();
    let sub = std::path::absolute(&dir).unwrap();
    assert_eq!(
        read("pwd").trim(),
        sub.canonicalize().unwrap().display().to_string()
    );
    assert_eq!(
        read("names").trim(),
        format!("{} {}", sub.display(), env.home().display())
    );
    // `runs show` prints the command as it ran, not its template.
    let out = env.run(&["runs", "show", "1"]);
    let show = String::from_utf8_lossy(&out.stdout);
    let want = format!(
        "  command      sh job.sh && echo '{} {}' > $DDMD_ARTIFACTS/names\n",
        sub.display(),
        env.home().display()
    );
    assert!(show.contains(&want), "{want} not in\n{show}");
}

#[test]
fn a_failed_job_shows_the_end_of_its_log_once() {
    let env = Env::new();
    env.pipeline(
        "p.yaml",
        "name: p
stages:
  a:
    kind: command
    retries: 1
    params: { run: 'for i in $(seq 1 12); do echo line $i; done; echo cannot open train.py >&2; exit 2' }
",
    );
    let out = env.run(&["run", "p.yaml", "--quiet", "--retry-delay", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let tail = "    last lines of the log:\n    line 4\n    line 5\n    line 6\n    line 7\n    line 8\n    line 9\n    line 10\n    line 11\n    line 12\n    cannot open train.py\n";
    assert!(err.contains(tail), "{err}");
    // Once: after the last attempt, not after each retry.
    assert_eq!(err.matches("last lines of the log").count(), 1, "{err}");
}

#[test]
fn env_prints_what_runs_a_job_by_hand() {
    let env = Env::new();
    env.pipeline(
        "p.yaml",
        "name: p
stages:
  a:
    kind: command
    matrix: { lr: [0.1, 0.2] }
    params:
      run: python3 -c \"import ddmd_events as e; e.metric('lr', {{ lr }}, 0)\"
",
    );
    let out = env.run(&["env", "p.yaml", "a"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: stage 'a' has 2 jobs; name one: a[lr=0.1], a[lr=0.2]\n"
    );
    let out = env.run(&["env", "p.yaml", "a[lr=0.2]"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let script = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(script.contains("export PYTHONPATH="), "{script}");
    // Run as printed, with no PYTHONPATH of ours: the metric lands in the scratch events file.
    let mut sh = Command::new("sh")
        .env_remove("PYTHONPATH")
        .current_dir("/")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    sh.stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(sh.wait().unwrap().success());
    let manual = std::fs::read_dir(env.home().join("manual"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let events = std::fs::read_to_string(manual.join("events.jsonl")).unwrap();
    assert!(
        events.contains("\"key\": \"lr\"") || events.contains("\"key\":\"lr\""),
        "{events}"
    );
    assert!(events.contains("0.2"), "{events}");
    // Nothing was recorded as a run.
    assert!(!env.db().exists());
}
