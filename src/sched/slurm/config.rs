//! Slurm executor options (from the pipeline's `executor:` section and the command line) and
//! the checks made before anything is submitted: the Slurm commands exist, and the home folder
//! is on a filesystem the compute nodes can see.

use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub struct SlurmConfig {
    pub partition: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
    /// Extra sbatch arguments, passed as written (after ours, so they can override).
    pub extra: Vec<String>,
    /// Default `--mem` of every job (a job's `mem` parameter wins).
    pub mem: Option<String>,
    /// Prefixes the nodes see. `None`: refuse only homes that are node-local by convention
    /// (tmpfs, /tmp, /var/tmp, /dev/shm, /run).
    pub shared_paths: Option<Vec<PathBuf>>,
    /// Longest wait between two polls of the jobs' states.
    pub poll_max: Duration,
    /// Most jobs submitted at once (`executor.max_submitted`).
    pub max_submitted: u32,
}

impl Default for SlurmConfig {
    fn default() -> Self {
        SlurmConfig {
            partition: None,
            account: None,
            qos: None,
            extra: Vec::new(),
            mem: None,
            shared_paths: None,
            poll_max: Duration::from_secs(5),
            max_submitted: 256,
        }
    }
}

/// The Slurm client commands the executor calls.
pub const COMMANDS: [&str; 4] = ["sbatch", "scontrol", "squeue", "scancel"];

/// Directories that are local to each machine on every cluster we know of.
const NODE_LOCAL: [&str; 5] = ["/tmp", "/var/tmp", "/dev/shm", "/run", "/dev"];

impl SlurmConfig {
    /// Fails with a message a user can act on when jobs cannot work from this host.
    pub fn preflight(&self, home: &Path) -> Result<(), String> {
        for cmd in COMMANDS {
            if find_in_path(cmd).is_none() {
                return Err(format!(
                    "the slurm executor needs `{cmd}` on PATH and it is not there; install the \
                     Slurm client (Debian: slurm-client) on this submit host, or run with \
                     --executor local"
                ));
            }
        }
        self.check_shared(home)
    }

    /// The home holds job folders, events and artifacts that both this host and the nodes
    /// read and write, so it must be on a shared filesystem.
    pub fn check_shared(&self, home: &Path) -> Result<(), String> {
        let home = std::fs::canonicalize(home).unwrap_or_else(|_| home.to_path_buf());
        match &self.shared_paths {
            Some(prefixes) => {
                if prefixes.iter().any(|p| {
                    let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
                    home.starts_with(&p)
                }) {
                    Ok(())
                } else {
                    Err(format!(
                        "the home {} is not under any path shared with the Slurm nodes ({}); \
                         use a --home there, or list its filesystem in --slurm-shared-paths",
                        home.display(),
                        prefixes
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }
            None => {
                let local = NODE_LOCAL.iter().find(|p| home.starts_with(p));
                let why = match (local, is_tmpfs(&home)) {
                    (Some(p), _) => Some(format!("it is under {p}")),
                    (None, true) => Some("it is on a tmpfs".to_string()),
                    (None, false) => None,
                };
                match why {
                    None => Ok(()),
                    Some(why) => Err(format!(
                        "the home {} is probably not visible to the Slurm nodes ({why}, which is \
                         local to each machine); use a --home on a shared filesystem, or assert \
                         that it is shared with --slurm-shared-paths {} (e.g. on a single-node \
                         cluster)",
                        home.display(),
                        home.display()
                    )),
                }
            }
        }
    }
}

/// The full path of an executable found on PATH.
pub fn find_in_path(cmd: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(cmd)).find(|p| {
        std::fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

fn is_tmpfs(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let mut p = path.to_path_buf();
    // statfs needs an existing path: the home may not exist yet.
    while !p.exists() {
        if !p.pop() {
            return false;
        }
    }
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs writes into the zeroed struct we own; the path is a valid C string.
    unsafe {
        let mut s: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut s) == 0 && s.f_type as i64 == TMPFS_MAGIC
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_local_homes_are_refused_unless_asserted_shared() {
        let c = SlurmConfig::default();
        let err = c.check_shared(Path::new("/tmp/x/home")).unwrap_err();
        assert!(err.contains("under /tmp"), "{err}");
        assert!(err.contains("--slurm-shared-paths"), "{err}");
        let c = SlurmConfig {
            shared_paths: Some(vec![PathBuf::from("/tmp")]),
            ..SlurmConfig::default()
        };
        assert!(c.check_shared(Path::new("/tmp/x/home")).is_ok());
        let c = SlurmConfig {
            shared_paths: Some(vec![PathBuf::from("/nfs/projects")]),
            ..SlurmConfig::default()
        };
        let err = c.check_shared(Path::new("/tmp/x/home")).unwrap_err();
        assert!(err.contains("/nfs/projects"), "{err}");
    }

    #[test]
    fn a_prefix_matches_whole_components_only() {
        let c = SlurmConfig {
            shared_paths: Some(vec![PathBuf::from("/shared")]),
            ..SlurmConfig::default()
        };
        assert!(c.check_shared(Path::new("/shared/me/home")).is_ok());
        assert!(c.check_shared(Path::new("/shared-not/home")).is_err());
    }
}
