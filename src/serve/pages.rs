//! The HTML shells of the dashboard and its embedded assets. A shell carries no recorded data
//! (only a page name and a run id parsed as a number); `app.js` fills it from the JSON API.

use axum::extract::{Path, Query};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use std::collections::HashMap;

const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Scripts and styles from this server only; images also from data: URLs (none inline).
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn shell(page: &'static str, run: Option<i64>) -> Response {
    let run_attr = run
        .map(|r| format!(" data-run=\"{r}\""))
        .unwrap_or_default();
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>ddmd-pipe</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
         <body data-page=\"{page}\"{run_attr}><header><a class=\"brand\" href=\"/\">ddmd-pipe</a>\
         <nav><a href=\"/\">Runs</a><a href=\"/reports\">Reports</a></nav>\
         <span id=\"live\" class=\"live\"></span></header><main id=\"app\">\
         <noscript>This dashboard draws its tables and charts with JavaScript; the JSON behind them \
         is under /api/.</noscript></main><script src=\"/static/app.js\"></script></body></html>\n"
    );
    let mut res = Html(body).into_response();
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    res
}

pub async fn runs() -> Response {
    shell("runs", None)
}

pub async fn run(Path(id): Path<i64>) -> Response {
    shell("run", Some(id))
}

pub async fn compare(Query(_q): Query<HashMap<String, String>>) -> Response {
    shell("compare", None)
}

pub async fn reports() -> Response {
    shell("reports", None)
}

pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "not found\n").into_response(),
    };
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    res
}
