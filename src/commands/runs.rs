//! `runs list`, `runs show`, `query`: read-only views of the run database.

use crate::cli::{ListArgs, QueryArgs, QueryFormat};
use crate::error::bad;
use crate::home::Home;
use ddmd_core::RunId;
use ddmd_store::{
    format_query, format_run_detail, format_runs_table, OutputFormat, ReadStore, RunFilter,
};

async fn open(home: &Home) -> anyhow::Result<ReadStore> {
    let db = home.db();
    if !db.exists() {
        return Err(bad(format!(
            "no run database at {} (run a pipeline first, or pass --home)",
            db.display()
        )));
    }
    let store = ReadStore::open(&db).await?;
    // Read the schema once, so that a damaged file is reported as such (exit 1, naming the
    // file) and not as a mistake in the user's SQL (exit 2).
    store
        .query("SELECT count(*) FROM sqlite_master")
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the run database {}: {e}", db.display()))?;
    Ok(store)
}

pub async fn list(args: &ListArgs, home: &Home) -> anyhow::Result<i32> {
    let store = open(home).await?;
    let runs = store
        .list_runs(&RunFilter {
            status: args.status.map(|s| s.as_str().to_string()),
            stage: args.stage.clone(),
            pipeline: args.pipeline.clone(),
            invocation: args.invocation,
            limit: Some(args.limit),
        })
        .await?;
    print!("{}", format_runs_table(&runs));
    Ok(0)
}

pub async fn show(run: i64, home: &Home) -> anyhow::Result<i32> {
    let store = open(home).await?;
    match store.run(RunId(run)).await? {
        Some(d) => {
            print!("{}", format_run_detail(&d));
            Ok(0)
        }
        None => Err(bad(format!("no run {run} in {}", home.db().display()))),
    }
}

pub async fn query(args: &QueryArgs, home: &Home) -> anyhow::Result<i32> {
    let store = open(home).await?;
    let res = store.query(&args.sql).await.map_err(bad)?;
    let fmt = match args.format {
        QueryFormat::Table => OutputFormat::Table,
        QueryFormat::Csv => OutputFormat::Csv,
        QueryFormat::Json => OutputFormat::Json,
    };
    print!("{}", format_query(&res, fmt));
    Ok(0)
}
