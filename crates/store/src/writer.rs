//! [`Store`], the single writer. The orchestrator holds exactly one; every method takes the one
//! connection in turn, so writes are serialised without SQLITE_BUSY between our own tasks.

use crate::connect;
use crate::error::{SqlContext, StoreError};
use crate::ingest;
use crate::model::{IngestStats, InvocationStatus, NewRun, RunFinish, RunRow, RunStatus};
use crate::params::flatten_params;
use crate::rows::{format_devices, run_columns_prefixed, run_row, RUN_COLUMNS};
use ddmd_core::{events::now_secs, CacheKey, Event, EventLines, InvocationId, PipelineId, RunId};
use sqlx::{Connection, SqliteConnection};
use std::path::{Path, PathBuf};
use tokio::sync::Mutex;

pub struct Store {
    conn: Mutex<SqliteConnection>,
    path: PathBuf,
}

fn to_json(what: &'static str, v: &serde_json::Value) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|source| StoreError::Json { what, source })
}

impl Store {
    /// Opens (creating folders and file as needed) and migrates the database at `db_path`.
    pub async fn open(db_path: &Path) -> Result<Store, StoreError> {
        // sqlx's SQLite migrator takes no lock: two processes opening a new database at once
        // would both see "nothing applied" and the second would fail on CREATE TABLE. And the
        // switch of a new file to WAL, done while connecting, takes an exclusive lock without
        // waiting on the busy timeout, so a second opener fails at once with "database is
        // locked". Holding an exclusive flock on a sibling file from before the connection is
        // opened until the migrations are applied makes both one at a time.
        let _guard = connect::MigrationLock::acquire(db_path).await?;
        let mut conn = connect::open_writer(db_path).await?;
        crate::MIGRATOR
            .run(&mut conn)
            .await
            .map_err(|source| StoreError::Migrate {
                path: db_path.to_path_buf(),
                source,
            })?;
        Ok(Store {
            conn: Mutex::new(conn),
            path: db_path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the connection cleanly (SQLite checkpoints the WAL on the last close).
    pub async fn close(self) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.conn
            .into_inner()
            .close()
            .await
            .ctx(|| format!("close {}", path.display()))
    }

    /// The id of the pipeline with this name and spec hash, inserting it if new.
    pub async fn upsert_pipeline(
        &self,
        name: &str,
        spec_text: &str,
        spec_hash: &str,
        spec_path: &str,
    ) -> Result<PipelineId, StoreError> {
        let mut conn = self.conn.lock().await;
        // The DO UPDATE (not DO NOTHING) makes RETURNING yield the existing row's id too; the
        // path is refreshed because the same spec may have moved.
        sqlx::query_scalar(
            "INSERT INTO pipelines (name, spec_hash, spec_text, spec_path, created_at) \
             VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (name, spec_hash) DO UPDATE SET spec_path = excluded.spec_path \
             RETURNING id",
        )
        .bind(name)
        .bind(spec_hash)
        .bind(spec_text)
        .bind(spec_path)
        .bind(now_secs())
        .fetch_one(&mut *conn)
        .await
        .map(PipelineId)
        .ctx(|| format!("record pipeline {name:?}"))
    }

    /// Records the start of one `ddmd-pipe run`; status 'running'.
    pub async fn begin_invocation(
        &self,
        pipeline_id: PipelineId,
        argv: &[String],
        host: &str,
        pid: u32,
        git_rev: Option<&str>,
        executor: &str,
    ) -> Result<InvocationId, StoreError> {
        let argv = serde_json::to_string(argv).map_err(|source| StoreError::Json {
            what: "argv",
            source,
        })?;
        let mut conn = self.conn.lock().await;
        sqlx::query_scalar(
            "INSERT INTO invocations (pipeline_id, argv, host, pid, git_rev, executor, \
             started_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'running') RETURNING id",
        )
        .bind(pipeline_id.0)
        .bind(argv)
        .bind(host)
        .bind(i64::from(pid))
        .bind(git_rev)
        .bind(executor)
        .bind(now_secs())
        .fetch_one(&mut *conn)
        .await
        .map(InvocationId)
        .ctx(|| format!("record an invocation of pipeline {pipeline_id}"))
    }

    /// Records the end of an invocation (`succeeded`, `failed`, `interrupted`, `crashed`).
    pub async fn end_invocation(
        &self,
        id: InvocationId,
        status: InvocationStatus,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.lock().await;
        let res = sqlx::query("UPDATE invocations SET status = ?, ended_at = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(now_secs())
            .bind(id.0)
            .execute(&mut *conn)
            .await
            .ctx(|| format!("end invocation {id}"))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::UnknownInvocation(id));
        }
        Ok(())
    }

    /// Marks an invocation left 'running' by an orchestrator that died as 'crashed'. Its end
    /// time is when this was noticed; one that already ended keeps its time.
    pub async fn mark_invocation_crashed(&self, id: InvocationId) -> Result<(), StoreError> {
        let mut conn = self.conn.lock().await;
        let res = sqlx::query(
            "UPDATE invocations SET status = 'crashed', ended_at = COALESCE(ended_at, ?) \
             WHERE id = ?",
        )
        .bind(now_secs())
        .bind(id.0)
        .execute(&mut *conn)
        .await
        .ctx(|| format!("mark invocation {id} crashed"))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::UnknownInvocation(id));
        }
        Ok(())
    }

    /// Inserts a run and its flattened parameters in one transaction.
    pub async fn insert_run(&self, r: &NewRun) -> Result<RunId, StoreError> {
        let mut conn = self.conn.lock().await;
        insert_run_tx(&mut conn, r, None, None).await
    }

    /// Records that `r` reuses the result of the succeeded run `source`: a 'cached' row (with
    /// the source's artifact folder) whose metrics are read from the source.
    pub async fn record_cached(&self, r: &NewRun, source: RunId) -> Result<RunId, StoreError> {
        let mut conn = self.conn.lock().await;
        let src: Option<Option<String>> =
            sqlx::query_scalar("SELECT artifact_dir FROM runs WHERE id = ?")
                .bind(source.0)
                .fetch_optional(&mut *conn)
                .await
                .ctx(|| format!("look up cache source run {source}"))?;
        let Some(artifact_dir) = src else {
            return Err(StoreError::UnknownRun(source));
        };
        let mut cached = r.clone();
        cached.status = RunStatus::Cached;
        insert_run_tx(&mut conn, &cached, Some(source), artifact_dir.as_deref()).await
    }

    /// Marks a run as started on `devices` (empty: CPU) in process group `pgid`.
    pub async fn mark_running(
        &self,
        run: RunId,
        devices: &[u32],
        pgid: Option<i32>,
        job_dir: &str,
        started_at: f64,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.lock().await;
        let res = sqlx::query(
            "UPDATE runs SET status = 'running', devices = ?, pgid = ?, job_dir = ?, \
             started_at = ? WHERE id = ?",
        )
        .bind(format_devices(devices))
        .bind(pgid)
        .bind(job_dir)
        .bind(started_at)
        .bind(run.0)
        .execute(&mut *conn)
        .await
        .ctx(|| format!("mark run {run} running"))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::UnknownRun(run));
        }
        Ok(())
    }

    /// Records the devices a run was given once they are known (on Slurm: after the job ran).
    pub async fn set_devices(&self, run: RunId, devices: &[u32]) -> Result<(), StoreError> {
        let mut conn = self.conn.lock().await;
        let res = sqlx::query("UPDATE runs SET devices = ? WHERE id = ?")
            .bind(format_devices(devices))
            .bind(run.0)
            .execute(&mut *conn)
            .await
            .ctx(|| format!("set the devices of run {run}"))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::UnknownRun(run));
        }
        Ok(())
    }

    /// Records where a run's artifacts are being written before it ends, so that artifact
    /// events with relative paths can be measured as they arrive.
    pub async fn set_artifact_dir(&self, run: RunId, artifact_dir: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.lock().await;
        let res = sqlx::query("UPDATE runs SET artifact_dir = ? WHERE id = ?")
            .bind(artifact_dir)
            .bind(run.0)
            .execute(&mut *conn)
            .await
            .ctx(|| format!("set the artifact folder of run {run}"))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::UnknownRun(run));
        }
        Ok(())
    }

    /// Records the rendezvous port a command job holds while it runs.
    pub async fn set_rdzv_port(&self, run: RunId, port: u16) -> Result<(), StoreError> {
        let mut conn = self.conn.lock().await;
        let res = sqlx::query("UPDATE runs SET rdzv_port = ? WHERE id = ?")
            .bind(i64::from(port))
            .bind(run.0)
            .execute(&mut *conn)
            .await
            .ctx(|| format!("record the rendezvous port of run {run}"))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::UnknownRun(run));
        }
        Ok(())
    }

    /// Records where a run executes (a Slurm job id and node); `None` leaves a value as is.
    pub async fn set_executor_info(
        &self,
        run: RunId,
        executor_id: Option<&str>,
        node: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.lock().await;
        let res = sqlx::query(
            "UPDATE runs SET executor_id = COALESCE(?, executor_id), node = COALESCE(?, node) \
             WHERE id = ?",
        )
        .bind(executor_id)
        .bind(node)
        .bind(run.0)
        .execute(&mut *conn)
        .await
        .ctx(|| format!("set the executor of run {run}"))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::UnknownRun(run));
        }
        Ok(())
    }

    /// Records how a run ended. `artifact_dir: None` keeps one set earlier. Artifacts reported
    /// before their folder existed are measured now.
    pub async fn finish_run(&self, run: RunId, f: &RunFinish) -> Result<(), StoreError> {
        let mut conn = self.conn.lock().await;
        let res = sqlx::query(
            "UPDATE runs SET status = ?, exit_code = ?, error = ?, ended_at = ?, \
             artifact_dir = COALESCE(?, artifact_dir) WHERE id = ?",
        )
        .bind(f.status.as_str())
        .bind(f.exit_code)
        .bind(&f.error)
        .bind(f.ended_at)
        .bind(&f.artifact_dir)
        .bind(run.0)
        .execute(&mut *conn)
        .await
        .ctx(|| format!("finish run {run}"))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::UnknownRun(run));
        }
        ingest::measure_missing_artifacts(&mut conn, run).await
    }

    /// Closes a run that recovery found unfinished, unless it has ended since (its own
    /// orchestrator may finish it between recovery's look and this write): true when closed.
    pub async fn close_stale_run(&self, run: RunId, f: &RunFinish) -> Result<bool, StoreError> {
        let mut conn = self.conn.lock().await;
        let res = sqlx::query(
            "UPDATE runs SET status = ?, exit_code = ?, error = ?, ended_at = ? \
             WHERE id = ? AND status IN ('queued', 'running')",
        )
        .bind(f.status.as_str())
        .bind(f.exit_code)
        .bind(&f.error)
        .bind(f.ended_at)
        .bind(run.0)
        .execute(&mut *conn)
        .await
        .ctx(|| format!("close stale run {run}"))?;
        Ok(res.rows_affected() == 1)
    }

    /// Unfinished runs with the orchestrator that owns each, read in one statement so the
    /// two agree: `(pid, host)` while the run's invocation is still 'running', else `None`.
    pub async fn unfinished_runs_with_owner(
        &self,
    ) -> Result<Vec<(RunRow, Option<(i64, String)>)>, StoreError> {
        let mut conn = self.conn.lock().await;
        let rows = sqlx::query(&format!(
            "SELECT {}, CASE WHEN i.status = 'running' THEN i.pid END AS owner_pid, \
             CASE WHEN i.status = 'running' THEN i.host END AS owner_host \
             FROM runs r LEFT JOIN invocations i ON i.id = r.invocation_id \
             WHERE r.status IN ('queued', 'running') ORDER BY r.id",
            run_columns_prefixed("r")
        ))
        .fetch_all(&mut *conn)
        .await
        .ctx(|| "list unfinished runs".to_string())?;
        rows.iter()
            .map(|row| {
                use sqlx::Row;
                let run = run_row(row)?;
                let pid: Option<i64> = row.try_get("owner_pid")?;
                let host: Option<String> = row.try_get("owner_host")?;
                Ok((run, pid.zip(host)))
            })
            .collect::<Result<_, sqlx::Error>>()
            .ctx(|| "read unfinished runs".to_string())
    }

    /// Ingests a batch of a run's events in one transaction; see [`crate::ingest`]. Callers
    /// pass batches of a few thousand events. An event that breaks the event contract is
    /// recorded as a warning naming its seq instead; [`Store::ingest_lines`] also names the
    /// line, and is what the orchestrator uses.
    pub async fn ingest(&self, run: RunId, events: &[Event]) -> Result<IngestStats, StoreError> {
        let mut conn = self.conn.lock().await;
        ingest::ingest(&mut conn, run, events).await
    }

    /// Ingests one read of a run's events file in one transaction: its events, and a warning
    /// for each malformed line. Warnings are keyed by line number, so a re-read of the file
    /// records each of them once.
    pub async fn ingest_lines(
        &self,
        run: RunId,
        batch: &EventLines,
    ) -> Result<IngestStats, StoreError> {
        let mut conn = self.conn.lock().await;
        ingest::ingest_lines(&mut conn, run, batch).await
    }

    /// The latest succeeded run with this cache key, if any.
    pub async fn succeeded_run_for_key(
        &self,
        key: &CacheKey,
    ) -> Result<Option<RunRow>, StoreError> {
        let mut conn = self.conn.lock().await;
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE cache_key = ? AND status = 'succeeded' \
             ORDER BY ended_at DESC, id DESC LIMIT 1"
        ))
        .bind(&key.0)
        .fetch_optional(&mut *conn)
        .await
        .ctx(|| format!("look up cache key {}", key.short()))?;
        row.as_ref()
            .map(run_row)
            .transpose()
            .ctx(|| format!("read the run of cache key {}", key.short()))
    }

    /// Runs still 'queued' or 'running': left behind by an orchestrator that stopped without
    /// finishing them. Oldest first.
    pub async fn unfinished_runs(&self) -> Result<Vec<RunRow>, StoreError> {
        let mut conn = self.conn.lock().await;
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE status IN ('queued', 'running') ORDER BY id"
        ))
        .fetch_all(&mut *conn)
        .await
        .ctx(|| "list unfinished runs".to_string())?;
        rows.iter()
            .map(run_row)
            .collect::<Result<_, _>>()
            .ctx(|| "read unfinished runs".to_string())
    }

    /// Invocations still marked 'running' (candidates for [`Store::mark_invocation_crashed`]
    /// when no orchestrator holds them).
    pub async fn running_invocations(&self) -> Result<Vec<InvocationId>, StoreError> {
        let mut conn = self.conn.lock().await;
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM invocations WHERE status = 'running' ORDER BY id")
                .fetch_all(&mut *conn)
                .await
                .ctx(|| "list running invocations".to_string())?;
        Ok(ids.into_iter().map(InvocationId).collect())
    }
}

async fn insert_run_tx(
    conn: &mut SqliteConnection,
    r: &NewRun,
    source: Option<RunId>,
    artifact_dir: Option<&str>,
) -> Result<RunId, StoreError> {
    let point = to_json("the matrix point", &r.point)?;
    let params = to_json("the parameters", &r.params)?;
    let flat = flatten_params(&r.params);
    let mut tx = conn
        .begin()
        .await
        .ctx(|| format!("begin inserting run {:?}", r.job_name))?;
    // A cached row did no work of its own: it starts and ends when it is recorded.
    let (started, ended) = if source.is_some() {
        (Some(r.queued_at), Some(r.queued_at))
    } else {
        (None, None)
    };
    let key_inputs = match &r.key_inputs {
        Some(v) => Some(to_json("the cache key's inputs", v)?),
        None => None,
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO runs (invocation_id, pipeline_id, stage, job_name, kind, point, params, \
         cache_key, status, attempt, queued_at, source_run_id, started_at, ended_at, \
         artifact_dir, command, key_inputs) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(r.invocation_id.0)
    .bind(r.pipeline_id.0)
    .bind(&r.stage)
    .bind(&r.job_name)
    .bind(&r.kind)
    .bind(point)
    .bind(params)
    .bind(&r.cache_key)
    .bind(r.status.as_str())
    .bind(i64::from(r.attempt))
    .bind(r.queued_at)
    .bind(source.map(|s| s.0))
    .bind(started)
    .bind(ended)
    .bind(artifact_dir)
    .bind(&r.command)
    .bind(key_inputs)
    .fetch_one(&mut *tx)
    .await
    .ctx(|| format!("insert run {:?}", r.job_name))?;
    for (key, value) in &flat {
        sqlx::query("INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)")
            .bind(id)
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await
            .ctx(|| format!("insert parameter {key:?} of run {id}"))?;
    }
    tx.commit()
        .await
        .ctx(|| format!("commit run {:?}", r.job_name))?;
    Ok(RunId(id))
}
