//! Errors of the report crate. Parameter errors carry the field path (`tables[1].columns[0]`)
//! so that a user can find the offending entry in the pipeline file.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A report parameter is missing, of the wrong type, or names something unknown.
    #[error("{path}: {message}")]
    Param { path: String, message: String },
    #[error("database {db}: {message}")]
    Db { db: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
    #[error("plot {title:?}: {message}")]
    Plot { title: String, message: String },
    #[error("{0}")]
    Other(String),
}

impl ReportError {
    pub fn param(path: impl Into<String>, message: impl Into<String>) -> Self {
        ReportError::Param {
            path: path.into(),
            message: message.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = ReportError> = std::result::Result<T, E>;
