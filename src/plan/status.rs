//! Which jobs of a plan would run, and why (DESIGN §5): a job is cached when a succeeded run
//! with its cache key exists and its artifact folder is present. Another job runs, and the
//! reason says what happened to its latest run (`run 4 failed`) or what changed since it
//! (`changed since run 3: iterations 160 → 400`). Reads the database read-only, so `plan`
//! never writes anything.

use super::{JobIx, Plan};
use ddmd_core::{RunId, RunStatus, StageName};
use ddmd_store::{LatestRun, ReadStore};
use std::collections::HashMap;
use std::path::Path;

#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Cached {
        run: RunId,
    },
    /// `forced` when `--force` asked for it (then nothing that exists is taken as its result).
    Run {
        reason: String,
        forced: bool,
    },
}

/// What `--force` asked for.
#[derive(Clone, Debug, Default)]
pub enum Force {
    #[default]
    Nothing,
    All,
    /// These stages and everything downstream of them.
    Stages(Vec<StageName>),
}

/// Succeeded runs known to the database (cache key -> run), and the latest run of each job of
/// this pipeline.
#[derive(Default)]
pub struct History {
    by_key: HashMap<String, RunId>,
    latest_by_job: HashMap<String, LatestRun>,
}

impl History {
    pub async fn load(db: &Path, pipeline: &str) -> anyhow::Result<History> {
        let mut h = History::default();
        if !db.exists() {
            return Ok(h);
        }
        let store = ReadStore::open(db).await?;
        let runs = store.succeeded_runs().await?;
        let latest = store.latest_runs(pipeline).await?;
        store.close().await?;
        for r in runs {
            let e = h.by_key.entry(r.cache_key.0.clone()).or_insert(r.run);
            if r.run.0 > e.0 {
                *e = r.run;
            }
        }
        for r in latest {
            h.latest_by_job.insert(r.job_name.clone(), r);
        }
        Ok(h)
    }
}

pub fn decide(plan: &Plan, history: &History, home: &Path, force: &Force) -> Vec<Decision> {
    let forced: Vec<bool> = match force {
        Force::Nothing => vec![false; plan.jobs.len()],
        Force::All => vec![true; plan.jobs.len()],
        Force::Stages(stages) => {
            let mut f = vec![false; plan.jobs.len()];
            for (ix, job) in plan.jobs.iter().enumerate() {
                if stages.contains(&job.stage) {
                    f[ix] = true;
                    for d in plan.dependants(ix) {
                        f[d] = true;
                    }
                }
            }
            f
        }
    };
    plan.jobs
        .iter()
        .enumerate()
        .map(|(ix, job)| {
            if forced[ix] {
                return Decision::Run {
                    reason: "forced (--force)".into(),
                    forced: true,
                };
            }
            match history.by_key.get(&job.cache_key.0) {
                Some(&run) => {
                    if ddmd_core::layout::Layout::new(home)
                        .artifact_dir(&job.cache_key)
                        .is_dir()
                    {
                        Decision::Cached { run }
                    } else {
                        Decision::Run {
                            reason: format!("run {run} succeeded but its artifacts are missing"),
                            forced: false,
                        }
                    }
                }
                None => Decision::Run {
                    reason: match history.latest_by_job.get(job.id.as_str()) {
                        Some(last) => why_again(plan, ix, last),
                        None => "no previous run".into(),
                    },
                    forced: false,
                },
            }
        })
        .collect()
}

/// Why a job whose key has no result runs although it ran before: how its latest run ended,
/// and what changed since.
fn why_again(plan: &Plan, ix: JobIx, last: &LatestRun) -> String {
    let run = last.run;
    let ended = match last.status {
        RunStatus::Failed => Some(format!("run {run} failed")),
        RunStatus::Cancelled => Some(format!("run {run} was cancelled")),
        RunStatus::Requeued => Some(format!(
            "run {run} was ended by the cluster (preempted or its node lost)"
        )),
        RunStatus::Skipped => Some(format!(
            "run {run} was skipped (a job it needs did not succeed)"
        )),
        RunStatus::Queued | RunStatus::Running => Some(format!("run {run} did not finish")),
        RunStatus::Succeeded | RunStatus::Cached => None,
    };
    let same_key = last.cache_key == plan.jobs[ix].cache_key;
    let changes = if same_key {
        None
    } else {
        super::changes::describe(plan, ix, last)
    };
    match (ended, changes) {
        (Some(e), Some(c)) => format!("{e}; changed since: {c}"),
        (Some(e), None) => e,
        (None, Some(c)) => format!("changed since run {run}: {c}"),
        (None, None) => format!(
            "parameters, inputs or upstream results changed since run {run} (recorded before ddmd-pipe kept what its cache key was made of)"
        ),
    }
}
