//! `ddmd-pipe serve`: a live local view of the run database. The server is read-only (it
//! opens the database through the store's reader, whose guard refuses every write, and has
//! only GET routes), needs no network (its pages, styles and chart code are embedded in the
//! binary) and binds to 127.0.0.1 unless `--host` says otherwise.
//!
//! Pages are static shells with no user data in them; the browser fills them from the JSON
//! API with `textContent`, so no recorded string (a job named `<script>`) is ever parsed as
//! HTML. Live pages poll with the last `seq` they saw, which the store answers from the
//! primary key of `metrics` / `events`.
//!
//! Submodules: `api` (the JSON endpoints), `files` (artifacts, logs and reports from the
//! home, without path traversal), `pages` (the HTML shells and embedded assets).

mod api;
mod files;
mod pages;

use crate::cli::ServeArgs;
use crate::error::bad;
use crate::home::Home;
use anyhow::Context;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ddmd_store::ReadStore;
use std::io::Write;
use std::sync::Arc;

/// Longest request target accepted; anything longer is refused with 414 before routing.
pub const MAX_URI: usize = 4096;

pub struct AppState {
    pub store: ReadStore,
    pub home: Home,
    /// Serialises on-the-spot report rendering (one at a time, into the home's cache).
    pub render_lock: tokio::sync::Mutex<()>,
}

pub async fn serve(args: &ServeArgs, home: &Home) -> anyhow::Result<i32> {
    let db = home.db();
    if !db.exists() {
        return Err(bad(format!(
            "no run database at {}: run a pipeline first (or pass the --home it used)",
            db.display()
        )));
    }
    let store = ReadStore::open(&db).await?;
    if !args.host.is_loopback() {
        eprintln!(
            "warning: serving on {}: this dashboard has no authentication; anyone who can reach \
             this address can read every run, parameter, log and artifact under {}",
            args.host,
            home.root().display()
        );
    }
    let listener = tokio::net::TcpListener::bind((args.host, args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    // The first line of stdout: scripts (and the tests) read the port from it.
    println!(
        "serving {} on http://{addr}/ (read-only; Ctrl-C stops)",
        db.display()
    );
    let _ = std::io::stdout().flush();
    let state = Arc::new(AppState {
        store,
        home: home.clone(),
        render_lock: tokio::sync::Mutex::new(()),
    });
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving the dashboard")?;
    Ok(0)
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(pages::runs))
        .route("/runs/{id}", get(pages::run))
        .route("/compare", get(pages::compare))
        .route("/reports", get(pages::reports))
        .route("/static/{name}", get(pages::asset))
        .route("/api/runs", get(api::runs))
        .route("/api/runs/{id}", get(api::run))
        .route("/api/runs/{id}/points", get(api::points))
        .route("/api/runs/{id}/events", get(api::events))
        .route("/api/runs/{id}/log", get(files::log_tail))
        .route("/api/compare", get(api::compare))
        .route("/api/reports", get(api::reports))
        .route("/files/{id}/{*path}", get(files::artifact))
        .route("/live/{pipeline}/report", get(files::live_report))
        .route("/live/{pipeline}/files/{*path}", get(files::live_file))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .layer(axum::middleware::from_fn(guard))
        .with_state(state)
}

/// Refuses over-long request targets and sets the headers every answer carries.
async fn guard(req: Request, next: Next) -> Response {
    let len = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().len())
        .unwrap_or(0);
    if len > MAX_URI {
        return (
            StatusCode::URI_TOO_LONG,
            format!("request target of {len} bytes; at most {MAX_URI}\n"),
        )
            .into_response();
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// A JSON error answer.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": message.into() })),
    )
        .into_response()
}
