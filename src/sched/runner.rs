//! One attempt of one job: prepare its folders and `job.json`, start the process, follow its
//! events into the store, enforce the timeout and cancellation, and record how it ended.
//! Artifacts are written to `<key>.partial/` and renamed into place only on success, after
//! every event was ingested, so a half-written artifact folder is never taken as done.

use super::local::{self, describe_exit, log_tail, Program};
use super::progress::Progress;
use super::tail::Tailer;
use crate::home::Home;
use ddmd_core::text::{self, DurationStyle};
use ddmd_core::{JobFile, RunId, RunStatus, UpstreamJob};
use ddmd_store::{RunFinish, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Lines of a failed job's log kept in its error, and printed in the run's output.
pub const FAILURE_LOG_LINES: usize = 10;

/// How hard the dispatcher wants running jobs stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stop {
    Running,
    /// SIGTERM now, SIGKILL after the grace period.
    Graceful,
    /// SIGKILL now.
    Kill,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Succeeded,
    Failed,
    Cancelled,
    /// Ended by the cluster (preemption, a lost node): to be submitted again, not retried.
    Requeued,
}

impl Ended {
    pub fn status(self) -> RunStatus {
        match self {
            Ended::Succeeded => RunStatus::Succeeded,
            Ended::Failed => RunStatus::Failed,
            Ended::Cancelled => RunStatus::Cancelled,
            Ended::Requeued => RunStatus::Requeued,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub ended: Ended,
    pub error: Option<String>,
    pub exit_code: Option<i32>,
}

/// Everything an attempt needs, owned, so it can run in its own task.
pub struct Attempt {
    pub job_file: JobFile,
    pub command: Option<String>,
    /// The prompt set a generating job draws: written to `$DDMD_PROMPTS` before it starts,
    /// its images checked against it before anything is published.
    pub prompts: Option<Arc<ddmd_core::PromptSet>>,
    pub cwd: PathBuf,
    pub timeout: Option<Duration>,
    pub grace: Duration,
    pub store: Arc<Store>,
    pub home: Home,
    pub progress: Arc<Progress>,
    pub ix: usize,
    pub stop: watch::Receiver<Stop>,
    pub extra_env: Vec<(String, String)>,
    /// Run as a Slurm job instead of a local process (see `slurm::attempt`).
    pub slurm: Option<super::slurm::SlurmJob>,
    /// CPU slots granted: the worker sizes its thread pools to this.
    pub cpus: u32,
    /// Processes per node of a multi-process command job (`{{ launch }}`): the GPUs it asked
    /// for, at least 1 (on a machine without GPUs they run on CPU, with gloo).
    pub procs: u32,
    /// Where this attempt's rendezvous port comes from (command jobs only).
    pub rdzv_ports: Option<std::ops::RangeInclusive<u16>>,
    /// The port this attempt holds while it runs (released when the attempt ends).
    pub port: Option<super::ports::HeldPort>,
}

impl Attempt {
    /// The lifecycle of every attempt, whatever the executor: prepare the job's folders and
    /// `job.json`, let the executor start, follow and signal the job, then publish the
    /// artifacts of a success and record how it ended.
    pub async fn run(mut self) -> Outcome {
        // A Slurm job's port is chosen on its first node (`ports::slurm_port`).
        if let Some(range) = self.rdzv_ports.clone().filter(|_| self.slurm.is_none()) {
            match super::ports::acquire(&self.home, &range) {
                Ok(p) => {
                    if let Err(e) = self.store.set_rdzv_port(self.job_file.run_id, p.port).await {
                        tracing::warn!("cannot record the rendezvous port: {e}");
                    }
                    self.port = Some(p);
                }
                Err(e) => {
                    let o = Outcome {
                        ended: Ended::Failed,
                        error: Some(e),
                        exit_code: None,
                    };
                    return self.conclude(o).await;
                }
            }
        }
        let raw = match self.execute().await {
            Ok(o) => o,
            Err(e) => Outcome {
                ended: Ended::Failed,
                error: Some(format!("{e:#}")),
                exit_code: None,
            },
        };
        self.conclude(raw).await
    }

    async fn execute(&mut self) -> anyhow::Result<Outcome> {
        match self.slurm.take() {
            Some(sj) => {
                // Slurm chooses the GPUs; the pool's placeholder ids mean nothing there.
                self.job_file.devices.clear();
                // A re-attached job is running from the files an earlier orchestrator wrote.
                let job_json = if sj.reattach.is_some() {
                    self.job_file.job_dir.join("job.json")
                } else {
                    self.prepare()?
                };
                super::slurm::attempt::run(self, sj, &job_json).await
            }
            None => {
                let job_json = self.prepare()?;
                self.run_local(&job_json).await
            }
        }
    }

    /// The job's folders and `job.json`, the same for every executor.
    fn prepare(&self) -> anyhow::Result<PathBuf> {
        use anyhow::Context;
        let jf = &self.job_file;
        for dir in [&jf.job_dir, &jf.work_dir] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        if let Some(set) = &self.prompts {
            let manifest = jf.job_dir.join(ddmd_core::prompts::manifest::MANIFEST_FILE);
            std::fs::write(&manifest, set.manifest_text())
                .with_context(|| format!("cannot write {}", manifest.display()))?;
            let images = jf.work_dir.join(ddmd_core::prompts::manifest::IMAGES_DIR);
            std::fs::create_dir_all(&images)
                .with_context(|| format!("cannot create {}", images.display()))?;
        }
        let job_json = jf.job_dir.join("job.json");
        std::fs::write(&job_json, serde_json::to_vec_pretty(jf)?)
            .with_context(|| format!("cannot write {}", job_json.display()))?;
        Ok(job_json)
    }

    /// Publishes a success's artifacts (a failed move makes it a failure) and records the end.
    async fn conclude(&self, outcome: Outcome) -> Outcome {
        let outcome = self.check_images(outcome).await;
        let outcome = if outcome.ended == Ended::Succeeded {
            match self
                .home
                .publish(&self.job_file.work_dir, &self.job_file.cache_key)
            {
                Ok(_) => outcome,
                Err(e) => Outcome {
                    ended: Ended::Failed,
                    error: Some(format!("cannot move artifacts into place: {e}")),
                    exit_code: outcome.exit_code,
                },
            }
        } else {
            outcome
        };
        let artifact_dir = (outcome.ended == Ended::Succeeded)
            .then(|| self.home.artifact_dir(&self.job_file.cache_key));
        self.finish(&outcome, artifact_dir).await;
        outcome
    }

    /// A generating job succeeded only if its images match its prompts (see `images`).
    async fn check_images(&self, outcome: Outcome) -> Outcome {
        let (Ended::Succeeded, Some(set)) = (outcome.ended, self.prompts.clone()) else {
            return outcome;
        };
        let work = self.job_file.work_dir.clone();
        // Decoding thousands of large images is CPU work: keep it off the async threads.
        let checked =
            tokio::task::spawn_blocking(move || super::images::check_and_index(&set, &work))
                .await
                .unwrap_or_else(|e| Err(format!("the image check stopped: {e}")));
        match checked {
            Ok(_) => outcome,
            Err(msg) => Outcome {
                ended: Ended::Failed,
                error: Some(msg),
                exit_code: outcome.exit_code,
            },
        }
    }

    /// A failed job's message: the job's own failure event first, then the last log lines.
    pub(super) fn failure_message(&self, exit: String, tailer: &Tailer, log: &Path) -> String {
        let mut msg = exit;
        if let Some(f) = &tailer.latest.failure {
            msg = format!("{f} ({msg})");
        }
        let tail = log_tail(log, FAILURE_LOG_LINES);
        if !tail.is_empty() {
            msg.push_str("\nlast lines of the log:\n");
            msg.push_str(&tail);
        }
        msg
    }

    /// The local executor: a process group on this machine.
    async fn run_local(&mut self, job_json: &Path) -> anyhow::Result<Outcome> {
        let jf = &self.job_file;
        let run = jf.run_id;
        let log = jf.job_dir.join("log");

        let env = self.job_env();
        let exe = crate::builtin::worker_path();
        let program = match &self.command {
            Some(c) => Program::Shell { command: c },
            None => Program::Worker {
                exe: &exe,
                job_json,
            },
        };
        let mut spawned = local::spawn(program, &self.cwd, &env, &log)
            .map_err(|e| anyhow::anyhow!("cannot start the job process: {e}"))?;
        let pgid = spawned.pgid;
        self.store
            .mark_running(
                run,
                &jf.devices,
                Some(pgid),
                &jf.job_dir.display().to_string(),
                ddmd_core::events::now_secs(),
            )
            .await?;
        self.progress.started(self.ix, &jf.job, &jf.devices);

        let mut tailer = Tailer::new(jf.events.clone());
        let started = Instant::now();
        let deadline = self.timeout.map(|t| started + t);
        let mut kill_at: Option<Instant> = None;
        let mut timed_out = false;
        let mut stopped = false;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        let status = loop {
            tokio::select! {
                st = spawned.child.wait() => break st?,
                _ = tick.tick() => {
                    self.drain(&mut tailer, run).await?;
                    let now = Instant::now();
                    if let (Some(d), false) = (deadline, timed_out) {
                        if now >= d {
                            timed_out = true;
                            local::signal_group(pgid, libc::SIGTERM);
                            kill_at = Some(now + self.grace);
                        }
                    }
                    if let Some(k) = kill_at {
                        if now >= k {
                            local::signal_group(pgid, libc::SIGKILL);
                        }
                    }
                }
                changed = self.stop.changed() => {
                    if changed.is_err() { continue; }
                    let level = *self.stop.borrow();
                    match level {
                        Stop::Running => {}
                        Stop::Graceful => {
                            stopped = true;
                            local::signal_group(pgid, libc::SIGTERM);
                            kill_at.get_or_insert(Instant::now() + self.grace);
                        }
                        Stop::Kill => {
                            stopped = true;
                            local::signal_group(pgid, libc::SIGKILL);
                        }
                    }
                }
            }
        };
        // The shell may be gone while something it started still holds the group: stop it
        // too, so no process outlives its run.
        if local::group_alive(pgid) {
            local::signal_group(pgid, libc::SIGKILL);
        }
        self.drain(&mut tailer, run).await?;

        let (exit_code, exit_err) = describe_exit(status);
        let outcome = if stopped {
            Outcome {
                ended: Ended::Cancelled,
                error: Some("cancelled (interrupted by the user)".into()),
                exit_code,
            }
        } else if timed_out {
            let t = self.timeout.unwrap_or_default();
            Outcome {
                ended: Ended::Failed,
                error: Some(format!(
                    "timed out after {}",
                    text::duration(t.as_secs_f64(), DurationStyle::Compact)
                )),
                exit_code,
            }
        } else if exit_err.is_none() {
            Outcome {
                ended: Ended::Succeeded,
                error: None,
                exit_code,
            }
        } else {
            let msg = self.failure_message(exit_err.unwrap_or_default(), &tailer, &log);
            Outcome {
                ended: Ended::Failed,
                error: Some(msg),
                exit_code,
            }
        };
        Ok(outcome)
    }

    /// The environment of the job's process, the same for every executor by construction
    /// (DESIGN §7): where to write events and artifacts, who it is, the devices and CPU slots
    /// granted (the worker sizes libtorch's thread pools to `DDMD_CPUS`). On Slurm the batch
    /// script replaces `CUDA_VISIBLE_DEVICES` with what Slurm granted.
    pub(super) fn job_env(&self) -> Vec<(String, String)> {
        let jf = &self.job_file;
        let devices = jf
            .devices
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut env = vec![
            ("CUDA_VISIBLE_DEVICES".to_string(), devices),
            ("DDMD_EVENTS".into(), jf.events.display().to_string()),
            ("DDMD_JOB_DIR".into(), jf.job_dir.display().to_string()),
            ("DDMD_ARTIFACTS".into(), jf.work_dir.display().to_string()),
            ("DDMD_RUN_ID".into(), jf.run_id.to_string()),
            ("DDMD_JOB".into(), jf.job.to_string()),
            ("DDMD_HOME".into(), jf.home.display().to_string()),
            ("DDMD_CPUS".into(), self.cpus.to_string()),
        ];
        if self.prompts.is_some() {
            use ddmd_core::prompts::manifest::{IMAGES_DIR, MANIFEST_FILE};
            env.push((
                "DDMD_PROMPTS".into(),
                jf.job_dir.join(MANIFEST_FILE).display().to_string(),
            ));
            env.push((
                "DDMD_IMAGES".into(),
                jf.work_dir.join(IMAGES_DIR).display().to_string(),
            ));
        }
        env.extend(self.launch().unwrap_or_default());
        env.extend(self.extra_env.iter().cloned());
        env
    }

    /// The launcher a command job's `{{ launch }}` expands to, and the facts behind it: one
    /// node here, `procs` processes, the held port. On Slurm the batch script sets these
    /// from the allocation instead (`slurm::script::launch_lines`).
    fn launch(&self) -> Option<Vec<(String, String)>> {
        let port = self.port.as_ref()?.port;
        let (nnodes, addr) = (1u32, "127.0.0.1");
        let launch = format!(
            "torchrun --nnodes={nnodes} --nproc_per_node={} --rdzv_backend=c10d --rdzv_endpoint={addr}:{port} --rdzv_id=ddmd-{} --tee=3",
            self.procs, self.job_file.run_id
        );
        Some(vec![
            ("MASTER_ADDR".into(), addr.into()),
            ("MASTER_PORT".into(), port.to_string()),
            ("NNODES".into(), nnodes.to_string()),
            ("NPROC_PER_NODE".into(), self.procs.to_string()),
            ("DDMD_WORLD_SIZE".into(), (nnodes * self.procs).to_string()),
            ("DDMD_LAUNCH".into(), launch),
        ])
    }

    pub(super) async fn drain(&mut self, tailer: &mut Tailer, run: RunId) -> anyhow::Result<()> {
        loop {
            // Malformed lines and events that break the contract become warnings in the store
            // (keyed by line number, so a re-read records each once); the rest goes in.
            let batch = tailer.poll()?;
            if !batch.is_empty() {
                self.store.ingest_lines(run, &batch).await?;
            }
            if !batch.events.is_empty() {
                self.progress.update(self.ix, &tailer.latest);
            }
            if !tailer.behind() {
                return Ok(());
            }
        }
    }

    pub(super) async fn finish(&self, o: &Outcome, artifact_dir: Option<PathBuf>) {
        let f = RunFinish {
            status: o.ended.status(),
            exit_code: o.exit_code,
            error: o.error.clone(),
            ended_at: ddmd_core::events::now_secs(),
            artifact_dir: artifact_dir.map(|p| p.display().to_string()),
        };
        if let Err(e) = self.store.finish_run(self.job_file.run_id, &f).await {
            tracing::error!("cannot record the end of run {}: {e}", self.job_file.run_id);
        }
    }
}

/// Upstream entries of a job file.
pub fn upstream_entry(home: &Home, job: &crate::plan::Job) -> UpstreamJob {
    UpstreamJob {
        job: job.id.clone(),
        stage: job.stage.clone(),
        kind: job.kind,
        cache_key: job.cache_key.clone(),
        point: job.point.clone(),
        params: job.params.clone(),
        artifact_dir: home.artifact_dir(&job.cache_key),
    }
}
