//! The executor a `run` uses, resolved from the pipeline's `executor:` section and the command
//! line (the command line wins), before anything is written. The scheduler gets the result,
//! never the command-line types.

use crate::cli::{ExecutorArgs, ExecutorKind};
use crate::plan::nodes::NodesAvailable;
use crate::sched::executor::Executor;
use crate::sched::slurm::SlurmConfig;
use std::time::Duration;

/// The executor kind: the command line's, else the pipeline's `executor.kind`, else local.
pub fn kind(arg: Option<ExecutorKind>, spec: Option<&serde_json::Value>) -> ExecutorKind {
    arg.unwrap_or_else(
        || match spec.and_then(|v| v.get("kind")).and_then(|v| v.as_str()) {
            Some("slurm") => ExecutorKind::Slurm,
            _ => ExecutorKind::Local,
        },
    )
}

/// Whether jobs of this executor can span nodes.
pub fn nodes_available(kind: ExecutorKind) -> NodesAvailable {
    match kind {
        ExecutorKind::Local => NodesAvailable::OneMachine,
        ExecutorKind::Slurm => NodesAvailable::Allocation,
    }
}

/// Jobs submitted at once unless the pipeline or the command line says: well under the
/// `MaxSubmitJobs` clusters commonly set per user (often 500-5000).
pub const DEFAULT_MAX_SUBMITTED: u32 = 256;

pub fn resolve(args: &ExecutorArgs, spec: Option<&serde_json::Value>) -> Result<Executor, String> {
    let section = spec.and_then(|v| v.as_object());
    let text = |key: &str| {
        section
            .and_then(|s| s.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    if kind(args.executor, spec) != ExecutorKind::Slurm {
        return Ok(Executor::Local);
    }
    if args.slurm_max_submitted == Some(0) {
        return Err("--slurm-max-submitted 0: expected at least 1".into());
    }
    if !(args.slurm_poll_max.is_finite() && args.slurm_poll_max > 0.0) {
        return Err(format!(
            "--slurm-poll-max {}: expected a positive number of seconds",
            args.slurm_poll_max
        ));
    }
    let mut extra: Vec<String> = section
        .and_then(|s| s.get("extra"))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    extra.extend(args.slurm_extra.iter().cloned());
    Ok(Executor::slurm(SlurmConfig {
        partition: args.slurm_partition.clone().or_else(|| text("partition")),
        account: args.slurm_account.clone().or_else(|| text("account")),
        qos: args.slurm_qos.clone().or_else(|| text("qos")),
        extra,
        mem: args.slurm_mem.clone(),
        shared_paths: args.slurm_shared_paths.clone(),
        poll_max: Duration::from_secs_f64(args.slurm_poll_max),
        max_submitted: args
            .slurm_max_submitted
            .or_else(|| {
                section
                    .and_then(|s| s.get("max_submitted"))
                    .and_then(|v| v.as_u64())
                    .and_then(|v| u32::try_from(v).ok())
            })
            .unwrap_or(DEFAULT_MAX_SUBMITTED),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args() -> ExecutorArgs {
        ExecutorArgs {
            executor: None,
            slurm_partition: None,
            slurm_account: None,
            slurm_qos: None,
            slurm_extra: vec![],
            slurm_mem: None,
            slurm_shared_paths: None,
            slurm_poll_max: 5.0,
            slurm_max_submitted: None,
        }
    }

    #[test]
    fn the_command_line_wins_over_the_pipeline() {
        let spec =
            json!({"kind": "slurm", "partition": "gpu", "qos": "low", "extra": ["--exclusive"]});
        let Executor::Slurm(c, _) = resolve(&args(), Some(&spec)).unwrap() else {
            panic!("slurm expected");
        };
        assert_eq!(c.partition.as_deref(), Some("gpu"));
        assert_eq!(c.extra, vec!["--exclusive".to_string()]);
        let mut a = args();
        a.slurm_qos = Some("high".into());
        a.slurm_extra = vec!["--hold".into()];
        let Executor::Slurm(c, _) = resolve(&a, Some(&spec)).unwrap() else {
            panic!("slurm expected");
        };
        assert_eq!(c.qos.as_deref(), Some("high"));
        assert_eq!(
            c.extra,
            vec!["--exclusive".to_string(), "--hold".to_string()]
        );
        a.executor = Some(ExecutorKind::Local);
        assert!(matches!(resolve(&a, Some(&spec)).unwrap(), Executor::Local));
        assert!(matches!(resolve(&args(), None).unwrap(), Executor::Local));
        let mut a = args();
        a.executor = Some(ExecutorKind::Slurm);
        a.slurm_poll_max = 0.0;
        assert!(resolve(&a, None).unwrap_err().contains("--slurm-poll-max"));
    }
}
