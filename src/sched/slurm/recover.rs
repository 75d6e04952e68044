//! After an orchestrator crash: unfinished runs whose Slurm job is still known to Slurm (or
//! whose script already wrote its exit code) are re-attached by the next `run` instead of
//! being closed and submitted again. Runs the plan no longer has are cancelled in Slurm.

use super::ctl;
use super::script::{job_name, EXIT_FILE};
use crate::home::Home;
use crate::plan::status::Decision;
use crate::plan::{JobIx, Plan};
use ddmd_core::RunId;
use ddmd_store::{RunFinish, RunRow, Store};
use std::collections::{HashMap, HashSet};

/// An unfinished run that a new orchestrator follows instead of submitting again.
#[derive(Clone, Debug, PartialEq)]
pub struct Reattach {
    pub run: RunId,
    pub slurm_id: String,
    pub attempt: u32,
    /// Already recorded as running (its start time is kept).
    pub running: bool,
}

/// An unfinished run with a Slurm job behind it.
#[derive(Clone, Debug)]
pub struct Found {
    pub row: RunRow,
    pub slurm_id: String,
}

/// Unfinished runs (any pipeline) whose Slurm job can still be followed. A run without a
/// recorded Slurm id (the orchestrator died between `sbatch` and recording its answer) is
/// looked up by its job name, which carries the run id. Fails when Slurm cannot be asked:
/// closing runs whose jobs may be alive would submit them twice.
pub async fn attachable(store: &Store, home: &Home) -> anyhow::Result<Vec<Found>> {
    let mut out = Vec::new();
    for row in store.unfinished_runs().await? {
        let id = match &row.executor_id {
            Some(id) => Some(id.clone()),
            None => ctl::ids_by_name(&job_name(row.id.0, &row.job_name))
                .await?
                .into_iter()
                .next(),
        };
        let Some(id) = id else { continue };
        if row.executor_id.is_none() {
            store.set_executor_info(row.id, Some(&id), None).await?;
        }
        let known =
            ctl::show_job(&id).await?.is_some() || home.job_dir(row.id).join(EXIT_FILE).exists();
        if known {
            out.push(Found { row, slurm_id: id });
        }
    }
    Ok(out)
}

/// The run ids of `found`, which crash recovery must leave open.
pub fn keep_open(found: &[Found]) -> HashSet<RunId> {
    found.iter().map(|f| f.row.id).collect()
}

/// Matches this pipeline's re-attachable runs to the jobs of the plan (same job name and
/// cache key, and the job is to run). The others are cancelled in Slurm and closed.
pub async fn adopt(
    store: &Store,
    plan: &Plan,
    decisions: &[Decision],
    pipeline_id: ddmd_core::PipelineId,
    found: Vec<Found>,
) -> anyhow::Result<HashMap<JobIx, Reattach>> {
    let mut map = HashMap::new();
    for f in found
        .into_iter()
        .filter(|f| f.row.pipeline_id == pipeline_id)
    {
        let ix = plan.jobs.iter().enumerate().position(|(ix, j)| {
            j.id.to_string() == f.row.job_name
                && j.cache_key == f.row.cache_key
                && matches!(decisions.get(ix), Some(Decision::Run { .. }))
                && !map.contains_key(&ix)
        });
        match ix {
            Some(ix) => {
                map.insert(
                    ix,
                    Reattach {
                        run: f.row.id,
                        slurm_id: f.slurm_id,
                        attempt: f.row.attempt,
                        running: f.row.status == ddmd_core::RunStatus::Running,
                    },
                );
            }
            None => {
                if let Err(e) = ctl::scancel(&f.slurm_id).await {
                    tracing::warn!("cannot cancel Slurm job {}: {e}", f.slurm_id);
                }
                store
                    .finish_run(
                        f.row.id,
                        &RunFinish {
                            status: ddmd_core::RunStatus::Cancelled,
                            exit_code: None,
                            error: Some(format!(
                                "the orchestrator stopped before this job ended and the plan no \
                                 longer runs it; Slurm job {} cancelled",
                                f.slurm_id
                            )),
                            ended_at: ddmd_core::events::now_secs(),
                            artifact_dir: None,
                        },
                    )
                    .await?;
            }
        }
    }
    Ok(map)
}
