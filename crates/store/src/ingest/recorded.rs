//! What a run already holds for a span of seqs, read before the batch's transaction opens.
//!
//! Read outside the transaction on purpose: in WAL mode a transaction that reads first and
//! writes later fails at once ("database is locked") when another process wrote in between,
//! without waiting for the busy timeout. The orchestrator is the only writer of its runs'
//! rows, so the rows read here cannot change before the batch is written.

use super::screen::Recorded;
use crate::error::{SqlContext, StoreError};
use crate::rows::parse_raw;
use ddmd_core::RunId;
use sqlx::SqliteConnection;
use std::collections::HashMap;

/// seq, key, step, value, raw, t of a `metrics` row.
type MetricRow = (i64, String, i64, Option<f64>, Option<String>, Option<f64>);

/// The rows of `run` with a seq in `lo..=hi`, from every table keyed by seq. While a job runs,
/// each batch's seqs are above everything recorded and this is three empty index seeks; a
/// re-read after a crash returns what the batch repeats.
pub(crate) async fn recorded(
    conn: &mut SqliteConnection,
    run: RunId,
    (lo, hi): (i64, i64),
) -> Result<HashMap<i64, Recorded>, StoreError> {
    let mut out = HashMap::new();
    let metrics: Vec<MetricRow> = sqlx::query_as(
        "SELECT seq, key, step, value, raw, t FROM metrics \
             WHERE run_id = ? AND seq BETWEEN ? AND ?",
    )
    .bind(run.0)
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *conn)
    .await
    .ctx(|| format!("ingest: read the metrics of run {run} with seqs {lo} to {hi}"))?;
    for (seq, key, step, value, raw, t) in metrics {
        let value = value.unwrap_or_else(|| raw.as_deref().map_or(f64::NAN, parse_raw));
        out.insert(
            seq,
            Recorded::Metric {
                key,
                step,
                value,
                t,
            },
        );
    }
    let artifacts: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT seq, name, path FROM artifacts WHERE run_id = ? AND seq BETWEEN ? AND ?",
    )
    .bind(run.0)
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *conn)
    .await
    .ctx(|| format!("ingest: read the artifacts of run {run} with seqs {lo} to {hi}"))?;
    for (seq, name, path) in artifacts {
        // A database written before seqs were checked may use one in two tables; the
        // first table read wins, which is as good as any.
        out.entry(seq).or_insert(Recorded::Artifact { name, path });
    }
    let others: Vec<(i64, String)> =
        sqlx::query_as("SELECT seq, payload FROM events WHERE run_id = ? AND seq BETWEEN ? AND ?")
            .bind(run.0)
            .bind(lo)
            .bind(hi)
            .fetch_all(&mut *conn)
            .await
            .ctx(|| format!("ingest: read the events of run {run} with seqs {lo} to {hi}"))?;
    for (seq, payload) in others {
        out.entry(seq).or_insert(Recorded::Other { payload });
    }
    Ok(out)
}
