//! Evaluating a distill run along its training, through the binary: a tiny teacher, judge and
//! student (6 updates, a snapshot every 2), an `evaluate` stage with a matrix over the
//! checkpoint iterations, and a report with the curve. One evaluate job per checkpoint, their
//! metrics recorded at the checkpoint's iteration, the report's sweep over `checkpoint` with
//! three points — and a checkpoint the run never kept is an error that lists the ones it has.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{text, Env};

const PIPELINE: &str = r#"
name: along
defaults:
  seed: 0
  data: { kind: shapes, resolution: 16, objects: [1, 1] }
stages:
  teacher:
    kind: teacher
    params: { iterations: 2, batch: 8, sample_steps: 4 }
  judge:
    kind: judge
    params: { iterations: 5, batch: 16, held_out: 20, min_accuracy: 0.0 }
  distill:
    kind: distill
    needs: [teacher]
    params: { iterations: 6, batch: 4, student_steps: 2, fake_updates: 1, snapshot_every: 2 }
  evaluate:
    kind: evaluate
    needs: [distill, judge]
    matrix: { checkpoint: [2, 4, 6] }
    params: { sample_steps: [2], samples: 8, batch: 8, metrics: [fid, dpg, pixels, stability] }
  report:
    kind: report
    needs: [evaluate]
    params:
      title: Along training
      output_dir: REPORTS
      tables: []
      plots:
        - { kind: sweep, metric: fid@2, x: checkpoint }
"#;

#[test]
fn each_checkpoint_is_one_evaluate_job_and_the_report_draws_the_curve() {
    let env = Env::new();
    let reports = env.path().join("reports");
    let p = env.pipeline(
        "along.yaml",
        &PIPELINE.replace("REPORTS", reports.to_str().unwrap()),
    );
    let out = env.run(&["run", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let jobs =
        env.sql("select job_name, status from runs where stage = 'evaluate' order by job_name");
    assert_eq!(
        jobs,
        vec![
            vec!["evaluate[checkpoint=2]".to_string(), "succeeded".into()],
            vec!["evaluate[checkpoint=4]".to_string(), "succeeded".into()],
            vec!["evaluate[checkpoint=6]".to_string(), "succeeded".into()],
        ]
    );
    // Metrics at the checkpoint's iteration, one per job.
    let steps = env.sql(
        "select r.job_name, m.step from metrics m join runs r on r.id = m.run_id \
         where r.stage = 'evaluate' and m.key = 'fid@2' order by m.step",
    );
    assert_eq!(
        steps.iter().map(|r| r[1].as_str()).collect::<Vec<_>>(),
        vec!["2", "4", "6"],
        "{steps:?}"
    );
    // Different weights: the three FIDs are not one value copied.
    let fids = env.sql(
        "select distinct m.value from metrics m join runs r on r.id = m.run_id \
         where r.stage = 'evaluate' and m.key = 'fid@2'",
    );
    assert_eq!(fids.len(), 3, "{fids:?}");
    // The detector's verdict as of each checkpoint.
    let stability = env.sql(
        "select m.step, m.value from metrics m join runs r on r.id = m.run_id \
         where r.stage = 'evaluate' and m.key = 'stability' order by m.step",
    );
    for row in &stability {
        assert!(
            row[1].parse::<f64>().unwrap() <= row[0].parse::<f64>().unwrap(),
            "{row:?}"
        );
    }
    // The report draws the sweep over `checkpoint`; report.json stays a summary.
    let html = std::fs::read_to_string(reports.join("along/index.html")).unwrap();
    let plot = html
        .split("<svg")
        .skip(1)
        .map(|svg| svg.split("</svg>").next().unwrap_or_default())
        .find(|svg| svg.contains("FID, 2 steps against checkpoint"))
        .unwrap_or_else(|| panic!("no plot of FID, 2 steps against checkpoint in {html}"));
    assert_eq!(plot.matches("<circle").count(), 3, "one dot per checkpoint");

    // A checkpoint the run did not keep: an error naming the ones it has.
    let bad = env.pipeline(
        "bad.yaml",
        &PIPELINE
            .replace("REPORTS", reports.to_str().unwrap())
            .replace("checkpoint: [2, 4, 6]", "checkpoint: [3]"),
    );
    let out = env.run(&["run", bad.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    let log = env.sql(
        "select error from runs where job_name = 'evaluate[checkpoint=3]' and status = 'failed'",
    );
    let shown = format!("{}{log:?}", text(&out));
    assert!(
        shown.contains("no training snapshot at iteration 3") && shown.contains("2, 4, 6"),
        "{shown}"
    );
}
