//! The dispatcher: one task that owns all scheduling state (nextest's runner habit). Attempts
//! run in their own tasks and report back through a channel; signals arrive here too.
//! Policy: ready jobs start longest-critical-path first, and any ready job that fits the free
//! resources starts at once (backfilling), so a free GPU is never idle while a ready job fits.

use super::pool::{Grant, Pool};
use super::progress::Progress;
use super::runner::{upstream_entry, Attempt, Ended, Outcome, Stop};
use crate::home::{Home, JobLock, JobLockTry};
use crate::plan::status::Decision;
use crate::plan::{JobIx, Plan};
use ddmd_core::{JobFile, RunId, RunStatus};
use ddmd_store::{NewRun, RunFinish, Store};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};

#[derive(Clone, Debug)]
pub struct RunOptions {
    pub gpus: Vec<u32>,
    pub cpu_slots: u32,
    pub fail_fast: bool,
    pub require_gpu: bool,
    /// Time between SIGTERM and SIGKILL when stopping a job.
    pub grace: Duration,
    /// First retry delay; doubles per attempt, capped at a minute.
    pub retry_delay: Duration,
    pub quiet: bool,
    /// Working directory of built-in jobs: the folder `ddmd-pipe` started in (a report's
    /// relative `output_dir` is read from it).
    pub cwd: PathBuf,
    /// Working directory of command jobs: the pipeline file's folder, the base of the
    /// relative paths in their `run` and `inputs` (docs/PIPELINES.md, "Command stages").
    pub pipeline_dir: PathBuf,
    /// Environment every job gets (e.g. PYTHONPATH for the events helper).
    pub env: Vec<(String, String)>,
    /// Local processes or Slurm jobs.
    pub executor: super::executor::Executor,
    /// Slurm jobs a crashed orchestrator submitted, to follow instead of submitting again.
    pub reattach: std::collections::HashMap<JobIx, super::slurm::Reattach>,
    /// Rendezvous ports handed to command jobs (`MASTER_PORT`, `{{ launch }}`).
    pub rdzv_ports: std::ops::RangeInclusive<u16>,
}

#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub succeeded: usize,
    pub cached: usize,
    pub failed: usize,
    pub skipped: usize,
    pub cancelled: usize,
    pub not_started: usize,
    pub interrupted: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum State {
    Waiting,
    Ready,
    Running,
    RetryWait,
    Succeeded,
    Cached,
    Failed,
    Skipped,
    Cancelled,
}

impl State {
    fn ok(&self) -> bool {
        matches!(self, State::Succeeded | State::Cached)
    }
    fn bad(&self) -> bool {
        matches!(self, State::Failed | State::Skipped | State::Cancelled)
    }
}

/// What [`Dispatcher::claim`] decided for a ready job.
enum Claim {
    Run(JobLock),
    Wait,
    /// Another process finished it: this run's result.
    Done(RunId),
}

enum Msg {
    Finished { ix: JobIx, outcome: Outcome },
    RetryDue { ix: JobIx },
}

pub struct Invocation {
    pub pipeline_id: ddmd_core::PipelineId,
    pub invocation_id: ddmd_core::InvocationId,
}

pub struct Dispatcher<'a> {
    plan: &'a Plan,
    store: Arc<Store>,
    home: Home,
    inv: Invocation,
    opts: RunOptions,
    pool: Pool,
    state: Vec<State>,
    attempts: Vec<u32>,
    /// Times each job was submitted again because the cluster ended it.
    requeues: Vec<u32>,
    grants: Vec<Option<Grant>>,
    progress: Arc<Progress>,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    stop_tx: watch::Sender<Stop>,
    stopping: bool,
    summary: Summary,
    /// Stages already warned about running GPU jobs on CPU.
    warned_cpu: std::collections::HashSet<ddmd_core::StageName>,
    /// The lock of each running job's cache key (see [`Home::try_lock_job`]).
    job_locks: Vec<Option<JobLock>>,
    /// Jobs that `--force` asked to run whatever exists.
    forced: Vec<bool>,
    /// Jobs already reported as waiting for another process that runs the same job.
    told_waiting: Vec<bool>,
}

/// How often a job whose cache key another process is running checks whether it is done.
const JOB_LOCK_POLL: Duration = Duration::from_millis(500);
/// Resubmissions of one job after preemption or node failure before it counts as failed
/// (a job that is preempted every time would otherwise cycle for ever).
const MAX_REQUEUES: u32 = 20;

impl<'a> Dispatcher<'a> {
    pub fn new(
        plan: &'a Plan,
        store: Arc<Store>,
        home: Home,
        inv: Invocation,
        opts: RunOptions,
    ) -> Self {
        let n = plan.jobs.len();
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop_tx, _) = watch::channel(Stop::Running);
        let mut pool = Pool::new(opts.gpus.clone(), opts.cpu_slots);
        if let super::executor::Executor::Slurm(cfg, _) = &opts.executor {
            pool = pool.with_max_jobs(cfg.max_submitted);
        }
        let progress = Arc::new(Progress::new(n, opts.quiet));
        Dispatcher {
            plan,
            store,
            home,
            inv,
            pool,
            state: vec![State::Waiting; n],
            attempts: vec![0; n],
            requeues: vec![0; n],
            grants: vec![None; n],
            progress,
            tx,
            rx,
            stop_tx,
            stopping: false,
            summary: Summary::default(),
            warned_cpu: Default::default(),
            job_locks: (0..n).map(|_| None).collect(),
            told_waiting: vec![false; n],
            forced: vec![false; n],
            opts,
        }
    }

    pub async fn run(mut self, decisions: &[Decision]) -> anyhow::Result<Summary> {
        let mut sigint = signal(SignalKind::interrupt())?;
        let mut sigterm = signal(SignalKind::terminate())?;
        let mut interrupts = 0u32;

        for (ix, d) in decisions.iter().enumerate() {
            match d {
                Decision::Cached { run } => self.record_cached(ix, *run).await?,
                Decision::Run { forced, .. } => self.forced[ix] = *forced,
            }
        }

        loop {
            self.settle().await?;
            // A job that ended without a process (another pipeline's result, or unfit) may
            // make its dependants ready: settle again before waiting for messages.
            if !self.stopping && self.dispatch().await? {
                continue;
            }
            let running = self.state.contains(&State::Running);
            let pending = self
                .state
                .iter()
                .any(|s| matches!(s, State::Waiting | State::Ready | State::RetryWait));
            if !running && (!pending || self.stopping) {
                break;
            }
            tokio::select! {
                Some(msg) = self.rx.recv() => self.on_msg(msg).await?,
                _ = sigint.recv() => { interrupts += 1; self.interrupt(interrupts); }
                _ = sigterm.recv() => { interrupts += 1; self.interrupt(interrupts); }
            }
        }
        self.summary.not_started = self
            .state
            .iter()
            .filter(|s| matches!(s, State::Waiting | State::Ready | State::RetryWait))
            .count();
        self.summary.interrupted = interrupts > 0;
        self.progress.done();
        Ok(self.summary)
    }

    fn interrupt(&mut self, count: u32) {
        self.stopping = true;
        if count == 1 {
            self.progress
                .println("interrupted: stopping running jobs (Ctrl-C again to kill them at once)");
            let _ = self.stop_tx.send(Stop::Graceful);
        } else {
            self.progress.println("killing running jobs");
            let _ = self.stop_tx.send(Stop::Kill);
        }
    }

    /// Moves waiting jobs to ready, or to skipped when something they need failed.
    async fn settle(&mut self) -> anyhow::Result<()> {
        for ix in 0..self.plan.jobs.len() {
            if self.state[ix] != State::Waiting {
                continue;
            }
            let job = &self.plan.jobs[ix];
            // Once stopping, jobs behind a cancelled one are simply not started (the next
            // run does them); recording them as skipped would blame the wrong thing.
            if self.stopping {
                continue;
            }
            if let Some(&bad) = job.needs.iter().find(|&&n| self.state[n].bad()) {
                let why = format!(
                    "skipped: needs `{}`, which {}",
                    self.plan.jobs[bad].id,
                    match self.state[bad] {
                        State::Failed => "failed",
                        State::Cancelled => "was cancelled",
                        _ => "was skipped",
                    }
                );
                self.record_terminal(ix, RunStatus::Skipped, &why).await?;
                self.state[ix] = State::Skipped;
                self.summary.skipped += 1;
                self.progress
                    .settled(&job.id, RunStatus::Skipped, Some(&why));
            } else if job.needs.iter().all(|&n| self.state[n].ok()) {
                self.state[ix] = State::Ready;
            }
        }
        Ok(())
    }

    /// Starts what fits. True when a job ended here without a process.
    async fn dispatch(&mut self) -> anyhow::Result<bool> {
        let mut ended = false;
        let mut ready: Vec<JobIx> = (0..self.plan.jobs.len())
            .filter(|&ix| self.state[ix] == State::Ready)
            .collect();
        ready.sort_by(|&a, &b| {
            let (ja, jb) = (&self.plan.jobs[a], &self.plan.jobs[b]);
            jb.critical_path
                .total_cmp(&ja.critical_path)
                .then(a.cmp(&b))
        });
        for ix in ready {
            let job = &self.plan.jobs[ix];
            if let Err(unfit) = self.pool.check(&job.resources) {
                self.fail_unstarted(ix, &unfit.to_string()).await?;
                ended = true;
                continue;
            }
            if job.resources.gpus > 0 && self.pool.gpu_count() == 0 {
                if self.opts.require_gpu {
                    self.fail_unstarted(
                        ix,
                        &format!(
                            "needs {} GPU(s) and none is available (--require-gpu)",
                            job.resources.gpus
                        ),
                    )
                    .await?;
                    ended = true;
                    continue;
                }
                // Once per stage: a matrix of GPU jobs would otherwise repeat it per job.
                if self.attempts[ix] == 0 && self.warned_cpu.insert(job.stage.clone()) {
                    self.progress.println(&format!(
                        "warning: stage {} asks for {} GPU(s) per job; none is available, its jobs run on CPU",
                        job.stage, job.resources.gpus
                    ));
                }
            }
            let Some(grant) = self.pool.try_acquire(&job.resources) else {
                continue;
            };
            match self.claim(ix).await? {
                Claim::Run(lock) => {
                    self.job_locks[ix] = Some(lock);
                    self.start(ix, grant).await?;
                }
                Claim::Wait => self.pool.release(&grant),
                Claim::Done(source) => {
                    self.pool.release(&grant);
                    self.record_cached(ix, source).await?;
                    ended = true;
                }
            }
        }
        Ok(ended)
    }

    /// Takes the lock of a job's cache key before it starts. When another process holds it
    /// (another pipeline on this home runs the same job), the job waits and polls; once the
    /// lock is free, a succeeded run with the key (the other process's) is taken as the result
    /// instead of running the job again.
    async fn claim(&mut self, ix: JobIx) -> anyhow::Result<Claim> {
        let job = &self.plan.jobs[ix];
        let holder = format!(
            "pid {} on {}, pipeline {}, job {}",
            std::process::id(),
            super::recover::hostname(),
            self.plan.pipeline,
            job.id
        );
        let lock = match self
            .home
            .try_lock_job(&job.cache_key, &holder)
            .map_err(|e| anyhow::anyhow!(e))?
        {
            JobLockTry::Taken(lock) => lock,
            JobLockTry::Busy(who) => {
                if !std::mem::replace(&mut self.told_waiting[ix], true) {
                    self.progress.println(&format!(
                        "waiting: {} (cache key {}) is being run by {who}; its result will be used",
                        job.id,
                        job.cache_key.short()
                    ));
                }
                self.state[ix] = State::RetryWait;
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(JOB_LOCK_POLL).await;
                    let _ = tx.send(Msg::RetryDue { ix });
                });
                return Ok(Claim::Wait);
            }
        };
        // Forced jobs run regardless of what exists; the others check again, since another
        // process may have finished the job after this plan was made.
        if self.forced[ix] {
            return Ok(Claim::Run(lock));
        }
        if let Some(run) = self.store.succeeded_run_for_key(&job.cache_key).await? {
            if self.home.artifact_dir(&job.cache_key).is_dir() {
                return Ok(Claim::Done(run.id));
            }
        }
        Ok(Claim::Run(lock))
    }

    async fn start(&mut self, ix: JobIx, grant: Grant) -> anyhow::Result<()> {
        let job = &self.plan.jobs[ix];
        let reattach = self.opts.reattach.remove(&ix);
        let run = match &reattach {
            // The run row of the crashed orchestrator goes on; it keeps its attempt number.
            Some(r) => {
                self.attempts[ix] = r.attempt;
                r.run
            }
            None => {
                self.attempts[ix] += 1;
                self.store
                    .insert_run(&self.new_run(ix, RunStatus::Queued))
                    .await?
            }
        };
        let job_dir = self.home.job_dir(run);
        let job_file = JobFile {
            pipeline: self.plan.pipeline.clone(),
            run_id: run,
            job: job.id.clone(),
            stage: job.stage.clone(),
            kind: job.kind,
            cache_key: job.cache_key.clone(),
            point: job.point.clone(),
            params: job.params.clone(),
            work_dir: self.home.partial_dir(&job.cache_key),
            events: job_dir.join("events.jsonl"),
            job_dir,
            home: self.home.root().to_path_buf(),
            devices: grant.gpus.clone(),
            upstream: job
                .needs
                .iter()
                .map(|&u| upstream_entry(&self.home, &self.plan.jobs[u]))
                .collect(),
        };
        let attempt = Attempt {
            job_file,
            command: job.command.clone(),
            prompts: job.prompts.clone(),
            cwd: if job.kind == ddmd_core::StageKind::Command {
                self.opts.pipeline_dir.clone()
            } else {
                self.opts.cwd.clone()
            },
            timeout: job.timeout,
            grace: self.opts.grace,
            store: self.store.clone(),
            home: self.home.clone(),
            progress: self.progress.clone(),
            ix,
            stop: self.stop_tx.subscribe(),
            cpus: grant.cpus,
            procs: job.resources.gpus.max(1),
            rdzv_ports: (job.kind == ddmd_core::StageKind::Command)
                .then(|| self.opts.rdzv_ports.clone()),
            port: None,
            extra_env: {
                let mut env = self.opts.env.clone();
                env.push(("DDMD_ATTEMPT".into(), self.attempts[ix].to_string()));
                env
            },
            slurm: self
                .opts
                .executor
                .slurm_job(job, reattach, &self.opts.rdzv_ports),
        };
        self.grants[ix] = Some(grant);
        self.state[ix] = State::Running;
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let outcome = attempt.run().await;
            let _ = tx.send(Msg::Finished { ix, outcome });
        });
        Ok(())
    }

    async fn on_msg(&mut self, msg: Msg) -> anyhow::Result<()> {
        match msg {
            Msg::RetryDue { ix } => {
                if self.state[ix] == State::RetryWait {
                    self.state[ix] = State::Ready;
                }
            }
            Msg::Finished { ix, outcome } => {
                if let Some(g) = self.grants[ix].take() {
                    self.pool.release(&g);
                }
                // The attempt has published its artifacts (or failed): others may go on.
                self.job_locks[ix] = None;
                let job = &self.plan.jobs[ix];
                let status = outcome.ended.status();
                self.progress
                    .finished(ix, &job.id, status, outcome.error.as_deref());
                match outcome.ended {
                    // The cluster ended it (preemption, a lost node): the same attempt again,
                    // in a new run; the job's retries are for its own failures.
                    Ended::Requeued if !self.stopping && self.requeues[ix] < MAX_REQUEUES => {
                        self.requeues[ix] += 1;
                        self.attempts[ix] -= 1;
                        self.progress.println(&format!(
                            "resubmitting {} ({} of at most {MAX_REQUEUES}): {}",
                            job.id,
                            self.requeues[ix],
                            outcome.error.as_deref().unwrap_or("ended by the cluster")
                        ));
                        self.state[ix] = State::Ready;
                    }
                    Ended::Requeued => {
                        self.state[ix] = if self.stopping {
                            self.summary.cancelled += 1;
                            State::Cancelled
                        } else {
                            self.summary.failed += 1;
                            State::Failed
                        };
                    }
                    Ended::Succeeded => {
                        self.state[ix] = State::Succeeded;
                        self.summary.succeeded += 1;
                    }
                    // Cancelled while we are not stopping: from outside (scancel of a Slurm
                    // job); retried like a failure.
                    Ended::Cancelled if self.stopping || self.attempts[ix] > job.retries => {
                        self.state[ix] = State::Cancelled;
                        self.summary.cancelled += 1;
                    }
                    Ended::Failed | Ended::Cancelled => {
                        let attempt = self.attempts[ix];
                        if !self.stopping && attempt <= job.retries {
                            let delay = self
                                .opts
                                .retry_delay
                                .mul_f64(2f64.powi(attempt as i32 - 1))
                                .min(Duration::from_secs(60));
                            self.progress.println(&format!(
                                "retrying {} in {:.1}s (attempt {} of {})",
                                job.id,
                                delay.as_secs_f64(),
                                attempt + 1,
                                job.retries + 1
                            ));
                            self.state[ix] = State::RetryWait;
                            let tx = self.tx.clone();
                            tokio::spawn(async move {
                                tokio::time::sleep(delay).await;
                                let _ = tx.send(Msg::RetryDue { ix });
                            });
                        } else {
                            self.state[ix] = State::Failed;
                            self.summary.failed += 1;
                            // The cause is usually in the job's last lines (a Python traceback):
                            // shown once, when no retry follows, not only in `runs show`.
                            if let Some(e) = &outcome.error {
                                self.progress.detail(e);
                            }
                            if self.opts.fail_fast && !self.stopping {
                                self.progress
                                    .println("--fail-fast: stopping the other running jobs");
                                self.stopping = true;
                                let _ = self.stop_tx.send(Stop::Graceful);
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn new_run(&self, ix: JobIx, status: RunStatus) -> NewRun {
        let job = &self.plan.jobs[ix];
        NewRun {
            invocation_id: self.inv.invocation_id,
            pipeline_id: self.inv.pipeline_id,
            stage: job.stage.to_string(),
            job_name: job.id.to_string(),
            kind: job.kind.to_string(),
            point: serde_json::Value::Object(job.point.clone()),
            params: serde_json::Value::Object(job.params.clone()),
            cache_key: job.cache_key.to_string(),
            command: job.command.clone(),
            key_inputs: Some(self.plan.key_inputs(ix)),
            status,
            attempt: self.attempts[ix].max(1),
            queued_at: ddmd_core::events::now_secs(),
        }
    }

    async fn record_cached(&mut self, ix: JobIx, source: RunId) -> anyhow::Result<()> {
        self.store
            .record_cached(&self.new_run(ix, RunStatus::Cached), source)
            .await?;
        self.state[ix] = State::Cached;
        self.summary.cached += 1;
        self.progress.settled(
            &self.plan.jobs[ix].id,
            RunStatus::Cached,
            Some(&format!("result of run {source}")),
        );
        Ok(())
    }

    /// A run row for a job that ends without a process (skipped, unfit).
    async fn record_terminal(
        &mut self,
        ix: JobIx,
        status: RunStatus,
        error: &str,
    ) -> anyhow::Result<()> {
        let run = self.store.insert_run(&self.new_run(ix, status)).await?;
        self.store
            .finish_run(
                run,
                &RunFinish {
                    status,
                    exit_code: None,
                    error: Some(error.to_string()),
                    ended_at: ddmd_core::events::now_secs(),
                    artifact_dir: None,
                },
            )
            .await?;
        Ok(())
    }

    async fn fail_unstarted(&mut self, ix: JobIx, why: &str) -> anyhow::Result<()> {
        self.record_terminal(ix, RunStatus::Failed, why).await?;
        self.state[ix] = State::Failed;
        self.summary.failed += 1;
        self.progress
            .settled(&self.plan.jobs[ix].id, RunStatus::Failed, Some(why));
        if self.opts.fail_fast {
            self.stopping = true;
            let _ = self.stop_tx.send(Stop::Graceful);
        }
        Ok(())
    }
}
