//! One training curve for a job that was killed and rerun. A rerun continues from the last
//! checkpoint of the earlier attempt (same cache key, same `.partial/` folder) and logs
//! [`RESUMED_FROM`] = the iteration it continued at; its own points begin after it. The
//! points up to that iteration are in the earlier attempt's run (cancelled or failed), and
//! without them a report would draw, for a student stopped at 4,000 of 5,000 updates, only
//! its last thousand. Here they are taken from the earlier attempts, newest first: each gives
//! its points in `(where that attempt itself resumed, where the later one resumed]`, until an
//! attempt that started from the beginning. Points an earlier attempt logged past the
//! checkpoint the rerun continued from were recomputed by the rerun, so they are left out.
//!
//! Curves are joined, and a `diverged` verdict of an earlier attempt is kept (the rerun
//! continues that attempt's training; our workers also state it again when they resume). A
//! run's final values stay its own.

use crate::error::{SqlContext, StoreError};
use crate::report_shape::{unpack_points, Point};
use ddmd_core::metrics::RESUMED_FROM;
use sqlx::SqliteConnection;
use std::collections::HashMap;

type Series = HashMap<String, Vec<Point>>;

#[derive(sqlx::FromRow)]
struct AttemptRow {
    id: i64,
}

#[derive(sqlx::FromRow)]
struct KeyPointsRow {
    key: String,
    points: String,
}

/// The iteration a run says it resumed at, if it did.
fn resumed_at(series: &Series) -> Option<i64> {
    let pts = series.get(RESUMED_FROM)?;
    pts.iter().max_by_key(|p| (p.0, p.1)).map(|p| p.2 as i64)
}

/// What the earlier attempts of a resumed run contribute to it.
pub(crate) struct Earlier {
    /// Points per key (never [`RESUMED_FROM`] itself).
    pub points: Series,
    /// The attempts whose points were taken, newest first: their status notes (a `diverged`
    /// verdict reached before the checkpoint) are the run's too.
    pub attempts: Vec<i64>,
}

/// For each run of `series` that resumed, what its earlier attempts contribute. Runs that did
/// not resume are absent.
pub(crate) async fn earlier_points(
    conn: &mut SqliteConnection,
    series: &HashMap<i64, Series>,
) -> Result<HashMap<i64, Earlier>, StoreError> {
    let mut out = HashMap::new();
    for (&run, own) in series {
        let Some(mut cutoff) = resumed_at(own) else {
            continue;
        };
        // Earlier attempts: the same job (cache key) run before this one, newest first; a
        // cached row has no points of its own.
        let attempts: Vec<AttemptRow> = sqlx::query_as(
            "SELECT id FROM runs \
             WHERE cache_key = (SELECT cache_key FROM runs WHERE id = ?1) \
               AND id < ?1 AND source_run_id IS NULL \
             ORDER BY id DESC",
        )
        .bind(run)
        .fetch_all(&mut *conn)
        .await
        .ctx(|| format!("find the earlier attempts of run {run}"))?;
        let mut joined: Series = HashMap::new();
        let mut used = Vec::new();
        for a in attempts {
            used.push(a.id);
            let earlier = points_of(conn, a.id).await?;
            let from = resumed_at(&earlier);
            for (key, pts) in earlier {
                if key == RESUMED_FROM {
                    continue;
                }
                joined.entry(key).or_default().extend(
                    pts.into_iter()
                        .filter(|p| p.0 <= cutoff && from.is_none_or(|f| p.0 > f)),
                );
            }
            match from {
                Some(f) => cutoff = f,
                None => break,
            }
        }
        joined.retain(|_, pts| !pts.is_empty());
        if !used.is_empty() {
            out.insert(
                run,
                Earlier {
                    points: joined,
                    attempts: used,
                },
            );
        }
    }
    Ok(out)
}

/// Every point of one run, per key.
async fn points_of(conn: &mut SqliteConnection, run: i64) -> Result<Series, StoreError> {
    let rows: Vec<KeyPointsRow> = sqlx::query_as(
        "SELECT key, json_group_array(json_array(step, seq, value, raw)) AS points \
         FROM metrics WHERE run_id = ?1 GROUP BY key",
    )
    .bind(run)
    .fetch_all(&mut *conn)
    .await
    .ctx(|| format!("read the metrics of run {run}"))?;
    rows.into_iter()
        .map(|r| {
            unpack_points(&r.points)
                .map(|pts| (r.key.clone(), pts))
                .map_err(|e| {
                    crate::report_load::stored(format!("points of run {run} metric {}", r.key), e)
                })
        })
        .collect()
}
