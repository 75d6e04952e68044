//! Slurm job states mapped onto what the orchestrator records: still queued, running, or
//! ended (succeeded / failed / cancelled, with the reason in Slurm's words).

use super::ctl::JobInfo;
use crate::sched::runner::Ended;

#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    /// Not started yet (or requeued): no node, no process.
    Queued,
    /// A process exists (or is being cleaned up) on a node.
    Running,
    Ended(End),
}

/// How a Slurm job ended, as far as Slurm tells.
#[derive(Clone, Debug, PartialEq)]
pub struct End {
    pub ended: Ended,
    pub exit_code: Option<i32>,
    /// `None` for success; otherwise what to record as the run's error.
    pub error: Option<String>,
}

pub fn phase(id: &str, info: &JobInfo) -> Phase {
    // `JobState=CANCELLED` can carry a suffix in some outputs (`CANCELLED+`, `CANCELLED by 0`).
    let state = info
        .state
        .split(|c: char| !c.is_ascii_alphabetic() && c != '_')
        .next()
        .unwrap_or_default();
    let (code, signal) = info.exit_code.unwrap_or((0, 0));
    let failed = |what: String| {
        Phase::Ended(End {
            ended: Ended::Failed,
            exit_code: info.exit_code.map(|_| code),
            error: Some(format!("Slurm job {id} {what}")),
        })
    };
    let requeue = |what: &str| {
        Phase::Ended(End {
            ended: Ended::Requeued,
            exit_code: None,
            error: Some(format!("Slurm job {id} {what}; submitted again")),
        })
    };
    match state {
        "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED"
        | "RESV_DEL_HOLD" | "SPECIAL_EXIT" => Phase::Queued,
        "RUNNING" | "COMPLETING" | "STAGE_OUT" | "SIGNALING" | "SUSPENDED" | "RESIZING"
        | "STOPPED" => Phase::Running,
        "COMPLETED" if code == 0 && signal == 0 => Phase::Ended(End {
            ended: Ended::Succeeded,
            exit_code: Some(0),
            error: None,
        }),
        "COMPLETED" | "FAILED" => {
            if signal != 0 {
                failed(format!("was killed by signal {signal} (FAILED)"))
            } else {
                failed(format!("exited with code {code} (FAILED)"))
            }
        }
        "CANCELLED" => Phase::Ended(End {
            ended: Ended::Cancelled,
            exit_code: None,
            error: Some(format!(
                "Slurm job {id} was cancelled outside ddmd-pipe (CANCELLED: scancel, or an \
                 administrator)"
            )),
        }),
        "TIMEOUT" => failed("reached its Slurm time limit (TIMEOUT)".into()),
        // The cluster ended these, not the job: submitted again, not counted as a failure.
        "NODE_FAIL" => requeue("was lost with its node (NODE_FAIL)"),
        "PREEMPTED" => requeue("was preempted (PREEMPTED)"),
        "BOOT_FAIL" => requeue("could not boot its node (BOOT_FAIL)"),
        "OUT_OF_MEMORY" => {
            failed("ran out of memory (OUT_OF_MEMORY); ask for more with `mem`".into())
        }
        "DEADLINE" => failed("missed its deadline (DEADLINE)".into()),
        other => failed(format!("ended in an unknown state {other:?}")),
    }
}

/// The end of a job Slurm has forgotten, from the exit code its script wrote (if it could).
pub fn from_exit_file(id: &str, code: Option<i32>) -> End {
    match code {
        Some(0) => End {
            ended: Ended::Succeeded,
            exit_code: Some(0),
            error: None,
        },
        Some(c) => End {
            ended: Ended::Failed,
            exit_code: Some(c),
            error: Some(format!("Slurm job {id} exited with code {c}")),
        },
        None => End {
            ended: Ended::Failed,
            exit_code: None,
            error: Some(format!(
                "Slurm job {id} vanished from the queue without writing its exit code (killed \
                 before the end of its script, or its node was lost)"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(state: &str, exit: (i32, i32)) -> JobInfo {
        JobInfo {
            state: state.into(),
            exit_code: Some(exit),
            node: None,
            reason: None,
        }
    }

    /// Slurm state, ExitCode, expected end (`None`: not ended), words the outcome must hold.
    type Case = (&'static str, (i32, i32), Option<Ended>, &'static str);

    #[test]
    fn states_map_to_phases() {
        let table: &[Case] = &[
            ("PENDING", (0, 0), None, "queued"),
            ("REQUEUED", (0, 0), None, "queued"),
            ("RUNNING", (0, 0), None, "running"),
            ("COMPLETING", (0, 0), None, "running"),
            ("COMPLETED", (0, 0), Some(Ended::Succeeded), ""),
            ("FAILED", (3, 0), Some(Ended::Failed), "exited with code 3"),
            ("FAILED", (0, 9), Some(Ended::Failed), "signal 9"),
            (
                "CANCELLED",
                (0, 15),
                Some(Ended::Cancelled),
                "cancelled outside",
            ),
            ("CANCELLED+", (0, 0), Some(Ended::Cancelled), "CANCELLED"),
            ("TIMEOUT", (0, 0), Some(Ended::Failed), "time limit"),
            ("NODE_FAIL", (0, 0), Some(Ended::Requeued), "NODE_FAIL"),
            ("BOOT_FAIL", (0, 0), Some(Ended::Requeued), "BOOT_FAIL"),
            (
                "OUT_OF_MEMORY",
                (0, 0),
                Some(Ended::Failed),
                "out of memory",
            ),
            ("PREEMPTED", (0, 0), Some(Ended::Requeued), "preempted"),
            ("WEIRD", (0, 0), Some(Ended::Failed), "unknown state"),
        ];
        for (state, exit, ended, needle) in table {
            let p = phase("5", &info(state, *exit));
            match (ended, &p) {
                (None, Phase::Queued) => assert_eq!(*needle, "queued", "{state}"),
                (None, Phase::Running) => assert_eq!(*needle, "running", "{state}"),
                (Some(e), Phase::Ended(end)) => {
                    assert_eq!(end.ended, *e, "{state}");
                    let msg = end.error.clone().unwrap_or_default();
                    assert!(msg.contains(needle), "{state}: {msg}");
                    if *e != Ended::Succeeded {
                        assert!(msg.contains("Slurm job 5"), "{msg}");
                    }
                }
                _ => panic!("{state}: {p:?}"),
            }
        }
    }

    #[test]
    fn exit_file_decides_for_vanished_jobs() {
        assert_eq!(from_exit_file("1", Some(0)).ended, Ended::Succeeded);
        let f = from_exit_file("1", Some(2));
        assert_eq!((f.ended, f.exit_code), (Ended::Failed, Some(2)));
        let v = from_exit_file("1", None);
        assert!(v.error.unwrap().contains("vanished"));
    }
}
