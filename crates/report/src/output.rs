//! Files on disk: writing a report folder so that a half-written report is never seen in place
//! of a whole one (write beside, then swap), copying a finished report, and the index page of
//! all reports under a reports folder.

use crate::error::{ReportError, Result};
use crate::render::{environment, fmt_time, render};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What `report.json` in every report folder says; the index of all reports reads it, and its
/// presence marks a folder as ours.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub generator: String,
    pub pipeline: String,
    pub title: String,
    pub invocation: i64,
    pub generated_at: f64,
    pub runs: usize,
    pub failed: usize,
    pub tables: Vec<String>,
}

pub const MANIFEST: &str = "report.json";
const INDEX_MARKER: &str = "<!-- ddmd-report: index of reports -->";

pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    }
    std::fs::write(path, contents).map_err(|e| ReportError::io(path, e))
}

/// A sibling scratch folder for building `dest`.
pub fn scratch_for(dest: &Path) -> Result<PathBuf> {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .ok_or_else(|| ReportError::Other(format!("{} has no folder name", dest.display())))?;
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| ReportError::io(parent, e))?;
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| ReportError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| ReportError::io(&tmp, e))?;
    Ok(tmp)
}

/// Replaces `dest` with the finished `tmp`. Refuses to delete a non-empty folder that is not a
/// report of ours (a user's `-o ~/Documents` must not wipe their documents).
pub fn swap_into_place(tmp: &Path, dest: &Path) -> Result<()> {
    if dest.exists() {
        let ours = dest.join(MANIFEST).is_file();
        let empty = std::fs::read_dir(dest)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !ours && !empty {
            let _ = std::fs::remove_dir_all(tmp);
            return Err(ReportError::Other(format!(
                "{} exists and is not a report folder (no {MANIFEST}); choose another output folder",
                dest.display()
            )));
        }
        std::fs::remove_dir_all(dest).map_err(|e| ReportError::io(dest, e))?;
    }
    std::fs::rename(tmp, dest).map_err(|e| ReportError::io(dest, e))
}

#[derive(Serialize)]
struct IndexEntry {
    name: String,
    href: String,
    title: String,
    pipeline: String,
    invocation: i64,
    generated_at: String,
    runs: usize,
    failed: usize,
    tables: Vec<String>,
}

#[derive(Serialize)]
struct IndexCtx {
    generated_at: String,
    reports: Vec<IndexEntry>,
    marker: &'static str,
}

/// (Re)writes `<root>/index.html` listing every report folder under `root`. Returns `None`
/// (and writes nothing) when `root/index.html` exists and is not one of ours.
pub fn write_reports_index(root: &Path, now: f64) -> Result<Option<PathBuf>> {
    let index = root.join("index.html");
    if index.is_file() {
        let text = std::fs::read_to_string(&index).unwrap_or_default();
        if !text.contains(INDEX_MARKER) {
            return Ok(None);
        }
    }
    let mut reports = Vec::new();
    let entries = std::fs::read_dir(root).map_err(|e| ReportError::io(root, e))?;
    for entry in entries.flatten() {
        let dir = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || !dir.is_dir() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(dir.join(MANIFEST)) else {
            continue;
        };
        // A manifest we cannot read is someone else's folder: list nothing for it.
        let Ok(m) = serde_json::from_str::<Manifest>(&text) else {
            continue;
        };
        reports.push(IndexEntry {
            href: format!("{}/index.html", percent(&name)),
            name,
            title: m.title,
            pipeline: m.pipeline,
            invocation: m.invocation,
            generated_at: fmt_time(m.generated_at),
            runs: m.runs,
            failed: m.failed,
            tables: m.tables,
        });
    }
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    let env = environment()?;
    let html = render(
        &env,
        "reports_index.html",
        &IndexCtx {
            generated_at: fmt_time(now),
            reports,
            marker: INDEX_MARKER,
        },
    )?;
    write(&index, html)?;
    Ok(Some(index))
}

/// Percent-encodes everything but unreserved URL characters (one path segment).
pub(crate) fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
