//! Readers cannot write: every kind of change is refused with a clear message, and the
//! database is unchanged afterwards.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;

use common::{fixture, metric, run};
use ddmd_store::{ReadStore, StoreError};

#[tokio::test]
async fn every_kind_of_write_is_refused() {
    let f = fixture().await;
    let r1 = run(&f, "a").await;
    f.store
        .ingest(r1, &[metric(0, "loss", 0, 1.0)])
        .await
        .unwrap();
    let other = f.dir.path().join("other.sqlite");
    std::fs::write(&other, b"").unwrap();
    let attach_existing = format!("ATTACH DATABASE '{}' AS o", other.display());
    let r = ReadStore::open(&f.db).await.unwrap();
    let user_version_before = r.query("PRAGMA user_version").await.unwrap();
    let writes = [
        "INSERT INTO metrics (run_id, seq, key, step, value) VALUES (1, 99, 'x', 0, 1.0)",
        "UPDATE runs SET status = 'failed'",
        "DELETE FROM metrics",
        "CREATE TABLE t (a)",
        "CREATE TEMP TABLE t (a)",
        "DROP TABLE metrics",
        "ATTACH DATABASE ':memory:' AS m",
        attach_existing.as_str(),
        "PRAGMA user_version = 7",
        "PRAGMA journal_mode = DELETE",
        "PRAGMA query_only = OFF",
        "VACUUM",
        "BEGIN IMMEDIATE",
        // A write hidden behind a CTE is still a write.
        "WITH x AS (SELECT 1) DELETE FROM runs",
    ];
    for sql in writes {
        let err = r.query(sql).await.expect_err(sql);
        match &err {
            StoreError::ReadOnly { .. } => {}
            other => panic!("{sql}: expected a read-only refusal, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.starts_with("the run database is open read-only here and cannot be changed: "),
            "{sql}: {msg}"
        );
    }
    // Nothing changed, and the connection still reads.
    assert_eq!(
        r.query("PRAGMA user_version").await.unwrap(),
        user_version_before
    );
    let n = r.query("SELECT count(*) FROM metrics").await.unwrap();
    assert_eq!(n.rows[0][0], 1);
    let jm = r.query("PRAGMA journal_mode").await.unwrap();
    assert_eq!(jm.rows[0][0], "wal");
    let runs = r.query("SELECT status FROM runs").await.unwrap();
    assert_eq!(runs.rows[0][0], "queued");
    // Reading pragmas with an argument stay allowed.
    let info = r.query("PRAGMA table_info(metrics)").await.unwrap();
    assert_eq!(info.rows.len(), 7);
}

#[tokio::test]
async fn a_bad_query_is_a_query_error_not_a_refusal() {
    let f = fixture().await;
    let r = ReadStore::open(&f.db).await.unwrap();
    let err = r.query("SELECT nope FROM runs").await.unwrap_err();
    assert!(matches!(err, StoreError::Query { .. }), "{err:?}");
    assert_eq!(err.to_string(), "query failed: no such column: nope");
}

#[tokio::test]
async fn opening_a_missing_database_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.sqlite");
    let err = ReadStore::open(&path).await.err().expect("must fail");
    assert_eq!(
        err.to_string(),
        format!(
            "no run database at {}: nothing has been run with this home yet",
            path.display()
        )
    );
    // And it did not create one.
    assert!(!path.exists());
}

#[tokio::test]
async fn a_reader_sees_committed_writes_while_the_writer_is_open() {
    let f = fixture().await;
    let r = ReadStore::open(&f.db).await.unwrap();
    let a = run(&f, "a").await;
    f.store
        .ingest(a, &[metric(0, "loss", 0, 2.0)])
        .await
        .unwrap();
    let res = r.query("SELECT value FROM metrics").await.unwrap();
    assert_eq!(res.rows, vec![vec![serde_json::json!(2.0)]]);
}
