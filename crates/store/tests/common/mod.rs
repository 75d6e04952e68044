//! Shared set-up for the integration tests: a real database file in a temporary folder.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of these helpers"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_core::{Event, EventKind, RunId};
use ddmd_store::{NewRun, Store};
use serde_json::json;
use std::path::PathBuf;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub store: Store,
    pub pipeline: ddmd_core::PipelineId,
    pub invocation: ddmd_core::InvocationId,
}

pub async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    // A nested path: open must create the folders.
    let db = dir.path().join("home/nested/runs.sqlite");
    let store = Store::open(&db).await.expect("open store");
    let pipeline = store
        .upsert_pipeline("sweep", "name: sweep\n", "hash1", "pipelines/sweep.yaml")
        .await
        .expect("pipeline");
    let invocation = store
        .begin_invocation(
            pipeline,
            &["ddmd-pipe".into(), "run".into()],
            "host",
            42,
            Some("abc123"),
            "local",
        )
        .await
        .expect("invocation");
    Fixture {
        dir,
        db,
        store,
        pipeline,
        invocation,
    }
}

pub fn new_run(f: &Fixture, job: &str, key: &str) -> NewRun {
    NewRun {
        invocation_id: f.invocation,
        pipeline_id: f.pipeline,
        stage: "train".into(),
        job_name: job.into(),
        kind: "command".into(),
        point: json!({"lr": 0.1}),
        params: json!({"lr": 0.1, "data": {"kind": "shapes", "objects": [1, 3]}, "run": "echo hi"}),
        cache_key: key.into(),
        command: None,
        key_inputs: None,
        status: ddmd_core::RunStatus::Queued,
        attempt: 1,
        queued_at: 1_000.0,
    }
}

pub async fn run(f: &Fixture, job: &str) -> RunId {
    f.store
        .insert_run(&new_run(f, job, &format!("key-{job}")))
        .await
        .expect("insert run")
}

pub fn metric(seq: u64, key: &str, step: i64, value: f64) -> Event {
    Event {
        seq,
        t: Some(1_000.0 + seq as f64),
        kind: EventKind::Metric {
            key: key.into(),
            step,
            value,
        },
    }
}

pub fn ev(seq: u64, kind: EventKind) -> Event {
    Event { seq, t: None, kind }
}
