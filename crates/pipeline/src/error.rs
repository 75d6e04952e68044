//! Errors of pipeline files: where (file, line, column, field path) and what was expected.
//!
//! Every problem found in a pipeline file or a `--set` argument becomes one [`SpecError`];
//! parsing collects as many as it can into [`SpecErrors`] so that a user fixes them in one go.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a pipeline file (or in a `--set` argument, whose `file` is `--set`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    pub file: PathBuf,
    /// 1-based; `None` when the problem has no place in the text (a missing file).
    pub line: Option<usize>,
    /// 1-based, in characters.
    pub column: Option<usize>,
    /// Field path such as `stages.distill.matrix.terms[1].name`; empty for the whole file.
    pub path: String,
    pub message: String,
}

impl SpecError {
    pub fn new(
        file: &Path,
        at: Option<(usize, usize)>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        SpecError {
            file: file.to_path_buf(),
            line: at.map(|p| p.0),
            column: at.map(|p| p.1),
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for SpecError {}

/// All problems found, sorted by position; never empty when returned as an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecErrors(pub Vec<SpecError>);

impl SpecErrors {
    /// Sorts by position (errors without a position last) and drops exact duplicates, which
    /// arise when one aliased node is reported through two paths.
    pub fn sorted(mut errors: Vec<SpecError>) -> SpecErrors {
        errors.sort_by(|a, b| {
            let key = |e: &SpecError| (e.line.is_none(), e.line, e.column);
            key(a).cmp(&key(b))
        });
        errors.dedup();
        SpecErrors(errors)
    }
}

impl From<SpecError> for SpecErrors {
    fn from(e: SpecError) -> Self {
        SpecErrors(vec![e])
    }
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

pub(crate) use ddmd_core::suggest::did_you_mean;
