//! The bridge to `ddmd-pipe-worker`, the separate binary that links libtorch and runs the
//! built-in stages (teacher, judge, distill, evaluate, report) and the tensor commands
//! (`fid`, `sample`, `devices`). Keeping libtorch out of this process makes `validate`,
//! `plan`, `query` and cached re-runs start in milliseconds instead of half a second.

use std::path::PathBuf;

pub const WORKER_BIN: &str = "ddmd-pipe-worker";

/// The worker binary: `$DDMD_WORKER`, else the one beside this executable, else `PATH`.
pub fn worker_path() -> PathBuf {
    if let Some(p) = std::env::var_os("DDMD_WORKER") {
        return PathBuf::from(p);
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            let sibling = dir.join(WORKER_BIN);
            if sibling.exists() {
                return sibling;
            }
        }
    }
    PathBuf::from(WORKER_BIN)
}

/// Number of CUDA devices libtorch sees, asked of the worker (only when no `--gpus`,
/// `--fake-gpus` or `CUDA_VISIBLE_DEVICES` decided already). A worker that cannot answer
/// counts as no GPU, with a warning that says why (never a silent 0).
pub fn cuda_device_count() -> u32 {
    let path = worker_path();
    let out = std::process::Command::new(&path)
        .args(["devices", "--count"])
        .output();
    let why = match out {
        Ok(o) if o.status.success() => match String::from_utf8_lossy(&o.stdout).trim().parse() {
            Ok(n) => return n,
            Err(_) => format!("it printed {:?}", String::from_utf8_lossy(&o.stdout).trim()),
        },
        Ok(o) => format!(
            "it exited with {}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => e.to_string(),
    };
    eprintln!(
        "warning: cannot count CUDA devices with {} ({why}); GPU jobs run on CPU",
        path.display()
    );
    0
}

/// Replaces this process with `ddmd-pipe-worker <sub> <args…>` (for `fid`, `sample`,
/// `devices`); returns only if the worker cannot be started.
pub fn exec_worker(sub: &str, args: &[String]) -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    let path = worker_path();
    // argv[0] is what clap names in `Usage:` lines: the user typed `ddmd-pipe fid`, not
    // `ddmd-pipe-worker fid`.
    let err = std::process::Command::new(&path)
        .arg0("ddmd-pipe")
        .arg(sub)
        .args(args)
        .exec();
    anyhow::anyhow!(
        "cannot start {} ({err}); build it with `cargo build --release` (it is part of the workspace) or set DDMD_WORKER",
        path.display()
    )
}
