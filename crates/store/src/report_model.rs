//! The data a report is made of, as [`crate::ReadStore::load_report`] reads it: one
//! [`RunRecord`] per job of an invocation (latest attempt), with its final metrics, curves,
//! unavailable metrics, status notes and artifacts. Plain data, no SQL and no I/O; how it is
//! shown (tables, plots, pages, and the helpers that decide labels) is `ddmd-report`'s.

use indexmap::IndexMap;
use serde::Serialize;
use std::collections::BTreeMap;

/// The last value of a metric (largest step, latest seq), as the `final_metrics` view defines it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FinalValue {
    pub step: i64,
    /// NaN / ±inf when the run logged a non-finite value.
    pub value: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Artifact {
    pub name: String,
    pub path: String,
    pub bytes: Option<i64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub stage: String,
    pub job_name: String,
    pub kind: String,
    /// Status of the row itself (`cached` rows keep that status; their data comes from
    /// `source_run_id`).
    pub status: String,
    pub source_run_id: Option<i64>,
    /// Matrix point: axis -> value label, in the order the pipeline declared the axes.
    pub point: IndexMap<String, String>,
    pub params: serde_json::Value,
    pub attempt: i64,
    pub devices: Option<String>,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
    pub started_at: Option<f64>,
    pub ended_at: Option<f64>,
    pub job_dir: Option<String>,
    pub artifact_dir: Option<String>,
    pub cache_key: String,
    pub finals: BTreeMap<String, FinalValue>,
    /// Finite points of every metric, sorted by step (one value per step: the latest).
    pub curves: BTreeMap<String, Vec<(f64, f64)>>,
    pub unavailable: BTreeMap<String, String>,
    /// `status` events with state `info`, by key (e.g. `fid@4` -> `extractor=judge N=2000`).
    pub info: BTreeMap<String, String>,
    /// Message of a `diverged` status event, if any.
    pub diverged: Option<String>,
    pub artifacts: Vec<Artifact>,
}

impl RunRecord {
    /// The id whose data (metrics, artifacts, log) this row shows.
    pub fn data_id(&self) -> i64 {
        self.source_run_id.unwrap_or(self.id)
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct InvocationInfo {
    pub id: i64,
    pub pipeline: String,
    pub spec_text: String,
    pub argv: String,
    pub host: String,
    pub git_rev: Option<String>,
    pub started_at: f64,
    pub ended_at: Option<f64>,
    pub status: String,
}

/// Everything one report shows.
#[derive(Clone, Debug, Default)]
pub struct ReportData {
    pub invocation: InvocationInfo,
    /// Runs ordered by id (roughly the order the plan created them).
    pub runs: Vec<RunRecord>,
}
