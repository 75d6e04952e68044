//! Which jobs of a plan would run, and why (DESIGN §5): a job is cached when a succeeded run
//! with its cache key exists and its artifact folder is present. Reads the database read-only,
//! so `plan` never writes anything.

use super::Plan;
use ddmd_core::{RunId, StageName};
use ddmd_store::ReadStore;
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

/// Succeeded runs known to the database: cache key -> run, and job name -> keys seen.
#[derive(Default)]
pub struct History {
    by_key: HashMap<String, RunId>,
    keys_by_job: HashMap<String, Vec<(String, RunId)>>,
}

impl History {
    pub async fn load(db: &Path, pipeline: &str) -> anyhow::Result<History> {
        let mut h = History::default();
        if !db.exists() {
            return Ok(h);
        }
        let store = ReadStore::open(db).await?;
        let runs = store.succeeded_runs().await?;
        store.close().await?;
        for r in runs {
            let e = h.by_key.entry(r.cache_key.0.clone()).or_insert(r.run);
            if r.run.0 > e.0 {
                *e = r.run;
            }
            if r.pipeline == pipeline {
                h.keys_by_job
                    .entry(r.job_name)
                    .or_default()
                    .push((r.cache_key.0, r.run));
            }
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
                None => {
                    let previous = history
                        .keys_by_job
                        .get(job.id.as_str())
                        .and_then(|v| v.iter().max_by_key(|(_, id)| id.0));
                    Decision::Run {
                        reason: match previous {
                            Some((_, id)) => format!(
                                "parameters, inputs or upstream results changed since run {id}"
                            ),
                            None => "no previous run".into(),
                        },
                        forced: false,
                    }
                }
            }
        })
        .collect()
}
