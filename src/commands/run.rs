//! `ddmd-pipe run`: load, plan, lock, recover what a crash left, decide what is cached, and
//! hand the plan to the dispatcher. Writes the database only after the spec is known good.

/// `eprint!`/`eprintln!` that ignore a closed stderr (`ddmd-pipe run p.yaml 2>&1 | head`):
/// the run must finish, record its jobs and exit with their status, not panic (exit 101).
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($t)*);
    }};
}
macro_rules! sayln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

use super::plan::{force_of, format_plan};
use super::spec_load::{build_plan, load_spec, pipeline_dir};
use crate::cli::RunArgs;
use crate::error::{bad, EXIT_FAILED, EXIT_INTERRUPTED};
use crate::home::Home;
use crate::plan::status::{decide, History};
use crate::sched::executor::Executor;
use crate::sched::pool::discover_gpus;
use crate::sched::recover::{hostname, recover_stale};
use crate::sched::slurm;
use crate::sched::{Dispatcher, Invocation, RunOptions};
use ddmd_core::InvocationStatus;
use ddmd_store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Placeholder GPU ids of the local pool on Slurm, where the pool only bounds what is in
/// flight; Slurm assigns the real devices.
const SLURM_VIRTUAL_GPUS: u32 = 4096;
/// CPU slots on Slurm unless `--jobs` says: Slurm places the jobs, so only the submission
/// limit (`executor.max_submitted`, counted in jobs) bounds what is in flight.
const SLURM_CPU_SLOTS: u32 = 1 << 20;

pub async fn run(args: &RunArgs, home: &Home) -> anyhow::Result<i32> {
    let loaded = load_spec(&args.spec)?;
    let plan = build_plan(&loaded, home)?;
    let spec = &loaded.spec;
    let force = force_of(&args.force, spec)?;
    if let Some(0) = args.jobs {
        return Err(bad("--jobs 0: expected at least 1"));
    }
    let executor = super::executor::resolve(&args.executor, spec.executor.as_ref()).map_err(bad)?;
    let kind = super::executor::kind(args.executor.executor, spec.executor.as_ref());
    crate::plan::nodes::check(spec, super::executor::nodes_available(kind)).map_err(bad)?;
    executor.preflight(home.root()).map_err(bad)?;
    let slurm = matches!(executor, Executor::Slurm(..));
    let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
    let gpus = if slurm {
        // Slurm places jobs on GPUs; locally every job "fits" and waits in Slurm's queue.
        (0..SLURM_VIRTUAL_GPUS).collect()
    } else {
        // Counting CUDA devices means starting the worker, which loads libtorch (~0.5 s):
        // skip it when no GPU job can run (every one already has its result, nothing forced).
        let gpu_job_may_run = args.force.is_some()
            || plan
                .jobs
                .iter()
                .any(|j| j.resources.gpus > 0 && !home.artifact_dir(&j.cache_key).is_dir());
        discover_gpus(
            args.fake_gpus,
            args.gpus.as_deref(),
            visible.as_deref(),
            || {
                if gpu_job_may_run {
                    crate::builtin::cuda_device_count()
                } else {
                    0
                }
            },
        )
        .map_err(bad)?
    };

    std::fs::create_dir_all(home.root())?;
    let _lock = home.lock_pipeline(&spec.name).map_err(bad)?;
    let store = Arc::new(Store::open(&home.db()).await?);
    let pipeline_id = store
        .upsert_pipeline(
            &spec.name,
            &spec.text,
            &spec.hash,
            &spec.file.display().to_string(),
        )
        .await?;
    // Slurm jobs a crashed orchestrator left are followed again, not closed and resubmitted.
    let attachable = if slurm {
        slurm::recover::attachable(&store, home).await?
    } else {
        Vec::new()
    };
    let recovered =
        recover_stale(&store, pipeline_id, &slurm::recover::keep_open(&attachable)).await?;
    if recovered > 0 {
        sayln!("recovered {recovered} run(s) left unfinished by an earlier orchestrator; they will be rerun");
    }
    let argv: Vec<String> = std::env::args().collect();
    let invocation_id = store
        .begin_invocation(
            pipeline_id,
            &argv,
            &hostname(),
            std::process::id(),
            git_rev().as_deref(),
            executor.name(),
        )
        .await?;

    let history = History::load(&home.db(), &spec.name).await?;
    let mut decisions = decide(&plan, &history, home.root(), &force);
    if args.verify {
        let (results, files) =
            crate::plan::verify::verify(&plan, &mut decisions, &home.db(), home.root()).await?;
        sayln!("--verify: {files} artifact(s) of {results} cached result(s) hashed");
    }
    let reattach =
        slurm::recover::adopt(&store, &plan, &decisions, pipeline_id, attachable).await?;
    if !args.quiet {
        say!("{}", format_plan(&plan, &decisions));
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    let opts = RunOptions {
        gpus: gpus.clone(),
        cpu_slots: args
            .jobs
            .unwrap_or(if slurm { SLURM_CPU_SLOTS } else { cores }),
        fail_fast: args.fail_fast,
        require_gpu: args.require_gpu,
        grace: Duration::from_secs_f64(args.grace.max(0.0)),
        retry_delay: Duration::from_secs_f64(args.retry_delay.max(0.0)),
        quiet: args.quiet,
        cwd: std::env::current_dir()?,
        pipeline_dir: pipeline_dir(spec),
        env: super::env::python_helper_env(home)?,
        executor: executor.clone(),
        reattach,
        rdzv_ports: args.rdzv_ports.clone(),
    };
    sayln!(
        "invocation {invocation_id}: {} jobs on {} ({} CPU slots); home {}",
        plan.jobs.len(),
        if slurm {
            "Slurm".to_string()
        } else if gpus.is_empty() {
            "CPU only".to_string()
        } else {
            format!(
                "GPUs {}{}",
                gpus.iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                if args.fake_gpus.is_some() {
                    " (fake)"
                } else {
                    ""
                }
            )
        },
        opts.cpu_slots,
        home.root().display()
    );
    let t0 = Instant::now();
    let summary = Dispatcher::new(
        &plan,
        store.clone(),
        home.clone(),
        Invocation {
            pipeline_id,
            invocation_id,
        },
        opts,
    )
    .run(&decisions)
    .await?;
    let status = if summary.interrupted {
        InvocationStatus::Interrupted
    } else if summary.failed > 0 {
        InvocationStatus::Failed
    } else {
        InvocationStatus::Succeeded
    };
    store.end_invocation(invocation_id, status).await?;
    // Close the writer explicitly: a dropped sqlx connection is closed on its worker thread,
    // which the process may outlive by nothing, leaving the WAL un-checkpointed beside the
    // file. Durable either way, but a clean exit should leave one self-contained file.
    match Arc::try_unwrap(store) {
        Ok(store) => store.close().await?,
        Err(_) => tracing::debug!("run database still shared at exit; left to drop"),
    }
    sayln!(
        "{status} in {:.1}s: {} succeeded, {} cached, {} failed, {} skipped, {} cancelled{}",
        t0.elapsed().as_secs_f64(),
        summary.succeeded,
        summary.cached,
        summary.failed,
        summary.skipped,
        summary.cancelled,
        if summary.not_started > 0 {
            format!(", {} not started", summary.not_started)
        } else {
            String::new()
        }
    );
    if summary.failed > 0 {
        sayln!("see `ddmd-pipe runs list --status failed --invocation {invocation_id}`");
    }
    for index in report_paths(&plan, home) {
        sayln!("report: {}", index.display());
    }
    Ok(if summary.interrupted {
        EXIT_INTERRUPTED
    } else if summary.failed > 0 {
        EXIT_FAILED
    } else {
        0
    })
}

fn git_rev() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Where the reports of this pipeline are, for the last line a user reads: the copy in
/// `<output_dir>/<pipeline>/` (`reports/` by default), else (deleted since) the home's copy in
/// its artifact folder.
fn report_paths(plan: &crate::plan::Plan, home: &Home) -> Vec<std::path::PathBuf> {
    plan.jobs
        .iter()
        .filter(|j| j.kind == ddmd_core::StageKind::Report)
        .filter_map(|j| {
            let own = home
                .artifact_dir(&j.cache_key)
                .join("report")
                .join("index.html");
            let root = j
                .params
                .get("output_dir")
                .and_then(|v| v.as_str())
                .unwrap_or(ddmd_report::DEFAULT_OUTPUT_DIR);
            let copy = std::path::Path::new(root)
                .join(ddmd_report::folder_name(&plan.pipeline))
                .join("index.html");
            if copy.exists() {
                Some(copy)
            } else {
                own.exists().then_some(own)
            }
        })
        .collect()
}
