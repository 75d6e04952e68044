//! Puts a report together: tables, plots, sample grids, per-run pages, CSV / Markdown, the
//! manifest; rendered into a scratch folder and swapped into place.

use crate::error::Result;
use crate::header;
use crate::model::ReportData;
use crate::output::{self, Manifest, MANIFEST};
use crate::pages::{self, IndexCtx, TableCtx};
use crate::paths::Paths;
use crate::plot;
use crate::references;
use crate::render::{environment, fmt_time, render};
use crate::report_params::{ColumnSpec, Columns, ReportSpec, TableSpec};
use crate::samples;
use crate::table::{self, build_table};
use minijinja::Environment;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Volatile inputs of rendering, fixed by tests so that output is reproducible.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// Unix seconds shown as "generated at".
    pub generated_at: f64,
    /// The report stage's own run, when an invocation renders its own report: left out of
    /// the counts, and not what makes the header say "running" (`header`).
    pub own_run: Option<i64>,
    /// The home the runs' folders are in: paths under it are shown as `$DDMD_HOME/…` and
    /// linked relatively (`paths`), so the report names no folder of this machine.
    pub home: Option<PathBuf>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            generated_at: ddmd_core::events::now_secs(),
            own_run: None,
            home: None,
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
    /// What the run output should say about the page: the gaps of partial grids.
    pub warnings: Vec<String>,
}

/// With no declared tables, one table of every evaluation-like metric by job.
fn auto_table(data: &ReportData) -> Option<TableSpec> {
    let keys: BTreeSet<&String> = data
        .runs
        .iter()
        .flat_map(|r| r.finals.keys())
        // Measures of the data (`fid@data`) show in the table's data row, not as columns.
        .filter(|k| !k.starts_with("train/") && !crate::metrics_meta::is_data_key(k))
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
        data_row: true,
        columns_from_preset: false,
        note_gaps: false,
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
    let paths = Paths::new(opts.home.as_deref(), out);
    let result = render_into(data, spec, &tmp, opts, &paths);
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

/// Writes every file of the report into `dir`: tables (CSV, Markdown), sample images, the
/// index page with the charts inline, the per-run pages, and the manifest.
fn render_into(
    data: &ReportData,
    spec: &ReportSpec,
    dir: &Path,
    opts: &RenderOptions,
    paths: &Paths,
) -> Result<RenderSummary> {
    // A name no run has fails here, before anything is drawn around it.
    references::check(spec, &data.runs)?;
    let env = environment()?;
    let generated_at = fmt_time(opts.generated_at);
    let (tables, table_files) = write_tables(data, spec, dir)?;
    let warnings = tables
        .iter()
        .flat_map(|t| {
            t.table.gaps.iter().map(move |g| {
                format!(
                    "table {:?} has gaps (marked — on the page): {g}",
                    t.table.title
                )
            })
        })
        .collect();
    let plots = spec
        .plots
        .iter()
        .enumerate()
        .map(|(i, p)| plot::render_plot(i, p, &data.runs))
        .collect::<Result<Vec<_>>>()?;
    let sample_groups = samples::collect(&data.runs, &spec.samples, dir)?;
    let index_ctx = IndexCtx {
        tables,
        plots,
        samples: sample_groups,
        ..index_header(data, spec, &generated_at, opts.own_run, paths)
    };
    let html = render(&env, "report.html", &index_ctx)?;
    let index = dir.join("index.html");
    output::write(&index, &html)?;
    let run_pages = write_run_pages(&env, data, spec, dir, &generated_at, paths)?;
    write_manifest(data, opts, &index_ctx, dir)?;
    Ok(RenderSummary {
        dir: dir.to_path_buf(),
        index,
        index_bytes: html.len() as u64,
        total_bytes: dir_size(dir),
        run_pages,
        tables: table_files,
        warnings,
    })
}

/// Builds the declared tables (or the automatic one) and writes each as CSV and Markdown
/// under `tables/`; returns them for the index page, and the files written.
fn write_tables(
    data: &ReportData,
    spec: &ReportSpec,
    dir: &Path,
) -> Result<(Vec<TableCtx>, Vec<PathBuf>)> {
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
    Ok((tables, table_files))
}

/// The index page's context apart from its tables, plots and samples: the invocation, the
/// counts and the runs table.
fn index_header(
    data: &ReportData,
    spec: &ReportSpec,
    generated_at: &str,
    own_run: Option<i64>,
    paths: &Paths,
) -> IndexCtx {
    let inv = &data.invocation;
    let pipeline = inv.pipeline.clone();
    IndexCtx {
        title: spec.title.clone().unwrap_or_else(|| pipeline.clone()),
        description: spec.description.clone(),
        pipeline,
        generated_at: generated_at.to_string(),
        invocation_id: inv.id,
        invocation_status: header::status(inv, &data.runs, own_run),
        invocation_started: fmt_time(inv.started_at),
        host: inv.host.clone(),
        git_rev: inv.git_rev.clone(),
        argv: pages::argv_line(&inv.argv, paths),
        spec_text: inv.spec_text.clone(),
        counts: header::counts(&data.runs, own_run),
        tables: Vec::new(),
        plots: Vec::new(),
        samples: Vec::new(),
        runs: data.runs.iter().map(pages::run_row).collect(),
    }
}

/// One page per run under `runs/`. The pages are independent, so they are split over up to
/// eight threads; returns how many were written.
fn write_run_pages(
    env: &Environment,
    data: &ReportData,
    spec: &ReportSpec,
    dir: &Path,
    generated_at: &str,
    paths: &Paths,
) -> Result<usize> {
    let pipeline = &data.invocation.pipeline;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = data.runs.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = data
            .runs
            .chunks(chunk)
            .map(|runs| {
                s.spawn(move || -> Result<usize> {
                    for r in runs {
                        let ctx = pages::run_ctx(r, pipeline, generated_at, spec.log_tail, paths)?;
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
    })
}

/// `report.json`: the summary the index of all reports lists, and the mark that lets a later
/// render replace this folder (`output::swap_into_place`).
fn write_manifest(
    data: &ReportData,
    opts: &RenderOptions,
    index_ctx: &IndexCtx,
    dir: &Path,
) -> Result<()> {
    let counts = header::counts(&data.runs, opts.own_run);
    let manifest = Manifest {
        generator: "ddmd-report".into(),
        pipeline: data.invocation.pipeline.clone(),
        title: index_ctx.title.clone(),
        invocation: data.invocation.id,
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
    output::write(&dir.join(MANIFEST), manifest_text)
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
