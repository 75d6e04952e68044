//! Renders the shell command of a `command` stage (`params.run`) with minijinja. Strict
//! undefined: a typo in `{{ lr }}` is a plan error with its location, not an empty string.
//!
//! minijinja's own error says only "undefined value", so before rendering, every name the
//! template reads is looked up in the job's context here, and a missing one is named with
//! what is there instead (`undefined variable 'learning_rate'; available: lr, steps, …`).
//! Each problem carries a key, so a stage reports it once, not once per matrix point.

use super::resolve::located;
use super::{Job, JobIx};
use ddmd_core::suggest::did_you_mean;
use ddmd_core::StageName;
use ddmd_pipeline::{Spec, SpecError};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::Path;

/// The names every command template has besides the job's parameters and inherited axes.
pub const BUILTIN_NAMES: &[&str] = &[
    "launch",
    "params",
    "point",
    "stage",
    "needs",
    "pipeline_dir",
    "home",
];

/// One problem with a stage's template. `key` identifies the problem within the stage
/// (`undefined:learning_rate`): the jobs of a stage share a template, so one report is enough.
#[derive(Debug)]
pub struct RenderError {
    pub key: String,
    pub error: SpecError,
}

/// Everything a job's command is rendered from.
pub struct CommandJob<'a> {
    pub stage: &'a StageName,
    pub params: &'a Map<String, Value>,
    pub point: &'a Map<String, Value>,
    pub needs: &'a [JobIx],
    pub jobs: &'a [Job],
    pub home: &'a Path,
    /// The pipeline file's folder (absolute): where the command runs.
    pub pipeline_dir: &'a Path,
}

/// The job's command, or every problem found with its template (each name it reads that
/// the job's context lacks; else the first error rendering met).
pub fn render_command(spec: &Spec, job: &CommandJob<'_>) -> Result<String, Vec<RenderError>> {
    let stage = job.stage;
    let path = format!("stages.{stage}.params.run");
    let Some(template) = job.params.get("run").and_then(Value::as_str) else {
        return Err(vec![RenderError {
            key: "no-run".into(),
            error: located(
                spec,
                &format!("stages.{stage}.params"),
                "a command stage needs `run: <shell command>` in its params".into(),
            ),
        }]);
    };
    let env = environment();
    let ctx = context(job);
    let fail = |key: String, message: String| RenderError {
        key,
        error: located(spec, &path, message),
    };
    let tmpl = env.template_from_str(template).map_err(|e| {
        vec![fail(
            "syntax".into(),
            format!("cannot parse the command: {}", describe(&e, template)),
        )]
    })?;
    let mut names: Vec<String> = tmpl.undeclared_variables(true).into_iter().collect();
    names.sort();
    let problems: Vec<RenderError> = names
        .iter()
        .filter_map(|name| missing(name, &ctx, &env, spec, job))
        .map(|(key, message)| fail(key, message))
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    tmpl.render(Value::Object(ctx)).map_err(|e| {
        vec![fail(
            format!("render:{}", e.detail().unwrap_or_default()),
            format!("cannot render the command: {}", describe(&e, template)),
        )]
    })
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("shquote", shquote);
    env
}

/// The template's context. Top level: the launcher (expanded by the shell from the job's
/// environment, so the port the scheduler picks is not part of the cache key), the folders,
/// inherited axes, then own params (which win); plus structured views.
fn context(job: &CommandJob<'_>) -> Map<String, Value> {
    let mut ctx = job.point.clone();
    ctx.entry("launch")
        .or_insert_with(|| Value::String("$DDMD_LAUNCH".into()));
    ctx.insert(
        "pipeline_dir".into(),
        Value::String(job.pipeline_dir.display().to_string()),
    );
    ctx.insert("home".into(), Value::String(job.home.display().to_string()));
    for (k, v) in job.params {
        if k != "run" {
            ctx.insert(k.clone(), v.clone());
        }
    }
    let mut without_run = job.params.clone();
    without_run.remove("run");
    ctx.insert("params".into(), Value::Object(without_run));
    ctx.insert("point".into(), Value::Object(job.point.clone()));
    ctx.insert("stage".into(), Value::String(job.stage.to_string()));
    let layout = ddmd_core::layout::Layout::new(job.home);
    let mut upstream: Map<String, Value> = Map::new();
    for &u in job.needs {
        let up = &job.jobs[u];
        let entry = upstream
            .entry(up.stage.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = entry {
            a.push(serde_json::json!({
                "job": up.id.to_string(),
                "point": up.point,
                "artifacts": layout.artifact_dir(&up.cache_key).display().to_string(),
            }));
        }
    }
    ctx.insert("needs".into(), Value::Object(upstream));
    ctx
}

/// The problem with one name the template reads (`lr`, `needs.train`, `params.lr.x`), as
/// (key, message); `None` when it is there, or when only rendering can tell (an index).
fn missing(
    name: &str,
    ctx: &Map<String, Value>,
    env: &Environment<'_>,
    spec: &Spec,
    job: &CommandJob<'_>,
) -> Option<(String, String)> {
    let parts: Vec<&str> = name.split('.').collect();
    let top = parts[0];
    let Some(mut cur) = ctx.get(top) else {
        if env.globals().any(|(g, _)| g == top) {
            return None;
        }
        let available = available_names(job);
        let hint = did_you_mean(top, available.iter().map(String::as_str));
        return Some((
            format!("undefined:{top}"),
            format!(
                "undefined variable '{top}'{hint}; available: {}",
                available.join(", ")
            ),
        ));
    };
    for (i, part) in parts.iter().enumerate().skip(1) {
        let prefix = parts[..i].join(".");
        match cur {
            Value::Object(m) => match m.get(*part) {
                Some(v) => cur = v,
                None => {
                    let message = missing_key(&prefix, part, m, spec, job);
                    return Some((format!("undefined:{prefix}.{part}"), message));
                }
            },
            Value::Array(_) => {
                return Some((
                    format!("list:{prefix}.{part}"),
                    format!(
                        "`{prefix}.{part}`: `{prefix}` is a list, which has no '{part}'; pick one item first: `{prefix}[0].{part}`"
                    ),
                ));
            }
            // An attribute of a string or number: rendering will say.
            _ => return None,
        }
    }
    None
}

/// The message for `prefix.part` when the mapping `prefix` has no key `part`.
fn missing_key(
    prefix: &str,
    part: &str,
    m: &Map<String, Value>,
    spec: &Spec,
    job: &CommandJob<'_>,
) -> String {
    let keys: Vec<&str> = m.keys().map(String::as_str).collect();
    let hint = did_you_mean(part, keys.iter().copied());
    let listed = |what: &str| {
        if keys.is_empty() {
            format!("{what}: none")
        } else {
            format!("{what}: {}", keys.join(", "))
        }
    };
    match prefix {
        "needs" if keys.is_empty() => {
            let add = if spec.stages.contains_key(&StageName(part.to_string())) {
                format!("; add `needs: [{part}]` to stage '{}'", job.stage)
            } else {
                String::new()
            };
            format!(
                "`needs.{part}`: stage '{}' needs no other stage, so `needs` is empty{add}",
                job.stage
            )
        }
        "needs" => format!(
            "`needs.{part}`: '{part}' is not a stage this stage needs{hint}; {}",
            listed("stages in needs")
        ),
        "params" => format!(
            "`params.{part}`: no parameter '{part}'{hint}; {}",
            listed("parameters")
        ),
        "point" => format!(
            "`point.{part}`: no matrix axis '{part}'{hint}; {}",
            listed("axes")
        ),
        _ => format!(
            "`{prefix}.{part}`: `{prefix}` has no key '{part}'{hint}; {}",
            listed("keys")
        ),
    }
}

/// The names a job's template may read, parameters and axes first.
fn available_names(job: &CommandJob<'_>) -> Vec<String> {
    let mut out: Vec<String> = job.params.keys().filter(|k| *k != "run").cloned().collect();
    for k in job.point.keys() {
        if !out.contains(k) {
            out.push(k.clone());
        }
    }
    for b in BUILTIN_NAMES {
        if !out.iter().any(|k| k == b) {
            out.push((*b).to_string());
        }
    }
    out
}

/// Which parameters a template reads: the names it uses and the keys of `params.<key>` and
/// `point.<axis>`; `None` when it reads `params` whole (`{{ params | tojson }}`) or cannot be
/// parsed (that error is reported by `render_command`).
pub fn template_reads(template: &str) -> Option<BTreeSet<String>> {
    let env = environment();
    let tmpl = env.template_from_str(template).ok()?;
    let mut out = BTreeSet::new();
    for name in tmpl.undeclared_variables(true) {
        let mut parts = name.split('.');
        let top = parts.next().unwrap_or_default();
        match (top, parts.next()) {
            ("params", None) => return None,
            ("params" | "point", Some(key)) => {
                out.insert(key.to_string());
            }
            _ => {
                out.insert(top.to_string());
            }
        }
    }
    Some(out)
}

/// minijinja's error, with the part of the template it points at.
fn describe(e: &minijinja::Error, template: &str) -> String {
    let mut s = e.kind().to_string();
    if let Some(d) = e.detail() {
        s.push_str(": ");
        s.push_str(d);
    }
    if let Some(snippet) = e.range().and_then(|r| template.get(r)) {
        s.push_str(&format!(" in `{}`", snippet.trim()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_and_params_keys() {
        let r = template_reads("python t.py --lr {{ lr }} {{ params.steps }} {{ point.width }} {{ needs.a[0].artifacts }}")
            .unwrap_or_default();
        let r: Vec<&str> = r.iter().map(String::as_str).collect();
        assert_eq!(r, ["lr", "needs", "steps", "width"]);
        assert_eq!(template_reads("{{ params | tojson }}"), None);
    }
}
