//! The resolved plan: every job of a pipeline with its final parameters, dependencies and
//! cache key. Only this reaches the scheduler (raw spec vs resolved plan, DESIGN §15).
//! Pure: no database, no processes. Whether a job is cached is decided by `status`.

mod cache_key;
pub mod nodes;
mod param_files;
mod params_check;
mod prompts;
mod render;
mod resolve;
pub mod status;

pub use resolve::resolve;

use ddmd_core::{CacheKey, JobId, StageKind, StageName};
use ddmd_pipeline::Resources;
use serde_json::{Map, Value};
use std::time::Duration;

/// Index of a job in `Plan::jobs` (jobs are stored in dependency order).
pub type JobIx = usize;

#[derive(Clone, Debug)]
pub struct Job {
    pub id: JobId,
    pub stage: StageName,
    pub kind: StageKind,
    /// Matrix point: axis -> value label, inherited upstream axes first, then the stage's own.
    pub point: Map<String, Value>,
    /// Resolved parameters: defaults <- stage params <- own matrix values.
    pub params: Map<String, Value>,
    /// Upstream jobs, all earlier in `Plan::jobs`.
    pub needs: Vec<JobIx>,
    pub resources: Resources,
    pub retries: u32,
    pub timeout: Option<Duration>,
    /// Shell command of a `command` stage, rendered from params and point.
    pub command: Option<String>,
    /// The prompt set a command stage's job draws (`prompts:`), read at plan time.
    pub prompts: Option<std::sync::Arc<ddmd_core::PromptSet>>,
    pub cache_key: CacheKey,
    /// Length of the longest chain of jobs from this one to a sink, this one included; the
    /// dispatcher starts the longest chains first.
    pub critical_path: f64,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub pipeline: String,
    pub jobs: Vec<Job>,
}

impl Plan {
    /// Jobs that (transitively) depend on `ix`, `ix` excluded.
    pub fn dependants(&self, ix: JobIx) -> Vec<JobIx> {
        let mut hit = vec![false; self.jobs.len()];
        hit[ix] = true;
        let mut out = Vec::new();
        // Jobs are in dependency order, so one forward pass finds every descendant.
        for (j, job) in self.jobs.iter().enumerate().skip(ix + 1) {
            if job.needs.iter().any(|&n| hit[n]) {
                hit[j] = true;
                out.push(j);
            }
        }
        out
    }
}
