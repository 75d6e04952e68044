//! The messages of a user's first hour (issue 19, items 1 and 6), exact and table-driven:
//! template errors that name the missing name and what is there (once per stage, in the same
//! pass as the other errors), report-parameter errors at their table or plot entry, `--set`
//! keys nothing reads, a bad `runs list --status`, a pipeline found in `pipelines/` or the
//! list of those there, the usage lines of the worker's commands.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{text, Env};

/// (name, pipeline text, extra arguments after `validate p.yaml`, the exact stderr).
const CASES: &[(&str, &str, &[&str], &str)] = &[
    (
        "undefined_variable_once_per_stage",
        "name: p
stages:
  train:
    kind: command
    matrix: { seed: [0, 1, 2], width: [a, b] }
    params:
      lr: 0.1
      steps: 10
      run: python3 train.py --lr {{ learning_rate }} --steps {{ steps }}
",
        &[],
        "error: p.yaml:9:12: stages.train.params.run: undefined variable 'learning_rate'; available: lr, seed, steps, width, launch, params, point, stage, needs, pipeline_dir, home\n",
    ),
    (
        "undefined_variable_with_suggestion",
        "name: p
stages:
  train:
    kind: command
    params: { steps: 10, run: 'echo {{ step }}' }
",
        &[],
        "error: p.yaml:5:31: stages.train.params.run: undefined variable 'step' (did you mean 'steps'?); available: steps, launch, params, point, stage, needs, pipeline_dir, home\n",
    ),
    (
        "needs_names_a_stage_not_needed",
        "name: p
stages:
  train:
    kind: command
    params: { run: 'echo' }
  evaluate:
    kind: command
    needs: [train]
    params: { run: 'cat {{ needs.training[0].artifacts }}/w.txt' }
",
        &[],
        "error: p.yaml:9:20: stages.evaluate.params.run: `needs.training`: 'training' is not a stage this stage needs (did you mean 'train'?); stages in needs: train\n",
    ),
    (
        "needs_used_with_empty_needs",
        "name: p
stages:
  train:
    kind: command
    params: { run: 'echo' }
  evaluate:
    kind: command
    needs:
    params: { run: 'cat {{ needs.train[0].artifacts }}/w.txt' }
",
        &[],
        "error: p.yaml:9:20: stages.evaluate.params.run: `needs.train`: stage 'evaluate' needs no other stage, so `needs` is empty; add `needs: [train]` to stage 'evaluate'\n",
    ),
    (
        "needs_list_used_as_one_job",
        "name: p
stages:
  train:
    kind: command
    params: { run: 'echo' }
  summary:
    kind: command
    needs: [train]
    fan_in: true
    params: { run: 'ls {{ needs.train.artifacts }}' }
",
        &[],
        "error: p.yaml:10:20: stages.summary.params.run: `needs.train.artifacts`: `needs.train` is a list, which has no 'artifacts'; pick one item first: `needs.train[0].artifacts`\n",
    ),
    (
        "params_key_missing",
        "name: p
stages:
  train:
    kind: command
    params: { steps: 3, run: 'echo {{ params.stpes }}' }
",
        &[],
        "error: p.yaml:5:30: stages.train.params.run: `params.stpes`: no parameter 'stpes' (did you mean 'steps'?); parameters: steps\n",
    ),
    (
        // Templates, built-in parameters and report parameters in one pass, by position; a
        // stage after a broken template is still checked.
        "every_error_in_one_pass",
        "name: p
stages:
  teacher:
    kind: teacher
    params: { iteratons: 10 }
  train:
    kind: command
    params: { run: 'echo {{ lr }}' }
  after:
    kind: command
    needs: [train]
    params: { run: 'echo {{ needs.train[0].artefacts }} {{ nope }}' }
  report:
    kind: report
    needs: [after]
    params:
      tables:
        - { rows: train, columns: [loss] }
        - { rows: train, columns: 3 }
",
        &[],
        "error: p.yaml:5:26: stages.teacher.params.iteratons: unknown parameter (did you mean 'iterations'?)
p.yaml:8:20: stages.train.params.run: undefined variable 'lr'; available: launch, params, point, stage, needs, pipeline_dir, home
p.yaml:12:20: stages.after.params.run: undefined variable 'nope' (did you mean 'home'?); available: launch, params, point, stage, needs, pipeline_dir, home
p.yaml:19:35: stages.report.params.tables[1].columns: expected a non-empty list of metric keys, or an axis name, got number 3
",
    ),
    (
        // A key missing from a plot is reported at the plot's own entry.
        "report_plot_entry_line",
        "name: p
stages:
  train:
    kind: command
    params: { run: 'echo' }
  report:
    kind: report
    needs: [train]
    params:
      plots:
        - { kind: line, metric: loss, x: step, series: train }
        - { kind: line, x: step }
",
        &[],
        "error: p.yaml:12:11: stages.report.params.plots[1].metric: missing; expected the metric key of the curve (e.g. train/pixel_var)\n",
    ),
    (
        "set_key_the_command_never_reads",
        "name: p
stages:
  train:
    kind: command
    matrix: { width: [1, 2] }
    params: { steps: 3, run: 'echo {{ steps }} {{ point.width }}' }
",
        &["--set", "train.stpes=10"],
        "error: --set: train.stpes: no job of stage 'train' reads 'stpes' (did you mean 'steps'?); its command reads: steps, width\n",
    ),
    (
        "set_key_no_stage_reads",
        "name: p
stages:
  train:
    kind: command
    params: { steps: 3, run: 'echo {{ steps }}' }
  judge:
    kind: judge
",
        &["--set", "widht=10"],
        "error: --set: widht: no stage of this pipeline reads 'widht' (did you mean 'width'?); they read: batch, check_every, data, feature_dim, held_out, iterations, log_every, lr, min_accuracy, noise, seed, steps, target, val_scenes, width\n",
    ),
];

#[test]
fn every_message_is_exact() {
    let env = Env::new();
    let mut failures = Vec::new();
    for (name, pipeline, extra, expected) in CASES {
        env.pipeline("p.yaml", pipeline);
        let mut args = vec!["validate", "p.yaml"];
        args.extend_from_slice(extra);
        let out = env.run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(2) || stderr != *expected {
            failures.push(format!(
                "{name}: exit {:?}\n--- expected\n{expected}--- got\n{stderr}",
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_bad_status_filter_lists_the_statuses() {
    let env = Env::new();
    let out = env.run(&["runs", "list", "--status", "bogus"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: invalid value 'bogus' for '--status <STATUS>': unknown run status; expected one of queued, running, succeeded, failed, cancelled, requeued, skipped, cached\n\nFor more information, try '--help'.\n"
    );
}

#[test]
fn runs_list_is_newest_first_as_its_help_says() {
    let env = Env::new();
    let help = env.run(&["runs", "list", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    for line in [
        "Runs, newest first",
        "--status <STATUS>",
        "Only runs with this status",
        "--stage <STAGE>",
        "Only runs of this stage",
        "--pipeline <NAME>",
        "--invocation <N>",
        "--limit <N>",
        "Show the newest N runs",
    ] {
        assert!(help.contains(line), "{line:?} not in\n{help}");
    }
    env.pipeline(
        "p.yaml",
        "name: p\nstages:\n  a: { kind: command, params: { run: 'true' } }\n  b: { kind: command, needs: [a], params: { run: 'true' } }\n",
    );
    let out = env.run(&["run", "p.yaml", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = env.run(&["runs", "list"]);
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(2)
        .filter_map(|l| l.split('|').next())
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty() && !c.starts_with('('))
        .collect();
    assert_eq!(ids, ["2", "1"]);
}

#[test]
fn a_bare_pipeline_name_is_found_in_pipelines() {
    let env = Env::new();
    std::fs::create_dir_all(env.path().join("pipelines")).unwrap();
    std::fs::write(
        env.path().join("pipelines/sweep.yaml"),
        "name: s\nstages:\n  a: { kind: command, params: { run: 'true' } }\n",
    )
    .unwrap();
    std::fs::write(env.path().join("pipelines/other.yml"), "name: o\n").unwrap();
    let out = env.run(&["validate", "sweep.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "using pipelines/sweep.yaml (sweep.yaml is not in this folder)\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok: pipelines/sweep.yaml — 1 stages, 1 jobs\n"
    );
    let out = env.run(&["validate", "swep.yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: swep.yaml: cannot read the pipeline file: no such file; the pipelines in pipelines/: other.yml, sweep.yaml\n"
    );
}

#[test]
fn worker_commands_are_named_as_the_user_typed_them() {
    let env = Env::new();
    for sub in ["fid", "sample", "prompts"] {
        let out = env.run(&[sub, "--help"]);
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(
            s.contains(&format!("Usage: ddmd-pipe {sub} ")),
            "{sub}: {}",
            text(&out)
        );
        assert!(!s.contains("ddmd-pipe-worker"), "{sub}: {s}");
    }
    let out = env.run(&["devices", "--help"]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("Usage: ddmd-pipe devices"), "{s}");
}
