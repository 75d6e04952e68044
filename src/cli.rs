//! Command-line surface. Thin: parsing only; each command lives in `commands/`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "ddmd-pipe",
    version,
    about = "Pipelines of Decoupled-DMD distillation runs: YAML -> GPU-aware scheduler -> SQLite -> HTML reports"
)]
pub struct Cli {
    /// Home folder: run database, artifacts, job folders.
    #[arg(long, global = true, env = "DDMD_HOME", default_value = ".ddmd")]
    pub home: PathBuf,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a pipeline: every job not cached, in dependency order, on the given devices.
    Run(Box<RunArgs>),
    /// Show every job a run would execute, with will-run / cached and the reason.
    Plan(PlanArgs),
    /// Check a pipeline file; prints nothing but errors (exit 2) or "ok".
    Validate(ValidateArgs),
    /// Print the JSON Schema of pipeline files.
    Schema,
    /// Print a command job's environment as shell lines, to run its command by hand:
    /// eval "$(ddmd-pipe env pipelines/sweep.yaml 'train[width=small]')"
    Env(EnvArgs),
    /// List and inspect recorded runs.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Run read-only SQL against the run database.
    Query(QueryArgs),
    /// A live local dashboard of the run database: runs, curves growing as jobs run,
    /// comparisons, reports (read-only; http://127.0.0.1:8765 by default).
    Serve(ServeArgs),
    /// Fréchet Inception Distance between two image folders or .npz statistics
    /// (`ddmd-pipe fid --help` for the options).
    #[command(disable_help_flag = true)]
    Fid {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// Sample images from a teacher or student checkpoint (`ddmd-pipe sample --help`).
    #[command(disable_help_flag = true)]
    Sample {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// The built-in shapes prompts as a DPG-Bench CSV, optionally with a reference folder of
    /// their renders (`ddmd-pipe prompts --help`).
    #[command(disable_help_flag = true)]
    Prompts {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// Re-render a pipeline's report from the database alone.
    Report(ddmd_report::ReportArgs),
    /// Show whether libtorch sees CUDA and which GPUs a run would use.
    Devices,
}

#[derive(Args, Debug, Clone)]
pub struct SpecArgs {
    /// The pipeline file.
    pub file: PathBuf,
    /// Override a parameter (`a.b=v`, or `stage.key=v`); a comma list sweeps (`lr=0.1,0.01`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Check for this executor (default: the pipeline's `executor.kind`, else local): jobs
    /// with `resources.nodes > 1` need slurm.
    #[arg(long, value_enum)]
    pub executor: Option<ExecutorKind>,
}

#[derive(Args, Debug)]
pub struct EnvArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// The job (`train[width=small]`, as `plan` lists it), or a stage that has one job.
    pub job: String,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Rerun everything, or the named stages and what depends on them.
    #[arg(long, num_args = 0.., value_name = "STAGE")]
    pub force: Option<Vec<String>>,
    /// Hash the artifacts of cached results against their record (as `run --verify`).
    #[arg(long)]
    pub verify: bool,
    #[arg(long, value_enum, default_value_t = PlanFormat::Table)]
    pub format: PlanFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Pretend N GPUs exist (ids 0..N-1) to exercise scheduling without hardware.
    #[arg(long, env = "DDMD_FAKE_GPUS", value_name = "N")]
    pub fake_gpus: Option<u32>,
    /// Use only these GPU ids (default: CUDA_VISIBLE_DEVICES, else every CUDA device).
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub gpus: Option<Vec<u32>>,
    /// CPU slots: at most this many jobs (weighted by resources.cpus) run at once. Default: cores.
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<u32>,
    /// Stop at the first failure (default: keep going; dependants of a failure are skipped).
    #[arg(long)]
    pub fail_fast: bool,
    /// Fail jobs that ask for GPUs when none is available instead of running them on CPU.
    #[arg(long)]
    pub require_gpu: bool,
    /// Rerun everything, or the named stages and what depends on them.
    #[arg(long, num_args = 0.., value_name = "STAGE")]
    pub force: Option<Vec<String>>,
    /// Take a cached result only if its artifacts still hash to what its run recorded; a job
    /// whose artifacts changed or vanished runs again, and the plan says which file.
    #[arg(long)]
    pub verify: bool,
    /// Plain line logs instead of the live display.
    #[arg(long, short)]
    pub quiet: bool,
    /// Seconds between SIGTERM and SIGKILL when stopping a job.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub grace: f64,
    /// Rendezvous ports for command jobs (`MASTER_PORT`, `{{ launch }}`): each running job
    /// holds one, unique among this home's jobs and free on this machine.
    #[arg(long, value_name = "FIRST-LAST", default_value = "29510-29999", value_parser = crate::sched::ports::parse_range)]
    pub rdzv_ports: std::ops::RangeInclusive<u16>,
    /// First retry delay in seconds (doubles per attempt, at most 60).
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    pub retry_delay: f64,
    #[command(flatten)]
    pub executor: ExecutorArgs,
}

/// Where the jobs run; see docs/SLURM.md.
#[derive(Args, Debug, Clone)]
pub struct ExecutorArgs {
    /// Run jobs as local processes or as Slurm jobs (default: the pipeline's `executor.kind`,
    /// else local).
    #[arg(long, value_enum)]
    pub executor: Option<ExecutorKind>,
    /// Slurm partition (overrides `executor.partition`).
    #[arg(long, value_name = "NAME")]
    pub slurm_partition: Option<String>,
    /// Slurm account (overrides `executor.account`).
    #[arg(long, value_name = "NAME")]
    pub slurm_account: Option<String>,
    /// Slurm QOS (overrides `executor.qos`).
    #[arg(long, value_name = "NAME")]
    pub slurm_qos: Option<String>,
    /// Extra sbatch argument, after `executor.extra` (repeatable): --slurm-extra=--exclusive
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub slurm_extra: Vec<String>,
    /// Default --mem of every Slurm job (a job's `mem` parameter wins), e.g. 4G.
    #[arg(long, value_name = "MEM")]
    pub slurm_mem: Option<String>,
    /// Paths the Slurm nodes see (comma list); the home must be under one of them. Default:
    /// refuse homes on node-local paths (tmpfs, /tmp, /var/tmp, /dev/shm, /run).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "PATHS",
        env = "DDMD_SLURM_SHARED_PATHS"
    )]
    pub slurm_shared_paths: Option<Vec<PathBuf>>,
    /// Longest wait in seconds between two polls of the Slurm jobs' states (one `squeue`
    /// for all of them; at least a second apart).
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub slurm_poll_max: f64,
    /// Most jobs submitted to Slurm at once (overrides `executor.max_submitted`; default 256,
    /// well under the MaxSubmitJobs limits clusters set).
    #[arg(long, value_name = "N")]
    pub slurm_max_submitted: Option<u32>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorKind {
    Local,
    Slurm,
}

#[derive(Subcommand, Debug)]
pub enum RunsCommand {
    /// Runs, newest first.
    List(ListArgs),
    /// One run: parameters, final metrics, artifacts, error.
    Show { run: i64 },
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only runs with this status: queued, running, succeeded, failed, cancelled, skipped,
    /// cached.
    #[arg(long, value_name = "STATUS", value_parser = parse_run_status)]
    pub status: Option<ddmd_core::RunStatus>,
    /// Only runs of this stage.
    #[arg(long, value_name = "STAGE")]
    pub stage: Option<String>,
    /// Only runs of the pipeline of this name (its `name:`, not the file).
    #[arg(long, value_name = "NAME")]
    pub pipeline: Option<String>,
    /// Only runs of this invocation (the number `run` prints first).
    #[arg(long, value_name = "N")]
    pub invocation: Option<i64>,
    /// Show the newest N runs.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub limit: u32,
}

/// `--status`: one of the statuses runs are stored with, or an error that lists them.
fn parse_run_status(s: &str) -> Result<ddmd_core::RunStatus, String> {
    ddmd_core::RunStatus::parse(s).ok_or_else(|| {
        let all: Vec<&str> = ddmd_core::RunStatus::ALL
            .iter()
            .map(|s| s.as_str())
            .collect();
        format!("unknown run status; expected one of {}", all.join(", "))
    })
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8765)]
    pub port: u16,
    /// Address to listen on. Anything but a loopback address exposes the run database to the
    /// network without authentication (a warning says so).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// SQL (read-only: writes are refused).
    pub sql: String,
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    pub format: QueryFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryFormat {
    Table,
    Csv,
    Json,
}
