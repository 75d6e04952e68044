//! Migrations: a fresh file gets the whole schema; a file created by an older migration set is
//! brought forward with its data. When adding migration N, add a case here that creates the
//! database with migrations 1..N-1, fills it, and checks what N does to the data.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_store::{ReadStore, Store, MIGRATOR};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::path::{Path, PathBuf};

fn repo_migrations() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations")
}

#[tokio::test]
async fn a_fresh_file_gets_every_migration_and_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.sqlite");
    let store = Store::open(&db).await.unwrap();
    store.close().await.unwrap();
    // Opening again applies nothing and does not fail.
    Store::open(&db).await.unwrap().close().await.unwrap();
    let r = ReadStore::open(&db).await.unwrap();
    let applied = r
        .query("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .await
        .unwrap();
    let versions: Vec<i64> = applied.rows.iter().filter_map(|r| r[0].as_i64()).collect();
    let expected: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    assert_eq!(versions, expected);
    assert!(versions.len() >= 2);
    let objects = r
        .query("SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') ORDER BY name")
        .await
        .unwrap();
    let names: Vec<&str> = objects.rows.iter().filter_map(|r| r[0].as_str()).collect();
    for want in [
        "artifacts",
        "events",
        "final_metrics",
        "invocations",
        "metrics",
        "metrics_final",
        "params",
        "pipelines",
        "run_summary",
        "runs",
        "unavailable",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let jm = r.query("PRAGMA journal_mode").await.unwrap();
    assert_eq!(jm.rows[0][0], "wal");
}

#[tokio::test]
async fn a_database_from_migration_0001_is_migrated_forward_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    // The older migration set: 0001 alone, byte for byte (sqlx checks checksums).
    let old = dir.path().join("old-migrations");
    std::fs::create_dir(&old).unwrap();
    std::fs::copy(
        repo_migrations().join("0001_init.sql"),
        old.join("0001_init.sql"),
    )
    .unwrap();
    let db = dir.path().join("runs.sqlite");
    {
        let mut conn = SqliteConnectOptions::new()
            .filename(&db)
            .create_if_missing(true)
            .foreign_keys(true)
            .connect()
            .await
            .unwrap();
        sqlx::migrate::Migrator::new(old.as_path())
            .await
            .unwrap()
            .run(&mut conn)
            .await
            .unwrap();
        // Data as the 0001-era writer left it: two runs, points out of step order, a NaN, a
        // tie on the last step.
        sqlx::query(
            "INSERT INTO pipelines (id, name, spec_hash, spec_text, created_at) VALUES (1, 'p', 'h', '', 0);
             INSERT INTO invocations (id, pipeline_id, argv, host, pid, started_at) VALUES (1, 1, '[]', 'h', 1, 0);
             INSERT INTO runs (id, invocation_id, pipeline_id, stage, job_name, kind, cache_key, status, queued_at)
               VALUES (1, 1, 1, 's', 'a', 'command', 'k1', 'succeeded', 0),
                      (2, 1, 1, 's', 'b', 'command', 'k2', 'failed', 0);
             INSERT INTO metrics (run_id, seq, key, step, value, raw) VALUES
               (1, 0, 'loss', 5, 0.5, NULL), (1, 1, 'loss', 9, 0.2, NULL), (1, 2, 'loss', 7, 0.3, NULL),
               (1, 3, 'fid', 1, 30.0, NULL), (1, 4, 'fid', 1, 20.0, NULL),
               (2, 0, 'loss', 3, NULL, 'NaN');",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }

    Store::open(&db).await.unwrap().close().await.unwrap();

    let r = ReadStore::open(&db).await.unwrap();
    let fm = r
        .query("SELECT run_id, key, step, value, raw FROM final_metrics ORDER BY run_id, key")
        .await
        .unwrap();
    let got: Vec<String> = fm
        .rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(
        got,
        vec![
            "1 \"fid\" 1 20.0 null",
            "1 \"loss\" 9 0.2 null",
            "2 \"loss\" 3 null \"NaN\"",
        ]
    );
    let s = r
        .query("SELECT run_id, metrics FROM run_summary ORDER BY run_id")
        .await
        .unwrap();
    assert_eq!(s.rows[0][1], r#"{"fid":20.0,"loss":0.2}"#);
    assert_eq!(s.rows[1][1], r#"{"loss":"NaN"}"#);
    // Old rows survive untouched.
    let n = r.query("SELECT count(*) FROM metrics").await.unwrap();
    assert_eq!(n.rows[0][0], 6);
}

/// Several writers opening one new file at the same moment (two pipelines started together on
/// a fresh home): every open succeeds and the schema is applied once.
#[test]
fn writers_opening_a_new_file_together_all_succeed() {
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("runs.sqlite");
        let start = std::sync::Arc::new(std::sync::Barrier::new(6));
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let db = db.clone();
                let start = start.clone();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    start.wait();
                    rt.block_on(async {
                        let store = Store::open(&db).await.map_err(|e| e.to_string())?;
                        store.close().await.map_err(|e| e.to_string())
                    })
                })
            })
            .collect();
        for h in handles {
            let r = h.join().unwrap();
            assert!(r.is_ok(), "round {round}: {}", r.unwrap_err());
        }
        let rt = tokio::runtime::Runtime::new().unwrap();
        let n = rt.block_on(async {
            let r = ReadStore::open(&db).await.unwrap();
            r.query("SELECT count(*) FROM _sqlx_migrations")
                .await
                .unwrap()
                .rows[0][0]
                .as_i64()
        });
        assert_eq!(n, Some(MIGRATOR.iter().count() as i64), "round {round}");
    }
}
