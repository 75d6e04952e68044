//! [`ReadStore`], the read-only view used by `query` and `runs list|show`; the report's reads
//! are its methods too, in [`crate::report_load`]. It cannot write: see [`crate::guard`].

use crate::connect;
use crate::error::{SqlContext, StoreError};
use crate::model::{
    ArtifactRow, FinalMetric, RunDetail, RunFilter, RunRow, UnavailableRow, WarningRow,
    MAX_WARNINGS_SHOWN,
};
use crate::query::{row_values, QueryResult};
use crate::rows::{run_columns_prefixed, run_row, RUN_COLUMNS};
use ddmd_core::RunId;
use sqlx::{Column, Connection, Executor, SqliteConnection, Statement};
use std::path::{Path, PathBuf};
use tokio::sync::{Mutex, MutexGuard};

pub struct ReadStore {
    conn: Mutex<SqliteConnection>,
    path: PathBuf,
}

impl ReadStore {
    /// Opens an existing database read-only; a missing file is an error that says so.
    pub async fn open(db_path: &Path) -> Result<ReadStore, StoreError> {
        let conn = connect::open_reader(db_path).await?;
        Ok(ReadStore {
            conn: Mutex::new(conn),
            path: db_path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for the read queries of other modules (`report_load`).
    pub(crate) async fn lock(&self) -> MutexGuard<'_, SqliteConnection> {
        self.conn.lock().await
    }

    pub async fn close(self) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.conn
            .into_inner()
            .close()
            .await
            .ctx(|| format!("close {}", path.display()))
    }

    /// Runs matching `f`: the most recent `limit` (all when `None`), newest first.
    pub async fn list_runs(&self, f: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
        let mut sql = format!(
            "SELECT {} FROM runs r JOIN pipelines p ON p.id = r.pipeline_id WHERE 1 = 1",
            run_columns_prefixed("r")
        );
        if f.status.is_some() {
            sql.push_str(" AND r.status = ?");
        }
        if f.stage.is_some() {
            sql.push_str(" AND r.stage = ?");
        }
        if f.pipeline.is_some() {
            sql.push_str(" AND p.name = ?");
        }
        if f.invocation.is_some() {
            sql.push_str(" AND r.invocation_id = ?");
        }
        sql.push_str(" ORDER BY r.id DESC");
        if f.limit.is_some() {
            sql.push_str(" LIMIT ?");
        }
        let mut q = sqlx::query(&sql);
        if let Some(s) = &f.status {
            q = q.bind(s);
        }
        if let Some(s) = &f.stage {
            q = q.bind(s);
        }
        if let Some(p) = &f.pipeline {
            q = q.bind(p);
        }
        if let Some(i) = f.invocation {
            q = q.bind(i);
        }
        if let Some(l) = f.limit {
            q = q.bind(i64::from(l));
        }
        let mut conn = self.conn.lock().await;
        let rows = q
            .fetch_all(&mut *conn)
            .await
            .ctx(|| "list runs".to_string())?;
        let runs = rows
            .iter()
            .map(run_row)
            .collect::<Result<Vec<_>, _>>()
            .ctx(|| "read runs".to_string())?;
        Ok(runs)
    }

    /// One run with its parameters, final metrics, artifacts and unavailable metrics.
    pub async fn run(&self, id: RunId) -> Result<Option<RunDetail>, StoreError> {
        let mut conn = self.conn.lock().await;
        let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?"))
            .bind(id.0)
            .fetch_optional(&mut *conn)
            .await
            .ctx(|| format!("look up run {id}"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let run = run_row(&row).ctx(|| format!("read run {id}"))?;
        let command: Option<String> = if has_run_column(&mut conn, "command").await? {
            sqlx::query_scalar("SELECT command FROM runs WHERE id = ?")
                .bind(id.0)
                .fetch_one(&mut *conn)
                .await
                .ctx(|| format!("read the command of run {id}"))?
        } else {
            None
        };
        // A cached run's results are those of the run it reuses.
        let results_of = run.source_run_id.unwrap_or(run.id).0;
        let params: Vec<(String, String)> =
            sqlx::query_as("SELECT key, value FROM params WHERE run_id = ? ORDER BY key")
                .bind(id.0)
                .fetch_all(&mut *conn)
                .await
                .ctx(|| format!("read parameters of run {id}"))?;
        let metrics = sqlx::query_as::<_, (String, i64, Option<f64>, Option<String>)>(
            "SELECT key, step, value, raw FROM final_metrics WHERE run_id = ? ORDER BY key",
        )
        .bind(results_of)
        .fetch_all(&mut *conn)
        .await
        .ctx(|| format!("read final metrics of run {id}"))?
        .into_iter()
        .map(|(key, step, value, raw)| FinalMetric {
            key,
            step,
            value,
            raw,
        })
        .collect();
        let artifacts = sqlx::query_as::<_, (i64, String, String, Option<i64>, Option<String>)>(
            "SELECT seq, name, path, bytes, sha256 FROM artifacts WHERE run_id = ? ORDER BY seq",
        )
        .bind(results_of)
        .fetch_all(&mut *conn)
        .await
        .ctx(|| format!("read artifacts of run {id}"))?
        .into_iter()
        .map(|(seq, name, path, bytes, sha256)| ArtifactRow {
            seq,
            name,
            path,
            bytes,
            sha256,
        })
        .collect();
        let unavailable = sqlx::query_as::<_, (String, String)>(
            "SELECT key, reason FROM unavailable WHERE run_id = ? ORDER BY key",
        )
        .bind(results_of)
        .fetch_all(&mut *conn)
        .await
        .ctx(|| format!("read unavailable metrics of run {id}"))?
        .into_iter()
        .map(|(key, reason)| UnavailableRow { key, reason })
        .collect();
        // Warnings explain missing data, so like the data they are the source run's.
        const WARN: &str = "FROM events WHERE run_id = ? AND type = 'log' \
                            AND json_extract(payload, '$.level') = 'warn'";
        let warnings_total: i64 = sqlx::query_scalar(&format!("SELECT count(*) {WARN}"))
            .bind(results_of)
            .fetch_one(&mut *conn)
            .await
            .ctx(|| format!("count the warnings of run {id}"))?;
        let warnings = sqlx::query_as::<_, (i64, Option<String>)>(&format!(
            "SELECT seq, json_extract(payload, '$.message') {WARN} ORDER BY seq LIMIT ?"
        ))
        .bind(results_of)
        .bind(MAX_WARNINGS_SHOWN)
        .fetch_all(&mut *conn)
        .await
        .ctx(|| format!("read the warnings of run {id}"))?
        .into_iter()
        .map(|(seq, message)| WarningRow {
            seq,
            message: message.unwrap_or_default(),
        })
        .collect();
        Ok(Some(RunDetail {
            run,
            command,
            params,
            metrics,
            artifacts,
            unavailable,
            warnings,
            warnings_total,
        }))
    }

    /// `(step, value)` of one metric of a run, by step then seq; non-finite values as NaN / ±inf.
    pub async fn metric_series(
        &self,
        run: RunId,
        key: &str,
    ) -> Result<Vec<(i64, f64)>, StoreError> {
        let mut conn = self.conn.lock().await;
        let rows: Vec<(i64, Option<f64>, Option<String>)> = sqlx::query_as(
            "SELECT step, value, raw FROM metrics WHERE run_id = ? AND key = ? ORDER BY step, seq",
        )
        .bind(run.0)
        .bind(key)
        .fetch_all(&mut *conn)
        .await
        .ctx(|| format!("read metric {key:?} of run {run}"))?;
        Ok(rows
            .into_iter()
            .map(|(step, value, raw)| {
                let v = value.unwrap_or_else(|| {
                    raw.as_deref()
                        .map(crate::rows::parse_raw)
                        .unwrap_or(f64::NAN)
                });
                (step, v)
            })
            .collect())
    }

    /// Runs a user's SQL. Anything that would write is refused with
    /// [`StoreError::ReadOnly`]; other SQLite errors come back as [`StoreError::Query`].
    pub async fn query(&self, sql: &str) -> Result<QueryResult, StoreError> {
        let mut conn = self.conn.lock().await;
        // Prepare first: it yields the column names even when no row comes back, and it is
        // where the authorizer refuses writes.
        let columns: Vec<String> = match (&mut *conn).prepare(sql).await {
            Ok(stmt) => stmt
                .columns()
                .iter()
                .map(|c| c.name().to_string())
                .collect(),
            Err(e) => return Err(query_error(e)),
        };
        let rows = sqlx::query(sql)
            .fetch_all(&mut *conn)
            .await
            .map_err(query_error)?;
        let rows = rows
            .iter()
            .map(row_values)
            .collect::<Result<Vec<_>, _>>()
            .map_err(query_error)?;
        Ok(QueryResult { columns, rows })
    }
}

/// Whether `runs` has a column: a database written by an older build, not yet migrated by a
/// `run` of this one, lacks the newer columns, and read-only connections never migrate.
pub(crate) async fn has_run_column(
    conn: &mut SqliteConnection,
    column: &str,
) -> Result<bool, StoreError> {
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pragma_table_info('runs') WHERE name = ?")
            .bind(column)
            .fetch_one(&mut *conn)
            .await
            .ctx(|| format!("look for the column runs.{column}"))?;
    Ok(n > 0)
}

fn query_error(e: sqlx::Error) -> StoreError {
    let (message, code) = match &e {
        sqlx::Error::Database(db) => (
            db.message().to_string(),
            db.code().and_then(|c| c.parse::<i32>().ok()),
        ),
        other => (other.to_string(), None),
    };
    match crate::guard::refusal_message(&message, code) {
        Some(message) => StoreError::ReadOnly { message },
        None => StoreError::Query { message },
    }
}
