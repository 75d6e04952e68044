//! The built-in stage kinds and the commands that come with them, behind the `science` and
//! `reports` features. This is the only file that calls into those crates.

use anyhow::Result;
use ddmd_core::{EventSink, JobFile, StageKind};

/// Runs a built-in stage in the worker process.
pub fn run_stage(job: &JobFile, sink: &mut EventSink) -> Result<()> {
    // libtorch would start one thread per core in every job; jobs sharing a machine would
    // then fight for cores. Use the CPU slots the scheduler granted.
    #[cfg(feature = "science")]
    if let Some(n) = std::env::var("DDMD_CPUS")
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    {
        if n > 0 {
            tch::set_num_threads(n);
            tch::set_num_interop_threads(1);
        }
    }
    match job.kind {
        #[cfg(feature = "science")]
        StageKind::Teacher => ddmd_science::run_teacher_stage(job, sink),
        #[cfg(feature = "science")]
        StageKind::Distill => ddmd_science::run_distill_stage(job, sink),
        #[cfg(feature = "science")]
        StageKind::Judge => ddmd_eval::run_judge_stage(job, sink),
        #[cfg(feature = "science")]
        StageKind::Evaluate => ddmd_eval::run_evaluate_stage(job, sink),
        #[cfg(feature = "reports")]
        StageKind::Report => ddmd_report::run_report_stage(job, sink),
        StageKind::Command => Err(anyhow::anyhow!(
            "command stages run their shell command, not a worker"
        )),
        #[allow(unreachable_patterns)]
        other => {
            let _ = sink;
            Err(anyhow::anyhow!(
                "this ddmd-pipe was built without the `{other}` stage (cargo features `science`, `reports`)"
            ))
        }
    }
}

/// Number of CUDA devices libtorch sees (0 without the `science` feature).
pub fn cuda_device_count() -> u32 {
    #[cfg(feature = "science")]
    {
        tch::Cuda::device_count().max(0) as u32
    }
    #[cfg(not(feature = "science"))]
    {
        0
    }
}

/// Checks the parameters of a report stage before anything runs.
pub fn check_report_params(
    params: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    #[cfg(feature = "reports")]
    {
        ddmd_report::parse_report_params(params)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    #[cfg(not(feature = "reports"))]
    {
        let _ = params;
        Ok(())
    }
}
