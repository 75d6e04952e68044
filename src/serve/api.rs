//! The JSON endpoints the pages poll. Every answer is built from the store's typed reads;
//! query parameters are parsed here, and a bad one is a 400 that names it.

use super::{error, AppState};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ddmd_core::RunId;
use ddmd_store::dashboard::{RunsQuery, SortKey, MAX_PAGE};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Most runs one comparison overlays.
pub const MAX_COMPARE: usize = 20;

type Params = Query<HashMap<String, String>>;

fn bad(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, message)
}

fn store_error(e: ddmd_store::StoreError) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}"))
}

/// An integer query parameter; the error names it.
fn number<T: std::str::FromStr>(
    q: &HashMap<String, String>,
    key: &str,
) -> Result<Option<T>, String> {
    match q.get(key) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("{key}={v:?}: expected a whole number")),
    }
}

/// `after=SEQ` of the live endpoints: the last seq the page holds (-1: none yet).
fn after_seq(q: &HashMap<String, String>) -> Result<i64, String> {
    Ok(number::<i64>(q, "after")?.unwrap_or(-1))
}

fn non_empty(q: &HashMap<String, String>, key: &str) -> Option<String> {
    q.get(key).filter(|v| !v.is_empty()).cloned()
}

/// `GET /api/runs?status=&kind=&stage=&pipeline=&param=key=value&sort=&dir=&offset=&limit=`
pub async fn runs(State(st): State<Arc<AppState>>, Query(q): Params) -> Response {
    let mut rq = RunsQuery {
        status: non_empty(&q, "status"),
        kind: non_empty(&q, "kind"),
        stage: non_empty(&q, "stage"),
        pipeline: non_empty(&q, "pipeline"),
        ..RunsQuery::default()
    };
    if let Some(s) = &rq.status {
        if ddmd_core::RunStatus::parse(s).is_none() {
            let all: Vec<&str> = ddmd_core::RunStatus::ALL
                .iter()
                .map(|s| s.as_str())
                .collect();
            return bad(format!("status={s:?}: expected one of {}", all.join(", ")));
        }
    }
    if let Some(p) = non_empty(&q, "param") {
        let Some((k, v)) = p.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return bad(format!("param={p:?}: expected key=value"));
        };
        rq.param = Some((k.to_string(), v.to_string()));
    }
    if let Some(s) = q.get("sort") {
        match SortKey::parse(s) {
            Some(k) => rq.sort = k,
            None => {
                return bad(format!(
                    "sort={s:?}: expected id, stage, job, status, duration, param:<key> or metric:<key>"
                ))
            }
        }
    }
    match q.get("dir").map(String::as_str) {
        None | Some("desc") => rq.descending = true,
        Some("asc") => rq.descending = false,
        Some(d) => return bad(format!("dir={d:?}: expected asc or desc")),
    }
    match (number::<u32>(&q, "offset"), number::<u32>(&q, "limit")) {
        (Ok(o), Ok(l)) => {
            rq.offset = o.unwrap_or(0);
            rq.limit = l.unwrap_or(100).clamp(1, MAX_PAGE);
        }
        (Err(e), _) | (_, Err(e)) => return bad(e),
    }
    match st.store.runs_page(&rq).await {
        Ok(page) => Json(page).into_response(),
        Err(e) => store_error(e),
    }
}

/// `GET /api/runs/{id}`: the run, its parameters, final metrics, artifacts and warnings.
pub async fn run(State(st): State<Arc<AppState>>, Path(id): Path<i64>) -> Response {
    match st.store.run(RunId(id)).await {
        Ok(Some(d)) => Json(d).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no run {id}")),
        Err(e) => store_error(e),
    }
}

/// `GET /api/runs/{id}/points?after=SEQ`: the points recorded after SEQ, and the status.
pub async fn points(
    State(st): State<Arc<AppState>>,
    Path(id): Path<i64>,
    Query(q): Params,
) -> Response {
    let after = match after_seq(&q) {
        Ok(a) => a,
        Err(e) => return bad(e),
    };
    let status = match st.store.run_status(RunId(id)).await {
        Ok(Some(s)) => s,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no run {id}")),
        Err(e) => return store_error(e),
    };
    match st.store.points_after(RunId(id), after).await {
        Ok(p) => Json(serde_json::json!({
            "status": status,
            "points": p.points,
            "thinned": p.thinned,
            "last_seq": p.last_seq,
            "more": p.more,
        }))
        .into_response(),
        Err(e) => store_error(e),
    }
}

/// `GET /api/runs/{id}/events?after=SEQ`: logs, statuses and progress after SEQ.
pub async fn events(
    State(st): State<Arc<AppState>>,
    Path(id): Path<i64>,
    Query(q): Params,
) -> Response {
    let after = match after_seq(&q) {
        Ok(a) => a,
        Err(e) => return bad(e),
    };
    match st.store.events_after(RunId(id), after).await {
        Ok(e) => Json(e).into_response(),
        Err(e) => store_error(e),
    }
}

/// `GET /api/compare?ids=3,7`: the runs, the parameters in which they differ (with every
/// run's value) and the metric keys each has.
pub async fn compare(State(st): State<Arc<AppState>>, Query(q): Params) -> Response {
    let raw = q.get("ids").cloned().unwrap_or_default();
    let mut ids = Vec::new();
    for part in raw.split(',').filter(|p| !p.is_empty()) {
        match part.trim().parse::<i64>() {
            Ok(i) if !ids.contains(&RunId(i)) => ids.push(RunId(i)),
            Ok(_) => {}
            Err(_) => return bad(format!("ids={raw:?}: expected run ids separated by commas")),
        }
    }
    if ids.is_empty() || ids.len() > MAX_COMPARE {
        return bad(format!(
            "ids={raw:?}: expected 1 to {MAX_COMPARE} run ids separated by commas"
        ));
    }
    let runs = match st.store.runs_with_params(&ids).await {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    let keys: BTreeSet<&String> = runs.iter().flat_map(|(_, p)| p.keys()).collect();
    let differ: BTreeMap<&String, Vec<Option<&String>>> = keys
        .into_iter()
        .filter_map(|k| {
            let values: Vec<Option<&String>> = runs.iter().map(|(_, p)| p.get(k)).collect();
            let distinct: BTreeSet<&Option<&String>> = values.iter().collect();
            (distinct.len() > 1).then_some((k, values))
        })
        .collect();
    Json(serde_json::json!({
        "runs": runs.iter().map(|(r, _)| r).collect::<Vec<_>>(),
        "differ": differ,
    }))
    .into_response()
}

/// `GET /api/reports`: report runs that succeeded (newest first), and the pipelines whose
/// report can be rendered on the spot.
pub async fn reports(State(st): State<Arc<AppState>>) -> Response {
    let q = RunsQuery {
        kind: Some("report".into()),
        status: Some("succeeded".into()),
        limit: MAX_PAGE,
        ..RunsQuery::default()
    };
    match st.store.runs_page(&q).await {
        Ok(page) => Json(serde_json::json!({
            "reports": page.runs.iter().map(|r| serde_json::json!({
                "id": r.run.id,
                "pipeline": r.pipeline,
                "job": r.run.job_name,
                "ended_at": r.run.ended_at,
            })).collect::<Vec<_>>(),
            "pipelines": page.pipelines,
        }))
        .into_response(),
        Err(e) => store_error(e),
    }
}
