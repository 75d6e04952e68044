//! Renders the shell command of a `command` stage (`params.run`) with minijinja. Strict
//! undefined: a typo in `{{ lr }}` is a plan error with its location, not an empty string.

use super::resolve::located;
use super::{Job, JobIx};
use ddmd_core::StageName;
use ddmd_pipeline::{Spec, SpecError};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};
use std::path::Path;

pub fn render_command(
    spec: &Spec,
    stage: &StageName,
    params: &Map<String, Value>,
    point: &Map<String, Value>,
    needs: &[JobIx],
    jobs: &[Job],
    home: &Path,
) -> Result<String, SpecError> {
    let path = format!("stages.{stage}.params.run");
    let Some(template) = params.get("run").and_then(Value::as_str) else {
        return Err(located(
            spec,
            &format!("stages.{stage}.params"),
            "a command stage needs `run: <shell command>` in its params".into(),
        ));
    };
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("shquote", shquote);

    // Top level: the launcher (expanded by the shell from the job's environment, so the port
    // the scheduler picks is not part of the cache key), inherited axes, then own params
    // (which win); plus structured views.
    let mut ctx = point.clone();
    ctx.entry("launch")
        .or_insert_with(|| Value::String("$DDMD_LAUNCH".into()));
    for (k, v) in params {
        if k != "run" {
            ctx.insert(k.clone(), v.clone());
        }
    }
    let mut without_run = params.clone();
    without_run.remove("run");
    ctx.insert("params".into(), Value::Object(without_run));
    ctx.insert("point".into(), Value::Object(point.clone()));
    ctx.insert("stage".into(), Value::String(stage.to_string()));
    let mut upstream: Map<String, Value> = Map::new();
    for &u in needs {
        let job = &jobs[u];
        let entry = upstream
            .entry(job.stage.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = entry {
            a.push(serde_json::json!({
                "job": job.id.to_string(),
                "point": job.point,
                "artifacts": ddmd_core::layout::Layout::new(home).artifact_dir(&job.cache_key).display().to_string(),
            }));
        }
    }
    ctx.insert("needs".into(), Value::Object(upstream));

    env.render_str(template, Value::Object(ctx)).map_err(|e| {
        located(
            spec,
            &path,
            format!("cannot render the command: {}", describe(&e)),
        )
    })
}

fn describe(e: &minijinja::Error) -> String {
    let mut s = e.kind().to_string();
    if let Some(d) = e.detail() {
        s.push_str(": ");
        s.push_str(d);
    }
    if let Some(line) = e.line() {
        s.push_str(&format!(" (template line {line})"));
    }
    s
}

/// Single-quotes a value for POSIX sh.
fn shquote(v: minijinja::Value) -> String {
    let s = v
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string());
    ddmd_core::text::shell_quote(&s)
}
