//! HTML reports of pipeline runs (DESIGN §12): ablation tables (mean ± the 95 % interval over
//! seeds with n, best marked and the other rows tested against it, a data row of each metric's
//! floor or ceiling, CSV and Markdown beside), plotters SVG charts, sample grids, per-run pages
//! and an index of reports — static files that open from disk with no network.
//!
//! Entry points: [`parse_report_params`] (validate a report stage's params),
//! [`run_report_stage`] (the worker), [`report_command`] (`ddmd-pipe report`), and
//! [`render_report`] over data loaded with [`load_invocation`].
//!
//! This crate renders and holds no SQL: the run database is read (read-only) by
//! `ddmd_store::report`, which fills the plain data of [`model`]; [`load_invocation`] and its
//! siblings are thin synchronous calls into it.

mod assemble;
mod cli;
mod error;
mod header;
mod load;
/// Metric-key conventions live in core; kept under this name for the report's modules.
pub use ddmd_core::metrics as metrics_meta;
pub mod model;
mod output;
mod pages;
mod paths;
pub mod plot;
pub mod presets;
mod references;
mod render;
pub mod report_params;
mod samples;
mod stage;
pub mod stats;
pub mod table;

pub use assemble::{render_report, RenderOptions, RenderSummary};
pub use cli::{report_command, ReportArgs};
pub use error::ReportError;
pub use load::{find_invocation, invocation_of_run, load_invocation};
pub use model::{ReportData, RunRecord};
pub use output::{write_reports_index, Manifest};
pub use report_params::{parse_report_params, ReportSpec};
pub use stage::{folder_name, run_report_stage, DEFAULT_OUTPUT_DIR};
