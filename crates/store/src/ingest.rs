//! Batched, idempotent ingestion of worker events into one run's rows.
//!
//! One call is one transaction. Rows are inserted with multi-row `INSERT OR IGNORE … VALUES
//! (…),(…)` statements keyed by `(run_id, seq)`, so re-reading an events file after a crash
//! inserts nothing twice. Statement sizes are a fixed maximum and powers of two below it, so
//! that a handful of prepared statements cover every batch size and stay in sqlx's cache.

use crate::artifact;
use crate::error::{SqlContext, StoreError};
use crate::model::IngestStats;
use ddmd_core::{nonfinite, Event, EventKind, RunId};
use sqlx::{Connection, SqliteConnection};
use std::collections::BTreeSet;

/// Rows per metric statement: 1024 × 7 bound values stays well under SQLite's 32,766-variable
/// limit, and the per-statement round trip to sqlx's worker thread is paid once per 1024 rows.
pub(crate) const METRIC_ROWS_PER_STATEMENT: usize = 1024;

const METRIC_COLS: &str = "metrics (run_id, seq, key, step, value, raw, t)";
const EVENT_COLS: &str = "events (run_id, seq, type, payload, t)";
const ARTIFACT_COLS: &str = "artifacts (run_id, seq, name, path, bytes, sha256)";

/// `INSERT OR IGNORE INTO <cols> VALUES (?,…),(?,…)…` for `rows` rows of `ncols` columns.
fn insert_sql(cols: &str, ncols: usize, rows: usize) -> String {
    let tuple = format!("({})", vec!["?"; ncols].join(","));
    let mut sql = String::with_capacity(40 + rows * (tuple.len() + 1));
    sql.push_str("INSERT OR IGNORE INTO ");
    sql.push_str(cols);
    sql.push_str(" VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&tuple);
    }
    sql
}

/// Splits `n` rows into statement sizes: full `max` chunks, then powers of two.
fn chunk_sizes(mut n: usize, max: usize) -> Vec<usize> {
    let mut out = Vec::new();
    while n >= max {
        out.push(max);
        n -= max;
    }
    while n > 0 {
        let p = 1usize << (usize::BITS - 1 - n.leading_zeros());
        out.push(p);
        n -= p;
    }
    out
}

fn seq_i64(run: RunId, seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::SeqOutOfRange { run, seq })
}

struct MetricRef<'a> {
    seq: i64,
    key: &'a str,
    step: i64,
    value: f64,
    t: Option<f64>,
}

struct OtherRow {
    seq: i64,
    ty: &'static str,
    payload: String,
    t: Option<f64>,
}

struct ArtifactIn {
    seq: i64,
    name: String,
    path: String,
    measured: Option<artifact::Measured>,
}

/// Ingests `events` for `run` in one transaction.
pub(crate) async fn ingest(
    conn: &mut SqliteConnection,
    run: RunId,
    events: &[Event],
) -> Result<IngestStats, StoreError> {
    let dirs: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT artifact_dir, job_dir FROM runs WHERE id = ?")
            .bind(run.0)
            .fetch_optional(&mut *conn)
            .await
            .ctx(|| format!("ingest: look up run {run}"))?;
    let Some((artifact_dir, job_dir)) = dirs else {
        return Err(StoreError::UnknownRun(run));
    };

    let mut metrics = Vec::new();
    let mut others = Vec::new();
    let mut artifacts = Vec::new();
    let mut unavailable = Vec::new();
    for ev in events {
        let seq = seq_i64(run, ev.seq)?;
        match &ev.kind {
            EventKind::Metric { key, step, value } => metrics.push(MetricRef {
                seq,
                key,
                step: *step,
                value: *value,
                t: ev.t,
            }),
            EventKind::Artifact { name, path } => artifacts.push(ArtifactIn {
                seq,
                name: name.clone(),
                path: path.clone(),
                measured: None,
            }),
            EventKind::Status {
                state,
                key: Some(key),
                message,
            } if state == "unavailable" => unavailable.push((
                key.as_str(),
                message
                    .as_deref()
                    .unwrap_or("unavailable (no reason given)"),
            )),
            other => others.push(OtherRow {
                seq,
                ty: match other {
                    EventKind::Log { .. } => "log",
                    EventKind::Progress { .. } => "progress",
                    EventKind::Status { .. } => "status",
                    // Metric and Artifact are matched above.
                    EventKind::Metric { .. } => "metric",
                    EventKind::Artifact { .. } => "artifact",
                },
                payload: ev.to_line(),
                t: ev.t,
            }),
        }
    }

    // Hash artifacts before the transaction opens: a large checkpoint can take seconds, and
    // readers should not see a write transaction held that long. Ones already recorded are
    // skipped so a re-ingest does not hash again.
    if !artifacts.is_empty() {
        let mut fresh = Vec::new();
        for a in artifacts {
            let known: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM artifacts WHERE run_id = ? AND seq = ?")
                    .bind(run.0)
                    .bind(a.seq)
                    .fetch_optional(&mut *conn)
                    .await
                    .ctx(|| format!("ingest: look up artifact seq {} of run {run}", a.seq))?;
            if known.is_none() {
                fresh.push(a);
            }
        }
        let bases: Vec<String> = [artifact_dir, job_dir].into_iter().flatten().collect();
        artifacts = tokio::task::spawn_blocking(move || {
            let bases: Vec<&str> = bases.iter().map(String::as_str).collect();
            for a in &mut fresh {
                a.measured = artifact::resolve(&a.path, &bases).and_then(|p| artifact::measure(&p));
            }
            fresh
        })
        .await
        .map_err(|e| StoreError::Query {
            message: format!("artifact hashing task failed: {e}"),
        })?;
    }

    let mut stats = IngestStats::default();
    let mut tx = conn
        .begin()
        .await
        .ctx(|| format!("ingest: begin a transaction for run {run}"))?;

    let mut offset = 0;
    for size in chunk_sizes(metrics.len(), METRIC_ROWS_PER_STATEMENT) {
        let sql = insert_sql(METRIC_COLS, 7, size);
        let mut q = sqlx::query(&sql);
        for m in &metrics[offset..offset + size] {
            let finite = m.value.is_finite();
            q = q
                .bind(run.0)
                .bind(m.seq)
                .bind(m.key)
                .bind(m.step)
                .bind(finite.then_some(m.value))
                .bind(nonfinite::encode(m.value))
                .bind(m.t);
        }
        let res = q
            .execute(&mut *tx)
            .await
            .ctx(|| format!("ingest: insert {size} metric points of run {run}"))?;
        stats.metrics += res.rows_affected();
        offset += size;
    }

    offset = 0;
    for size in chunk_sizes(others.len(), 256) {
        let sql = insert_sql(EVENT_COLS, 5, size);
        let mut q = sqlx::query(&sql);
        for e in &others[offset..offset + size] {
            q = q
                .bind(run.0)
                .bind(e.seq)
                .bind(e.ty)
                .bind(e.payload.as_str())
                .bind(e.t);
        }
        let res = q
            .execute(&mut *tx)
            .await
            .ctx(|| format!("ingest: insert {size} events of run {run}"))?;
        stats.events += res.rows_affected();
        offset += size;
    }

    for a in &artifacts {
        let res = sqlx::query(&insert_sql(ARTIFACT_COLS, 6, 1))
            .bind(run.0)
            .bind(a.seq)
            .bind(a.name.as_str())
            .bind(a.path.as_str())
            .bind(a.measured.as_ref().map(|m| m.bytes))
            .bind(a.measured.as_ref().map(|m| m.sha256.as_str()))
            .execute(&mut *tx)
            .await
            .ctx(|| format!("ingest: insert artifact {:?} of run {run}", a.name))?;
        stats.artifacts += res.rows_affected();
    }

    for (key, reason) in &unavailable {
        let res = sqlx::query(
            "INSERT INTO unavailable (run_id, key, reason) VALUES (?, ?, ?) \
             ON CONFLICT (run_id, key) DO UPDATE SET reason = excluded.reason \
             WHERE reason <> excluded.reason",
        )
        .bind(run.0)
        .bind(*key)
        .bind(*reason)
        .execute(&mut *tx)
        .await
        .ctx(|| format!("ingest: record unavailable metric {key:?} of run {run}"))?;
        stats.unavailable += res.rows_affected();
    }

    // Keep metrics_final in step: recompute each touched key from `metrics` itself (one index
    // seek per key), so it always equals "largest step, latest seq" whatever order points came.
    if stats.metrics > 0 {
        let keys: BTreeSet<&str> = metrics.iter().map(|m| m.key).collect();
        for key in keys {
            sqlx::query(
                "INSERT OR REPLACE INTO metrics_final (run_id, key, step, seq, value, raw, t) \
                 SELECT run_id, key, step, seq, value, raw, t FROM metrics \
                 WHERE run_id = ? AND key = ? ORDER BY step DESC, seq DESC LIMIT 1",
            )
            .bind(run.0)
            .bind(key)
            .execute(&mut *tx)
            .await
            .ctx(|| format!("ingest: update the final value of {key:?} of run {run}"))?;
        }
    }

    tx.commit()
        .await
        .ctx(|| format!("ingest: commit events of run {run}"))?;
    stats.duplicates = (events.len() as u64).saturating_sub(stats.inserted());
    Ok(stats)
}

/// Fills in size and hash of a run's artifacts that had none (the folder did not exist yet when
/// they were reported, e.g. before the work folder was renamed into place).
pub(crate) async fn measure_missing_artifacts(
    conn: &mut SqliteConnection,
    run: RunId,
) -> Result<(), StoreError> {
    let dirs: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT artifact_dir, job_dir FROM runs WHERE id = ?")
            .bind(run.0)
            .fetch_optional(&mut *conn)
            .await
            .ctx(|| format!("look up run {run}"))?;
    let Some((artifact_dir, job_dir)) = dirs else {
        return Err(StoreError::UnknownRun(run));
    };
    let missing: Vec<(i64, String)> =
        sqlx::query_as("SELECT seq, path FROM artifacts WHERE run_id = ? AND sha256 IS NULL")
            .bind(run.0)
            .fetch_all(&mut *conn)
            .await
            .ctx(|| format!("list unmeasured artifacts of run {run}"))?;
    if missing.is_empty() {
        return Ok(());
    }
    let bases: Vec<String> = [artifact_dir, job_dir].into_iter().flatten().collect();
    let measured = tokio::task::spawn_blocking(move || {
        let bases: Vec<&str> = bases.iter().map(String::as_str).collect();
        missing
            .into_iter()
            .filter_map(|(seq, path)| {
                artifact::resolve(&path, &bases)
                    .and_then(|p| artifact::measure(&p))
                    .map(|m| (seq, m))
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| StoreError::Query {
        message: format!("artifact hashing task failed: {e}"),
    })?;
    for (seq, m) in measured {
        sqlx::query("UPDATE artifacts SET bytes = ?, sha256 = ? WHERE run_id = ? AND seq = ?")
            .bind(m.bytes)
            .bind(m.sha256)
            .bind(run.0)
            .bind(seq)
            .execute(&mut *conn)
            .await
            .ctx(|| format!("record the size of artifact seq {seq} of run {run}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_cover_n_with_few_distinct_sizes() {
        assert_eq!(chunk_sizes(0, 1024), Vec::<usize>::new());
        assert_eq!(chunk_sizes(5, 1024), vec![4, 1]);
        assert_eq!(chunk_sizes(2048 + 37, 1024), vec![1024, 1024, 32, 4, 1]);
        for n in [1, 999, 1024, 5000, 12345] {
            assert_eq!(chunk_sizes(n, 1024).iter().sum::<usize>(), n);
        }
    }

    #[test]
    fn insert_sql_shape() {
        assert_eq!(
            insert_sql("t (a, b)", 2, 2),
            "INSERT OR IGNORE INTO t (a, b) VALUES (?,?),(?,?)"
        );
    }
}
