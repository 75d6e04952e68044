//! The reads of `ddmd-pipe serve`, the live dashboard: a page of runs (filtered, sorted, with
//! their parameters and final metrics), the points and events a run gained since the last
//! `seq` a page saw, and the parameters of runs to compare. Every query is indexed on what a
//! page sends back each tick (`(run_id, seq)`, the primary key of `metrics` and `events`), so
//! an open page costs one short read per second however large the database grows.

use crate::error::{SqlContext, StoreError};
use crate::reader::ReadStore;
use crate::rows::{run_columns_prefixed, run_row};
use crate::RunRow;
use ddmd_core::{RunId, RunStatus};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Most runs one page of the table holds.
pub const MAX_PAGE: u32 = 500;
/// Most points one poll returns, over all keys. Larger answers cost the writer more than they
/// help the page, whose charts draw at most 2,000 points a series (measured with five pages
/// open on a 2-core machine: 20,000 points a poll slowed ingest by 37 %; `bench/run --only
/// serve`).
pub const MAX_POINTS: u32 = 2_000;
/// Most points one poll reads. A backlog larger than [`MAX_POINTS`] (a long run opened late)
/// comes back thinned, every k-th point of each key and always its last, so a page catches up
/// at this many points a poll without the answer growing. Reading costs the writer too: at
/// 50,000 five pages chasing a run that logs 200,000 points a second read more than it wrote.
pub const MAX_SCAN: u32 = 10_000;
/// Most events one poll returns.
pub const MAX_EVENTS: u32 = 500;

/// A column the runs table sorts by.
#[derive(Clone, Debug, PartialEq)]
pub enum SortKey {
    Id,
    Stage,
    Job,
    Status,
    Duration,
    Param(String),
    Metric(String),
}

impl SortKey {
    /// `id`, `stage`, `job`, `status`, `duration`, `param:<key>` or `metric:<key>`.
    pub fn parse(s: &str) -> Option<SortKey> {
        Some(match s {
            "id" => SortKey::Id,
            "stage" => SortKey::Stage,
            "job" => SortKey::Job,
            "status" => SortKey::Status,
            "duration" => SortKey::Duration,
            _ => {
                if let Some(k) = s.strip_prefix("param:").filter(|k| !k.is_empty()) {
                    SortKey::Param(k.to_string())
                } else if let Some(k) = s.strip_prefix("metric:").filter(|k| !k.is_empty()) {
                    SortKey::Metric(k.to_string())
                } else {
                    return None;
                }
            }
        })
    }
}

/// What the runs table asks for. Filters are exact matches; `None` is no filter.
#[derive(Clone, Debug)]
pub struct RunsQuery {
    pub status: Option<String>,
    /// Stage kind (`report`, `distill`, `command`, …).
    pub kind: Option<String>,
    pub stage: Option<String>,
    pub pipeline: Option<String>,
    /// A parameter's flattened key and its value as JSON text (`lr`, `0.001`; `terms`,
    /// `"CA + DM"`); a string value may be given without its quotes.
    pub param: Option<(String, String)>,
    pub sort: SortKey,
    pub descending: bool,
    pub offset: u32,
    pub limit: u32,
}

impl Default for RunsQuery {
    fn default() -> Self {
        RunsQuery {
            status: None,
            kind: None,
            stage: None,
            pipeline: None,
            param: None,
            sort: SortKey::Id,
            descending: true,
            offset: 0,
            limit: 100,
        }
    }
}

/// One row of the runs table.
#[derive(Clone, Debug, Serialize)]
pub struct DashRun {
    pub run: RunRow,
    pub pipeline: String,
    pub duration_s: Option<f64>,
    /// Flattened parameter -> JSON text, for the keys in [`RunsPage::param_keys`].
    pub params: BTreeMap<String, String>,
    /// Final metric -> value (`null` for a non-finite one).
    pub metrics: BTreeMap<String, Option<f64>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunsPage {
    /// Runs matching the filters, all pages.
    pub total: i64,
    pub runs: Vec<DashRun>,
    /// Parameters whose value differs between the runs of this page (the columns worth
    /// showing), sorted.
    pub param_keys: Vec<String>,
    /// Final metrics any run of this page has, sorted.
    pub metric_keys: Vec<String>,
    /// Values the filters can take.
    pub statuses: Vec<String>,
    pub stages: Vec<String>,
    pub pipelines: Vec<String>,
}

/// One point as a page receives it: `(seq, key, step, value)`, `value` `None` when not finite.
pub type Point = (i64, String, i64, Option<f64>);

/// New points of a run: `(seq, key, step, value)`, `value` `null` when not finite.
#[derive(Clone, Debug, Serialize)]
pub struct Points {
    pub points: Vec<Point>,
    /// Whether some points of this span were left out (every k-th kept per key).
    pub thinned: bool,
    /// The largest seq returned, or the one asked from when nothing is new.
    pub last_seq: i64,
    /// Whether more points wait (the page asks again at once).
    pub more: bool,
}

/// New non-metric events of a run (`log`, `status`, `progress`, `artifact`).
#[derive(Clone, Debug, Serialize)]
pub struct Events {
    /// `(seq, type, time, payload as JSON)`.
    pub events: Vec<(i64, String, Option<f64>, serde_json::Value)>,
    pub last_seq: i64,
}

impl ReadStore {
    /// One page of runs.
    pub async fn runs_page(&self, q: &RunsQuery) -> Result<RunsPage, StoreError> {
        let mut conn = self.lock().await;
        let mut filter = String::from(" WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        for (col, v) in [
            ("r.status", &q.status),
            ("r.kind", &q.kind),
            ("r.stage", &q.stage),
            ("p.name", &q.pipeline),
        ] {
            if let Some(v) = v {
                filter.push_str(&format!(" AND {col} = ?"));
                binds.push(v.clone());
            }
        }
        if let Some((key, value)) = &q.param {
            // `0.001` matches the JSON number, `CA + DM` the JSON string "CA + DM".
            filter.push_str(
                " AND EXISTS (SELECT 1 FROM params pa WHERE pa.run_id = r.id AND pa.key = ? \
                 AND (pa.value = ? OR pa.value = json_quote(?)))",
            );
            binds.extend([key.clone(), value.clone(), value.clone()]);
        }
        let from = "FROM runs r JOIN pipelines p ON p.id = r.pipeline_id";
        let total: i64 = {
            let sql = format!("SELECT count(*) {from}{filter}");
            let mut qq = sqlx::query_scalar(&sql);
            for b in &binds {
                qq = qq.bind(b);
            }
            qq.fetch_one(&mut *conn)
                .await
                .ctx(|| "count the runs of the dashboard".to_string())?
        };
        let (join, order, sort_bind) = match &q.sort {
            SortKey::Id => (String::new(), "r.id".to_string(), None),
            SortKey::Stage => (String::new(), "r.stage, r.id".to_string(), None),
            SortKey::Job => (String::new(), "r.job_name, r.id".to_string(), None),
            SortKey::Status => (String::new(), "r.status, r.id".to_string(), None),
            SortKey::Duration => (
                String::new(),
                "(r.ended_at - r.started_at) IS NULL, r.ended_at - r.started_at, r.id".into(),
                None,
            ),
            SortKey::Param(k) => (
                " LEFT JOIN params sp ON sp.run_id = r.id AND sp.key = ?".to_string(),
                // Numbers by value, then text; runs without the parameter last.
                "sp.value IS NULL, CAST(sp.value AS REAL), sp.value, r.id".to_string(),
                Some(k.clone()),
            ),
            SortKey::Metric(k) => (
                // A cached run shows its source's results.
                " LEFT JOIN metrics_final sm ON sm.run_id = coalesce(r.source_run_id, r.id) \
                 AND sm.key = ?"
                    .to_string(),
                "sm.value IS NULL, sm.value, r.id".to_string(),
                Some(k.clone()),
            ),
        };
        // Descending flips the values, never where the missing ones go (always last).
        let order = if q.descending {
            order
                .split(", ")
                .map(|c| {
                    if c.ends_with("IS NULL") {
                        c.to_string()
                    } else {
                        format!("{c} DESC")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            order
        };
        let sql = format!(
            "SELECT {}, p.name {from}{join}{filter} ORDER BY {order} LIMIT ? OFFSET ?",
            run_columns_prefixed("r")
        );
        let mut qq = sqlx::query(&sql);
        if let Some(k) = &sort_bind {
            qq = qq.bind(k);
        }
        for b in &binds {
            qq = qq.bind(b);
        }
        let rows = qq
            .bind(q.limit.clamp(1, MAX_PAGE))
            .bind(q.offset)
            .fetch_all(&mut *conn)
            .await
            .ctx(|| "read a page of runs".to_string())?;
        let mut runs = Vec::with_capacity(rows.len());
        for row in &rows {
            use sqlx::Row;
            let run = run_row(row).ctx(|| "read a run of the dashboard".to_string())?;
            let pipeline: String = row
                .try_get("name")
                .ctx(|| "read a pipeline name".to_string())?;
            runs.push(DashRun {
                duration_s: run.duration_s(),
                run,
                pipeline,
                params: BTreeMap::new(),
                metrics: BTreeMap::new(),
            });
        }
        if !runs.is_empty() {
            let ids: Vec<String> = runs.iter().map(|r| r.run.id.0.to_string()).collect();
            let list = ids.join(",");
            let params: Vec<(i64, String, String)> = sqlx::query_as(&format!(
                "SELECT run_id, key, value FROM params WHERE run_id IN ({list})"
            ))
            .fetch_all(&mut *conn)
            .await
            .ctx(|| "read the parameters of a page of runs".to_string())?;
            // Rows of this page by the run whose results they show (several cached rows can
            // share one source).
            let mut by_source: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
            for (i, r) in runs.iter().enumerate() {
                by_source
                    .entry(r.run.source_run_id.unwrap_or(r.run.id).0)
                    .or_default()
                    .push(i);
            }
            let sources: Vec<String> = by_source.keys().map(i64::to_string).collect();
            let metrics: Vec<(i64, String, Option<f64>)> = sqlx::query_as(&format!(
                "SELECT run_id, key, value FROM metrics_final WHERE run_id IN ({})",
                sources.join(",")
            ))
            .fetch_all(&mut *conn)
            .await
            .ctx(|| "read the final metrics of a page of runs".to_string())?;
            let at: BTreeMap<i64, usize> = runs
                .iter()
                .enumerate()
                .map(|(i, r)| (r.run.id.0, i))
                .collect();
            for (run, key, value) in params {
                if let Some(&i) = at.get(&run) {
                    runs[i].params.insert(key, value);
                }
            }
            for (src, key, value) in metrics {
                for &i in by_source.get(&src).into_iter().flatten() {
                    runs[i].metrics.insert(key.clone(), value);
                }
            }
        }
        let all_params: BTreeSet<&String> = runs.iter().flat_map(|r| r.params.keys()).collect();
        let param_keys: Vec<String> = all_params
            .into_iter()
            .filter(|k| {
                let values: BTreeSet<Option<&String>> =
                    runs.iter().map(|r| r.params.get(*k)).collect();
                values.len() > 1
            })
            .cloned()
            .collect();
        for r in runs.iter_mut() {
            r.params.retain(|k, _| param_keys.binary_search(k).is_ok());
        }
        let metric_keys: Vec<String> = runs
            .iter()
            .flat_map(|r| r.metrics.keys().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let distinct = |sql: &'static str| sqlx::query_scalar::<_, String>(sql);
        let statuses = distinct("SELECT DISTINCT status FROM runs ORDER BY status")
            .fetch_all(&mut *conn)
            .await
            .ctx(|| "read the statuses in use".to_string())?;
        let stages = distinct("SELECT DISTINCT stage FROM runs ORDER BY stage")
            .fetch_all(&mut *conn)
            .await
            .ctx(|| "read the stages in use".to_string())?;
        let pipelines = distinct("SELECT name FROM pipelines ORDER BY name")
            .fetch_all(&mut *conn)
            .await
            .ctx(|| "read the pipelines".to_string())?;
        Ok(RunsPage {
            total,
            runs,
            param_keys,
            metric_keys,
            statuses,
            stages,
            pipelines,
        })
    }

    /// A run's status, `None` when there is no such run: what a live page checks each tick.
    pub async fn run_status(&self, run: RunId) -> Result<Option<RunStatus>, StoreError> {
        let mut conn = self.lock().await;
        let s: Option<String> = sqlx::query_scalar("SELECT status FROM runs WHERE id = ?")
            .bind(run.0)
            .fetch_optional(&mut *conn)
            .await
            .ctx(|| format!("look up the status of run {run}"))?;
        Ok(s.as_deref().and_then(RunStatus::parse))
    }

    /// Points of a run (a cached run: its source's) recorded after `after_seq`.
    pub async fn points_after(&self, run: RunId, after_seq: i64) -> Result<Points, StoreError> {
        let mut conn = self.lock().await;
        let source = results_of(&mut conn, run).await?;
        let rows: Vec<Point> = sqlx::query_as(
            "SELECT seq, key, step, value FROM metrics WHERE run_id = ? AND seq > ? \
             ORDER BY seq LIMIT ?",
        )
        .bind(source)
        .bind(after_seq)
        .bind(MAX_SCAN + 1)
        .fetch_all(&mut *conn)
        .await
        .ctx(|| format!("read the points of run {run} after seq {after_seq}"))?;
        let more = rows.len() > MAX_SCAN as usize;
        let rows: Vec<_> = rows.into_iter().take(MAX_SCAN as usize).collect();
        let last_seq = rows.last().map(|p| p.0).unwrap_or(after_seq);
        let (points, thinned) = thin(rows, MAX_POINTS as usize);
        Ok(Points {
            points,
            thinned,
            last_seq,
            more,
        })
    }

    /// Non-metric events of a run recorded after `after_seq`.
    pub async fn events_after(&self, run: RunId, after_seq: i64) -> Result<Events, StoreError> {
        let mut conn = self.lock().await;
        let source = results_of(&mut conn, run).await?;
        let rows: Vec<(i64, String, Option<f64>, String)> = sqlx::query_as(
            "SELECT seq, type, t, payload FROM events WHERE run_id = ? AND seq > ? \
             ORDER BY seq LIMIT ?",
        )
        .bind(source)
        .bind(after_seq)
        .bind(MAX_EVENTS)
        .fetch_all(&mut *conn)
        .await
        .ctx(|| format!("read the events of run {run} after seq {after_seq}"))?;
        let last_seq = rows.last().map(|e| e.0).unwrap_or(after_seq);
        let events = rows
            .into_iter()
            .map(|(seq, kind, t, payload)| {
                let v =
                    serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload));
                (seq, kind, t, v)
            })
            .collect();
        Ok(Events { events, last_seq })
    }

    /// The runs with these ids that exist, with all of their flattened parameters.
    pub async fn runs_with_params(
        &self,
        ids: &[RunId],
    ) -> Result<Vec<(RunRow, BTreeMap<String, String>)>, StoreError> {
        let mut out = Vec::new();
        for &id in ids {
            let Some(detail) = self.run(id).await? else {
                continue;
            };
            out.push((detail.run, detail.params.into_iter().collect()));
        }
        Ok(out)
    }
}

/// At most about `budget` of `rows` (seq order), shared between keys: every k-th point of a
/// key with many and always the last of each key, so a rarely logged metric is never crowded
/// out by a frequent one.
fn thin(rows: Vec<Point>, budget: usize) -> (Vec<Point>, bool) {
    if rows.len() <= budget {
        return (rows, false);
    }
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &rows {
        *count.entry(r.1.as_str()).or_default() += 1;
    }
    let per_key = (budget / count.len()).max(1);
    let stride: BTreeMap<String, usize> = count
        .iter()
        .map(|(k, n)| (k.to_string(), n.div_ceil(per_key).max(1)))
        .collect();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let last: BTreeMap<String, i64> = rows.iter().map(|r| (r.1.clone(), r.0)).collect();
    let kept = rows
        .into_iter()
        .filter(|r| {
            let i = seen.entry(r.1.clone()).or_default();
            let keep = i.is_multiple_of(stride[&r.1]) || last[&r.1] == r.0;
            *i += 1;
            keep
        })
        .collect();
    (kept, true)
}

/// The run whose results a run shows: its source when it is a cached row.
async fn results_of(conn: &mut sqlx::SqliteConnection, run: RunId) -> Result<i64, StoreError> {
    let source: Option<Option<i64>> =
        sqlx::query_scalar("SELECT source_run_id FROM runs WHERE id = ?")
            .bind(run.0)
            .fetch_optional(&mut *conn)
            .await
            .ctx(|| format!("look up run {run}"))?;
    Ok(source.flatten().unwrap_or(run.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_every_key_and_each_last_point() {
        let mut rows = Vec::new();
        for s in 0..10_000i64 {
            rows.push((s * 2, "loss".to_string(), s, Some(1.0)));
            if s % 1000 == 0 {
                rows.push((s * 2 + 1, "fid".to_string(), s, Some(2.0)));
            }
        }
        let (kept, thinned) = thin(rows, 2_000);
        assert!(thinned);
        let loss: Vec<_> = kept.iter().filter(|r| r.1 == "loss").collect();
        let fid: Vec<_> = kept.iter().filter(|r| r.1 == "fid").collect();
        assert_eq!(fid.len(), 10, "the rare key keeps every point");
        assert!(loss.len() <= 1_001 && loss.len() >= 900, "{}", loss.len());
        assert_eq!(
            loss.last().unwrap().2,
            9_999,
            "the last point of a key is kept"
        );
        assert!(kept.windows(2).all(|w| w[0].0 < w[1].0), "seq order");
        let (small, t) = thin(vec![(1, "a".into(), 0, None)], 2_000);
        assert_eq!((small.len(), t), (1, false));
    }
}
