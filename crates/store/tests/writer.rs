//! The writer API against a real file: pipelines, invocations, run life cycle, caching,
//! crash recovery queries.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;

use common::{fixture, metric, new_run, run};
use ddmd_core::{CacheKey, RunId};
use ddmd_store::{InvocationStatus, ReadStore, RunFilter, RunFinish, Store, StoreError};

fn finish(status: &str) -> RunFinish {
    RunFinish {
        status: ddmd_core::RunStatus::parse(status).expect("a run status"),
        exit_code: Some(if status == "succeeded" { 0 } else { 1 }),
        error: (status == "failed").then(|| "boom\nline two".to_string()),
        ended_at: 1_100.0,
        artifact_dir: Some("/tmp/art".into()),
    }
}

#[tokio::test]
async fn pipelines_are_upserted_by_name_and_hash() {
    let f = fixture().await;
    let again = f
        .store
        .upsert_pipeline("sweep", "name: sweep\n", "hash1", "moved/sweep.yaml")
        .await
        .unwrap();
    assert_eq!(again, f.pipeline);
    let changed = f
        .store
        .upsert_pipeline("sweep", "name: sweep\n# v2\n", "hash2", "moved/sweep.yaml")
        .await
        .unwrap();
    assert_ne!(changed, f.pipeline);
    let r = ReadStore::open(&f.db).await.unwrap();
    let res = r
        .query("SELECT spec_path FROM pipelines ORDER BY id")
        .await
        .unwrap();
    assert_eq!(res.rows[0][0], "moved/sweep.yaml");
}

#[tokio::test]
async fn insert_run_writes_the_row_and_flattened_params() {
    let f = fixture().await;
    let id = run(&f, "train[lr=0.1]").await;
    let r = ReadStore::open(&f.db).await.unwrap();
    let d = r.run(id).await.unwrap().unwrap();
    assert_eq!(d.run.job_name, "train[lr=0.1]");
    assert_eq!(d.run.status, ddmd_core::RunStatus::Queued);
    assert_eq!(d.run.point, serde_json::json!({"lr": 0.1}));
    assert_eq!(d.run.devices, Vec::<u32>::new());
    assert_eq!(
        d.params,
        vec![
            ("data.kind".to_string(), "\"shapes\"".to_string()),
            ("data.objects".to_string(), "[1,3]".to_string()),
            ("lr".to_string(), "0.1".to_string()),
            ("run".to_string(), "\"echo hi\"".to_string()),
        ]
    );
    // Filterable in SQL without JSON functions.
    let res = r
        .query("SELECT run_id FROM params WHERE key = 'data.kind' AND value = '\"shapes\"'")
        .await
        .unwrap();
    assert_eq!(res.rows, vec![vec![serde_json::json!(id.0)]]);
}

#[tokio::test]
async fn run_life_cycle_and_cache_lookup() {
    let f = fixture().await;
    let a = f.store.insert_run(&new_run(&f, "a", "k1")).await.unwrap();
    let key = CacheKey("k1".into());
    assert!(f.store.succeeded_run_for_key(&key).await.unwrap().is_none());
    f.store
        .mark_running(a, &[1], Some(77), "/jobs/a", 1_001.0)
        .await
        .unwrap();
    f.store
        .ingest(a, &[metric(0, "fid", 10, 12.5)])
        .await
        .unwrap();
    // A failed attempt does not count as a cache hit.
    f.store.finish_run(a, &finish("failed")).await.unwrap();
    assert!(f.store.succeeded_run_for_key(&key).await.unwrap().is_none());

    let mut retry = new_run(&f, "a", "k1");
    retry.attempt = 2;
    let b = f.store.insert_run(&retry).await.unwrap();
    f.store.finish_run(b, &finish("succeeded")).await.unwrap();
    f.store
        .ingest(b, &[metric(0, "fid", 10, 11.0)])
        .await
        .unwrap();
    let hit = f.store.succeeded_run_for_key(&key).await.unwrap().unwrap();
    assert_eq!(hit.id, b);
    assert_eq!(hit.attempt, 2);
    assert_eq!(hit.exit_code, Some(0));
    assert_eq!(hit.artifact_dir.as_deref(), Some("/tmp/art"));

    // A later invocation reuses it: the cached row shows the source's metrics and artifacts.
    let c = f
        .store
        .record_cached(&new_run(&f, "a", "k1"), b)
        .await
        .unwrap();
    let r = ReadStore::open(&f.db).await.unwrap();
    let d = r.run(c).await.unwrap().unwrap();
    assert_eq!(d.run.status, ddmd_core::RunStatus::Cached);
    assert_eq!(d.run.source_run_id, Some(b));
    assert_eq!(d.run.artifact_dir.as_deref(), Some("/tmp/art"));
    assert_eq!(d.metrics[0].value, Some(11.0));
    let summary = r
        .query(&format!(
            "SELECT status, metrics FROM run_summary WHERE run_id = {}",
            c.0
        ))
        .await
        .unwrap();
    assert_eq!(summary.rows[0][0], "cached");
    assert_eq!(summary.rows[0][1], r#"{"fid":11.0}"#);
    // The cache lookup still returns the run that did the work.
    assert_eq!(
        f.store
            .succeeded_run_for_key(&key)
            .await
            .unwrap()
            .unwrap()
            .id,
        b
    );

    let err = f
        .store
        .record_cached(&new_run(&f, "a", "k1"), RunId(12_345))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownRun(RunId(12_345))));

    let failed = r
        .list_runs(&RunFilter {
            status: Some("failed".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].error.as_deref(), Some("boom\nline two"));
}

#[tokio::test]
async fn unfinished_runs_and_crashed_invocations_are_found_after_a_restart() {
    let f = fixture().await;
    let queued = run(&f, "q").await;
    let running = run(&f, "r").await;
    let done = run(&f, "d").await;
    f.store
        .mark_running(running, &[0, 3], Some(4242), "/jobs/r", 1_002.0)
        .await
        .unwrap();
    f.store
        .finish_run(done, &finish("succeeded"))
        .await
        .unwrap();
    // The orchestrator dies: no end_invocation. A new one opens the same file.
    let path = f.db.clone();
    f.store.close().await.unwrap();
    let store = Store::open(&path).await.unwrap();
    let left = store.unfinished_runs().await.unwrap();
    let ids: Vec<RunId> = left.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![queued, running]);
    assert_eq!(left[1].pgid, Some(4242));
    assert_eq!(left[1].devices, vec![0, 3]);
    assert_eq!(
        store.running_invocations().await.unwrap(),
        vec![f.invocation]
    );
    store.mark_invocation_crashed(f.invocation).await.unwrap();
    assert!(store.running_invocations().await.unwrap().is_empty());
    let r = ReadStore::open(&path).await.unwrap();
    let inv = r
        .query("SELECT status, ended_at IS NOT NULL FROM invocations")
        .await
        .unwrap();
    assert_eq!(
        inv.rows[0],
        vec![serde_json::json!("crashed"), serde_json::json!(1)]
    );
}

#[tokio::test]
async fn invocations_end_with_a_known_status() {
    let f = fixture().await;
    f.store
        .end_invocation(f.invocation, InvocationStatus::Succeeded)
        .await
        .unwrap();
    assert!(matches!(
        f.store
            .end_invocation(ddmd_core::InvocationId(999), InvocationStatus::Failed)
            .await
            .unwrap_err(),
        StoreError::UnknownInvocation(ddmd_core::InvocationId(999))
    ));
    // Statuses are enums on the way in; a hand-edited cell is an error on the way out, not a
    // default.
    let id = f.store.insert_run(&new_run(&f, "x", "k")).await.unwrap();
    {
        use sqlx::{ConnectOptions, Connection};
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&f.db)
            .connect()
            .await
            .unwrap();
        sqlx::query("UPDATE runs SET status = 'weird' WHERE id = ?")
            .bind(id.0)
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let r = ReadStore::open(&f.db).await.unwrap();
    let e = r.run(id).await.unwrap_err();
    assert!(
        e.to_string().contains("unknown run status \"weird\""),
        "{e}"
    );
    assert!(
        f.store.unfinished_runs().await.is_ok(),
        "not unfinished: not read"
    );
    assert!(matches!(
        f.store
            .mark_running(RunId(999), &[], None, "/j", 0.0)
            .await
            .unwrap_err(),
        StoreError::UnknownRun(_)
    ));
}

#[tokio::test]
async fn list_runs_filters_and_limits() {
    let f = fixture().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut nr = new_run(&f, &format!("j{i}"), &format!("k{i}"));
        nr.stage = if i % 2 == 0 { "train" } else { "eval" }.into();
        ids.push(f.store.insert_run(&nr).await.unwrap());
    }
    let r = ReadStore::open(&f.db).await.unwrap();
    let all = r.list_runs(&RunFilter::default()).await.unwrap();
    let newest_first: Vec<RunId> = ids.iter().rev().copied().collect();
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), newest_first);
    let train = r
        .list_runs(&RunFilter {
            stage: Some("train".into()),
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    // The two most recent, newest first (as `runs list --help` says).
    assert_eq!(
        train.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ids[4], ids[2]]
    );
    let none = r
        .list_runs(&RunFilter {
            pipeline: Some("other".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
    let by_inv = r
        .list_runs(&RunFilter {
            invocation: Some(f.invocation.0),
            status: Some("queued".into()),
            pipeline: Some("sweep".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_inv.len(), 5);
    assert!(r.run(RunId(999)).await.unwrap().is_none());
}
