//! Event ingestion into a real database file: idempotency, non-finite values, routing of each
//! event type, final values, artifacts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;

use common::{ev, fixture, metric, run};
use ddmd_core::{EventKind, RunId};
use ddmd_store::{IngestStats, ReadStore, RunFinish, StoreError};

async fn count(db: &std::path::Path, sql: &str) -> i64 {
    let r = ReadStore::open(db).await.unwrap();
    let res = r.query(sql).await.unwrap();
    res.rows[0][0].as_i64().unwrap()
}

#[tokio::test]
async fn reingesting_the_same_events_inserts_each_row_once() {
    let f = fixture().await;
    let run = run(&f, "a").await;
    // More than one full statement (1024 rows) plus a ragged tail, and every event type.
    let mut events: Vec<_> = (0..2_500)
        .map(|i| {
            metric(
                i,
                ["loss", "acc"][i as usize % 2],
                i as i64 / 2,
                i as f64 * 0.5,
            )
        })
        .collect();
    events.push(ev(
        2_500,
        EventKind::Log {
            level: "info".into(),
            message: "hello".into(),
        },
    ));
    events.push(ev(
        2_501,
        EventKind::Progress {
            done: 3.0,
            total: Some(10.0),
            message: None,
        },
    ));
    events.push(ev(
        2_502,
        EventKind::Status {
            state: "unavailable".into(),
            key: Some("hps".into()),
            message: Some("no checkpoint".into()),
        },
    ));
    events.push(ev(
        2_503,
        EventKind::Artifact {
            name: "model".into(),
            path: "model.bin".into(),
        },
    ));

    let first = f.store.ingest(run, &events).await.unwrap();
    assert_eq!(
        first,
        IngestStats {
            metrics: 2_500,
            events: 2,
            artifacts: 1,
            unavailable: 1,
            duplicates: 0
        }
    );
    // The whole batch again, then an overlapping slice (a crash mid-file, re-read from an
    // earlier offset): nothing new.
    let second = f.store.ingest(run, &events).await.unwrap();
    assert_eq!(second.inserted(), 0);
    assert_eq!(second.duplicates, events.len() as u64);
    let third = f.store.ingest(run, &events[1_000..2_100]).await.unwrap();
    assert_eq!(third.inserted(), 0);

    assert_eq!(count(&f.db, "select count(*) from metrics").await, 2_500);
    assert_eq!(
        count(&f.db, "select count(distinct seq) from metrics").await,
        2_500
    );
    assert_eq!(count(&f.db, "select count(*) from events").await, 2);
    assert_eq!(count(&f.db, "select count(*) from artifacts").await, 1);
    assert_eq!(count(&f.db, "select count(*) from unavailable").await, 1);

    let r = ReadStore::open(&f.db).await.unwrap();
    let d = r.run(run).await.unwrap().unwrap();
    assert_eq!(d.unavailable[0].key, "hps");
    assert_eq!(d.unavailable[0].reason, "no checkpoint");
    // Final value: largest step. loss is logged at even seqs: last is seq 2498, step 1249.
    let loss = d.metrics.iter().find(|m| m.key == "loss").unwrap();
    assert_eq!((loss.step, loss.value), (1_249, Some(1_249.0)));
    let series = r.metric_series(run, "acc").await.unwrap();
    assert_eq!(series.len(), 1_250);
    assert_eq!(series[3], (3, 3.5));
    let payload = r
        .query("select type, payload from events order by seq")
        .await
        .unwrap();
    assert_eq!(payload.rows[0][0], "log");
    assert!(payload.rows[0][1].as_str().unwrap().contains("hello"));
}

#[tokio::test]
async fn non_finite_values_keep_their_text() {
    let f = fixture().await;
    let run = run(&f, "a").await;
    let events = vec![
        metric(0, "loss", 0, 1.5),
        metric(1, "loss", 1, f64::NAN),
        metric(2, "var", 0, f64::INFINITY),
        metric(3, "var", 1, f64::NEG_INFINITY),
    ];
    f.store.ingest(run, &events).await.unwrap();
    let r = ReadStore::open(&f.db).await.unwrap();
    let res = r
        .query("select seq, value, raw from metrics order by seq")
        .await
        .unwrap();
    let got: Vec<String> = res.rows.iter().map(|r| format!("{r:?}")).collect();
    assert_eq!(
        got,
        vec![
            r#"[Number(0), Number(1.5), Null]"#,
            r#"[Number(1), Null, String("NaN")]"#,
            r#"[Number(2), Null, String("Infinity")]"#,
            r#"[Number(3), Null, String("-Infinity")]"#,
        ]
    );
    let series = r.metric_series(run, "loss").await.unwrap();
    assert_eq!(series[0], (0, 1.5));
    assert!(series[1].1.is_nan());
    let d = r.run(run).await.unwrap().unwrap();
    let loss = d.metrics.iter().find(|m| m.key == "loss").unwrap();
    assert_eq!((loss.value, loss.raw.as_deref()), (None, Some("NaN")));
    assert!(loss.as_f64().is_nan());
    let var = d.metrics.iter().find(|m| m.key == "var").unwrap();
    assert_eq!(var.as_f64(), f64::NEG_INFINITY);
    // The summary view shows the text where there is no number.
    let s = r
        .query(&format!(
            "select metrics from run_summary where run_id = {}",
            run.0
        ))
        .await
        .unwrap();
    assert_eq!(s.rows[0][0], r#"{"loss":"NaN","var":"-Infinity"}"#);
}

#[tokio::test]
async fn final_value_is_largest_step_then_latest_seq_whatever_the_arrival_order() {
    let f = fixture().await;
    let run = run(&f, "a").await;
    // Batch 1 holds the largest step; batch 2 arrives later with smaller steps and must not
    // replace it; a tie on the step goes to the later seq.
    f.store
        .ingest(
            run,
            &[metric(10, "fid", 100, 5.0), metric(11, "fid", 100, 4.0)],
        )
        .await
        .unwrap();
    f.store
        .ingest(
            run,
            &[metric(3, "fid", 50, 9.0), metric(12, "fid", 20, 1.0)],
        )
        .await
        .unwrap();
    let r = ReadStore::open(&f.db).await.unwrap();
    let fm = r
        .query("select key, step, value from final_metrics")
        .await
        .unwrap();
    assert_eq!(
        fm.rows,
        vec![vec![
            serde_json::json!("fid"),
            serde_json::json!(100),
            serde_json::json!(4.0)
        ]]
    );
}

#[tokio::test]
async fn artifacts_are_measured_relative_to_the_run_folders() {
    let f = fixture().await;
    let run = run(&f, "a").await;
    let job_dir = f.dir.path().join("job");
    let art_dir = f.dir.path().join("art");
    std::fs::create_dir_all(&job_dir).unwrap();
    std::fs::write(job_dir.join("log.txt"), b"abc").unwrap();
    f.store
        .mark_running(run, &[0, 2], Some(1234), job_dir.to_str().unwrap(), 1_001.0)
        .await
        .unwrap();
    let abs = f.dir.path().join("abs.bin");
    std::fs::write(&abs, [7u8; 100]).unwrap();
    f.store
        .ingest(
            run,
            &[
                ev(
                    0,
                    EventKind::Artifact {
                        name: "log".into(),
                        path: "log.txt".into(),
                    },
                ),
                ev(
                    1,
                    EventKind::Artifact {
                        name: "abs".into(),
                        path: abs.to_str().unwrap().into(),
                    },
                ),
                // Written into the artifact folder, which does not exist yet.
                ev(
                    2,
                    EventKind::Artifact {
                        name: "samples".into(),
                        path: "samples".into(),
                    },
                ),
            ],
        )
        .await
        .unwrap();
    let r = ReadStore::open(&f.db).await.unwrap();
    let d = r.run(run).await.unwrap().unwrap();
    assert_eq!(d.artifacts[0].bytes, Some(3));
    assert_eq!(
        d.artifacts[0].sha256.as_deref(),
        Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(d.artifacts[1].bytes, Some(100));
    assert_eq!(d.artifacts[2].bytes, None);
    assert_eq!(d.run.devices, vec![0, 2]);
    assert_eq!(d.run.pgid, Some(1234));

    // The folder appears (renamed into place); finishing the run measures what was missing.
    std::fs::create_dir_all(art_dir.join("samples")).unwrap();
    std::fs::write(art_dir.join("samples/0.png"), [1u8; 10]).unwrap();
    std::fs::write(art_dir.join("samples/1.png"), [2u8; 5]).unwrap();
    f.store
        .finish_run(
            run,
            &RunFinish {
                status: ddmd_core::RunStatus::Succeeded,
                exit_code: Some(0),
                error: None,
                ended_at: 1_010.0,
                artifact_dir: Some(art_dir.to_str().unwrap().into()),
            },
        )
        .await
        .unwrap();
    let d = r.run(run).await.unwrap().unwrap();
    assert_eq!(d.artifacts[2].bytes, Some(15));
    assert_eq!(d.artifacts[2].sha256.as_ref().map(String::len), Some(64));
    assert_eq!(d.run.status, ddmd_core::RunStatus::Succeeded);
    assert_eq!(d.run.duration_s(), Some(9.0));
}

#[tokio::test]
async fn ingest_into_a_missing_run_is_a_clear_error() {
    let f = fixture().await;
    let err = f
        .store
        .ingest(RunId(999), &[metric(0, "x", 0, 1.0)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownRun(RunId(999))));
    assert_eq!(err.to_string(), "run 999 is not in the run database");
}

#[tokio::test]
async fn a_failed_batch_leaves_nothing_behind() {
    let f = fixture().await;
    let run = run(&f, "a").await;
    // A seq beyond i64 is rejected before anything is written; the valid events of the same
    // batch are not half-inserted.
    let err = f
        .store
        .ingest(
            run,
            &[metric(0, "x", 0, 1.0), metric(u64::MAX, "x", 1, 2.0)],
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
    assert_eq!(count(&f.db, "select count(*) from metrics").await, 0);
}
