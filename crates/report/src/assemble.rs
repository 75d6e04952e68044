//! Puts a report together: tables, plots, sample grids, per-run pages, CSV / Markdown, the
//! manifest; rendered into a scratch folder and swapped into place.

use crate::error::Result;
use crate::model::ReportData;
use crate::output::{self, Manifest, MANIFEST};
use crate::pages::{self, IndexCtx, TableCtx};
use crate::plot;
use crate::render::{environment, fmt_time, render};
use crate::report_params::{ColumnSpec, Columns, ReportSpec, TableSpec};
use crate::samples;
use crate::table::{self, build_table};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Volatile inputs of rendering, fixed by tests so that output is reproducible.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// Unix seconds shown as "generated at".
    pub generated_at: f64,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            generated_at: ddmd_core::events::now_secs(),
        }
    }
}

/// What was written.
#[derive(Clone, Debug)]
pub struct RenderSummary {
    pub dir: PathBuf,
    pub index: PathBuf,
    pub index_bytes: u64,
    pub total_bytes: u64,
    pub run_pages: usize,
    pub tables: Vec<PathBuf>,
}

/// With no declared tables, one table of every evaluation-like metric by job.
fn auto_table(data: &ReportData) -> Option<TableSpec> {
    let keys: BTreeSet<&String> = data
        .runs
        .iter()
        .flat_map(|r| r.finals.keys())
        .filter(|k| !k.starts_with("train/"))
        .collect();
    if keys.is_empty() {
        return None;
    }
    Some(TableSpec {
        title: "Final metrics by job".into(),
        preset: None,
        rows: vec!["job".into()],
        columns: Columns::Metrics(
            keys.into_iter()
                .take(12)
                .map(|k| ColumnSpec {
                    metric: k.clone(),
                    label: None,
                })
                .collect(),
        ),
        filter: Vec::new(),
        units: Default::default(),
        direction: Default::default(),
        note: Some("No tables were declared in the report's params; this one shows every final metric (training curves excluded).".into()),
    })
}

/// Renders the report of `data` into the folder `out` (replaced as a whole).
pub fn render_report(
    data: &ReportData,
    spec: &ReportSpec,
    out: &Path,
    opts: &RenderOptions,
) -> Result<RenderSummary> {
    let tmp = output::scratch_for(out)?;
    let result = render_into(data, spec, &tmp, opts);
    match result {
        Ok(mut summary) => {
            output::swap_into_place(&tmp, out)?;
            summary.dir = out.to_path_buf();
            summary.index = out.join("index.html");
            summary.tables = summary
                .tables
                .iter()
                .filter_map(|p| p.file_name().map(|n| out.join("tables").join(n)))
                .collect();
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

fn render_into(
    data: &ReportData,
    spec: &ReportSpec,
    dir: &Path,
    opts: &RenderOptions,
) -> Result<RenderSummary> {
    let env = environment()?;
    let generated_at = fmt_time(opts.generated_at);
    let pipeline = data.invocation.pipeline.clone();

    let specs: Vec<TableSpec> = if spec.tables.is_empty() {
        auto_table(data).into_iter().collect()
    } else {
        spec.tables.clone()
    };
    let mut tables = Vec::new();
    let mut table_files = Vec::new();
    for (i, t) in specs.iter().enumerate() {
        let model = build_table(i, t, &data.runs);
        let csv = format!("tables/{}.csv", model.slug);
        let md = format!("tables/{}.md", model.slug);
        output::write(&dir.join(&csv), table::to_csv(&model))?;
        output::write(&dir.join(&md), table::to_markdown(&model))?;
        table_files.push(dir.join(&csv));
        table_files.push(dir.join(&md));
        tables.push(TableCtx {
            table: model,
            csv,
            md,
        });
    }
    let plots = spec
        .plots
        .iter()
        .enumerate()
        .map(|(i, p)| plot::render_plot(i, p, &data.runs))
        .collect::<Result<Vec<_>>>()?;
    let sample_groups = samples::collect(&data.runs, &spec.samples, dir)?;

    let inv = &data.invocation;
    let title = spec.title.clone().unwrap_or_else(|| pipeline.clone());
    let index_ctx = IndexCtx {
        title: title.clone(),
        description: spec.description.clone(),
        pipeline: pipeline.clone(),
        generated_at: generated_at.clone(),
        invocation_id: inv.id,
        invocation_status: inv.status.clone(),
        invocation_started: fmt_time(inv.started_at),
        host: inv.host.clone(),
        git_rev: inv.git_rev.clone(),
        argv: pages::argv_line(&inv.argv),
        spec_text: inv.spec_text.clone(),
        counts: pages::counts(data),
        tables,
        plots,
        samples: sample_groups,
        runs: data.runs.iter().map(pages::run_row).collect(),
    };
    let html = render(&env, "report.html", &index_ctx)?;
    let index = dir.join("index.html");
    output::write(&index, &html)?;

    // Per-run pages: independent, so split over the cores.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = data.runs.len().div_ceil(threads).max(1);
    let pages_total: Result<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = data
            .runs
            .chunks(chunk)
            .map(|runs| {
                let env = &env;
                let pipeline = &pipeline;
                let generated_at = &generated_at;
                s.spawn(move || -> Result<usize> {
                    for r in runs {
                        let ctx = pages::run_ctx(r, pipeline, generated_at, spec.log_tail)?;
                        let page = render(env, "run.html", &ctx)?;
                        output::write(&dir.join(format!("runs/{}.html", r.id)), page)?;
                    }
                    Ok(runs.len())
                })
            })
            .collect();
        let mut n = 0;
        for h in handles {
            n += h.join().map_err(|_| {
                crate::ReportError::Other("a page-rendering thread panicked".into())
            })??;
        }
        Ok(n)
    });
    let run_pages = pages_total?;

    let counts = pages::counts(data);
    let manifest = Manifest {
        generator: "ddmd-report".into(),
        pipeline: pipeline.clone(),
        title,
        invocation: inv.id,
        generated_at: opts.generated_at,
        runs: counts.total,
        failed: counts.failed,
        tables: index_ctx
            .tables
            .iter()
            .map(|t| t.table.title.clone())
            .collect(),
    };
    let manifest_text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| crate::ReportError::Other(e.to_string()))?;
    output::write(&dir.join(MANIFEST), manifest_text)?;

    Ok(RenderSummary {
        dir: dir.to_path_buf(),
        index,
        index_bytes: html.len() as u64,
        total_bytes: dir_size(dir),
        run_pages,
        tables: table_files,
    })
}

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => total += dir_size(&e.path()),
                Ok(_) => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                Err(_) => {}
            }
        }
    }
    total
}
