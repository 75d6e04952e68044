//! Event ingestion into a real database file: idempotency, non-finite values, routing of each
//! event type, final values, artifacts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;

use common::{ev, fixture, metric, run};
use ddmd_core::{Event, EventKind, EventLines, RunId};
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
            duplicates: 0,
            rejected: 0,
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
    // Relative paths are normalised before they are joined: `nested` need not exist.
    std::fs::write(job_dir.join("other.bin"), [7u8; 100]).unwrap();
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
                        name: "other".into(),
                        path: "nested/../other.bin".into(),
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

/// The `warn` log events of a run: (seq, message), by seq.
async fn warnings(db: &std::path::Path) -> Vec<(i64, String)> {
    let r = ReadStore::open(db).await.unwrap();
    let res = r
        .query(
            "select seq, json_extract(payload, '$.message') from events \
             where type = 'log' and json_extract(payload, '$.level') = 'warn' order by seq",
        )
        .await
        .unwrap();
    res.rows
        .iter()
        .map(|row| {
            (
                row[0].as_i64().unwrap(),
                row[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn artifact(seq: u64, name: &str, path: &str) -> Event {
    ev(
        seq,
        EventKind::Artifact {
            name: name.into(),
            path: path.into(),
        },
    )
}

fn log(seq: u64, message: &str) -> Event {
    ev(
        seq,
        EventKind::Log {
            level: "info".into(),
            message: message.into(),
        },
    )
}

fn lines(events: Vec<Event>, malformed: &[(u64, &str)]) -> EventLines {
    EventLines {
        events: events
            .into_iter()
            .enumerate()
            .map(|(i, e)| (i as u64 + 1, e))
            .collect(),
        malformed: malformed.iter().map(|(l, m)| (*l, m.to_string())).collect(),
    }
}

const LINE_WARNING: i64 = 1 << 40;

#[tokio::test]
async fn events_that_break_the_contract_become_warnings_and_the_rest_goes_in() {
    let f = fixture().await;
    let run = run(&f, "a").await;
    let job_dir = f.dir.path().join("job");
    std::fs::create_dir_all(&job_dir).unwrap();
    std::fs::write(job_dir.join("model.bin"), b"abc").unwrap();
    f.store
        .mark_running(run, &[], None, job_dir.to_str().unwrap(), 1_001.0)
        .await
        .unwrap();
    let huge_key = "k".repeat(60 << 20);
    let long_message = "m".repeat(ddmd_core::contract::MAX_MESSAGE_BYTES * 3);
    let batch = lines(
        vec![
            metric(0, "train/loss", 0, 1.0),           // line 1
            metric(1, &huge_key, 0, 2.0),              // line 2
            metric(2, "loss\u{1b}[2J", 0, 3.0),        // line 3
            artifact(3, "passwd", "/etc/passwd"),      // line 4
            artifact(4, "passwd", "../../etc/passwd"), // line 5
            log(5, &long_message),                     // line 6
            artifact(6, "model", "sub/../model.bin"),  // line 7
            metric(1 << 40, "train/loss", 1, 4.0),     // line 8
            metric(8, "train/loss", 2, 5.0),           // line 9
        ],
        &[(10, "expected value at line 1 column 1")],
    );
    let stats = f.store.ingest_lines(run, &batch).await.unwrap();
    assert_eq!(
        stats,
        IngestStats {
            metrics: 2,
            events: 1 + 6,
            artifacts: 1,
            unavailable: 0,
            duplicates: 0,
            rejected: 5,
        }
    );

    // Nothing of the refused events is recorded as data.
    assert_eq!(
        count(&f.db, "select count(*) from metrics where seq in (0, 8)").await,
        2
    );
    assert_eq!(count(&f.db, "select count(*) from metrics").await, 2);
    assert_eq!(
        count(&f.db, "select max(length(key)) from metrics").await,
        10
    );
    assert_eq!(count(&f.db, "select count(*) from artifacts").await, 1);
    // Below the warnings' seqs, `events` holds the log line alone.
    assert_eq!(
        count(
            &f.db,
            "select count(*) from events where seq < 1099511627776"
        )
        .await,
        1
    );
    let r = ReadStore::open(&f.db).await.unwrap();
    let d = r.run(run).await.unwrap().unwrap();
    assert_eq!(d.artifacts.len(), 1);
    assert_eq!(
        (d.artifacts[0].path.as_str(), d.artifacts[0].bytes),
        ("sub/../model.bin", Some(3))
    );
    // The long message is kept, cut, with a marker.
    let payload = r
        .query("select payload from events where seq = 5")
        .await
        .unwrap();
    let payload = payload.rows[0][0].as_str().unwrap();
    assert!(payload.len() < ddmd_core::contract::MAX_MESSAGE_BYTES + 100);
    assert!(payload.contains("… [truncated, 196608 bytes in all]"));

    // One warning per refused event and malformed line, keyed by line, naming seq and reason.
    let w = warnings(&f.db).await;
    let seqs: Vec<i64> = w.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, [2, 3, 4, 5, 8, 10].map(|l| LINE_WARNING + l));
    let texts: Vec<&str> = w.iter().map(|(_, m)| m.as_str()).collect();
    assert!(texts[0].starts_with(
        "events.jsonl line 2: event seq 1 skipped: metric key is 62914560 bytes long (at most 256): \"kkkk"
    ), "{}", texts[0]);
    assert!(texts[0].len() < 200, "a short excerpt, not the key");
    assert_eq!(
        texts[1],
        "events.jsonl line 3: event seq 2 skipped: metric key holds the non-printable character U+001B at byte 4: \"loss\\u{1b}[2J\""
    );
    assert_eq!(
        texts[2],
        "events.jsonl line 4: event seq 3 skipped: artifact path \"/etc/passwd\" is absolute; it must be relative to the job's artifact folder"
    );
    assert_eq!(
        texts[3],
        "events.jsonl line 5: event seq 4 skipped: artifact path \"../../etc/passwd\" leads out of the job's artifact folder"
    );
    assert!(
        texts[4].starts_with(
            "events.jsonl line 8: event seq 1099511627776 skipped: seq 1099511627776 is reserved"
        ),
        "{}",
        texts[4]
    );
    assert_eq!(
        texts[5],
        "events.jsonl line 10: malformed event skipped: expected value at line 1 column 1"
    );

    // `runs show` tells.
    assert_eq!(d.warnings_total, 6);
    let shown = ddmd_store::format_run_detail(&d);
    let tail = shown
        .split("\nwarnings\n")
        .nth(1)
        .expect("a warnings section");
    assert!(
        tail.starts_with("  events.jsonl line 2: event seq 1 skipped: metric key is"),
        "{shown}"
    );
    assert!(
        tail.contains(
            "  events.jsonl line 5: event seq 4 skipped: artifact path \"../../etc/passwd\""
        ),
        "{shown}"
    );
    assert!(!shown.contains('\u{1b}'));

    // The same lines again (a re-read after a crash): nothing new, the same warnings.
    let again = f.store.ingest_lines(run, &batch).await.unwrap();
    assert_eq!(again.inserted(), 0);
    assert_eq!((again.rejected, again.duplicates), (5, 4));
    assert_eq!(warnings(&f.db).await, w);
}

#[tokio::test]
async fn a_reused_seq_warns_unless_it_repeats_the_recorded_event() {
    let f = fixture().await;
    let run = run(&f, "a").await;
    let first = vec![
        metric(0, "loss", 0, f64::NAN),
        log(1, "hello"),
        artifact(2, "w", "w.bin"),
        metric(3, "loss", 1, 1.0),
    ];
    let stats = f
        .store
        .ingest_lines(run, &lines(first.clone(), &[]))
        .await
        .unwrap();
    assert_eq!((stats.inserted(), stats.rejected), (4, 0));

    // The file read again from the start, now with three more lines: a metric that reuses
    // seq 0, an artifact that reuses the log's seq 1, and a new point.
    let mut file = first.clone();
    file.push(metric(0, "loss", 0, 2.0)); // line 5
    file.push(artifact(1, "hello", "hello.txt")); // line 6
    file.push(metric(4, "loss", 2, 3.0)); // line 7
    let batch = lines(file, &[]);
    let stats = f.store.ingest_lines(run, &batch).await.unwrap();
    assert_eq!(
        stats,
        IngestStats {
            metrics: 1,
            events: 2,
            artifacts: 0,
            unavailable: 0,
            duplicates: 4,
            rejected: 2,
        }
    );
    assert_eq!(
        warnings(&f.db).await,
        vec![
            (
                LINE_WARNING + 5,
                "events.jsonl line 5: event seq 0 skipped: seq 0 was already used by a different event".to_string()
            ),
            (
                LINE_WARNING + 6,
                "events.jsonl line 6: event seq 1 skipped: seq 1 was already used by a different event".to_string()
            ),
        ]
    );
    // The first event with a seq stays.
    let r = ReadStore::open(&f.db).await.unwrap();
    let series = r.metric_series(run, "loss").await.unwrap();
    assert_eq!(series.len(), 3);
    assert!(series[0].1.is_nan());
    assert_eq!(count(&f.db, "select count(*) from artifacts").await, 1);

    // Identical content is silent, in another batch or within one, NaN included.
    let again = f.store.ingest_lines(run, &batch).await.unwrap();
    assert_eq!(
        (again.inserted(), again.rejected, again.duplicates),
        (0, 2, 5)
    );
    let twice: Vec<Event> = first.iter().chain(&first).cloned().collect();
    let stats = f.store.ingest(run, &twice).await.unwrap();
    assert_eq!(
        (stats.inserted(), stats.rejected, stats.duplicates),
        (0, 0, 8)
    );
    assert_eq!(warnings(&f.db).await.len(), 2);

    // Without line numbers (events handed over directly) the warning is keyed by seq.
    let stats = f
        .store
        .ingest(run, &[metric(3, "loss", 1, 9.0), metric(5, "acc", 0, 0.5)])
        .await
        .unwrap();
    assert_eq!((stats.metrics, stats.events, stats.rejected), (1, 1, 1));
    let w = warnings(&f.db).await;
    assert_eq!(
        w[2],
        (
            2 * LINE_WARNING + 3,
            "event seq 3 skipped: seq 3 was already used by a different event".to_string()
        )
    );
    let d = r.run(run).await.unwrap().unwrap();
    let loss = d.metrics.iter().find(|m| m.key == "loss").unwrap();
    assert_eq!(
        (loss.step, loss.value),
        (2, Some(3.0)),
        "the reused seq changed nothing"
    );
}

#[tokio::test]
async fn runs_show_lists_the_first_warnings_and_counts_the_rest() {
    let f = fixture().await;
    let run = run(&f, "a").await;
    let malformed: Vec<(u64, String)> = (1..=25).map(|l| (l, "bad".to_string())).collect();
    let batch = EventLines {
        events: vec![],
        malformed,
    };
    f.store.ingest_lines(run, &batch).await.unwrap();
    let r = ReadStore::open(&f.db).await.unwrap();
    let d = r.run(run).await.unwrap().unwrap();
    assert_eq!(d.warnings.len() as i64, ddmd_store::MAX_WARNINGS_SHOWN);
    assert_eq!(d.warnings_total, 25);
    assert_eq!(d.warnings[0].seq, LINE_WARNING + 1);
    let shown = ddmd_store::format_run_detail(&d);
    assert!(
        shown.ends_with(&format!(
            "  events.jsonl line 20: malformed event skipped: bad\n  … and 5 more (ddmd-pipe query \"select payload from events where run_id = {} and type = 'log'\")\n",
            run.0
        )),
        "{shown}"
    );
}
