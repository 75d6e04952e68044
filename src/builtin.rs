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

/// What `ddmd-pipe devices` prints: whether libtorch sees CUDA, and the GPUs a run would use.
pub fn describe_devices() -> String {
    #[cfg(feature = "science")]
    {
        let n = tch::Cuda::device_count();
        let mut out = format!(
            "libtorch: CUDA available: {}, cuDNN: {}, devices: {n}\n",
            tch::Cuda::is_available(),
            tch::Cuda::cudnn_is_available()
        );
        if n > 0 {
            // A real allocation, so "available" is not just a driver probe.
            let t = tch::Tensor::ones([1024, 1024], (tch::Kind::Float, tch::Device::Cuda(0)));
            let sum = t.sum(tch::Kind::Float).double_value(&[]);
            out.push_str(&format!(
                "cuda:0 matmul check: sum of ones(1024x1024) = {sum}\n"
            ));
        }
        out
    }
    #[cfg(not(feature = "science"))]
    {
        "built without the `science` feature: no libtorch, CPU only\n".to_string()
    }
}
