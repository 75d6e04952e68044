//! Batched, idempotent ingestion of worker events into one run's rows.
//!
//! One call is one transaction. Before it opens, the batch is screened ([`screen`]): an event
//! that breaks the contract of [`ddmd_core::contract`], or reuses a seq for something other
//! than what is recorded, is not inserted; a `warn` log event saying which line, which seq and
//! why is recorded in its place, and the rest of the batch goes in. An event recorded before
//! exactly as it is (a re-read of the file after a crash) is dropped silently. Rows are keyed
//! by `(run_id, seq)` and inserted with `INSERT OR IGNORE` ([`sql`]), so nothing goes in twice.

mod recorded;
mod screen;
mod sql;

use crate::artifact;
use crate::error::{SqlContext, StoreError};
use crate::model::IngestStats;
use ddmd_core::{nonfinite, Event, EventKind, EventLines, RunId};
use screen::{Checked, Input, Warning};
use sql::{
    chunk_sizes, insert_sql, ARTIFACT_COLS, EVENT_COLS, EVENT_ROWS_PER_STATEMENT, METRIC_COLS,
    METRIC_ROWS_PER_STATEMENT,
};
use sqlx::{Connection, SqliteConnection};
use std::collections::{BTreeSet, HashMap};

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

/// Ingests `events` for `run` in one transaction; their lines in the events file are not
/// known, so warnings about them are keyed by seq.
pub(crate) async fn ingest(
    conn: &mut SqliteConnection,
    run: RunId,
    events: &[Event],
) -> Result<IngestStats, StoreError> {
    let inputs: Vec<Input<'_>> = events.iter().map(|ev| Input { line: None, ev }).collect();
    ingest_inputs(conn, run, &inputs, &[]).await
}

/// Ingests what one read of an events file gave for `run` in one transaction, with a warning
/// for each malformed line; warnings are keyed by line number.
pub(crate) async fn ingest_lines(
    conn: &mut SqliteConnection,
    run: RunId,
    batch: &EventLines,
) -> Result<IngestStats, StoreError> {
    let inputs: Vec<Input<'_>> = batch
        .events
        .iter()
        .map(|(line, ev)| Input {
            line: Some(*line),
            ev,
        })
        .collect();
    ingest_inputs(conn, run, &inputs, &batch.malformed).await
}

async fn ingest_inputs(
    conn: &mut SqliteConnection,
    run: RunId,
    inputs: &[Input<'_>],
    malformed: &[(u64, String)],
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
    // A seq SQLite cannot hold fails the whole batch before anything is written (it is not a
    // broken rule of one event: no row, not even a warning, can be keyed by it).
    for input in inputs {
        seq_i64(run, input.ev.seq)?;
    }

    let mut warnings: Vec<Warning> = malformed
        .iter()
        .map(|(line, error)| screen::malformed(*line, error))
        .collect();
    let checked = screen::check(inputs, &mut warnings);
    let recorded = match screen::seq_span(&checked) {
        Some(span) => recorded::recorded(conn, run, span).await?,
        None => HashMap::new(),
    };
    let fresh = screen::dedupe(checked, &recorded, &mut warnings);
    // Each input is fresh, a repeat, or refused (and then has its warning).
    let rejected = (inputs.len() as u64)
        .saturating_sub(fresh.events.len() as u64)
        .saturating_sub(fresh.repeated);

    let mut metrics = Vec::new();
    let mut others = Vec::new();
    let mut artifacts = Vec::new();
    let mut unavailable = Vec::new();
    for c in &fresh.events {
        route(
            c,
            &mut metrics,
            &mut others,
            &mut artifacts,
            &mut unavailable,
        );
    }

    // Hash artifacts before the transaction opens: a large checkpoint can take seconds, and
    // readers should not see a write transaction held that long. Recorded ones never get
    // here, so a re-ingest does not hash again.
    if !artifacts.is_empty() {
        let bases: Vec<String> = [artifact_dir, job_dir].into_iter().flatten().collect();
        artifacts = tokio::task::spawn_blocking(move || {
            let bases: Vec<&str> = bases.iter().map(String::as_str).collect();
            for a in &mut artifacts {
                a.measured = artifact::resolve(&a.path, &bases).and_then(|p| artifact::measure(&p));
            }
            artifacts
        })
        .await
        .map_err(|e| StoreError::Query {
            message: format!("artifact hashing task failed: {e}"),
        })?;
    }

    let mut stats = IngestStats {
        rejected,
        ..IngestStats::default()
    };
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

    let job_events = insert_events(&mut tx, run, &others).await?;
    let warning_rows: Vec<OtherRow> = warnings
        .into_iter()
        .map(|w| OtherRow {
            seq: w.seq,
            ty: "log",
            payload: w.payload,
            t: None,
        })
        .collect();
    let new_warnings = insert_events(&mut tx, run, &warning_rows).await?;
    stats.events = job_events + new_warnings;

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
    // Whatever was neither refused nor inserted was there already: a repeat found by the
    // screen, or an unavailable note whose reason did not change.
    let inserted_events = stats.inserted() - new_warnings;
    stats.duplicates = (inputs.len() as u64).saturating_sub(rejected + inserted_events);
    Ok(stats)
}

/// Sorts one fresh event into the rows of its table.
fn route<'a>(
    c: &'a Checked<'_>,
    metrics: &mut Vec<MetricRef<'a>>,
    others: &mut Vec<OtherRow>,
    artifacts: &mut Vec<ArtifactIn>,
    unavailable: &mut Vec<(&'a str, &'a str)>,
) {
    let ev: &Event = &c.ev;
    if let Some(note) = screen::unavailable(ev) {
        unavailable.push(note);
        return;
    }
    let ty = match &ev.kind {
        EventKind::Metric { key, step, value } => {
            metrics.push(MetricRef {
                seq: c.seq,
                key,
                step: *step,
                value: *value,
                t: ev.t,
            });
            return;
        }
        EventKind::Artifact { name, path } => {
            artifacts.push(ArtifactIn {
                seq: c.seq,
                name: name.clone(),
                path: path.clone(),
                measured: None,
            });
            return;
        }
        EventKind::Log { .. } => "log",
        EventKind::Progress { .. } => "progress",
        EventKind::Status { .. } => "status",
    };
    others.push(OtherRow {
        seq: c.seq,
        ty,
        payload: ev.to_line(),
        t: ev.t,
    });
}

/// Inserts rows of `events`; returns how many were new.
async fn insert_events(
    tx: &mut SqliteConnection,
    run: RunId,
    rows: &[OtherRow],
) -> Result<u64, StoreError> {
    let mut inserted = 0;
    let mut offset = 0;
    for size in chunk_sizes(rows.len(), EVENT_ROWS_PER_STATEMENT) {
        let sql = insert_sql(EVENT_COLS, 5, size);
        let mut q = sqlx::query(&sql);
        for e in &rows[offset..offset + size] {
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
        inserted += res.rows_affected();
        offset += size;
    }
    Ok(inserted)
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
