//! Errors of the data module.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("prompt has {got} tokens, more than the maximum of {max}: {prompt:?}")]
    PromptTooLong {
        prompt: String,
        got: usize,
        max: usize,
    },
    #[error("invalid data parameters: {0}")]
    Config(String),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}: cannot decode image: {message}")]
    Decode { path: PathBuf, message: String },
    #[error("image folder {0} holds no usable images (png with a .txt caption beside each)")]
    EmptyFolder(PathBuf),
    #[error("invalid images tensor: {0}")]
    Tensor(String),
    #[error("cannot parse prompt {prompt:?}: {message}")]
    Parse { prompt: String, message: String },
}

impl DataError {
    pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> DataError {
        DataError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}
