//! What the planner needs to decide which jobs are cached, and to say why the others run: the
//! latest succeeded run of every (cache key, job, pipeline), and the latest run of every job
//! of a pipeline whatever its status. Decoded by column name, like every typed read of the
//! store.

use crate::error::{SqlContext, StoreError};
use crate::reader::{has_run_column, ReadStore};
use ddmd_core::{CacheKey, RunId, RunStatus};

/// One succeeded run, as the planner's cache lookup sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SucceededRun {
    pub cache_key: CacheKey,
    pub job_name: String,
    pub pipeline: String,
    pub run: RunId,
}

/// The latest run of a job: what `plan` compares a job with when its key has no result
/// (`iterations 160 → 400`, `run 7 failed`).
#[derive(Clone, Debug, PartialEq)]
pub struct LatestRun {
    pub run: RunId,
    pub job_name: String,
    pub status: RunStatus,
    pub cache_key: CacheKey,
    pub params: serde_json::Value,
    pub command: Option<String>,
    /// `None` in runs recorded before the column (migration 0004).
    pub key_inputs: Option<serde_json::Value>,
}

#[derive(sqlx::FromRow)]
struct Row {
    cache_key: String,
    job_name: String,
    pipeline: String,
    run_id: i64,
}

#[derive(sqlx::FromRow)]
struct LatestRow {
    id: i64,
    job_name: String,
    status: String,
    cache_key: String,
    params: String,
    command: Option<String>,
    key_inputs: Option<String>,
}

impl ReadStore {
    /// The latest succeeded run of each (cache key, job name, pipeline).
    pub async fn succeeded_runs(&self) -> Result<Vec<SucceededRun>, StoreError> {
        let mut conn = self.lock().await;
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT r.cache_key AS cache_key, r.job_name AS job_name, p.name AS pipeline, \
             MAX(r.id) AS run_id FROM runs r JOIN pipelines p ON p.id = r.pipeline_id \
             WHERE r.status = 'succeeded' GROUP BY r.cache_key, r.job_name, p.name",
        )
        .fetch_all(&mut *conn)
        .await
        .ctx(|| "list succeeded runs for the cache".to_string())?;
        Ok(rows
            .into_iter()
            .map(|r| SucceededRun {
                cache_key: CacheKey(r.cache_key),
                job_name: r.job_name,
                pipeline: r.pipeline,
                run: RunId(r.run_id),
            })
            .collect())
    }

    /// The latest run (any status) of each job of the pipeline named `pipeline`.
    pub async fn latest_runs(&self, pipeline: &str) -> Result<Vec<LatestRun>, StoreError> {
        let mut conn = self.lock().await;
        let newer = has_run_column(&mut conn, "key_inputs").await?;
        let extra = if newer {
            "r.command AS command, r.key_inputs AS key_inputs"
        } else {
            "NULL AS command, NULL AS key_inputs"
        };
        let rows: Vec<LatestRow> = sqlx::query_as(&format!(
            "SELECT r.id AS id, r.job_name AS job_name, r.status AS status, \
             r.cache_key AS cache_key, r.params AS params, {extra} \
             FROM runs r WHERE r.id IN (SELECT MAX(r2.id) FROM runs r2 \
             JOIN pipelines p ON p.id = r2.pipeline_id WHERE p.name = ? GROUP BY r2.job_name)"
        ))
        .bind(pipeline)
        .fetch_all(&mut *conn)
        .await
        .ctx(|| format!("read the latest runs of pipeline {pipeline:?}"))?;
        rows.into_iter()
            .map(|r| {
                let status = RunStatus::parse(&r.status).ok_or_else(|| StoreError::Stored {
                    what: format!("status of run {}", r.id),
                    message: format!("unknown run status {:?}", r.status),
                })?;
                Ok(LatestRun {
                    run: RunId(r.id),
                    job_name: r.job_name,
                    status,
                    cache_key: CacheKey(r.cache_key),
                    params: json(&r.params),
                    command: r.command,
                    key_inputs: r.key_inputs.as_deref().map(json),
                })
            })
            .collect()
    }
}

/// A JSON column the store wrote; a hand-edited cell that no longer parses compares as the
/// text it holds.
fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()))
}
