//! The report's reads (`ReadStore::load_report` and friends, and their synchronous versions in
//! `ddmd_store::report`) on a database the writer made: what a report sees agrees with the
//! store's own views, cached rows show their source's data, errors say what is missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;

use common::{ev, fixture, metric, new_run, Fixture};
use ddmd_core::{EventKind, RunId};
use ddmd_store::{report, ReadStore, RunFinish, StoreError};
use serde_json::json;
use std::collections::BTreeMap;

fn done(status: &str) -> RunFinish {
    RunFinish {
        status: ddmd_core::RunStatus::parse(status).expect("a run status"),
        exit_code: Some(0),
        error: None,
        ended_at: 1_100.0,
        artifact_dir: None,
    }
}

fn status(seq: u64, state: &str, key: Option<&str>, message: &str) -> ddmd_core::Event {
    ev(
        seq,
        EventKind::Status {
            state: state.into(),
            key: key.map(str::to_string),
            message: Some(message.into()),
        },
    )
}

/// Two trained runs (one with a point logged late for an earlier step, one with non-finite
/// values), a retried job, a cached run reusing the first, and a report run.
async fn sweep(f: &Fixture) -> (RunId, RunId, RunId) {
    let s = &f.store;
    let mut a = new_run(f, "train[lr=0.1]", "key-a");
    a.point = json!({"lr": 0.1, "opt": {"name": "adam", "beta": 0.9}, "seed": 0});
    let a = s.insert_run(&a).await.unwrap();
    let mut events: Vec<_> = (0..50)
        .map(|i| metric(i, "loss", i as i64 * 2, 1.0 / (1.0 + i as f64)))
        .collect();
    events.push(metric(50, "loss", 10, 7.0));
    events.push(metric(51, "fid", 0, 20.5));
    events.push(status(52, "info", Some("fid"), "N=500"));
    events.push(status(53, "unavailable", Some("hps"), "no checkpoint"));
    events.push(ev(
        54,
        EventKind::Artifact {
            name: "samples".into(),
            path: "nowhere/samples.png".into(),
        },
    ));
    s.ingest(a, &events).await.unwrap();
    s.finish_run(a, &done("succeeded")).await.unwrap();

    let b = s
        .insert_run(&new_run(f, "train[lr=0.2]", "key-b"))
        .await
        .unwrap();
    s.ingest(
        b,
        &[
            metric(0, "loss", 0, 1.0),
            metric(1, "loss", 5, f64::INFINITY),
            metric(2, "grad", 5, f64::NAN),
            status(3, "diverged", None, "loss is inf"),
        ],
    )
    .await
    .unwrap();
    s.finish_run(b, &done("failed")).await.unwrap();
    // The retry of b: only the latest attempt of a job is reported.
    let mut b2 = new_run(f, "train[lr=0.2]", "key-b");
    b2.attempt = 2;
    let b2 = s.insert_run(&b2).await.unwrap();
    s.ingest(b2, &[metric(0, "loss", 3, 0.5)]).await.unwrap();
    s.finish_run(b2, &done("succeeded")).await.unwrap();

    let c = s
        .record_cached(&new_run(f, "train[lr=0.1,again]", "key-a"), a)
        .await
        .unwrap();
    let mut rep = new_run(f, "report", "key-report");
    rep.kind = "report".into();
    rep.stage = "report".into();
    rep.params = json!({"tables": []});
    s.insert_run(&rep).await.unwrap();
    (a, b2, c)
}

#[tokio::test]
async fn report_data_agrees_with_the_views() {
    let f = fixture().await;
    let (a, b2, c) = sweep(&f).await;
    let r = ReadStore::open(&f.db).await.unwrap();
    let data = r.load_report(f.invocation.0).await.unwrap();
    assert_eq!(data.invocation.pipeline, "sweep");
    assert_eq!(data.invocation.argv, r#"["ddmd-pipe","run"]"#);
    let ids: Vec<i64> = data.runs.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![a.0, b2.0, c.0], "latest attempts, no report run");

    // Final values: those of the final_metrics view (metrics_final), for the run whose data a
    // row shows; run_summary maps cached rows to their source the same way.
    for run in &data.runs {
        let rows = r
            .query(&format!(
                "SELECT key, step, COALESCE(value, raw) FROM final_metrics WHERE run_id = {} ORDER BY key",
                run.data_id()
            ))
            .await
            .unwrap()
            .rows;
        let from_view: BTreeMap<String, (i64, String)> = rows
            .iter()
            .map(|row| {
                (
                    row[0].as_str().unwrap().to_string(),
                    (row[1].as_i64().unwrap(), row[2].to_string()),
                )
            })
            .collect();
        let loaded: BTreeMap<String, (i64, String)> = run
            .finals
            .iter()
            .map(|(k, v)| {
                let shown = if v.value.is_nan() {
                    "\"NaN\"".to_string()
                } else if v.value == f64::INFINITY {
                    "\"Infinity\"".to_string()
                } else {
                    json!(v.value).to_string()
                };
                (k.clone(), (v.step, shown))
            })
            .collect();
        assert_eq!(loaded, from_view, "run {}", run.id);
        let summary = r
            .query(&format!(
                "SELECT metrics FROM run_summary WHERE run_id = {}",
                run.id
            ))
            .await
            .unwrap();
        let summary: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(summary.rows[0][0].as_str().unwrap()).unwrap();
        let keys: Vec<&String> = summary.keys().collect();
        assert_eq!(
            keys,
            run.finals.keys().collect::<Vec<_>>(),
            "run {}",
            run.id
        );
    }

    let ra = &data.runs[0];
    assert_eq!(ra.finals["loss"].step, 98);
    assert_eq!(ra.curves["loss"].len(), 50);
    assert_eq!(
        ra.curves["loss"][5],
        (10.0, 7.0),
        "the later point of step 10 wins"
    );
    let labels: Vec<(&str, &str)> = ra
        .point
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(labels, [("lr", "0.1"), ("opt", "adam"), ("seed", "0")]);
    assert_eq!(ra.info["fid"], "N=500");
    assert_eq!(ra.unavailable["hps"], "no checkpoint");
    assert_eq!(ra.artifacts[0].path, "nowhere/samples.png");

    let rb = &data.runs[1];
    assert_eq!(rb.attempt, 2);
    assert_eq!(rb.finals["loss"].value, 0.5);
    assert_eq!(
        rb.curves["loss"],
        [(3.0, 0.5)],
        "a retry that does not say it resumed starts its own curve"
    );
    assert!(
        rb.diverged.is_none(),
        "the diverged note was the first attempt's"
    );

    // The cached row keeps its own status and id but shows a's data and artifact folder.
    let rc = &data.runs[2];
    assert_eq!(rc.status, "cached");
    assert_eq!(rc.source_run_id, Some(a.0));
    assert_eq!(rc.finals, ra.finals);
    assert_eq!(rc.curves, ra.curves);
    assert_eq!(rc.info, ra.info);
    assert_eq!(rc.artifacts.len(), 1);
    assert_eq!(rc.artifact_dir, ra.artifact_dir);
}

#[tokio::test]
async fn non_finite_values_and_notes() {
    let f = fixture().await;
    let s = &f.store;
    let b = s.insert_run(&new_run(&f, "b", "key-b")).await.unwrap();
    s.ingest(
        b,
        &[
            metric(0, "loss", 0, 1.0),
            metric(1, "loss", 5, f64::NEG_INFINITY),
            metric(2, "grad", 5, f64::NAN),
            status(3, "diverged", None, ""),
        ],
    )
    .await
    .unwrap();
    let r = ReadStore::open(&f.db).await.unwrap();
    let data = r.load_report(f.invocation.0).await.unwrap();
    let run = &data.runs[0];
    assert_eq!(run.finals["loss"].value, f64::NEG_INFINITY);
    assert!(run.finals["grad"].value.is_nan());
    assert_eq!(
        run.curves["loss"],
        vec![(0.0, 1.0)],
        "curves hold finite points"
    );
    assert!(run.curves["grad"].is_empty());
    assert_eq!(run.diverged.as_deref(), Some("diverged"));
}

#[tokio::test]
async fn lookups_and_their_errors() {
    let f = fixture().await;
    let (a, _, _) = sweep(&f).await;
    let r = ReadStore::open(&f.db).await.unwrap();
    assert_eq!(r.invocation_of_run(a).await.unwrap(), f.invocation.0);
    assert!(matches!(
        r.invocation_of_run(RunId(999)).await,
        Err(StoreError::UnknownRun(RunId(999)))
    ));
    assert_eq!(
        r.find_invocation("sweep", None).await.unwrap(),
        f.invocation.0
    );
    assert_eq!(
        r.find_invocation("sweep", Some(f.invocation.0))
            .await
            .unwrap(),
        f.invocation.0
    );
    let err = r.find_invocation("sweep", Some(77)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "invocation 77 is not an invocation of pipeline \"sweep\""
    );
    let err = r.find_invocation("nope", None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "no runs of pipeline \"nope\"; pipelines in this database: sweep"
    );
    assert!(matches!(
        r.load_report(77).await,
        Err(StoreError::UnknownInvocation(ddmd_core::InvocationId(77)))
    ));
    let params = r.report_params(f.invocation.0).await.unwrap().unwrap();
    assert_eq!(params["tables"], json!([]));
    assert_eq!(r.report_params(77).await.unwrap(), None);
}

#[tokio::test]
async fn an_invocation_without_runs_is_not_the_latest() {
    let f = fixture().await;
    sweep(&f).await;
    let empty = f
        .store
        .begin_invocation(f.pipeline, &[], "host", 1, None, "local")
        .await
        .unwrap();
    let r = ReadStore::open(&f.db).await.unwrap();
    assert_eq!(
        r.find_invocation("sweep", None).await.unwrap(),
        f.invocation.0
    );
    assert_eq!(
        r.find_invocation("sweep", Some(empty.0)).await.unwrap(),
        empty.0
    );
}

/// The synchronous versions work inside a runtime too (each runs on its own thread), and the
/// writer keeps its connection meanwhile.
#[tokio::test]
async fn synchronous_reads_inside_a_runtime() {
    let f = fixture().await;
    let (a, _, _) = sweep(&f).await;
    assert_eq!(report::invocation_of_run(&f.db, a).unwrap(), f.invocation.0);
    assert_eq!(
        report::find_invocation(&f.db, "sweep", None).unwrap(),
        f.invocation.0
    );
    assert!(report::report_params(&f.db, f.invocation.0)
        .unwrap()
        .is_some());
    let data = report::load_report(&f.db, f.invocation.0).unwrap();
    assert_eq!(data.runs.len(), 3);
    // The writer was never disturbed.
    f.store
        .ingest(a, &[metric(500, "late", 0, 1.0)])
        .await
        .unwrap();
}

/// A job killed twice and rerun: attempt 1 trains 0..=12 (checkpoint at 8), attempt 2 resumes
/// at 8 and trains to 18 (checkpoint at 14), attempt 3 resumes at 14 and finishes at 24, each
/// rerun a new invocation. Values are `100 × attempt + step`, so each point names its source.
#[tokio::test]
async fn a_resumed_run_shows_one_curve_from_its_attempts() {
    let f = fixture().await;
    let s = &f.store;
    let mut last = None;
    for (attempt, (from, to, ended)) in [
        (None, 12, "cancelled"),
        (Some(8), 18, "cancelled"),
        (Some(14), 24, "succeeded"),
    ]
    .into_iter()
    .enumerate()
    {
        let attempt = attempt as i64 + 1;
        let mut run = new_run(&f, "train[lr=0.1]", "key-long");
        if attempt > 1 {
            run.invocation_id = s
                .begin_invocation(
                    f.pipeline,
                    &["ddmd-pipe".into(), "run".into()],
                    "host",
                    42,
                    None,
                    "local",
                )
                .await
                .unwrap();
        }
        let id = s.insert_run(&run).await.unwrap();
        let mut events = Vec::new();
        let first = match from {
            Some(it) => {
                events.push(metric(0, ddmd_core::metrics::RESUMED_FROM, it, it as f64));
                it + 2
            }
            None => 0,
        };
        for step in (first..=to).step_by(2) {
            let seq = events.len() as u64;
            events.push(metric(seq, "loss", step, (100 * attempt + step) as f64));
            if attempt == 1 && step == 4 {
                events.push(status(
                    seq + 1,
                    "diverged",
                    Some("stability"),
                    "iteration 4: x",
                ));
            }
        }
        s.ingest(id, &events).await.unwrap();
        s.finish_run(id, &done(ended)).await.unwrap();
        last = Some((run.invocation_id, id));
    }
    let (invocation, id) = last.unwrap();

    let data = report::load_report(&f.db, invocation.0).unwrap();
    assert_eq!(data.runs.len(), 1);
    let r = &data.runs[0];
    assert_eq!(r.id, id.0);
    let want: Vec<(f64, f64)> = (0..=8)
        .step_by(2)
        .map(|s| (s, 100 + s))
        .chain((10..=14).step_by(2).map(|s| (s, 200 + s)))
        .chain((16..=24).step_by(2).map(|s| (s, 300 + s)))
        .map(|(s, v)| (s as f64, v as f64))
        .collect();
    assert_eq!(
        r.curves["loss"], want,
        "attempt 1 to 8, attempt 2 to 14, then its own"
    );
    // The final values are the run's own; the marker is not joined.
    assert_eq!(r.finals["loss"].step, 24);
    assert_eq!(r.finals["loss"].value, 324.0);
    assert_eq!(r.curves[ddmd_core::metrics::RESUMED_FROM], [(14.0, 14.0)]);
    assert_eq!(
        r.diverged.as_deref(),
        Some("iteration 4: x"),
        "the verdict attempt 1 reached before the checkpoint is the run's"
    );

    // The first attempt, reported on its own, is unchanged.
    let first = report::load_report(&f.db, f.invocation.0).unwrap();
    assert_eq!(first.runs[0].curves["loss"].len(), 7);
}

#[test]
fn synchronous_reads_of_a_missing_file_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.sqlite");
    let err = report::load_report(&db, 1).unwrap_err();
    assert!(matches!(err, StoreError::Missing { .. }), "{err}");
    assert!(!db.exists());
}
