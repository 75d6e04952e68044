//! What the planner needs to decide which jobs are cached: the latest succeeded run of every
//! (cache key, job, pipeline). Decoded by column name, like every typed read of the store.

use crate::error::{SqlContext, StoreError};
use crate::reader::ReadStore;
use ddmd_core::{CacheKey, RunId};

/// One succeeded run, as the planner's cache lookup sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SucceededRun {
    pub cache_key: CacheKey,
    pub job_name: String,
    pub pipeline: String,
    pub run: RunId,
}

#[derive(sqlx::FromRow)]
struct Row {
    cache_key: String,
    job_name: String,
    pipeline: String,
    run_id: i64,
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
}
