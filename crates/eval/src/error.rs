//! Errors of the evaluation modules (the stage runners use anyhow on top).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("torch: {0}")]
    Torch(#[from] tch::TchError),
    #[error(transparent)]
    Data(#[from] ddmd_science::data::DataError),
    #[error("judge accuracy below {threshold:.0}% ({failing}):\n{table}")]
    JudgeTooWeak {
        threshold: f64,
        failing: String,
        table: String,
    },
    #[error("scorer command failed: {0}")]
    Scorer(String),
}

impl EvalError {
    pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> EvalError {
        EvalError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}

pub type Result<T, E = EvalError> = std::result::Result<T, E>;
