//! Errors of the run database. Every variant says what was being done and to which file, so
//! the binary can print it as is.

use ddmd_core::RunId;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the folder {path} for the run database: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the run database {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("cannot bring the run database {path} up to date: {source}")]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },
    #[error("cannot lock {path} to migrate the run database: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An environment variable that sets how the database is opened holds a value we do not
    /// accept.
    #[error("{var} is {value:?}; accepted values: {accepted} (or leave it unset)")]
    Setting {
        var: &'static str,
        value: String,
        accepted: &'static str,
    },
    #[error("no run database at {path}: nothing has been run with this home yet")]
    Missing { path: PathBuf },
    /// A statement that would change the database, sent through a read-only connection.
    #[error("the run database is open read-only here and cannot be changed: {message}")]
    ReadOnly { message: String },
    #[error("run {0} is not in the run database")]
    UnknownRun(RunId),
    #[error("invocation {0} is not in the run database")]
    UnknownInvocation(ddmd_core::InvocationId),
    #[error("invocation {invocation} is not an invocation of pipeline {pipeline:?}")]
    NotAnInvocationOf { invocation: i64, pipeline: String },
    /// `known` lists the pipelines the database does have (or says `none`).
    #[error("no runs of pipeline {pipeline:?}; pipelines in this database: {known}")]
    NoRunsOfPipeline { pipeline: String, known: String },
    /// A stored value that cannot be read as what it should be (a hand-edited JSON cell).
    #[error("cannot read the {what} in the run database: {message}")]
    Stored { what: String, message: String },
    #[error("cannot start a runtime to read the run database: {source}")]
    Runtime { source: std::io::Error },
    #[error("the thread reading the run database panicked")]
    ReaderPanicked,
    #[error("run {run}: event seq {seq} does not fit the database (at most {max})", max = i64::MAX)]
    SeqOutOfRange { run: RunId, seq: u64 },
    #[error("{context}: {source}")]
    Sql {
        context: String,
        source: sqlx::Error,
    },
    #[error("query failed: {message}")]
    Query { message: String },
    #[error("cannot encode {what} as JSON: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
}

/// Adds what was being done to an sqlx error.
pub(crate) trait SqlContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> SqlContext<T> for Result<T, sqlx::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sql {
            context: context(),
            source,
        })
    }
}
