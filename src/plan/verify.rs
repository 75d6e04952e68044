//! `--verify`: a cached job's result is taken only if its artifacts still hash to what was
//! recorded when it ran. The cache trusts that an artifact folder that exists is the one the
//! run wrote; a file edited, truncated or replaced since (by hand, a full disk, a bad copy)
//! would otherwise be handed to every downstream job. A mismatch reruns that job alone (its
//! cache key, so its dependants' keys, are unchanged), with the reason in the plan.

use super::status::Decision;
use super::Plan;
use ddmd_store::{check_artifact, ArtifactCheck, ReadStore};
use std::path::Path;

/// Turns each cached decision whose artifacts differ from their record into a forced run.
/// Returns how many cached results were checked and how many artifacts that took.
pub async fn verify(
    plan: &Plan,
    decisions: &mut [Decision],
    db: &Path,
    home: &Path,
) -> anyhow::Result<(usize, usize)> {
    if !db.exists() {
        return Ok((0, 0));
    }
    let store = ReadStore::open(db).await?;
    let layout = ddmd_core::layout::Layout::new(home);
    let (mut results, mut files) = (0, 0);
    for (ix, d) in decisions.iter_mut().enumerate() {
        let Decision::Cached { run } = *d else {
            continue;
        };
        let Some(detail) = store.run(run).await? else {
            continue;
        };
        results += 1;
        let dir = layout.artifact_dir(&plan.jobs[ix].cache_key);
        for a in &detail.artifacts {
            files += 1;
            let problem = match check_artifact(&a.path, a.sha256.as_deref(), &dir) {
                ArtifactCheck::Same | ArtifactCheck::NotRecorded => continue,
                ArtifactCheck::Missing => format!("artifact {} ({}) is missing", a.name, a.path),
                ArtifactCheck::Changed { recorded, now } => format!(
                    "artifact {} ({}) changed since run {run} wrote it (sha256 {} recorded, {} now)",
                    a.name,
                    a.path,
                    &recorded[..recorded.len().min(12)],
                    &now[..now.len().min(12)]
                ),
            };
            *d = Decision::Run {
                reason: format!("{problem} (--verify)"),
                forced: true,
            };
            break;
        }
    }
    store.close().await?;
    Ok((results, files))
}
