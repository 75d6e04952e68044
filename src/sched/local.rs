//! Local executor: a job is a child process in its own process group (so a signal reaches
//! everything it started), with its output in `<job_dir>/log`.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use tokio::process::{Child, Command};

pub enum Program<'a> {
    /// `ddmd-pipe-worker job <job.json>` for built-in stages.
    Worker { exe: &'a Path, job_json: &'a Path },
    /// `sh -c <command>` for command stages.
    Shell { command: &'a str },
}

pub struct Spawned {
    pub child: Child,
    pub pgid: i32,
}

pub fn spawn(
    program: Program<'_>,
    cwd: &Path,
    env: &[(String, String)],
    log: &Path,
) -> std::io::Result<Spawned> {
    let mut cmd = match program {
        Program::Worker { exe, job_json } => {
            let mut c = Command::new(exe);
            c.arg("job").arg(job_json);
            c
        }
        Program::Shell { command } => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(command);
            c
        }
    };
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let err = out.try_clone()?;
    cmd.current_dir(cwd)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .process_group(0)
        .kill_on_drop(false);
    let child = cmd.spawn()?;
    let pgid = child.id().map(|p| p as i32).unwrap_or(0);
    Ok(Spawned { child, pgid })
}

/// Sends `sig` to a whole process group. A group that is already gone is not an error.
pub fn signal_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) with a negative pid addresses a process group; no memory involved.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// True while any process of the group exists.
pub fn group_alive(pgid: i32) -> bool {
    if pgid <= 1 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// How a process ended, in words a user can act on.
pub fn describe_exit(status: std::process::ExitStatus) -> (Option<i32>, Option<String>) {
    if let Some(code) = status.code() {
        if code == 0 {
            (Some(0), None)
        } else if (129..=128 + 64).contains(&code) {
            // A command stage runs under `sh -c`: a program it started that dies of a signal
            // shows up as the shell's exit code 128 + signal. Name the signal all the same.
            let sig = code - 128;
            (
                Some(code),
                Some(format!(
                    "exited with code {code}: its program was killed by signal {sig} ({})",
                    signal_name(sig)
                )),
            )
        } else {
            (Some(code), Some(format!("exited with code {code}")))
        }
    } else if let Some(sig) = status.signal() {
        (
            None,
            Some(format!("killed by signal {sig} ({})", signal_name(sig))),
        )
    } else {
        (None, Some("ended without an exit status".into()))
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV: segmentation fault",
        libc::SIGABRT => "SIGABRT: aborted",
        libc::SIGKILL => "SIGKILL: killed (out of memory, or by hand)",
        libc::SIGTERM => "SIGTERM: terminated",
        libc::SIGBUS => "SIGBUS: bus error",
        libc::SIGFPE => "SIGFPE: arithmetic error",
        libc::SIGINT => "SIGINT: interrupted",
        _ => "signal",
    }
}

/// The last `n` lines of a log, for error messages.
pub fn log_tail(log: &Path, n: usize) -> String {
    let Ok(bytes) = std::fs::read(log) else {
        return String::new();
    };
    let start = bytes.len().saturating_sub(64 * 1024);
    let text = String::from_utf8_lossy(&bytes[start..]);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
