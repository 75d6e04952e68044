//! The resolved plan: every job of a pipeline with its final parameters, dependencies and
//! cache key. Only this reaches the scheduler (raw spec vs resolved plan, DESIGN §15).
//! Pure: no database, no processes. Whether a job is cached is decided by `status`.

mod cache_key;
mod changes;
pub mod nodes;
mod param_files;
mod params_check;
mod prompts;
mod render;
mod report_check;
mod resolve;
mod set_reads;
pub mod status;
pub mod verify;

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
    /// The files in the cache key: (what, as written, content fingerprint): `inputs`, the
    /// prompt set, files named by parameters.
    pub inputs: Vec<(String, String)>,
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
    /// What a job's cache key holds besides its parameters and command, recorded with each
    /// run so that `plan` can say what changed since (`status::changes`): the stage kind's
    /// implementation version, the upstream jobs' keys by job name, the input fingerprints.
    pub fn key_inputs(&self, ix: JobIx) -> Value {
        let job = &self.jobs[ix];
        let upstream: Map<String, Value> = job
            .needs
            .iter()
            .map(|&u| {
                let up = &self.jobs[u];
                (up.id.to_string(), Value::String(up.cache_key.to_string()))
            })
            .collect();
        let inputs: Map<String, Value> = job
            .inputs
            .iter()
            .map(|(what, hash)| (what.clone(), Value::String(hash.clone())))
            .collect();
        serde_json::json!({
            "impl_version": job.kind.impl_version(),
            "upstream": upstream,
            "inputs": inputs,
        })
    }

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
