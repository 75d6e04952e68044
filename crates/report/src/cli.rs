//! `ddmd-pipe report`: re-render a pipeline's report from the database alone (artifacts that
//! were moved only lose their sample images and links).

use crate::assemble::{render_report, RenderOptions};
use crate::load;
use crate::output;
use crate::report_params::{parse_report_params, ReportSpec};
use crate::stage::folder_name;
use anyhow::Context;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// Name of the pipeline whose report to render.
    #[arg(long)]
    pub pipeline: String,
    /// Invocation id (default: the latest invocation of the pipeline that has runs).
    #[arg(long)]
    pub invocation: Option<i64>,
    /// Output folder (default: reports/<pipeline>). The folder's parent gets an index of all
    /// reports in it.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Renders the report and returns the path of its `index.html`.
pub fn report_command(db: &Path, args: &ReportArgs) -> anyhow::Result<PathBuf> {
    let invocation = load::find_invocation(db, &args.pipeline, args.invocation)?;
    // The params the report stage was given, when the invocation had one; else defaults.
    let spec = match load::report_params(db, invocation)? {
        Some(params) => parse_report_params(&params)
            .with_context(|| format!("params of the report stage of invocation {invocation}"))?,
        None => ReportSpec {
            log_tail: 40,
            ..ReportSpec::default()
        },
    };
    let data = load::load_invocation(db, invocation)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(folder_name(&args.pipeline)));
    let opts = RenderOptions {
        home: db.parent().map(Path::to_path_buf),
        ..RenderOptions::default()
    };
    let summary = render_report(&data, &spec, &out, &opts)
        .with_context(|| format!("rendering the report into {}", out.display()))?;
    for w in &summary.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        output::write_reports_index(parent, ddmd_core::events::now_secs())?;
    }
    Ok(summary.index)
}
