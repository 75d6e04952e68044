//! `ddmd-pipe`: parse the command line, run one command, map its result to an exit code.

mod builtin;
mod cli;
mod commands;
mod error;
mod home;
mod plan;
mod sched;
mod serve;

use clap::Parser;
use cli::{Cli, Command, RunsCommand};
use error::{BadInput, EXIT_BAD_INPUT, EXIT_FAILED};
use home::Home;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_BAD_INPUT } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let filter = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DDMD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let home = Home::new(cli.home.clone());
    let code = match dispatch(cli.command, &home) {
        Ok(code) => code,
        Err(e) => {
            if let Some(b) = e.downcast_ref::<BadInput>() {
                print_error(&format!("error: {b}"));
                EXIT_BAD_INPUT
            } else {
                print_error(&format!("error: {e:#}"));
                EXIT_FAILED
            }
        }
    };
    std::process::exit(code);
}

/// The final message; a closed stderr must not turn exit 1 or 2 into a panic (101).
fn print_error(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn dispatch(cmd: Command, home: &Home) -> anyhow::Result<i32> {
    match cmd {
        // The pure commands need no async runtime; tensor commands run in the worker binary.
        Command::Schema => commands::plan::schema(),
        Command::Validate(a) => commands::plan::validate(&a, home),
        Command::Env(a) => commands::env::env(&a, home),
        Command::Fid { args } => Err(builtin::exec_worker("fid", &args)),
        Command::Sample { args } => Err(builtin::exec_worker("sample", &args)),
        Command::Prompts { args } => Err(builtin::exec_worker("prompts", &args)),
        Command::Devices => {
            use std::os::unix::process::CommandExt as _;
            let status = std::process::Command::new(builtin::worker_path())
                .arg0("ddmd-pipe")
                .arg("devices")
                .status();
            if !matches!(status, Ok(s) if s.success()) {
                println!(
                    "libtorch: no worker binary answered ({}); CPU only",
                    builtin::worker_path().display()
                );
            }
            let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
            match sched::pool::discover_gpus(
                None,
                None,
                visible.as_deref(),
                builtin::cuda_device_count,
            ) {
                Ok(g) => println!("a run would use GPUs: {g:?}"),
                Err(e) => println!("{e}"),
            }
            Ok(0)
        }
        other => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async_dispatch(other, home))
        }
    }
}

async fn async_dispatch(cmd: Command, home: &Home) -> anyhow::Result<i32> {
    match cmd {
        Command::Run(a) => commands::run::run(&a, home).await,
        Command::Plan(a) => commands::plan::plan(&a, home).await,
        Command::Runs(RunsCommand::List(a)) => commands::runs::list(&a, home).await,
        Command::Runs(RunsCommand::Show { run }) => commands::runs::show(run, home).await,
        Command::Query(a) => commands::runs::query(&a, home).await,
        Command::Serve(a) => serve::serve(&a, home).await,
        // report_command returns the path of index.html itself.
        Command::Report(a) => ddmd_report::report_command(&home.db(), &a).map(|index| {
            println!("{}", index.display());
            0
        }),
        _ => unreachable!("handled in dispatch"),
    }
}
