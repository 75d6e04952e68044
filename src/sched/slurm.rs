//! Slurm executor: each job attempt is one `sbatch` of a generated script that runs exactly
//! what the local executor runs (`ddmd-pipe-worker job job.json` or `sh -c <command>`), with the
//! same environment, in the shared job folder. The orchestrator stays on the submit host: it
//! follows all of its jobs with one `squeue` call per cycle (`poll`; no `sacct`, accounting
//! is often off), tails each job's events into the store while it runs, cancels with
//! `scancel`, resubmits jobs that Slurm preempted or whose node failed, and after a crash
//! re-attaches to jobs still known to Slurm instead of submitting them again.
//!
//! Submodules, one job each: `config` (options and the pre-flight checks), `script` (the batch
//! script and the sbatch arguments), `ctl` (calling the Slurm commands and parsing their
//! output), `poll` (one controller call per cycle for every job), `state` (Slurm job states ->
//! run outcomes), `attempt` (one submitted job, end to end), `recover` (which unfinished runs
//! to re-attach).

pub mod attempt;
pub mod config;
pub mod ctl;
pub mod poll;
pub mod recover;
pub mod script;
pub mod state;

pub use config::SlurmConfig;
pub use recover::Reattach;

use std::sync::Arc;

/// What one attempt needs beyond the local executor's `Attempt`.
#[derive(Clone, Debug)]
pub struct SlurmJob {
    pub cfg: Arc<SlurmConfig>,
    /// The invocation's poller, shared by all of its Slurm jobs.
    pub poller: Arc<poll::Poller>,
    pub gpus: u32,
    pub cpus: u32,
    /// `--mem` of this job (the job's `mem` parameter, else the executor's).
    pub mem: Option<String>,
    /// Follow this already submitted Slurm job instead of submitting.
    pub reattach: Option<Reattach>,
    /// Nodes of the allocation (`resources.nodes`).
    pub nodes: u32,
    /// How `{{ launch }}` starts a command job's processes; `None` for built-in jobs.
    pub launch: Option<script::Launch>,
}
