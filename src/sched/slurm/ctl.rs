//! Calls the Slurm client commands (`sbatch`, `scontrol`, `squeue`, `scancel`) and parses
//! what they print. Every call has a time limit, so an unresponsive controller surfaces as an
//! error instead of a hung orchestrator.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tokio::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error("cannot run `{cmd}`: {source}")]
    Spawn { cmd: String, source: std::io::Error },
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Failed {
        cmd: String,
        status: String,
        stderr: String,
    },
    #[error("`{cmd}` did not answer within {secs}s (is slurmctld up?)")]
    Timeout { cmd: String, secs: u64 },
    #[error("`{cmd}` printed something unexpected: {output:?}")]
    Parse { cmd: String, output: String },
}

/// Time limit of one Slurm command.
const CALL_LIMIT: Duration = Duration::from_secs(60);

struct Out {
    ok: bool,
    status: String,
    stdout: String,
    stderr: String,
}

async fn call(program: &str, args: &[String]) -> Result<Out, SlurmError> {
    let cmd = format!("{program} {}", args.join(" "));
    let mut c = Command::new(program);
    c.args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(CALL_LIMIT, c.output()).await {
        Err(_) => {
            return Err(SlurmError::Timeout {
                cmd,
                secs: CALL_LIMIT.as_secs(),
            })
        }
        Ok(Err(source)) => return Err(SlurmError::Spawn { cmd, source }),
        Ok(Ok(o)) => o,
    };
    Ok(Out {
        ok: out.status.success(),
        status: out.status.to_string(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

fn failed(program: &str, args: &[String], o: Out) -> SlurmError {
    SlurmError::Failed {
        cmd: format!("{program} {}", args.join(" ")),
        status: o.status,
        stderr: o.stderr,
    }
}

/// Submits `script` with `args`; returns the Slurm job id.
pub async fn sbatch(args: &[String], script: &Path) -> Result<String, SlurmError> {
    let mut all = args.to_vec();
    all.push(script.display().to_string());
    let o = call("sbatch", &all).await?;
    if !o.ok {
        return Err(failed("sbatch", &all, o));
    }
    parse_parsable(&o.stdout).ok_or_else(|| SlurmError::Parse {
        cmd: format!("sbatch {}", all.join(" ")),
        output: o.stdout.clone(),
    })
}

/// `sbatch --parsable` prints `<id>` or `<id>;<cluster>`.
pub fn parse_parsable(stdout: &str) -> Option<String> {
    let line = stdout.lines().map(str::trim).rfind(|l| !l.is_empty())?;
    let id = line.split(';').next()?.trim();
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then(|| id.to_string())
}

/// One job as `scontrol show job -o` describes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobInfo {
    pub state: String,
    /// `ExitCode=<code>:<signal>`.
    pub exit_code: Option<(i32, i32)>,
    /// Where it runs or ran; `None` while pending.
    pub node: Option<String>,
    pub reason: Option<String>,
}

/// The job's state, or `None` when Slurm no longer knows it (ended and purged, or never
/// existed).
pub async fn show_job(id: &str) -> Result<Option<JobInfo>, SlurmError> {
    let args = vec![
        "show".to_string(),
        "job".into(),
        "-o".into(),
        id.to_string(),
    ];
    let o = call("scontrol", &args).await?;
    if !o.ok {
        if o.stderr.contains("Invalid job id") {
            return Ok(None);
        }
        return Err(failed("scontrol", &args, o));
    }
    let fields = parse_fields(&o.stdout);
    if fields.get("JobId").map(String::as_str) != Some(id) {
        return Err(SlurmError::Parse {
            cmd: format!("scontrol {}", args.join(" ")),
            output: o.stdout.clone(),
        });
    }
    Ok(Some(job_info(&fields)))
}

pub fn job_info(f: &BTreeMap<String, String>) -> JobInfo {
    let none_if_null = |v: Option<&String>| {
        v.filter(|s| !s.is_empty() && *s != "(null)" && *s != "None")
            .cloned()
    };
    JobInfo {
        state: f.get("JobState").cloned().unwrap_or_default(),
        exit_code: f.get("ExitCode").and_then(|v| {
            let (a, b) = v.split_once(':')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        }),
        node: none_if_null(f.get("NodeList")),
        reason: none_if_null(f.get("Reason")),
    }
}

/// `Key=Value Key=Value ...` on one line (the first job's line when several are printed). A
/// word without `=` continues the previous value (values such as a command line can hold
/// spaces).
pub fn parse_fields(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(line) = text.lines().find(|l| !l.trim().is_empty()) else {
        return out;
    };
    let mut last: Option<String> = None;
    for word in line.split_whitespace() {
        match word.split_once('=') {
            Some((k, v))
                if !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == ':' || c == '/') =>
            {
                out.insert(k.to_string(), v.to_string());
                last = Some(k.to_string());
            }
            _ => {
                if let Some(v) = last.as_ref().and_then(|k| out.get_mut(k)) {
                    v.push(' ');
                    v.push_str(word);
                }
            }
        }
    }
    out
}

/// The state of many jobs in one controller call: `squeue` for exactly these ids, in any state
/// Slurm still remembers. A job missing from the answer has left the queue (ended and
/// purged after `MinJobAge`, or never existed); the caller asks `scontrol` about it alone.
pub async fn squeue_jobs(ids: &[String]) -> Result<BTreeMap<String, JobInfo>, SlurmError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let args = vec![
        "-h".to_string(),
        "-t".into(),
        "all".into(),
        "-j".into(),
        ids.join(","),
        "-O".into(),
        SQUEUE_FIELDS.into(),
    ];
    let o = call("squeue", &args).await?;
    if !o.ok {
        // Some versions refuse the whole list when every id in it is unknown.
        if o.stderr.contains("Invalid job id") {
            return Ok(BTreeMap::new());
        }
        return Err(failed("squeue", &args, o));
    }
    parse_squeue(&o.stdout).ok_or_else(|| SlurmError::Parse {
        cmd: format!("squeue {}", args.join(" ")),
        output: o.stdout.clone(),
    })
}

/// `squeue -O` fields, each ended by `|` (the field's suffix): id, state, nodes, reason and
/// the raw wait status (`exit_code`: code << 8 | signal).
const SQUEUE_FIELDS: &str = "JobID:|,State:|,NodeList:|,Reason:|,exit_code:|";

/// Lines of `id|STATE|nodes|reason|status|`; `None` when a line has another shape.
pub fn parse_squeue(stdout: &str) -> Option<BTreeMap<String, JobInfo>> {
    let mut out = BTreeMap::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('|').map(str::trim).collect();
        if f.len() < 5 || f[0].is_empty() || !f[0].chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let none_if_null =
            |v: &str| (!v.is_empty() && v != "(null)" && v != "None").then(|| v.to_string());
        let exit_code = f[4].parse::<i32>().ok().map(|w| (w >> 8, w & 0x7f));
        out.insert(
            f[0].to_string(),
            JobInfo {
                state: f[1].to_string(),
                exit_code,
                node: none_if_null(f[2]),
                reason: none_if_null(f[3]),
            },
        );
    }
    Some(out)
}

/// Ids of jobs with this exact name, in any state Slurm still remembers.
pub async fn ids_by_name(name: &str) -> Result<Vec<String>, SlurmError> {
    let args = vec![
        "-h".to_string(),
        "-t".into(),
        "all".into(),
        "-o".into(),
        "%i|%j".into(),
        "--name".into(),
        name.to_string(),
    ];
    let o = call("squeue", &args).await?;
    if !o.ok {
        return Err(failed("squeue", &args, o));
    }
    Ok(o.stdout
        .lines()
        .filter_map(|l| l.split_once('|'))
        // squeue matches names itself, but compare again: a name is our only key here.
        .filter(|(_, n)| *n == name)
        .map(|(i, _)| i.trim().to_string())
        .collect())
}

/// Asks Slurm to cancel a job. One that already ended is not an error.
pub async fn scancel(id: &str) -> Result<(), SlurmError> {
    let args = vec![id.to_string()];
    let o = call("scancel", &args).await?;
    if !o.ok
        && !o.stderr.contains("already completing or completed")
        && !o.stderr.contains("Invalid job id")
    {
        return Err(failed("scancel", &args, o));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsable_ids() {
        assert_eq!(parse_parsable("42\n").as_deref(), Some("42"));
        assert_eq!(parse_parsable("42;cluster\n").as_deref(), Some("42"));
        assert_eq!(
            parse_parsable("sbatch: warning: x\n17\n").as_deref(),
            Some("17")
        );
        assert_eq!(parse_parsable("Submitted batch job 42\n"), None);
        assert_eq!(parse_parsable(""), None);
    }

    #[test]
    fn squeue_lines() {
        // Shape of `squeue -h -t all -j 17,18,19 -O <SQUEUE_FIELDS>` from Slurm 22.05.
        let text = "17|FAILED|vm|NonZeroExitCode|768|\n18|FAILED|vm|JobLaunchFailure|9|\n\
                    19|PENDING||Resources|0|\n";
        let m = parse_squeue(text).unwrap();
        assert_eq!(m["17"].exit_code, Some((3, 0)));
        assert_eq!(m["17"].node.as_deref(), Some("vm"));
        assert_eq!(m["18"].exit_code, Some((0, 9)));
        assert_eq!(m["19"].node, None);
        assert_eq!(m["19"].reason.as_deref(), Some("Resources"));
        assert_eq!(m["19"].state, "PENDING");
        assert!(parse_squeue("").unwrap().is_empty());
        assert_eq!(parse_squeue("squeue: error: something\n"), None);
    }

    #[test]
    fn scontrol_one_liner() {
        // Shape of `scontrol show job -o` from Slurm 22.05 (abridged).
        let text = "JobId=7 JobName=ddmd-3-train_i_1_ UserId=root(0) GroupId=root(0) \
                    Priority=1 JobState=FAILED Reason=NonZeroExitCode Dependency=(null) \
                    ExitCode=3:0 RunTime=00:00:02 NodeList=vm BatchHost=vm \
                    Command=/tmp/a dir/slurm.sh WorkDir=/tmp\n";
        let f = parse_fields(text);
        assert_eq!(f["Command"], "/tmp/a dir/slurm.sh");
        let info = job_info(&f);
        assert_eq!(
            info,
            JobInfo {
                state: "FAILED".into(),
                exit_code: Some((3, 0)),
                node: Some("vm".into()),
                reason: Some("NonZeroExitCode".into()),
            }
        );
        let pending = job_info(&parse_fields(
            "JobId=8 JobState=PENDING Reason=Resources ExitCode=0:0 NodeList=(null)",
        ));
        assert_eq!(pending.node, None);
        assert_eq!(pending.reason.as_deref(), Some("Resources"));
    }
}
