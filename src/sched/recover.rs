//! After a crash: runs that a dead orchestrator left `queued` or `running` are closed
//! (their process groups stopped, their remaining events ingested, status `cancelled` with
//! the reason) so that the next `run` can start them again without losing or duplicating rows.

use super::local;
use super::tail::Tailer;
use ddmd_store::{RunFinish, Store};
use std::path::Path;

/// Closes the stale runs of `pipeline_id` (we hold its lock, so none of them is alive in
/// another orchestrator) and those of any pipeline whose orchestrator process is gone.
/// Runs in `keep` (Slurm jobs that are re-attached instead) are left open.
pub async fn recover_stale(
    store: &Store,
    pipeline_id: ddmd_core::PipelineId,
    keep: &std::collections::HashSet<ddmd_core::RunId>,
) -> anyhow::Result<usize> {
    let host = hostname();
    // Runs and their owners in one read: read apart, an orchestrator that ends in between
    // would look dead while its runs still look unfinished.
    let stale = store.unfinished_runs_with_owner().await?;
    let mut closed = 0;
    let mut dead_invocations = std::collections::BTreeSet::new();
    for (run, owner) in stale.into_iter().filter(|(r, _)| !keep.contains(&r.id)) {
        let ours = run.pipeline_id == pipeline_id;
        let alive = owner.is_some_and(|(pid, h)| h == host && pid_alive(pid));
        if !ours && alive {
            continue;
        }
        let finish = RunFinish {
            status: ddmd_core::RunStatus::Cancelled,
            exit_code: None,
            error: Some(format!(
                "the orchestrator (invocation {}) stopped before this job ended; it is rerun",
                run.invocation_id
            )),
            ended_at: ddmd_core::events::now_secs(),
            artifact_dir: None,
        };
        // Guarded: a run that ended since the read above keeps its own status.
        if !store.close_stale_run(run.id, &finish).await? {
            continue;
        }
        if let Some(pgid) = run.pgid {
            if local::group_alive(pgid) {
                local::signal_group(pgid, libc::SIGKILL);
            }
        }
        if let Some(dir) = &run.job_dir {
            let mut t = Tailer::new(Path::new(dir).join("events.jsonl"));
            loop {
                let batch = t.poll()?;
                if !batch.is_empty() {
                    store.ingest_lines(run.id, &batch).await?;
                } else if !t.behind() {
                    // An empty read with data left is a line longer than one read (16 MiB):
                    // read on, or everything after it would be lost.
                    break;
                }
            }
        }
        dead_invocations.insert(run.invocation_id);
        closed += 1;
    }
    for inv in dead_invocations {
        store.mark_invocation_crashed(inv).await?;
    }
    Ok(closed)
}

fn pid_alive(pid: i64) -> bool {
    // SAFETY: signal 0 only checks whether the process exists.
    pid > 0 && unsafe { libc::kill(pid as i32, 0) == 0 }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}
