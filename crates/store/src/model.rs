//! The plain data the store takes and returns. No SQL here.

use ddmd_core::{CacheKey, InvocationId, PipelineId, RunId};
use serde::Serialize;

pub use ddmd_core::{InvocationStatus, RunStatus};

/// A run about to be queued (or recorded as cached).
#[derive(Clone, Debug)]
pub struct NewRun {
    pub invocation_id: InvocationId,
    pub pipeline_id: PipelineId,
    pub stage: String,
    pub job_name: String,
    pub kind: String,
    /// Matrix axis -> value.
    pub point: serde_json::Value,
    /// Resolved parameters; also flattened into `params` rows.
    pub params: serde_json::Value,
    pub cache_key: String,
    /// The shell command a command job runs, as rendered (its template is `params.run`).
    pub command: Option<String>,
    /// The cache key's inputs besides params and command (see migration 0004).
    pub key_inputs: Option<serde_json::Value>,
    pub status: RunStatus,
    pub attempt: u32,
    pub queued_at: f64,
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct RunFinish {
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub ended_at: f64,
    pub artifact_dir: Option<String>,
}

/// Every column of `runs`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRow {
    pub id: RunId,
    pub invocation_id: InvocationId,
    pub pipeline_id: PipelineId,
    pub stage: String,
    pub job_name: String,
    pub kind: String,
    pub point: serde_json::Value,
    pub params: serde_json::Value,
    pub cache_key: CacheKey,
    pub status: RunStatus,
    pub attempt: u32,
    /// Device ids the run held; empty on CPU.
    pub devices: Vec<u32>,
    pub pgid: Option<i32>,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    /// For a 'cached' row: the run whose result it reuses.
    pub source_run_id: Option<RunId>,
    pub queued_at: f64,
    pub started_at: Option<f64>,
    pub ended_at: Option<f64>,
    pub job_dir: Option<String>,
    pub artifact_dir: Option<String>,
    pub executor_id: Option<String>,
    pub node: Option<String>,
}

impl RunRow {
    /// Wall time from start to end, when both are known.
    pub fn duration_s(&self) -> Option<f64> {
        match (self.started_at, self.ended_at) {
            (Some(s), Some(e)) => Some(e - s),
            _ => None,
        }
    }
}

/// Filters of `runs list`; `None` means no filter. Results are the most recent `limit` rows,
/// newest first.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    pub status: Option<String>,
    pub stage: Option<String>,
    /// Pipeline name.
    pub pipeline: Option<String>,
    pub invocation: Option<i64>,
    pub limit: Option<u32>,
}

/// The last value of one metric of a run. `value` is `None` for a non-finite value, which is
/// then in `raw` (`NaN`, `Infinity`, `-Infinity`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FinalMetric {
    pub key: String,
    pub step: i64,
    pub value: Option<f64>,
    pub raw: Option<String>,
}

impl FinalMetric {
    /// The value as a float, non-finite values included.
    pub fn as_f64(&self) -> f64 {
        match (self.value, self.raw.as_deref()) {
            (Some(v), _) => v,
            (None, Some(raw)) => crate::rows::parse_raw(raw),
            (None, None) => f64::NAN,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ArtifactRow {
    pub seq: i64,
    pub name: String,
    /// As the worker reported it: relative to the artifact directory (absolute only in rows
    /// recorded before ingest refused such paths).
    pub path: String,
    pub bytes: Option<i64>,
    pub sha256: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnavailableRow {
    pub key: String,
    pub reason: String,
}

/// One run with everything recorded about it. For a 'cached' run, metrics and artifacts are
/// those of the source run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunDetail {
    pub run: RunRow,
    /// The rendered command of a command job; `None` for built-in jobs and older runs.
    pub command: Option<String>,
    /// Flattened parameters, sorted by key.
    pub params: Vec<(String, String)>,
    pub metrics: Vec<FinalMetric>,
    pub artifacts: Vec<ArtifactRow>,
    pub unavailable: Vec<UnavailableRow>,
    /// The first [`MAX_WARNINGS_SHOWN`] `warn` log events, by seq: the orchestrator's account
    /// of what it could not record (a malformed line, an event that broke the contract) and
    /// the job's own warnings.
    pub warnings: Vec<WarningRow>,
    /// How many `warn` log events there are in all.
    pub warnings_total: i64,
}

/// How many warnings [`RunDetail`] holds: a job that wrote a million bad lines must not make
/// `runs show` print a million lines (`query` reads them all).
pub const MAX_WARNINGS_SHOWN: i64 = 20;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WarningRow {
    pub seq: i64,
    pub message: String,
}

/// Rows inserted by one [`crate::Store::ingest`] call (`events` includes the warnings it
/// recorded); `duplicates` counts events that were already recorded (a re-ingest after a
/// crash), `rejected` those that broke the event contract or reused a seq for something else
/// and were recorded as a warning instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IngestStats {
    pub metrics: u64,
    pub events: u64,
    pub artifacts: u64,
    pub unavailable: u64,
    pub duplicates: u64,
    pub rejected: u64,
}

impl IngestStats {
    pub fn inserted(&self) -> u64 {
        self.metrics + self.events + self.artifacts + self.unavailable
    }
}
