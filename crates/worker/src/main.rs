//! `ddmd-pipe-worker`: the only process that loads libtorch. The orchestrator (`ddmd-pipe`)
//! starts it for every built-in job (`ddmd-pipe-worker job <job.json>`) and hands it the
//! tensor commands (`fid`, `sample`, `devices`), so that planning, querying and cached re-runs
//! never pay libtorch's start-up (about half a second and 450 MB). A job talks to the
//! orchestrator only through its events file.

use clap::{Parser, Subcommand};
use ddmd_core::{EventSink, JobFile, StageKind};
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "ddmd-pipe-worker",
    version,
    about = "Runs ddmd-pipe's built-in jobs and tensor commands"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one built-in job described by a job file.
    Job { job: PathBuf },
    /// Fréchet Inception Distance between two image folders or .npz statistics.
    Fid(ddmd_eval::FidArgs),
    /// The built-in shapes prompts as a DPG-Bench CSV (and optionally their renders).
    Prompts(ddmd_eval::PromptsArgs),
    /// Sample images from a teacher or student checkpoint.
    Sample(ddmd_science::SampleArgs),
    /// Show whether libtorch sees CUDA.
    Devices {
        /// Print only the number of CUDA devices (used by the orchestrator).
        #[arg(long)]
        count: bool,
    },
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = match run(cli.command) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

fn run(cmd: Command) -> anyhow::Result<i32> {
    match cmd {
        Command::Job { job } => run_job(&job),
        Command::Fid(a) => {
            let fid = ddmd_eval::fid_command(a)?;
            println!("FID: {fid:.6}");
            Ok(0)
        }
        Command::Prompts(a) => ddmd_eval::prompts_command(&a).map(|_| 0),
        Command::Sample(a) => ddmd_science::sample_command(&a).map(|_| 0),
        Command::Devices { count } => {
            let n = tch::Cuda::device_count();
            if count {
                println!("{n}");
                return Ok(0);
            }
            println!(
                "libtorch: CUDA available: {}, cuDNN: {}, devices: {n}",
                tch::Cuda::is_available(),
                tch::Cuda::cudnn_is_available()
            );
            if n > 0 {
                // A real allocation and reduction, so "available" is not just a driver probe.
                let t = tch::Tensor::ones([1024, 1024], (tch::Kind::Float, tch::Device::Cuda(0)));
                let sum = t.sum(tch::Kind::Float).double_value(&[]);
                println!("cuda:0 check: sum of ones(1024x1024) = {sum}");
            }
            Ok(0)
        }
    }
}

fn run_job(job_json: &Path) -> anyhow::Result<i32> {
    let text = std::fs::read_to_string(job_json)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", job_json.display()))?;
    let job: JobFile = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a job file: {e}", job_json.display()))?;
    let mut sink = EventSink::open(&job.events, 0)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", job.events.display()))?;
    match run_stage(&job, &mut sink) {
        Ok(()) => {
            sink.flush()?;
            Ok(0)
        }
        Err(e) => {
            let msg = format!("{e:#}");
            let _ = sink.status("failed", None, Some(&msg));
            let _ = sink.flush();
            eprintln!("error: {msg}");
            Ok(1)
        }
    }
}

fn run_stage(job: &JobFile, sink: &mut EventSink) -> anyhow::Result<()> {
    // libtorch would start one thread per core in every job; jobs sharing a machine would
    // then fight for cores. Use the CPU slots the scheduler granted.
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
        StageKind::Teacher => ddmd_science::run_teacher_stage(job, sink),
        StageKind::Distill => ddmd_science::run_distill_stage(job, sink),
        StageKind::Judge => ddmd_eval::run_judge_stage(job, sink),
        StageKind::Evaluate => ddmd_eval::run_evaluate_stage(job, sink),
        StageKind::Report => ddmd_report::run_report_stage(job, sink),
        StageKind::Command => Err(anyhow::anyhow!(
            "command stages run their shell command, not a worker"
        )),
    }
}
