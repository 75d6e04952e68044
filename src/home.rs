//! The orchestrator's home folder: paths from `ddmd_core::layout::Layout` (documented there),
//! plus what only the orchestrator does with them: publishing a job's artifacts and the locks.

use ddmd_core::layout::Layout;
use ddmd_core::{CacheKey, RunId};
use std::fs::File;
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Home {
    root: PathBuf,
    layout: Layout,
}

impl Home {
    pub fn new(root: PathBuf) -> Home {
        // Absolute, so that paths handed to jobs work from any working directory.
        let root = if root.is_absolute() {
            root
        } else {
            std::env::current_dir()
                .map(|d| d.join(&root))
                .unwrap_or(root)
        };
        Home {
            layout: Layout::new(root.clone()),
            root,
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn db(&self) -> PathBuf {
        self.layout.db()
    }

    pub fn artifact_dir(&self, key: &CacheKey) -> PathBuf {
        self.layout.artifact_dir(key)
    }

    pub fn partial_dir(&self, key: &CacheKey) -> PathBuf {
        self.layout.partial_dir(key)
    }

    pub fn job_dir(&self, run: RunId) -> PathBuf {
        self.layout.job_dir(run)
    }

    /// Moves a finished job's folder into place. A stale final folder (left when a previous
    /// orchestrator died between the rename and recording success) is replaced.
    pub fn publish(&self, partial: &Path, key: &CacheKey) -> std::io::Result<PathBuf> {
        let fin = self.artifact_dir(key);
        if fin.exists() {
            std::fs::remove_dir_all(&fin)?;
        }
        std::fs::rename(partial, &fin)?;
        if let Some(parent) = fin.parent() {
            // Make the rename durable before the database says "succeeded".
            if let Ok(d) = File::open(parent) {
                let _ = d.sync_all();
            }
        }
        Ok(fin)
    }

    /// Takes the lock of a pipeline in this home. Held until the returned guard is dropped
    /// (or the process dies: flock locks die with their process, so a crash never leaves one).
    pub fn lock_pipeline(&self, pipeline: &str) -> Result<PipelineLock, String> {
        let path = self
            .layout
            .pipeline_locks()
            .join(format!("{pipeline}.lock"));
        match try_flock(&path, &std::process::id().to_string())? {
            Flock::Taken(file) => Ok(PipelineLock { _file: file }),
            Flock::Busy(holder) => Err(format!(
                "another `ddmd-pipe run` of pipeline `{pipeline}` is using {} (pid {holder}); wait for it to finish, or use another --home",
                self.root.display(),
            )),
        }
    }
}

impl Home {
    /// Takes the lock of a rendezvous port for this process's job, or `None` when another job
    /// of this home (any invocation) holds it.
    pub fn lock_port(&self, port: u16) -> Result<Option<File>, String> {
        let path = self.layout.port_locks().join(port.to_string());
        match try_flock(&path, &std::process::id().to_string())? {
            Flock::Taken(file) => Ok(Some(file)),
            Flock::Busy(_) => Ok(None),
        }
    }
}

/// The outcome of one non-blocking `flock`.
enum Flock {
    Taken(File),
    /// Held elsewhere; what the holder wrote into the file (maybe empty, if read too early).
    Busy(String),
}

/// Tries an exclusive `flock` on `path` (creating it and its folder) without waiting; on
/// success writes `holder` into it for whoever finds it busy.
fn try_flock(path: &Path, holder: &str) -> Result<Flock, String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    // SAFETY: flock on a file descriptor we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(format!("cannot lock {}: {err}", path.display()));
        }
        let text = std::fs::read_to_string(path).unwrap_or_default();
        return Ok(Flock::Busy(text.trim().to_string()));
    }
    let _ = file.set_len(0);
    let _ = write!(file, "{holder}");
    Ok(Flock::Taken(file))
}

pub struct PipelineLock {
    _file: File,
}

/// Who holds a job's lock, as its holder wrote it (`pid 123 on host, pipeline p, run 7`).
pub type Holder = String;

/// The outcome of trying to take a job's lock.
pub enum JobLockTry {
    Taken(JobLock),
    /// Another process (or another job of this one) runs the job with this cache key now.
    Busy(Holder),
}

/// Held while a job with a given cache key runs: two pipelines that share a job (the same
/// teacher in the quickstart and the ablations) must not both run it into one `.partial/`
/// folder. An flock, so it dies with its process and a crash never leaves it behind.
pub struct JobLock {
    _file: File,
}

impl Home {
    /// Tries (without waiting) to take the lock of the job with cache key `key`, writing
    /// `holder` into the lock file for whoever waits on it.
    pub fn try_lock_job(&self, key: &CacheKey, holder: &str) -> Result<JobLockTry, String> {
        let path = self.layout.job_locks().join(format!("{}.lock", key.0));
        Ok(match try_flock(&path, holder)? {
            Flock::Taken(file) => JobLockTry::Taken(JobLock { _file: file }),
            Flock::Busy(who) if who.is_empty() => JobLockTry::Busy("another process".into()),
            Flock::Busy(who) => JobLockTry::Busy(who),
        })
    }
}
