//! The run database (DESIGN §8): one SQLite file, WAL mode, written by the orchestrator alone.
//!
//! - [`Store`] is the single writer. The orchestrator holds one (one connection) and records
//!   pipelines, invocations, runs, their parameters and the events workers emit.
//! - [`ReadStore`] is what `query`, `runs list|show` and the report worker open: read-only at
//!   the file level, `query_only`, and an authorizer that refuses ATTACH and PRAGMA writes, so
//!   a user's SQL can never change the database.
//! - [`format_query`], [`format_runs_table`], [`format_run_detail`] turn read results into text.
//!
//! The store never touches tensors and knows nothing about scheduling.

mod artifact;
mod connect;
mod error;
mod format;
mod guard;
mod ingest;
mod model;
mod params;
mod query;
mod reader;
mod rows;
mod writer;

pub use error::StoreError;
pub use format::{format_query, format_run_detail, format_runs_table, OutputFormat};
pub use model::{
    invocation_status, run_status, ArtifactRow, FinalMetric, IngestStats, NewRun, RunDetail,
    RunFilter, RunFinish, RunRow, UnavailableRow,
};
pub use params::flatten_params;
pub use query::QueryResult;
pub use reader::ReadStore;
pub use writer::Store;

/// The migrations of `migrations/`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");
