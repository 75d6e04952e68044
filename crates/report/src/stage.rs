//! The `report` stage worker: reads the run database read-only (through the store), renders
//! the report into the job's work directory, reports it as an artifact, and optionally
//! publishes a copy under a reports folder with an index of every report there.

use crate::assemble::{render_report, RenderOptions};
use crate::load;
use crate::output;
use crate::report_params::parse_report_params;
use anyhow::Context;
use ddmd_core::{EventSink, JobFile};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Where a report stage without `output_dir` publishes (relative to the folder `run` started
/// in): `reports/<pipeline>/`.
pub const DEFAULT_OUTPUT_DIR: &str = "reports";

/// A pipeline name as a folder name: nothing that climbs out of the reports folder.
pub fn folder_name(pipeline: &str) -> String {
    let s: String = pipeline
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() {
        "pipeline".into()
    } else {
        s
    }
}

/// The report stage worker (fan-in over `job.upstream`).
pub fn run_report_stage(job: &JobFile, sink: &mut EventSink) -> anyhow::Result<()> {
    let spec = parse_report_params(&job.params).context("report params")?;
    let db_path = ddmd_core::layout::Layout::new(&job.home).db();
    let invocation = load::invocation_of_run(&db_path, job.run_id.0)?;
    sink.log(format!(
        "reading invocation {invocation} from {}",
        db_path.display()
    ))?;
    let data = load::load_invocation(&db_path, invocation)?;

    // Upstream jobs the database does not (yet) hold would silently be missing from tables.
    let present: BTreeSet<&str> = data.runs.iter().map(|r| r.job_name.as_str()).collect();
    let absent: Vec<&str> = job
        .upstream
        .iter()
        .map(|u| u.job.as_str())
        .filter(|j| !present.contains(j))
        .collect();
    if !absent.is_empty() {
        sink.emit(ddmd_core::EventKind::Log {
            level: "warn".into(),
            message: format!(
                "upstream jobs without a run in invocation {invocation}: {}",
                absent.join(", ")
            ),
        })?;
    }

    let out = job.work_dir.join("report");
    let summary = render_report(
        &data,
        &spec,
        &out,
        &RenderOptions {
            own_run: Some(job.run_id.0),
            home: Some(job.home.clone()),
            ..RenderOptions::default()
        },
    )
    .with_context(|| format!("rendering the report into {}", out.display()))?;
    sink.log(format!(
        "report: {} runs, {} tables, index {} bytes",
        summary.run_pages,
        summary.tables.len() / 2,
        summary.index_bytes
    ))?;
    for w in &summary.warnings {
        sink.emit(ddmd_core::EventKind::Log {
            level: "warn".into(),
            message: w.clone(),
        })?;
    }
    sink.artifact("report", "report/index.html")?;
    for t in &summary.tables {
        if let Ok(rel) = t.strip_prefix(&job.work_dir) {
            let name = format!(
                "table:{}",
                rel.file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default()
            );
            sink.artifact(&name, &rel.display().to_string())?;
        }
    }

    // Published where people browse: `output_dir`, by default `reports/` of the folder `run`
    // started in. Rendered again there rather than copied, so that its links into the home
    // are relative to where it is (`paths`).
    let root = spec
        .output_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_OUTPUT_DIR));
    let dest = publish_dir(&root, &job.pipeline);
    render_report(
        &data,
        &spec,
        &dest,
        &RenderOptions {
            own_run: Some(job.run_id.0),
            home: Some(job.home.clone()),
            ..RenderOptions::default()
        },
    )
    .with_context(|| format!("publishing the report to {}", dest.display()))?;
    sink.log(format!(
        "report published at {}",
        dest.join("index.html").display()
    ))?;
    if let Some(parent) = dest.parent() {
        if let Some(index) = output::write_reports_index(parent, ddmd_core::events::now_secs())? {
            sink.log(format!("index of reports: {}", index.display()))?;
        }
    }
    sink.flush()?;
    Ok(())
}

fn publish_dir(root: &Path, pipeline: &str) -> PathBuf {
    root.join(folder_name(pipeline))
}
