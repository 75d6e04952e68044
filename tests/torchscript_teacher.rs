//! The other way in: a teacher written in PyTorch (python/examples/torchscript_teacher.py, run
//! in the project's .venv), exported to TorchScript by the test, distilled by the built-in
//! `distill` stage through `teacher: {torchscript: path}` and evaluated in one pipeline, through
//! the binary. The run records the TorchScript teacher (its parameter, and the student's
//! `model.json` names the TorchScript backend), evaluate writes `fid@2` and `dpg@2`; the
//! file's content is part of the distill job's cache key (a re-exported teacher re-runs the
//! distillation), and a relative path is relative to the pipeline file, like `inputs`,
//! `prompts` and `fid.reference`, not to wherever `ddmd-pipe run` was started.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{repo, text, Env};
use std::path::Path;
use std::process::Command;

const PIPELINE: &str = r#"
name: pytorch
defaults:
  seed: 0
  data: { kind: shapes, resolution: 16, objects: [1, 1] }
stages:
  judge:
    kind: judge
    params: { iterations: 5, batch: 16, held_out: 20, min_accuracy: 0.0 }
  distill:
    kind: distill
    params:
      teacher: { torchscript: TEACHER }
      iterations: 4
      batch: 4
      student_steps: 2
      fake_updates: 1
  evaluate:
    kind: evaluate
    needs: [distill, judge]
    params: { sample_steps: [2], samples: 8, batch: 8, metrics: [fid, dpg] }
"#;

/// Writes the example teacher to `out` with the project's venv Python.
fn export(out: &Path, seed: u32, train_steps: u32) {
    let python = std::env::var_os("DDMD_VENV_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    let script = repo().join("python/examples/torchscript_teacher.py");
    let o = Command::new(&python)
        .arg(&script)
        .arg("--out")
        .arg(out)
        .args(["--resolution", "16"])
        .args(["--seed", &seed.to_string()])
        .args(["--train-steps", &train_steps.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(o.status.success(), "torchscript_teacher.py: {}", text(&o));
    assert!(out.is_file(), "{} not written", out.display());
}

fn pipeline(teacher: &str) -> String {
    PIPELINE.replace("TEACHER", teacher)
}

/// (job_name, status) of every run of `invocation`, by job name.
fn statuses(env: &Env, invocation: u32) -> Vec<Vec<String>> {
    env.sql(&format!(
        "select job_name, status from runs where invocation_id = {invocation} order by job_name"
    ))
}

/// Runs the pipeline; its first invocation ran all three jobs and each succeeded.
fn run_all_succeed(env: &Env, p: &Path) {
    let out = env.run(&["run", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        statuses(env, 1),
        vec![
            vec!["distill".to_string(), "succeeded".into()],
            vec!["evaluate".to_string(), "succeeded".into()],
            vec!["judge".to_string(), "succeeded".into()],
        ]
    );
}

#[test]
fn a_pytorch_teacher_is_distilled_and_evaluated_in_one_pipeline() {
    let env = Env::new();
    let teacher = env.path().join("teacher.pt");
    export(&teacher, 0, 5);
    let p = env.pipeline("pytorch.yaml", &pipeline(teacher.to_str().unwrap()));
    run_all_succeed(&env, &p);

    // The run records its teacher: the parameter, and a student built on the TorchScript
    // backend (the student is a trainable copy of the user's module).
    let params = env.scalar("select params from runs where stage = 'distill'");
    let params: serde_json::Value = serde_json::from_str(&params).unwrap();
    assert_eq!(
        params["teacher"]["torchscript"].as_str(),
        Some(teacher.to_str().unwrap()),
        "{params}"
    );
    let artifacts = env.scalar("select artifact_dir from runs where stage = 'distill'");
    let model: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(&artifacts).join("model.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(model["kind"], "student", "{model}");
    assert_eq!(model["net"]["backend"], "torchscript", "{model}");
    assert_eq!(model["data"]["resolution"], 16, "{model}");
    // It trained: a loss at the last iteration, and the stability verdict.
    let loss = env.scalar(
        "select m.value from metrics m join runs r on r.id = m.run_id \
         where r.stage = 'distill' and m.key = 'train/loss' and m.step = 4",
    );
    assert!(loss.parse::<f64>().unwrap().is_finite(), "loss {loss:?}");

    // Evaluate measured the student at 2 steps.
    for key in ["fid@2", "dpg@2"] {
        let v = env.scalar(&format!(
            "select m.value from metrics m join runs r on r.id = m.run_id \
             where r.stage = 'evaluate' and m.key = '{key}'"
        ));
        let v: f64 = v
            .parse()
            .unwrap_or_else(|_| panic!("no {key} recorded: {v:?}"));
        assert!(v.is_finite() && v >= 0.0, "{key} = {v}");
    }

    // The same file again: everything cached.
    let out = env.run(&["run", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("0 succeeded, 3 cached"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_re_exported_teacher_changes_the_distill_cache_key() {
    let env = Env::new();
    let teacher = env.path().join("teacher.pt");
    export(&teacher, 0, 0);
    let p = env.pipeline("pytorch.yaml", &pipeline(teacher.to_str().unwrap()));
    let out = env.run(&["run", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let first = env.scalar("select cache_key from runs where stage = 'distill'");

    // Same path, other weights: the distillation and its evaluation run again, the judge
    // (which does not read the teacher) stays cached.
    let before = std::fs::read(&teacher).unwrap();
    export(&teacher, 1, 0);
    assert_ne!(
        before,
        std::fs::read(&teacher).unwrap(),
        "re-export changed nothing"
    );
    let out = env.run(&["run", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let keys =
        env.sql("select cache_key, status from runs where stage = 'distill' and invocation_id = 2");
    assert_eq!(keys.len(), 1, "{keys:?}\n{}", text(&out));
    assert_ne!(
        keys[0][0],
        first,
        "the TorchScript file's content is not in the distill job's cache key: \
         the re-exported teacher reused the old student\n{}",
        text(&out)
    );
    assert_eq!(
        statuses(&env, 2),
        vec![
            vec!["distill".to_string(), "succeeded".into()],
            vec!["evaluate".to_string(), "succeeded".into()],
            vec!["judge".to_string(), "cached".into()],
        ],
        "{}",
        text(&out)
    );
}

#[test]
fn a_relative_teacher_path_is_relative_to_the_pipeline_file() {
    // What a user writes: the pipeline and its teacher side by side in a project folder, the
    // run started from elsewhere (the test's cwd is the temp dir, one level up).
    let env = Env::new();
    let project = env.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    export(&project.join("teacher.pt"), 0, 0);
    assert!(!env.path().join("teacher.pt").exists());
    let p = env.pipeline("project/pytorch.yaml", &pipeline("teacher.pt"));
    run_all_succeed(&env, &p);
    // The student's model.json names a teacher file that loads from any folder (evaluate and
    // `ddmd-pipe sample` rebuild the student from it).
    let artifacts = env.scalar("select artifact_dir from runs where stage = 'distill'");
    let model: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(&artifacts).join("model.json")).unwrap(),
    )
    .unwrap();
    let recorded = Path::new(model["net"]["path"].as_str().unwrap());
    assert!(recorded.is_absolute(), "{model}");
    assert!(recorded.is_file(), "{model}");
}
