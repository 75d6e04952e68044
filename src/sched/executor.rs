//! Which executor runs the jobs of an invocation: local processes (the default) or Slurm
//! jobs. The command layer resolves it from the pipeline's `executor:` section and the command
//! line (`commands::executor`); the scheduler only receives the typed choice.

use super::slurm::poll::Poller;
use super::slurm::{Reattach, SlurmConfig, SlurmJob};
use std::path::Path;
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub enum Executor {
    #[default]
    Local,
    /// The options, and the poller that follows every job of the invocation.
    Slurm(Arc<SlurmConfig>, Arc<Poller>),
}

impl Executor {
    pub fn slurm(cfg: SlurmConfig) -> Executor {
        let poller = Poller::new(cfg.poll_max);
        Executor::Slurm(Arc::new(cfg), poller)
    }

    /// As recorded in `invocations.executor`.
    pub fn name(&self) -> &'static str {
        match self {
            Executor::Local => "local",
            Executor::Slurm(..) => "slurm",
        }
    }

    /// Checks made before anything is recorded (see [`SlurmConfig::preflight`]).
    pub fn preflight(&self, home: &Path) -> Result<(), String> {
        match self {
            Executor::Local => Ok(()),
            Executor::Slurm(cfg, _) => cfg.preflight(home),
        }
    }

    /// The Slurm side of one attempt of `job`; `None` on the local executor.
    pub fn slurm_job(
        &self,
        job: &crate::plan::Job,
        reattach: Option<Reattach>,
        rdzv_ports: &std::ops::RangeInclusive<u16>,
    ) -> Option<SlurmJob> {
        match self {
            Executor::Local => None,
            Executor::Slurm(cfg, poller) => Some(SlurmJob {
                cfg: cfg.clone(),
                poller: poller.clone(),
                gpus: job.resources.gpus,
                cpus: job.resources.cpus,
                mem: super::slurm::script::mem_param(&job.params),
                reattach,
                nodes: job.resources.nodes,
                launch: (job.kind == ddmd_core::StageKind::Command).then(|| {
                    super::slurm::script::Launch {
                        nodes: job.resources.nodes,
                        procs: job.resources.gpus.max(1),
                        ports: rdzv_ports.clone(),
                    }
                }),
            }),
        }
    }
}
