//! The home folder's layout (`--home`, `$DDMD_HOME`, default `.ddmd/`), in one place for the
//! orchestrator, the planner and the jobs that look into it (the report stage opens the
//! database, evaluate caches reference statistics):
//!
//! ```text
//! runs.sqlite                     the run database
//! artifacts/<cache-key>/          results of succeeded jobs (content-addressed)
//! artifacts/<cache-key>.partial/  being written; survives a crash so checkpoints resume
//! jobs/<run-id>/                  job.json, events.jsonl, log of one attempt
//! locks/<pipeline>.lock           one `run` of a pipeline at a time
//! locks/jobs/<cache-key>.lock     one execution of a job (by cache key) at a time
//! python/ddmd_events.py           the events helper command stages import
//! ```

use crate::ids::{CacheKey, RunId};
use std::path::{Path, PathBuf};

/// Paths inside a home folder. Pure: creates nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn db(&self) -> PathBuf {
        self.root.join("runs.sqlite")
    }

    pub fn artifact_dir(&self, key: &CacheKey) -> PathBuf {
        self.root.join("artifacts").join(&key.0)
    }

    pub fn partial_dir(&self, key: &CacheKey) -> PathBuf {
        self.root
            .join("artifacts")
            .join(format!("{}.partial", key.0))
    }

    pub fn job_dir(&self, run: RunId) -> PathBuf {
        self.root.join("jobs").join(run.to_string())
    }

    pub fn pipeline_locks(&self) -> PathBuf {
        self.root.join("locks")
    }

    pub fn job_locks(&self) -> PathBuf {
        self.root.join("locks").join("jobs")
    }

    /// One lock file per rendezvous port a running job holds.
    pub fn port_locks(&self) -> PathBuf {
        self.root.join("locks").join("ports")
    }

    pub fn python_dir(&self) -> PathBuf {
        self.root.join("python")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_where_the_docs_say() {
        let l = Layout::new("/h");
        let k = CacheKey("abc".into());
        assert_eq!(l.db(), Path::new("/h/runs.sqlite"));
        assert_eq!(l.artifact_dir(&k), Path::new("/h/artifacts/abc"));
        assert_eq!(l.partial_dir(&k), Path::new("/h/artifacts/abc.partial"));
        assert_eq!(l.job_dir(RunId(7)), Path::new("/h/jobs/7"));
        assert_eq!(l.job_locks(), Path::new("/h/locks/jobs"));
    }
}
