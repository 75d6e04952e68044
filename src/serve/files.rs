//! Files from the home: a run's artifacts (sample grids, published reports), the tail of its
//! log, and reports rendered on the spot. A request names a path *inside* a folder the
//! database points to; it is refused unless every component is a plain name and the file,
//! symbolic links resolved, is still inside that folder, which is itself inside the home.

use super::{error, AppState};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use ddmd_core::RunId;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Most bytes of a log one request returns.
pub const MAX_LOG_TAIL: u64 = 256 * 1024;

/// `base` joined with the URL path `rel`, when `rel` is made of plain names only and the
/// result (links resolved) stays inside `base`; `None` otherwise.
pub fn inside(base: &Path, rel: &str) -> Option<PathBuf> {
    let rel_path = Path::new(rel);
    if rel.is_empty()
        || rel.contains('\0')
        || rel_path
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let base = std::fs::canonicalize(base).ok()?;
    let full = std::fs::canonicalize(base.join(rel_path)).ok()?;
    full.starts_with(&base).then_some(full)
}

/// The folder, when it is inside the home (a database copied from elsewhere may point
/// anywhere; we serve only what this home holds).
fn in_home(st: &AppState, dir: &str) -> Option<PathBuf> {
    let home = std::fs::canonicalize(st.home.root()).ok()?;
    let dir = std::fs::canonicalize(dir).ok()?;
    dir.starts_with(&home).then_some(dir)
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        Some("txt" | "log" | "csv" | "jsonl" | "yaml" | "yml" | "md") => {
            "text/plain; charset=utf-8"
        }
        _ => "application/octet-stream",
    }
}

async fn send_file(path: PathBuf) -> Response {
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let mut res = bytes.into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&path)),
            );
            res
        }
        Err(_) => error(StatusCode::NOT_FOUND, "no such file"),
    }
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such file")
}

/// `GET /files/{run}/{*path}`: a file of the run's artifact folder (a cached run: its
/// source's).
pub async fn artifact(
    State(st): State<Arc<AppState>>,
    UrlPath((id, rel)): UrlPath<(i64, String)>,
) -> Response {
    let detail = match st.store.run(RunId(id)).await {
        Ok(Some(d)) => d,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no run {id}")),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}")),
    };
    let source = match detail.run.source_run_id {
        Some(src) => match st.store.run(src).await {
            Ok(Some(d)) => d.run,
            _ => return not_found(),
        },
        None => detail.run,
    };
    // A running job writes into its partial folder; its artifacts are there until published.
    let dir = match source.artifact_dir.as_deref() {
        Some(d) => in_home(&st, d),
        None if source.status.is_unfinished() => in_home(
            &st,
            &st.home.partial_dir(&source.cache_key).display().to_string(),
        ),
        None => None,
    };
    let Some(dir) = dir else {
        return not_found();
    };
    match inside(&dir, &rel) {
        Some(p) if p.is_file() => send_file(p).await,
        _ => not_found(),
    }
}

/// `GET /api/runs/{id}/log?bytes=N`: the last N bytes (default and most 256 KiB) of the
/// job's log, as text, starting at a line.
pub async fn log_tail(
    State(st): State<Arc<AppState>>,
    UrlPath(id): UrlPath<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let want = match q.get("bytes").map(|b| b.parse::<u64>()) {
        None => MAX_LOG_TAIL,
        Some(Ok(b)) => b.min(MAX_LOG_TAIL),
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "bytes: expected a whole number"),
    };
    let detail = match st.store.run(RunId(id)).await {
        Ok(Some(d)) => d,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no run {id}")),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}")),
    };
    let Some(dir) = detail.run.job_dir.as_deref().and_then(|d| in_home(&st, d)) else {
        return (StatusCode::OK, String::new()).into_response();
    };
    let Some(path) = inside(&dir, "log") else {
        return (StatusCode::OK, String::new()).into_response();
    };
    match tokio::task::spawn_blocking(move || tail(&path, want)).await {
        Ok(Ok(text)) => text.into_response(),
        _ => (StatusCode::OK, String::new()).into_response(),
    }
}

fn tail(path: &Path, want: u64) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(want);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(want).read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    // Cut before the first full line unless the whole file came back.
    Ok(match (start > 0, text.find('\n')) {
        (true, Some(i)) => text[i + 1..].to_string(),
        _ => text,
    })
}

/// Where reports rendered on the spot go: the home's cache, one folder per pipeline.
fn live_dir(st: &AppState, pipeline: &str) -> PathBuf {
    st.home
        .root()
        .join("cache/serve-reports")
        .join(ddmd_report::folder_name(pipeline))
}

/// `GET /live/{pipeline}/report`: renders the pipeline's latest invocation from the database
/// with the report stage's templates (its parameters when it had a report stage), then
/// redirects to it.
pub async fn live_report(
    State(st): State<Arc<AppState>>,
    UrlPath(pipeline): UrlPath<String>,
) -> Response {
    let _one_at_a_time = st.render_lock.lock().await;
    let args = ddmd_report::ReportArgs {
        pipeline: pipeline.clone(),
        invocation: None,
        out: Some(live_dir(&st, &pipeline).join("report")),
    };
    let db = st.home.db();
    match tokio::task::spawn_blocking(move || ddmd_report::report_command(&db, &args)).await {
        Ok(Ok(_)) => {
            let enc = percent_encoding::utf8_percent_encode(
                &pipeline,
                percent_encoding::NON_ALPHANUMERIC,
            );
            Redirect::to(&format!("/live/{enc}/files/report/index.html")).into_response()
        }
        Ok(Err(e)) => error(
            StatusCode::NOT_FOUND,
            format!("cannot render the report of {pipeline:?}: {e:#}"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}")),
    }
}

/// `GET /live/{pipeline}/files/{*path}`: a file of a report rendered on the spot.
pub async fn live_file(
    State(st): State<Arc<AppState>>,
    UrlPath((pipeline, rel)): UrlPath<(String, String)>,
) -> Response {
    match inside(&live_dir(&st, &pipeline), &rel) {
        Some(p) if p.is_file() => send_file(p).await,
        _ => not_found(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn paths_stay_inside_their_folder() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("a");
        std::fs::create_dir_all(base.join("report")).unwrap();
        std::fs::write(base.join("report/index.html"), "x").unwrap();
        std::fs::write(dir.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), base.join("link")).unwrap();
        assert!(inside(&base, "report/index.html").is_some());
        for bad in [
            "../secret",
            "report/../../secret",
            "/etc/passwd",
            "link",
            "",
            "./report/index.html",
            "a\0b",
        ] {
            assert_eq!(inside(&base, bad), None, "{bad:?}");
        }
    }
}
