//! Reads one invocation's runs from the run database, read-only, into [`ReportData`]. The only
//! module that speaks SQL. It never writes: the orchestrator is the database's single writer.
//!
//! The public functions are synchronous; each runs its queries on a private current-thread
//! tokio runtime in a scoped thread, so they can be called from inside another runtime too.

use crate::error::{ReportError, Result};
use crate::model::{Artifact, FinalValue, InvocationInfo, ReportData, RunRecord};
use indexmap::IndexMap;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection, Row};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::Path;
use std::time::Duration;

/// Runs `fut` to completion on a fresh current-thread runtime in its own thread.
fn block_on<F, T>(fut: F) -> Result<T>
where
    F: Future<Output = Result<T>> + Send,
    T: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| ReportError::Other(format!("cannot start a tokio runtime: {e}")))?;
            rt.block_on(fut)
        })
        .join()
        .map_err(|_| ReportError::Other("database reader thread panicked".into()))?
    })
}

async fn open(db: &Path) -> Result<SqliteConnection> {
    if !db.exists() {
        return Err(ReportError::Db {
            db: db.to_path_buf(),
            message: "no such file".into(),
        });
    }
    SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .busy_timeout(Duration::from_secs(10))
        .connect()
        .await
        .map_err(|e| dberr(db, e))
}

fn dberr(db: &Path, e: impl std::fmt::Display) -> ReportError {
    ReportError::Db {
        db: db.to_path_buf(),
        message: e.to_string(),
    }
}

/// The invocation a run belongs to.
pub fn invocation_of_run(db: &Path, run_id: i64) -> Result<i64> {
    block_on(async {
        let mut c = open(db).await?;
        let row: Option<(i64,)> = sqlx::query_as("SELECT invocation_id FROM runs WHERE id = ?1")
            .bind(run_id)
            .fetch_optional(&mut c)
            .await
            .map_err(|e| dberr(db, e))?;
        row.map(|r| r.0)
            .ok_or_else(|| dberr(db, format!("run {run_id} is not in the database")))
    })
}

/// The given invocation of pipeline `name` (checked), or its latest one.
pub fn find_invocation(db: &Path, name: &str, invocation: Option<i64>) -> Result<i64> {
    block_on(async {
        let mut c = open(db).await?;
        let found: Option<(i64,)> = match invocation {
            Some(id) => sqlx::query_as(
                "SELECT i.id FROM invocations i JOIN pipelines p ON p.id = i.pipeline_id \
                 WHERE i.id = ?1 AND p.name = ?2",
            )
            .bind(id)
            .bind(name)
            .fetch_optional(&mut c)
            .await
            .map_err(|e| dberr(db, e))?,
            None => sqlx::query_as(
                "SELECT i.id FROM invocations i JOIN pipelines p ON p.id = i.pipeline_id \
                 WHERE p.name = ?1 AND EXISTS (SELECT 1 FROM runs r WHERE r.invocation_id = i.id) \
                 ORDER BY i.id DESC LIMIT 1",
            )
            .bind(name)
            .fetch_optional(&mut c)
            .await
            .map_err(|e| dberr(db, e))?,
        };
        match (found, invocation) {
            (Some((id,)), _) => Ok(id),
            (None, Some(id)) => Err(dberr(
                db,
                format!("invocation {id} is not an invocation of pipeline {name:?}"),
            )),
            (None, None) => {
                let names: Vec<(String,)> =
                    sqlx::query_as("SELECT DISTINCT name FROM pipelines ORDER BY name")
                        .fetch_all(&mut c)
                        .await
                        .map_err(|e| dberr(db, e))?;
                let names: Vec<String> = names.into_iter().map(|n| n.0).collect();
                Err(dberr(
                    db,
                    format!(
                        "no runs of pipeline {name:?}; pipelines in this database: {}",
                        if names.is_empty() {
                            "none".into()
                        } else {
                            names.join(", ")
                        }
                    ),
                ))
            }
        }
    })
}

/// The params of the latest report run of an invocation (what the report stage was given).
pub fn report_params(db: &Path, invocation: i64) -> Result<Option<serde_json::Map<String, Value>>> {
    block_on(async {
        let mut c = open(db).await?;
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT params FROM runs WHERE invocation_id = ?1 AND kind = 'report' ORDER BY id DESC LIMIT 1",
        )
        .bind(invocation)
        .fetch_optional(&mut c)
        .await
        .map_err(|e| dberr(db, e))?;
        match row {
            None => Ok(None),
            Some((text,)) => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(m)) => Ok(Some(m)),
                _ => Err(dberr(
                    db,
                    format!(
                        "params of the report run of invocation {invocation} are not a JSON object"
                    ),
                )),
            },
        }
    })
}

/// Everything one report shows: the invocation and its runs (latest attempt per job, report
/// runs excluded), with the data of `cached` rows taken from the run they reuse.
pub fn load_invocation(db: &Path, invocation: i64) -> Result<ReportData> {
    block_on(load_async(db, invocation))
}

async fn load_async(db: &Path, invocation: i64) -> Result<ReportData> {
    let mut c = open(db).await?;
    let e = |err: sqlx::Error| dberr(db, err);

    let inv = sqlx::query(
        "SELECT i.id, i.argv, i.host, i.git_rev, i.started_at, i.ended_at, i.status, p.name, p.spec_text \
         FROM invocations i JOIN pipelines p ON p.id = i.pipeline_id WHERE i.id = ?1",
    )
    .bind(invocation)
    .fetch_optional(&mut c)
    .await
    .map_err(e)?
    .ok_or_else(|| dberr(db, format!("no invocation {invocation}")))?;
    let info = InvocationInfo {
        id: inv.try_get("id").map_err(e)?,
        argv: inv.try_get("argv").map_err(e)?,
        host: inv.try_get("host").map_err(e)?,
        git_rev: inv.try_get("git_rev").map_err(e)?,
        started_at: inv.try_get("started_at").map_err(e)?,
        ended_at: inv.try_get("ended_at").map_err(e)?,
        status: inv.try_get("status").map_err(e)?,
        pipeline: inv.try_get("name").map_err(e)?,
        spec_text: inv.try_get("spec_text").map_err(e)?,
    };

    let rows = sqlx::query(
        "SELECT id, stage, job_name, kind, point, params, status, attempt, devices, exit_code, error, \
                source_run_id, started_at, ended_at, job_dir, artifact_dir, cache_key \
         FROM runs WHERE invocation_id = ?1 AND kind != 'report' \
           AND id IN (SELECT MAX(id) FROM runs WHERE invocation_id = ?1 GROUP BY job_name) \
         ORDER BY id",
    )
    .bind(invocation)
    .fetch_all(&mut c)
    .await
    .map_err(e)?;
    let mut runs = Vec::with_capacity(rows.len());
    for r in rows {
        let id: i64 = r.try_get("id").map_err(e)?;
        let point_text: String = r.try_get("point").map_err(e)?;
        let params_text: String = r.try_get("params").map_err(e)?;
        let point =
            parse_point(&point_text).map_err(|m| dberr(db, format!("run {id}: point: {m}")))?;
        let params = serde_json::from_str(&params_text)
            .map_err(|err| dberr(db, format!("run {id}: params: {err}")))?;
        runs.push(RunRecord {
            id,
            stage: r.try_get("stage").map_err(e)?,
            job_name: r.try_get("job_name").map_err(e)?,
            kind: r.try_get("kind").map_err(e)?,
            status: r.try_get("status").map_err(e)?,
            source_run_id: r.try_get("source_run_id").map_err(e)?,
            point,
            params,
            attempt: r.try_get("attempt").map_err(e)?,
            devices: r.try_get("devices").map_err(e)?,
            exit_code: r.try_get("exit_code").map_err(e)?,
            error: r.try_get("error").map_err(e)?,
            started_at: r.try_get("started_at").map_err(e)?,
            ended_at: r.try_get("ended_at").map_err(e)?,
            job_dir: r.try_get("job_dir").map_err(e)?,
            artifact_dir: r.try_get("artifact_dir").map_err(e)?,
            cache_key: r.try_get("cache_key").map_err(e)?,
            ..RunRecord::default()
        });
    }

    // Data ids: a cached row shows its source run's metrics, artifacts and log.
    let mut by_data: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, r) in runs.iter().enumerate() {
        by_data.entry(r.data_id()).or_default().push(i);
    }
    let ids_json =
        serde_json::to_string(&by_data.keys().collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into());

    // Where a cached row has no directories of its own, take the source run's.
    let src = sqlx::query(
        "SELECT id, job_dir, artifact_dir FROM runs WHERE id IN (SELECT value FROM json_each(?1))",
    )
    .bind(&ids_json)
    .fetch_all(&mut c)
    .await
    .map_err(e)?;
    for r in src {
        let id: i64 = r.try_get("id").map_err(e)?;
        let job_dir: Option<String> = r.try_get("job_dir").map_err(e)?;
        let artifact_dir: Option<String> = r.try_get("artifact_dir").map_err(e)?;
        for &i in by_data.get(&id).into_iter().flatten() {
            if runs[i].source_run_id.is_some() {
                runs[i].job_dir = job_dir.clone().or(runs[i].job_dir.take());
                runs[i].artifact_dir = runs[i].artifact_dir.take().or(artifact_dir.clone());
            }
        }
    }

    // Metrics: one row per (run, key) with its points packed as JSON by SQLite; decoding one
    // JSON text per curve is several times cheaper than a driver round-trip per point.
    let mut series: HashMap<i64, HashMap<String, Vec<Point>>> = HashMap::new();
    {
        use futures_util::TryStreamExt;
        let mut stream = sqlx::query_as::<_, (i64, String, String)>(
            "SELECT run_id, key, json_group_array(json_array(step, seq, value, raw)) FROM metrics \
             WHERE run_id IN (SELECT value FROM json_each(?1)) GROUP BY run_id, key",
        )
        .bind(&ids_json)
        .fetch(&mut c);
        while let Some((run, key, packed)) = stream.try_next().await.map_err(e)? {
            let raw_points: Vec<(i64, i64, Option<f64>, Option<String>)> =
                serde_json::from_str(&packed)
                    .map_err(|err| dberr(db, format!("run {run}: metric {key}: {err}")))?;
            let pts = raw_points
                .into_iter()
                .map(|(step, seq, value, raw)| {
                    (
                        step,
                        seq,
                        value.unwrap_or_else(|| parse_raw(raw.as_deref())),
                    )
                })
                .collect();
            series.entry(run).or_default().insert(key, pts);
        }
    }
    for (data_id, per_key) in series {
        let mut finals = BTreeMap::new();
        let mut curves = BTreeMap::new();
        for (key, mut pts) in per_key {
            pts.sort_unstable_by_key(|p| (p.0, p.1));
            // One point per step: the latest seq wins, as in the final_metrics view.
            pts.dedup_by(|later, earlier| {
                if later.0 == earlier.0 {
                    *earlier = *later;
                    true
                } else {
                    false
                }
            });
            if let Some(last) = pts.last() {
                finals.insert(
                    key.clone(),
                    FinalValue {
                        step: last.0,
                        value: last.2,
                    },
                );
            }
            let curve: Vec<(f64, f64)> = pts
                .iter()
                .filter(|p| p.2.is_finite())
                .map(|p| (p.0 as f64, p.2))
                .collect();
            curves.insert(key, curve);
        }
        if let Some(idx) = by_data.get(&data_id) {
            for &i in idx {
                runs[i].finals = finals.clone();
                runs[i].curves = curves.clone();
            }
        }
    }

    let unavailable: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT run_id, key, reason FROM unavailable WHERE run_id IN (SELECT value FROM json_each(?1))")
            .bind(&ids_json)
            .fetch_all(&mut c)
            .await
            .map_err(e)?;
    for (run, key, reason) in unavailable {
        for &i in by_data.get(&run).into_iter().flatten() {
            runs[i].unavailable.insert(key.clone(), reason.clone());
        }
    }

    let statuses: Vec<(i64, String)> = sqlx::query_as(
        "SELECT run_id, payload FROM events WHERE type = 'status' AND run_id IN (SELECT value FROM json_each(?1)) ORDER BY run_id, seq",
    )
    .bind(&ids_json)
    .fetch_all(&mut c)
    .await
    .map_err(e)?;
    for (run, payload) in statuses {
        // A payload we cannot read is a note we cannot show, not a reason to fail the report.
        let Ok(Value::Object(ev)) = serde_json::from_str::<Value>(&payload) else {
            continue;
        };
        let state = ev.get("state").and_then(Value::as_str).unwrap_or("");
        let key = ev.get("key").and_then(Value::as_str).map(str::to_string);
        let message = ev
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        for &i in by_data.get(&run).into_iter().flatten() {
            let r = &mut runs[i];
            match (state, &key) {
                ("diverged", _) => {
                    r.diverged = Some(if message.is_empty() {
                        "diverged".into()
                    } else {
                        message.clone()
                    })
                }
                ("unavailable", Some(k)) => {
                    r.unavailable
                        .entry(k.clone())
                        .or_insert_with(|| message.clone());
                }
                ("info", Some(k)) => {
                    r.info.insert(k.clone(), message.clone());
                }
                _ => {}
            }
        }
    }

    let artifacts: Vec<(i64, String, String, Option<i64>)> = sqlx::query_as(
        "SELECT run_id, name, path, bytes FROM artifacts WHERE run_id IN (SELECT value FROM json_each(?1)) ORDER BY run_id, seq",
    )
    .bind(&ids_json)
    .fetch_all(&mut c)
    .await
    .map_err(e)?;
    for (run, name, path, bytes) in artifacts {
        for &i in by_data.get(&run).into_iter().flatten() {
            runs[i].artifacts.push(Artifact {
                name: name.clone(),
                path: path.clone(),
                bytes,
            });
        }
    }

    c.close().await.map_err(e)?;
    Ok(ReportData {
        invocation: info,
        runs,
    })
}

/// (step, seq, value) of one logged metric point.
type Point = (i64, i64, f64);

/// A matrix point as stored: axis -> value label (or a value the label is derived from).
fn parse_point(text: &str) -> std::result::Result<IndexMap<String, String>, String> {
    let raw: IndexMap<String, Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(raw.into_iter().map(|(k, v)| (k, value_label(&v))).collect())
}

pub(crate) fn value_label(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => match o.get("name") {
            Some(Value::String(s)) => s.clone(),
            _ => v.to_string(),
        },
        other => other.to_string(),
    }
}

fn parse_raw(raw: Option<&str>) -> f64 {
    match raw.map(|s| s.trim().to_ascii_lowercase()) {
        Some(s) if s == "infinity" || s == "inf" || s == "+infinity" => f64::INFINITY,
        Some(s) if s == "-infinity" || s == "-inf" => f64::NEG_INFINITY,
        _ => f64::NAN,
    }
}
