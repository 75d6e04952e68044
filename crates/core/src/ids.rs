//! Typed ids, so that a job name, a run number and a cache key cannot be confused.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Name of a stage as written in the pipeline file (`distill`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StageName(pub String);

/// Stable, readable job name: `distill[terms=CA only,schedule=hybrid]`, or the stage name
/// alone for a stage with a single job.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub String);

/// Row id of one execution of a job in the run database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

/// Row id of one `ddmd-pipe run` (an invocation) in the run database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InvocationId(pub i64);

/// Row id of one pipeline (name and spec text) in the run database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PipelineId(pub i64);

/// Hex sha256 of the canonical encoding of every input of a job (DESIGN §5).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CacheKey(pub String);

impl CacheKey {
    /// Short form for display and directory names in messages.
    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(12)]
    }
}

macro_rules! display_inner {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    )*};
}
display_inner!(StageName, JobId, RunId, InvocationId, PipelineId, CacheKey);

impl StageName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl JobId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
