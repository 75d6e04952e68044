//! One job attempt on Slurm: write the job file and batch script, `sbatch` it (or re-attach to
//! the Slurm job a crashed orchestrator submitted), follow its state with backoff while its
//! events are ingested, cancel it on Ctrl-C or timeout, and turn the way it ended into the
//! same outcome the local executor records.

use super::ctl::{self, JobInfo};
use super::poll::{Poller, Seen};
use super::script::{self, Program};
use super::state::{self, End, Phase};
use super::SlurmJob;
use crate::sched::runner::{Attempt, Ended, Outcome, Stop};
use crate::sched::tail::Tailer;
use anyhow::Context;
use ddmd_core::text::{duration, DurationStyle};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Consecutive failed polls (an unreachable controller) before the attempt gives up.
const MAX_POLL_ERRORS: u32 = 30;
/// How long to wait for Slurm to confirm a cancellation before recording it anyway.
const CANCEL_WAIT: Duration = Duration::from_secs(30);

/// Follows the job on Slurm to its end; the caller prepared `job.json` and records the outcome.
pub async fn run(a: &mut Attempt, sj: SlurmJob, job_json: &Path) -> anyhow::Result<Outcome> {
    let run = a.job_file.run_id;
    let job_dir = a.job_file.job_dir.clone();
    let log = job_dir.join("log");
    let mut started: Option<Instant> = None;
    let id = match &sj.reattach {
        Some(r) => {
            a.progress.println(&format!(
                "{}: re-attached to Slurm job {}",
                a.job_file.job, r.slurm_id
            ));
            if r.running {
                started = Some(Instant::now());
                a.progress.started(a.ix, &a.job_file.job, &[]);
            }
            r.slurm_id.clone()
        }
        None => submit(a, &sj, &log, job_json).await?,
    };

    // Followed by the invocation's poller (one `squeue` for all jobs) until this returns.
    let followed = Followed::new(&sj.poller, &id);
    let mut tailer = Tailer::new(a.job_file.events.clone());
    let mut stopped_at: Option<Instant> = None;
    let mut timed_out = false;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let end: End = loop {
        tokio::select! {
            _ = tick.tick() => {
                a.drain(&mut tailer, run).await?;
                let now = Instant::now();
                let (seen, failures) = sj.poller.seen(&id);
                if failures.count >= MAX_POLL_ERRORS {
                    anyhow::bail!(
                        "lost track of Slurm job {id} ({} failed polls, the last: {}); it may still run: check `squeue -j {id}`",
                        failures.count,
                        failures.last.unwrap_or_default()
                    );
                }
                match seen {
                    Seen::Unknown => {}
                    Seen::Gone => {
                        if started.is_none() {
                            mark_started(a, &id, &JobInfo::default()).await?;
                        }
                        break state::from_exit_file(&id, read_exit(&job_dir));
                    }
                    Seen::Info(info) => {
                        let ph = state::phase(&id, &info);
                        if started.is_none() && ph != Phase::Queued {
                            started = Some(now);
                            mark_started(a, &id, &info).await?;
                        }
                        if let Phase::Ended(end) = ph {
                            break end;
                        }
                    }
                }
                // The stage timeout counts from the start on a node, not from submission.
                if let (Some(t), Some(s), false) = (a.timeout, started, timed_out) {
                    if now >= s + t && stopped_at.is_none() {
                        timed_out = true;
                        cancel(&id).await;
                        sj.poller.poll_soon();
                    }
                }
                if let Some(s) = stopped_at {
                    if now >= s + a.grace + CANCEL_WAIT {
                        break End {
                            ended: Ended::Cancelled,
                            exit_code: None,
                            error: Some(format!("Slurm job {id} did not confirm the cancellation in time")),
                        };
                    }
                }
            }
            changed = a.stop.changed() => {
                if changed.is_err() { continue; }
                let level = *a.stop.borrow();
                if level != Stop::Running && stopped_at.is_none() {
                    stopped_at = Some(Instant::now());
                    cancel(&id).await;
                    sj.poller.poll_soon();
                }
            }
        }
    };
    drop(followed);
    a.drain(&mut tailer, run).await?;
    if let Some(gpus) = read_gpus(&job_dir) {
        a.store.set_devices(run, &gpus).await?;
    }

    let outcome = if stopped_at.is_some() {
        Outcome {
            ended: Ended::Cancelled,
            error: Some(format!(
                "cancelled (interrupted by the user; Slurm job {id} cancelled)"
            )),
            exit_code: end.exit_code,
        }
    } else if timed_out {
        Outcome {
            ended: Ended::Failed,
            error: Some(format!(
                "timed out after {} (Slurm job {id} cancelled)",
                duration(
                    a.timeout.unwrap_or_default().as_secs_f64(),
                    DurationStyle::Compact
                )
            )),
            exit_code: end.exit_code,
        }
    } else {
        let error = match (end.ended, end.error) {
            (Ended::Failed, Some(msg)) => Some(a.failure_message(msg, &tailer, &log)),
            (_, error) => error,
        };
        Outcome {
            ended: end.ended,
            error,
            exit_code: end.exit_code,
        }
    };
    Ok(outcome)
}

/// Registers a job with the poller and forgets it on every way out of the attempt.
struct Followed<'a> {
    poller: &'a Arc<Poller>,
    id: String,
}

impl<'a> Followed<'a> {
    fn new(poller: &'a Arc<Poller>, id: &str) -> Self {
        poller.watch(id);
        Followed {
            poller,
            id: id.to_string(),
        }
    }
}

impl Drop for Followed<'_> {
    fn drop(&mut self) {
        self.poller.forget(&self.id);
    }
}

/// Writes the batch script and submits it; records the Slurm job id at once, so a
/// crash right after is re-attached rather than submitted again.
async fn submit(
    a: &mut Attempt,
    sj: &SlurmJob,
    log: &Path,
    job_json: &Path,
) -> anyhow::Result<String> {
    // The local executor's environment; the script sets CUDA_VISIBLE_DEVICES from Slurm's.
    let env = a.job_env();
    let jf = &a.job_file;
    // What an earlier attempt left must not be read as this attempt's.
    for name in [script::EXIT_FILE, script::GPUS_FILE] {
        let stale = jf.job_dir.join(name);
        if stale.exists() {
            std::fs::remove_file(&stale)
                .with_context(|| format!("cannot remove {}", stale.display()))?;
        }
    }

    let exe = crate::builtin::worker_path();
    let program = match &a.command {
        Some(c) => Program::Shell { command: c },
        None => Program::Worker {
            exe: &exe,
            job_json,
        },
    };
    let title = format!("run {} ({})", jf.run_id, jf.job);
    let text = script::render(
        &title,
        &env,
        sj.gpus,
        sj.launch.as_ref(),
        &a.cwd,
        &program,
        &jf.job_dir,
    );
    let script_path = jf.job_dir.join(script::SCRIPT_FILE);
    std::fs::write(&script_path, text)
        .with_context(|| format!("cannot write {}", script_path.display()))?;

    let name = script::job_name(jf.run_id.0, &jf.job.to_string());
    let args = script::sbatch_args(&sj.cfg, sj, &name, log, &a.cwd, a.timeout);
    let id = ctl::sbatch(&args, &script_path)
        .await
        .context("cannot submit the job to Slurm")?;
    a.store
        .set_executor_info(jf.run_id, Some(&id), None)
        .await?;
    if let (Some(l), Ok(n)) = (&sj.launch, id.parse::<u64>()) {
        let port = crate::sched::ports::slurm_port(&l.ports, n);
        a.store.set_rdzv_port(jf.run_id, port).await?;
    }
    tracing::info!("run {}: submitted as Slurm job {id}", jf.run_id);
    Ok(id)
}

async fn mark_started(a: &Attempt, id: &str, info: &JobInfo) -> anyhow::Result<()> {
    let jf = &a.job_file;
    a.store
        .mark_running(
            jf.run_id,
            &[],
            None,
            &jf.job_dir.display().to_string(),
            ddmd_core::events::now_secs(),
        )
        .await?;
    a.store
        .set_executor_info(jf.run_id, Some(id), info.node.as_deref())
        .await?;
    a.progress.started(a.ix, &jf.job, &[]);
    Ok(())
}

/// Cancellation is best effort: a job that ended meanwhile is fine, and a failure is logged
/// (polling then still sees the job and the stop deadline bounds the wait).
async fn cancel(id: &str) {
    if let Err(e) = ctl::scancel(id).await {
        tracing::warn!("cannot cancel Slurm job {id}: {e}");
    }
}

/// The GPU ids the script recorded; `None` when it recorded none (a CPU job, or one that never
/// started) or wrote something that is not a list of ids.
fn read_gpus(job_dir: &Path) -> Option<Vec<u32>> {
    let text = std::fs::read_to_string(job_dir.join(script::GPUS_FILE)).ok()?;
    let ids: Vec<u32> = text
        .trim()
        .split(',')
        .map(|s| s.trim().parse().ok())
        .collect::<Option<_>>()?;
    (!ids.is_empty()).then_some(ids)
}

fn read_exit(job_dir: &Path) -> Option<i32> {
    std::fs::read_to_string(job_dir.join(script::EXIT_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}
