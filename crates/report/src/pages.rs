//! Template contexts: what the report page and the per-run pages show, as plain serialisable
//! structs. Formatting decisions (durations, status classes, flattened params) live here so
//! that templates stay declarative.

use crate::error::Result;
use crate::header::{Counts, HeaderStatus};
use crate::model::{RunRecord, RunRecordExt};
use crate::paths::Paths;
use crate::plot::{self, PlotModel, Series, MAX_POINTS};
use crate::render::{fmt_duration, fmt_time};
use crate::samples::{resolve, SampleGroup};
use crate::stats::{downsample, fmt_num};
use crate::table::TableModel;
use serde::Serialize;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

#[derive(Serialize)]
pub struct RunRow {
    pub id: i64,
    pub job_name: String,
    pub stage: String,
    pub kind: String,
    pub status: String,
    /// CSS class of the status badge.
    pub status_class: String,
    pub source_run_id: Option<i64>,
    pub diverged: Option<String>,
    pub point: Vec<(String, String)>,
    pub duration: String,
    pub page: String,
    pub error: Option<String>,
    /// The error cut to one short line for the runs table (the full text is the tooltip).
    pub error_short: String,
}

pub fn run_row(r: &RunRecord) -> RunRow {
    let status_class = match r.status.as_str() {
        "succeeded" => "ok",
        "cached" => "cached",
        "failed" | "cancelled" => "bad",
        "skipped" => "skip",
        _ => "other",
    };
    RunRow {
        id: r.id,
        job_name: r.job_name.clone(),
        stage: r.stage.clone(),
        kind: r.kind.clone(),
        status: r.status.clone(),
        status_class: status_class.into(),
        source_run_id: r.source_run_id,
        diverged: r.diverged.clone(),
        point: r
            .point
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        duration: r.duration_s().map(fmt_duration).unwrap_or_default(),
        page: format!("runs/{}.html", r.id),
        error: r.error.clone(),
        error_short: r.error.as_deref().map(short_error).unwrap_or_default(),
    }
}

fn short_error(e: &str) -> String {
    let line = e
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() > 120 {
        format!("{}…", line.chars().take(119).collect::<String>())
    } else {
        line.to_string()
    }
}

#[derive(Serialize)]
pub struct TableCtx {
    #[serde(flatten)]
    pub table: TableModel,
    pub csv: String,
    pub md: String,
}

#[derive(Serialize)]
pub struct IndexCtx {
    pub title: String,
    pub description: Option<String>,
    pub pipeline: String,
    pub generated_at: String,
    pub invocation_id: i64,
    pub invocation_status: HeaderStatus,
    pub invocation_started: String,
    pub host: String,
    pub git_rev: Option<String>,
    pub argv: String,
    pub spec_text: String,
    pub counts: Counts,
    pub tables: Vec<TableCtx>,
    pub plots: Vec<PlotModel>,
    pub samples: Vec<SampleGroup>,
    pub runs: Vec<RunRow>,
}

/// `argv` is stored as a JSON array; shown as a shell-like line.
///
/// Written so that it names no folder of the machine: the program by its file name, and a path
/// under the home (`--home /x/.ddmd`, `--home=/x/.ddmd`) as `$DDMD_HOME…` (`paths`).
pub fn argv_line(argv: &str, paths: &Paths) -> String {
    let portable = |i: usize, a: &String| -> String {
        if i == 0 {
            return Path::new(a)
                .file_name()
                .map_or_else(|| a.clone(), |n| n.to_string_lossy().to_string());
        }
        match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") && v.starts_with('/') => {
                format!("{k}={}", paths.show(Path::new(v)))
            }
            _ if a.starts_with('/') => paths.show(Path::new(a)),
            _ => a.clone(),
        }
    };
    match serde_json::from_str::<Vec<String>>(argv) {
        Ok(v) => v
            .iter()
            .enumerate()
            .map(|(i, a)| portable(i, a))
            .map(|a| {
                if a.is_empty() || a.contains([' ', '"', '\'']) {
                    format!("'{}'", a.replace('\'', "'\\''"))
                } else {
                    a.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        Err(_) => argv.to_string(),
    }
}

#[derive(Serialize)]
pub struct FinalRow {
    pub key: String,
    pub value: String,
    pub step: i64,
    pub setting: Option<String>,
}

#[derive(Serialize)]
pub struct CurveCtx {
    pub key: String,
    pub points: usize,
    pub svg: String,
}

#[derive(Serialize)]
pub struct ArtifactRow {
    pub name: String,
    pub path: String,
    pub href: Option<String>,
    pub bytes: Option<i64>,
}

#[derive(Serialize)]
pub struct RunCtx {
    pub title: String,
    pub pipeline: String,
    pub generated_at: String,
    pub run: RunRow,
    pub attempt: i64,
    pub devices: Option<String>,
    pub exit_code: Option<i64>,
    pub cache_key: String,
    pub started: String,
    pub ended: String,
    pub job_dir: Option<String>,
    pub artifact_dir: Option<String>,
    pub params: Vec<(String, String)>,
    pub finals: Vec<FinalRow>,
    pub unavailable: Vec<(String, String)>,
    pub curves: Vec<CurveCtx>,
    pub artifacts: Vec<ArtifactRow>,
    pub log_path: Option<String>,
    pub log_tail: Option<String>,
    pub log_lines: usize,
}

/// The context of one run's page.
pub fn run_ctx(
    r: &RunRecord,
    pipeline: &str,
    generated_at: &str,
    log_tail: usize,
    paths: &Paths,
) -> Result<RunCtx> {
    let mut params = Vec::new();
    flatten("", &r.params, &mut params);
    let (log_path, log_text) = log_of(r, log_tail, paths);
    let shown = |d: &Option<String>| d.as_deref().map(|d| paths.show(Path::new(d)));
    Ok(RunCtx {
        title: r.job_name.clone(),
        pipeline: pipeline.to_string(),
        generated_at: generated_at.to_string(),
        run: run_row(r),
        attempt: r.attempt,
        devices: r.devices.clone(),
        exit_code: r.exit_code,
        cache_key: r.cache_key.clone(),
        started: r.started_at.map(fmt_time).unwrap_or_default(),
        ended: r.ended_at.map(fmt_time).unwrap_or_default(),
        job_dir: shown(&r.job_dir),
        artifact_dir: shown(&r.artifact_dir),
        params,
        finals: final_rows(r),
        unavailable: r
            .unavailable
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        curves: curves_of(r)?,
        artifacts: artifacts_of(r, paths),
        log_path,
        log_lines: log_tail,
        log_tail: log_text,
    })
}

/// The run's final metric values, formatted, with the setting each was measured with.
fn final_rows(r: &RunRecord) -> Vec<FinalRow> {
    r.finals
        .iter()
        .map(|(k, f)| FinalRow {
            key: k.clone(),
            value: fmt_num(f.value),
            step: f.step,
            setting: r.info.get(k).cloned(),
        })
        .collect()
}

/// A small chart per logged curve (a single point makes no curve and is left out).
fn curves_of(r: &RunRecord) -> Result<Vec<CurveCtx>> {
    let mut curves = Vec::new();
    for (key, pts) in &r.curves {
        if pts.len() < 2 {
            continue;
        }
        let series = [Series {
            name: key.clone(),
            points: downsample(pts, MAX_POINTS),
            spread: Vec::new(),
        }];
        let svg = plot::line_chart(key, "step", "", &series, (460, 230), false, false)?;
        curves.push(CurveCtx {
            key: key.clone(),
            points: pts.len(),
            svg,
        });
    }
    Ok(curves)
}

/// The run's artifacts, linked (relatively, from the run page) when the file is still there.
fn artifacts_of(r: &RunRecord, paths: &Paths) -> Vec<ArtifactRow> {
    r.artifacts
        .iter()
        .map(|a| {
            let p = resolve(r, &a.path);
            ArtifactRow {
                name: a.name.clone(),
                path: paths.show(&p),
                href: p.exists().then(|| paths.href("runs", &p)),
                bytes: a.bytes,
            }
        })
        .collect()
}

/// The path of the job's log and its last `log_tail` lines (none when 0 or unreadable).
fn log_of(r: &RunRecord, log_tail: usize, paths: &Paths) -> (Option<String>, Option<String>) {
    match &r.job_dir {
        Some(d) => {
            let p = Path::new(d).join("log");
            let text = if log_tail > 0 {
                tail(&p, log_tail)
            } else {
                None
            };
            (Some(paths.show(&p)), text)
        }
        None => (None, None),
    }
}

/// Nested params as `a.b.c = value` rows (values as JSON, strings bare).
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => {
            if !prefix.is_empty() {
                out.push((prefix.to_string(), other.to_string()));
            }
        }
    }
}

/// The last `lines` lines of a text file (reads at most the last 256 KiB).
fn tail(path: &Path, lines: usize) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let start = len.saturating_sub(256 * 1024);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    let from = all.len().saturating_sub(lines);
    Some(all[from..].join("\n"))
}
