//! `validate`, `schema` and `plan`: everything that looks at a pipeline without running it.
//! None of them writes to the database.

use super::spec_load::{build_plan, load_spec};
use crate::cli::{PlanArgs, PlanFormat, ValidateArgs};
use crate::error::bad;
use crate::home::Home;
use crate::plan::status::{decide, Decision, Force, History};
use crate::plan::Plan;
use ddmd_core::StageName;

pub fn validate(args: &ValidateArgs, home: &Home) -> anyhow::Result<i32> {
    let loaded = load_spec(&args.spec)?;
    let plan = build_plan(&loaded, home)?;
    let spec = &loaded.spec;
    let kind = super::executor::kind(args.executor, spec.executor.as_ref());
    crate::plan::nodes::check(spec, super::executor::nodes_available(kind)).map_err(bad)?;
    println!(
        "ok: {} — {} stages, {} jobs",
        spec.file.display(),
        spec.stages.len(),
        plan.jobs.len()
    );
    Ok(0)
}

pub fn schema() -> anyhow::Result<i32> {
    println!(
        "{}",
        serde_json::to_string_pretty(&ddmd_pipeline::json_schema())?
    );
    Ok(0)
}

pub fn force_of(arg: &Option<Vec<String>>, spec: &ddmd_pipeline::Spec) -> anyhow::Result<Force> {
    Ok(match arg {
        None => Force::Nothing,
        Some(v) if v.is_empty() => Force::All,
        Some(v) => {
            for s in v {
                if !spec.stages.contains_key(&StageName(s.clone())) {
                    let known: Vec<&str> = spec.stages.keys().map(|k| k.as_str()).collect();
                    return Err(bad(format!(
                        "--force {s}: no such stage in {}; stages are: {}",
                        spec.file.display(),
                        known.join(", ")
                    )));
                }
            }
            Force::Stages(v.iter().cloned().map(StageName).collect())
        }
    })
}

pub async fn plan(args: &PlanArgs, home: &Home) -> anyhow::Result<i32> {
    let loaded = load_spec(&args.spec)?;
    let plan = build_plan(&loaded, home)?;
    let spec = &loaded.spec;
    let force = force_of(&args.force, spec)?;
    let history = History::load(&home.db(), &spec.name).await?;
    let mut decisions = decide(&plan, &history, home.root(), &force);
    if args.verify {
        crate::plan::verify::verify(&plan, &mut decisions, &home.db(), home.root()).await?;
    }
    match args.format {
        PlanFormat::Json => {
            let rows: Vec<serde_json::Value> = plan
                .jobs
                .iter()
                .zip(&decisions)
                .map(|(j, d)| {
                    serde_json::json!({
                        "job": j.id, "stage": j.stage, "kind": j.kind, "point": j.point,
                        "params": j.params, "needs": j.needs.iter().map(|&n| &plan.jobs[n].id).collect::<Vec<_>>(),
                        "gpus": j.resources.gpus, "cache_key": j.cache_key,
                        "command": j.command,
                        "decision": match d { Decision::Cached{..} => "cached", Decision::Run{..} => "run" },
                        "reason": match d { Decision::Cached{run} => format!("result of run {run}"), Decision::Run{reason, ..} => reason.clone() },
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        PlanFormat::Table => print!("{}", format_plan(&plan, &decisions)),
    }
    Ok(0)
}

pub fn format_plan(plan: &Plan, decisions: &[Decision]) -> String {
    let w = plan
        .jobs
        .iter()
        .map(|j| j.id.as_str().chars().count())
        .max()
        .unwrap_or(3)
        .max(3);
    let mut out = format!(
        "{:<w$}  {:<8}  {:>4}  {:<12}  DECISION\n",
        "JOB", "KIND", "GPUS", "KEY"
    );
    let mut runs = 0;
    for (j, d) in plan.jobs.iter().zip(decisions) {
        let (what, why) = match d {
            Decision::Cached { run } => ("cached", format!("result of run {run}")),
            Decision::Run { reason, .. } => {
                runs += 1;
                ("run", reason.clone())
            }
        };
        out.push_str(&format!(
            "{:<w$}  {:<8}  {:>4}  {:<12}  {what}: {why}\n",
            j.id.as_str(),
            j.kind.as_str(),
            j.resources.gpus,
            j.cache_key.short()
        ));
    }
    out.push_str(&format!(
        "{} jobs: {} to run, {} cached\n",
        plan.jobs.len(),
        runs,
        plan.jobs.len() - runs
    ));
    out
}
