//! The job description (`job.json`) the orchestrator writes for a worker, and stage kinds.

use crate::ids::{CacheKey, JobId, RunId, StageName};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum StageKind {
    Teacher,
    Judge,
    Distill,
    Evaluate,
    Report,
    Command,
}

impl StageKind {
    pub const ALL: [StageKind; 6] = [
        StageKind::Teacher,
        StageKind::Judge,
        StageKind::Distill,
        StageKind::Evaluate,
        StageKind::Report,
        StageKind::Command,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StageKind::Teacher => "teacher",
            StageKind::Judge => "judge",
            StageKind::Distill => "distill",
            StageKind::Evaluate => "evaluate",
            StageKind::Report => "report",
            StageKind::Command => "command",
        }
    }

    pub fn parse(s: &str) -> Option<StageKind> {
        StageKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Version of a built-in stage's semantics; part of the cache key (DESIGN §5). Bump when
    /// a change makes old results wrong.
    pub fn impl_version(self) -> u32 {
        match self {
            StageKind::Command => 1,
            StageKind::Teacher => 1,
            StageKind::Judge => 1,
            // 2: the GAN discriminator's initialisation follows the run's seed.
            // 3: fresh student samples for every fake-score update; mean–variance against the
            // same prompt's render; the divergence detector relative to the data.
            StageKind::Distill => 3,
            // 2: same-prompt references, the data row, sharpness/saturation/PSNR.
            StageKind::Evaluate => 2,
            StageKind::Report => 1,
        }
    }

    /// Stages that gather all upstream jobs into one job by default.
    pub fn fans_in_by_default(self) -> bool {
        matches!(self, StageKind::Report)
    }
}

impl std::fmt::Display for StageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One upstream job whose artifacts this job may read.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UpstreamJob {
    pub job: JobId,
    pub stage: StageName,
    pub kind: StageKind,
    pub cache_key: CacheKey,
    /// Matrix point of the upstream job (axis -> value), for reports and evaluation labels.
    pub point: Map<String, Value>,
    pub params: Map<String, Value>,
    /// Final artifact directory (`<home>/artifacts/<cache-key>/`).
    pub artifact_dir: PathBuf,
}

/// Everything a worker needs; written to `<job_dir>/job.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobFile {
    pub pipeline: String,
    pub run_id: RunId,
    pub job: JobId,
    pub stage: StageName,
    pub kind: StageKind,
    pub cache_key: CacheKey,
    pub point: Map<String, Value>,
    pub params: Map<String, Value>,
    /// Where the job writes its artifacts and checkpoints. Stable across attempts of the same
    /// cache key (so a rerun resumes from checkpoints); renamed into place on success.
    pub work_dir: PathBuf,
    /// Per-run directory: job.json, events.jsonl, log.
    pub job_dir: PathBuf,
    pub events: PathBuf,
    /// The orchestrator's home (database at `<home>/runs.sqlite`, read-only for workers).
    pub home: PathBuf,
    /// Device ids assigned (also in CUDA_VISIBLE_DEVICES); empty means CPU.
    pub devices: Vec<u32>,
    pub upstream: Vec<UpstreamJob>,
}

impl JobFile {
    pub fn param(&self, key: &str) -> Option<&Value> {
        self.params.get(key)
    }
}
