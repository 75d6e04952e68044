//! The run database (DESIGN §8): one SQLite file, WAL mode, written by the orchestrator alone.
//!
//! - [`Store`] is the single writer. The orchestrator holds one (one connection) and records
//!   pipelines, invocations, runs, their parameters and the events workers emit.
//! - [`ReadStore`] is what `query`, `runs list|show` and the report worker open: read-only at
//!   the file level, `query_only`, and an authorizer that refuses ATTACH and PRAGMA writes, so
//!   a user's SQL can never change the database.
//! - [`report`] is everything a report reads ([`report::ReportData`] and the synchronous
//!   functions that load it); `ddmd-report` renders it and holds no SQL of its own.
//! - [`dashboard`] is what `serve`'s pages read, keyed on the last `seq` a page saw.
//! - [`format_query`], [`format_runs_table`], [`format_run_detail`] turn read results into text.
//!
//! The store never touches tensors and knows nothing about scheduling.

mod artifact;
mod cache_history;
mod connect;
pub mod dashboard;
mod error;
mod format;
mod guard;
mod ingest;
mod model;
mod params;
mod query;
mod reader;
mod report_load;
mod report_model;
mod report_resume;
mod report_shape;
mod report_sync;
mod rows;
mod writer;

pub use artifact::{check_artifact, ArtifactCheck};
pub use cache_history::{LatestRun, SucceededRun};
pub use connect::{Synchronous, SYNCHRONOUS_ENV};
pub use error::StoreError;
pub use format::{format_query, format_run_detail, format_runs_table, OutputFormat};
pub use model::{
    ArtifactRow, FinalMetric, IngestStats, InvocationStatus, NewRun, RunDetail, RunFilter,
    RunFinish, RunRow, RunStatus, UnavailableRow, WarningRow, MAX_WARNINGS_SHOWN,
};
pub use params::flatten_params;
pub use query::QueryResult;
pub use reader::ReadStore;
pub use writer::Store;

/// What a report reads: the data ([`report::ReportData`] of plain types) and synchronous
/// functions that open the database read-only and load it, for callers without a runtime. The
/// same reads are async methods of [`ReadStore`] (`invocation_of_run`, `find_invocation`,
/// `report_params`, `load_report`).
pub mod report {
    pub use crate::report_model::{Artifact, FinalValue, InvocationInfo, ReportData, RunRecord};
    pub use crate::report_sync::{find_invocation, invocation_of_run, load_report, report_params};
}

/// The migrations of `migrations/`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");
