//! What a report reads, as [`ReadStore`] methods: the invocation a run belongs to, which
//! invocation of a pipeline to report on, the params its report stage was given, and the whole
//! [`ReportData`] of an invocation. Every SQL statement the report needs is here; rows are
//! decoded by column name (`sqlx::FromRow`). Read-only, like every [`ReadStore`] method.
//!
//! Final values are derived from the same points as the curves rather than read from
//! `metrics_final`: that table is kept by [`crate::Store`]'s ingest alone, and a database whose
//! `metrics` another writer filled (the report's test fixtures do, on purpose) has none there.
//! On a database the store wrote, the two agree (`tests/report_load.rs` checks it).

use crate::error::{SqlContext, StoreError};
use crate::reader::ReadStore;
use crate::report_model::{Artifact, InvocationInfo, ReportData, RunRecord};
use crate::report_shape::{finals_and_curves, parse_point, unpack_points, Point, StatusNote};
use ddmd_core::RunId;
use futures_util::TryStreamExt;
use serde_json::Value;
use std::collections::HashMap;

#[derive(sqlx::FromRow)]
struct InvocationIdRow {
    invocation_id: i64,
}

#[derive(sqlx::FromRow)]
struct IdRow {
    id: i64,
}

#[derive(sqlx::FromRow)]
struct NameRow {
    name: String,
}

#[derive(sqlx::FromRow)]
struct ParamsRow {
    params: String,
}

#[derive(sqlx::FromRow)]
struct InvocationRow {
    id: i64,
    argv: String,
    host: String,
    git_rev: Option<String>,
    started_at: f64,
    ended_at: Option<f64>,
    status: String,
    pipeline: String,
    spec_text: String,
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    stage: String,
    job_name: String,
    kind: String,
    point: String,
    params: String,
    status: String,
    attempt: i64,
    devices: Option<String>,
    exit_code: Option<i64>,
    error: Option<String>,
    source_run_id: Option<i64>,
    started_at: Option<f64>,
    ended_at: Option<f64>,
    job_dir: Option<String>,
    artifact_dir: Option<String>,
    cache_key: String,
}

#[derive(sqlx::FromRow)]
struct DirsRow {
    id: i64,
    job_dir: Option<String>,
    artifact_dir: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SeriesRow {
    run_id: i64,
    key: String,
    points: String,
}

#[derive(sqlx::FromRow)]
struct UnavailableRow {
    run_id: i64,
    key: String,
    reason: String,
}

#[derive(sqlx::FromRow)]
struct StatusRow {
    run_id: i64,
    payload: String,
}

#[derive(sqlx::FromRow)]
struct ArtifactRow {
    run_id: i64,
    name: String,
    path: String,
    bytes: Option<i64>,
}

pub(crate) fn stored(what: String, message: impl std::fmt::Display) -> StoreError {
    StoreError::Stored {
        what,
        message: message.to_string(),
    }
}

impl ReadStore {
    /// The invocation a run belongs to.
    pub async fn invocation_of_run(&self, run: RunId) -> Result<i64, StoreError> {
        let mut conn = self.lock().await;
        let row: Option<InvocationIdRow> =
            sqlx::query_as("SELECT invocation_id FROM runs WHERE id = ?1")
                .bind(run.0)
                .fetch_optional(&mut *conn)
                .await
                .ctx(|| format!("look up the invocation of run {run}"))?;
        row.map(|r| r.invocation_id)
            .ok_or(StoreError::UnknownRun(run))
    }

    /// The given invocation of pipeline `name` (checked), or its latest one that has runs.
    pub async fn find_invocation(
        &self,
        name: &str,
        invocation: Option<i64>,
    ) -> Result<i64, StoreError> {
        let mut conn = self.lock().await;
        let found: Option<IdRow> = match invocation {
            Some(id) => sqlx::query_as(
                "SELECT i.id FROM invocations i JOIN pipelines p ON p.id = i.pipeline_id \
                 WHERE i.id = ?1 AND p.name = ?2",
            )
            .bind(id)
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .ctx(|| format!("look up invocation {id} of pipeline {name:?}"))?,
            None => sqlx::query_as(
                "SELECT i.id FROM invocations i JOIN pipelines p ON p.id = i.pipeline_id \
                 WHERE p.name = ?1 AND EXISTS (SELECT 1 FROM runs r WHERE r.invocation_id = i.id) \
                 ORDER BY i.id DESC LIMIT 1",
            )
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .ctx(|| format!("look up the latest invocation of pipeline {name:?}"))?,
        };
        match (found, invocation) {
            (Some(row), _) => Ok(row.id),
            (None, Some(id)) => Err(StoreError::NotAnInvocationOf {
                invocation: id,
                pipeline: name.to_string(),
            }),
            (None, None) => {
                let names: Vec<NameRow> =
                    sqlx::query_as("SELECT DISTINCT name FROM pipelines ORDER BY name")
                        .fetch_all(&mut *conn)
                        .await
                        .ctx(|| "list the pipelines".to_string())?;
                let known = if names.is_empty() {
                    "none".to_string()
                } else {
                    names
                        .into_iter()
                        .map(|n| n.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                Err(StoreError::NoRunsOfPipeline {
                    pipeline: name.to_string(),
                    known,
                })
            }
        }
    }

    /// The params of the latest report run of an invocation (what the report stage was given).
    pub async fn report_params(
        &self,
        invocation: i64,
    ) -> Result<Option<serde_json::Map<String, Value>>, StoreError> {
        let mut conn = self.lock().await;
        let row: Option<ParamsRow> = sqlx::query_as(
            "SELECT params FROM runs WHERE invocation_id = ?1 AND kind = 'report' \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(invocation)
        .fetch_optional(&mut *conn)
        .await
        .ctx(|| format!("read the report params of invocation {invocation}"))?;
        match row {
            None => Ok(None),
            Some(row) => match serde_json::from_str::<Value>(&row.params) {
                Ok(Value::Object(m)) => Ok(Some(m)),
                _ => Err(stored(
                    format!("params of the report run of invocation {invocation}"),
                    "not a JSON object",
                )),
            },
        }
    }

    /// Everything one report shows: the invocation and its runs (latest attempt per job,
    /// report runs excluded), with the data of `cached` rows taken from the run they reuse.
    pub async fn load_report(&self, invocation: i64) -> Result<ReportData, StoreError> {
        let mut conn = self.lock().await;
        let inv: InvocationRow = sqlx::query_as(
            "SELECT i.id, i.argv, i.host, i.git_rev, i.started_at, i.ended_at, i.status, \
                    p.name AS pipeline, p.spec_text \
             FROM invocations i JOIN pipelines p ON p.id = i.pipeline_id WHERE i.id = ?1",
        )
        .bind(invocation)
        .fetch_optional(&mut *conn)
        .await
        .ctx(|| format!("read invocation {invocation}"))?
        .ok_or(StoreError::UnknownInvocation(ddmd_core::InvocationId(
            invocation,
        )))?;
        let info = InvocationInfo {
            id: inv.id,
            pipeline: inv.pipeline,
            spec_text: inv.spec_text,
            argv: inv.argv,
            host: inv.host,
            git_rev: inv.git_rev,
            started_at: inv.started_at,
            ended_at: inv.ended_at,
            status: inv.status,
        };

        let rows: Vec<RunRow> = sqlx::query_as(
            "SELECT id, stage, job_name, kind, point, params, status, attempt, devices, exit_code, \
                    error, source_run_id, started_at, ended_at, job_dir, artifact_dir, cache_key \
             FROM runs WHERE invocation_id = ?1 AND kind != 'report' \
               AND id IN (SELECT MAX(id) FROM runs WHERE invocation_id = ?1 GROUP BY job_name) \
             ORDER BY id",
        )
        .bind(invocation)
        .fetch_all(&mut *conn)
        .await
        .ctx(|| format!("read the runs of invocation {invocation}"))?;
        let mut runs = rows
            .into_iter()
            .map(run_record)
            .collect::<Result<Vec<_>, _>>()?;

        // Data ids: a cached row shows its source run's metrics, artifacts and log.
        let mut by_data: HashMap<i64, Vec<usize>> = HashMap::new();
        for (i, r) in runs.iter().enumerate() {
            by_data.entry(r.data_id()).or_default().push(i);
        }
        let ids_json =
            serde_json::to_string(&by_data.keys().collect::<Vec<_>>()).map_err(|source| {
                StoreError::Json {
                    what: "run ids",
                    source,
                }
            })?;

        // Where a cached row has no directories of its own, take the source run's.
        let dirs: Vec<DirsRow> = sqlx::query_as(
            "SELECT id, job_dir, artifact_dir FROM runs \
             WHERE id IN (SELECT value FROM json_each(?1))",
        )
        .bind(&ids_json)
        .fetch_all(&mut *conn)
        .await
        .ctx(|| format!("read the folders of the runs of invocation {invocation}"))?;
        for d in dirs {
            for &i in by_data.get(&d.id).into_iter().flatten() {
                let r = &mut runs[i];
                if r.source_run_id.is_some() {
                    r.job_dir = d.job_dir.clone().or(r.job_dir.take());
                    r.artifact_dir = r.artifact_dir.take().or(d.artifact_dir.clone());
                }
            }
        }

        // Metrics: one row per (run, key) with its points packed as JSON by SQLite; decoding
        // one JSON text per curve is several times cheaper than a driver round-trip per point.
        let mut series: HashMap<i64, HashMap<String, Vec<Point>>> = HashMap::new();
        {
            let mut stream = sqlx::query_as::<_, SeriesRow>(
                "SELECT run_id, key, json_group_array(json_array(step, seq, value, raw)) AS points \
                 FROM metrics WHERE run_id IN (SELECT value FROM json_each(?1)) \
                 GROUP BY run_id, key",
            )
            .bind(&ids_json)
            .fetch(&mut *conn);
            while let Some(row) = stream
                .try_next()
                .await
                .ctx(|| format!("read the metrics of the runs of invocation {invocation}"))?
            {
                let pts = unpack_points(&row.points).map_err(|e| {
                    stored(
                        format!("points of run {} metric {}", row.run_id, row.key),
                        e,
                    )
                })?;
                series.entry(row.run_id).or_default().insert(row.key, pts);
            }
        }
        // A rerun that resumed a killed attempt: its curves begin with that attempt's points.
        let mut earlier = crate::report_resume::earlier_points(&mut conn, &series).await?;
        for (data_id, per_key) in series {
            let (finals, mut curves) = finals_and_curves(per_key);
            if let Some(before) = earlier.get_mut(&data_id) {
                let (_, before) = finals_and_curves(std::mem::take(&mut before.points));
                for (key, mut pts) in before {
                    let own = curves.entry(key).or_default();
                    pts.append(own);
                    *own = pts;
                }
            }
            for &i in by_data.get(&data_id).into_iter().flatten() {
                runs[i].finals = finals.clone();
                runs[i].curves = curves.clone();
            }
        }

        let unavailable: Vec<UnavailableRow> = sqlx::query_as(
            "SELECT run_id, key, reason FROM unavailable \
             WHERE run_id IN (SELECT value FROM json_each(?1))",
        )
        .bind(&ids_json)
        .fetch_all(&mut *conn)
        .await
        .ctx(|| format!("read the unavailable metrics of invocation {invocation}"))?;
        for u in unavailable {
            for &i in by_data.get(&u.run_id).into_iter().flatten() {
                runs[i].unavailable.insert(u.key.clone(), u.reason.clone());
            }
        }

        // Status notes of the runs shown and of the earlier attempts of resumed runs: an
        // attempt's `diverged` verdict is its resumed run's history (kept where the run has
        // none of its own).
        let attempt_of: HashMap<i64, i64> = earlier
            .iter()
            .flat_map(|(run, e)| e.attempts.iter().map(move |a| (*a, *run)))
            .collect();
        let status_ids =
            serde_json::to_string(&by_data.keys().chain(attempt_of.keys()).collect::<Vec<_>>())
                .map_err(|source| StoreError::Json {
                    what: "run ids",
                    source,
                })?;
        let statuses: Vec<StatusRow> = sqlx::query_as(
            "SELECT run_id, payload FROM events \
             WHERE type = 'status' AND run_id IN (SELECT value FROM json_each(?1)) \
             ORDER BY run_id, seq",
        )
        .bind(&status_ids)
        .fetch_all(&mut *conn)
        .await
        .ctx(|| format!("read the status events of invocation {invocation}"))?;
        let mut inherited = Vec::new();
        for s in statuses {
            let Some(note) = StatusNote::parse(&s.payload) else {
                continue;
            };
            if let Some(&run) = attempt_of.get(&s.run_id) {
                if note.is_diverged() {
                    inherited.push((run, note));
                }
                continue;
            }
            for &i in by_data.get(&s.run_id).into_iter().flatten() {
                note.apply(&mut runs[i]);
            }
        }
        for (data_id, note) in inherited {
            for &i in by_data.get(&data_id).into_iter().flatten() {
                if runs[i].diverged.is_none() {
                    note.apply(&mut runs[i]);
                }
            }
        }

        let artifacts: Vec<ArtifactRow> = sqlx::query_as(
            "SELECT run_id, name, path, bytes FROM artifacts \
             WHERE run_id IN (SELECT value FROM json_each(?1)) ORDER BY run_id, seq",
        )
        .bind(&ids_json)
        .fetch_all(&mut *conn)
        .await
        .ctx(|| format!("read the artifacts of invocation {invocation}"))?;
        for a in artifacts {
            for &i in by_data.get(&a.run_id).into_iter().flatten() {
                runs[i].artifacts.push(Artifact {
                    name: a.name.clone(),
                    path: a.path.clone(),
                    bytes: a.bytes,
                });
            }
        }

        Ok(ReportData {
            invocation: info,
            runs,
        })
    }
}

/// A `runs` row as a [`RunRecord`] without its data (metrics, notes, artifacts).
fn run_record(r: RunRow) -> Result<RunRecord, StoreError> {
    let point = parse_point(&r.point).map_err(|m| stored(format!("point of run {}", r.id), m))?;
    let params = serde_json::from_str(&r.params)
        .map_err(|e| stored(format!("params of run {}", r.id), e))?;
    Ok(RunRecord {
        id: r.id,
        stage: r.stage,
        job_name: r.job_name,
        kind: r.kind,
        status: r.status,
        source_run_id: r.source_run_id,
        point,
        params,
        attempt: r.attempt,
        devices: r.devices,
        exit_code: r.exit_code,
        error: r.error,
        started_at: r.started_at,
        ended_at: r.ended_at,
        job_dir: r.job_dir,
        artifact_dir: r.artifact_dir,
        cache_key: r.cache_key,
        ..RunRecord::default()
    })
}
