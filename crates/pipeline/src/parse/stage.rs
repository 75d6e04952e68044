//! One stage: kind, needs, resources, matrix, params, retries, timeout, inputs.

use super::keys::*;
use super::matrix;
use super::read::{join, Ctx};
use super::top::opt;
use crate::duration;
use crate::error::did_you_mean;
use crate::model::{Resources, Stage};
use crate::yaml::{Kind, Node, Pos, Scalar};
use ddmd_core::{StageKind, StageName};
use serde_json::Map;
use std::path::PathBuf;

/// A dependency edge as written: upstream stage, where, and its field path.
pub struct NeedRef {
    pub stage: String,
    pub pos: Pos,
    pub path: String,
}

/// Validates one stage; `names` are all stage names of the file (for `needs`).
pub fn stage(
    ctx: &mut Ctx,
    name: &str,
    node: &Node,
    path: &str,
    names: &[&str],
) -> Option<(Stage, Vec<NeedRef>)> {
    let entries = ctx.map(node, path)?;
    ctx.only_keys(entries, STAGE_KEYS, path, &format!("stage '{name}'"));

    let kind = kind(ctx, node, path);
    let needs = match opt(node, "needs") {
        None => Some((Vec::new(), Vec::new())),
        Some(n) => needs(ctx, name, n, &join(path, "needs"), names),
    };
    let resources = match opt(node, "resources") {
        None => Some(Resources::default()),
        Some(n) => resources(ctx, n, &join(path, "resources")),
    };
    let fan_in = opt(node, "fan_in").map(|n| ctx.boolean(n, &join(path, "fan_in")));
    let params = match opt(node, "params") {
        None => Some(Map::new()),
        Some(n) => ctx
            .map(n, &join(path, "params"))
            .map(|e| ctx.json_map(e, &join(path, "params"))),
    };
    let retries = match opt(node, "retries") {
        None => Some(0),
        Some(n) => ctx.u32_in(n, &join(path, "retries"), 0, MAX_RETRIES),
    };
    let timeout = opt(node, "timeout").map(|n| timeout(ctx, n, &join(path, "timeout")));
    let inputs = match opt(node, "inputs") {
        None => Some(Vec::new()),
        Some(n) => inputs(ctx, n, &join(path, "inputs"), kind),
    };
    let prompts = match opt(node, "prompts") {
        None => Some(None),
        Some(n) => super::prompts::prompts(ctx, n, &join(path, "prompts"), kind).map(Some),
    };
    let m = matrix::matrix(ctx, node, path);

    let kind = kind?;
    let params = params?;
    if kind == StageKind::Command {
        check_run(ctx, node, &params, path);
    }
    let (needs, refs) = needs?;
    let (matrix, include, exclude) = m?;
    Some((
        Stage {
            name: StageName(name.to_string()),
            kind,
            needs,
            fan_in: match fan_in {
                None => kind.fans_in_by_default(),
                Some(b) => b?,
            },
            resources: resources?,
            matrix,
            include,
            exclude,
            params,
            retries: retries?,
            timeout: match timeout {
                None => None,
                Some(t) => Some(t?),
            },
            inputs: inputs?,
            prompts: prompts?,
        },
        refs,
    ))
}

fn kind(ctx: &mut Ctx, node: &Node, path: &str) -> Option<StageKind> {
    let kinds: Vec<&str> = StageKind::ALL.iter().map(|k| k.as_str()).collect();
    let p = join(path, "kind");
    let Some(n) = node.get("kind") else {
        ctx.err(
            node.pos,
            &p,
            format!(
                "missing required key 'kind'; expected one of: {}",
                kinds.join(", ")
            ),
        );
        return None;
    };
    let s = ctx.string(n, &p)?;
    match StageKind::parse(&s) {
        Some(k) => Some(k),
        None => {
            let hint = did_you_mean(&s, kinds.iter().copied());
            ctx.err(
                n.pos,
                &p,
                format!(
                    "unknown stage kind {:?}{hint}; expected one of: {}",
                    s,
                    kinds.join(", ")
                ),
            );
            None
        }
    }
}

fn needs(
    ctx: &mut Ctx,
    me: &str,
    node: &Node,
    path: &str,
    names: &[&str],
) -> Option<(Vec<StageName>, Vec<NeedRef>)> {
    // A single string is shorthand for a list of one.
    let items: Vec<(&Node, String)> = match &node.kind {
        Kind::Scalar(Scalar::Str(_)) => vec![(node, path.to_string())],
        Kind::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| (n, format!("{path}[{i}]")))
            .collect(),
        _ => {
            ctx.err(
                node.pos,
                path,
                format!(
                    "expected a stage name or a list of stage names, found {}",
                    node.describe()
                ),
            );
            return None;
        }
    };
    let mut out: Vec<StageName> = Vec::new();
    let mut refs = Vec::new();
    let mut ok = true;
    for (n, p) in items {
        let Some(s) = ctx.string(n, &p) else {
            ok = false;
            continue;
        };
        if s == me {
            ctx.err(n.pos, &p, format!("stage '{me}' cannot need itself"));
            ok = false;
        } else if !names.contains(&s.as_str()) {
            let hint = did_you_mean(&s, names.iter().copied().filter(|n| *n != me));
            ctx.err(
                n.pos,
                &p,
                format!(
                    "unknown stage {:?}{hint}; stages in this file: {}",
                    s,
                    names.join(", ")
                ),
            );
            ok = false;
        } else if out.iter().any(|x| x.0 == s) {
            ctx.err(n.pos, &p, format!("stage '{s}' is listed twice in needs"));
            ok = false;
        } else {
            refs.push(NeedRef {
                stage: s.clone(),
                pos: n.pos,
                path: p,
            });
            out.push(StageName(s));
        }
    }
    ok.then_some((out, refs))
}

fn resources(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Resources> {
    let entries = ctx.map(node, path)?;
    ctx.only_keys(entries, RESOURCE_KEYS, path, "resources");
    let mut r = Resources::default();
    let mut ok = true;
    if let Some(n) = opt(node, "gpus") {
        match ctx.u32_in(n, &join(path, "gpus"), 0, MAX_GPUS) {
            Some(v) => r.gpus = v,
            None => ok = false,
        }
    }
    if let Some(n) = opt(node, "nodes") {
        match ctx.u32_in(n, &join(path, "nodes"), 1, MAX_JOB_NODES) {
            Some(v) => r.nodes = v,
            None => ok = false,
        }
    }
    if let Some(n) = opt(node, "cpus") {
        match ctx.u32_in(n, &join(path, "cpus"), MIN_CPUS, MAX_CPUS) {
            Some(v) => r.cpus = v,
            None => ok = false,
        }
    }
    if let Some(n) = opt(node, "share_gpu") {
        match ctx.boolean(n, &join(path, "share_gpu")) {
            Some(v) => r.share_gpu = v,
            None => ok = false,
        }
    }
    ok.then_some(r)
}

fn timeout(ctx: &mut Ctx, node: &Node, path: &str) -> Option<std::time::Duration> {
    let r = match &node.kind {
        Kind::Scalar(Scalar::Str(s)) => duration::parse_duration_text(s),
        Kind::Scalar(Scalar::Int(i)) => duration::seconds(*i as f64),
        Kind::Scalar(Scalar::UInt(u)) => duration::seconds(*u as f64),
        Kind::Scalar(Scalar::Float(f)) => duration::seconds(*f),
        Kind::Scalar(Scalar::BigInt(_)) => Err("timeout is too long; at most 365 days".into()),
        _ => Err(format!(
            "expected a duration such as \"90s\", \"30m\", \"2h\" or \"1h30m\", or a number of seconds, found {}",
            node.describe()
        )),
    };
    r.map_err(|m| ctx.err(node.pos, path, m)).ok()
}

fn inputs(ctx: &mut Ctx, node: &Node, path: &str, kind: Option<StageKind>) -> Option<Vec<PathBuf>> {
    let items = ctx.seq(node, path, "a list of file paths")?;
    if kind.is_some_and(|k| !matches!(k, StageKind::Command | StageKind::Evaluate)) {
        ctx.err(
            node.pos,
            path,
            "inputs are only for command stages and evaluate stages (a scorer's script); other built-in stages know their inputs",
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, n) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        match ctx.string(n, &p) {
            Some(s) if !s.trim().is_empty() => out.push(PathBuf::from(s)),
            Some(_) => {
                ctx.err(n.pos, &p, "expected a file path, found an empty string");
                ok = false;
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// A command stage runs `params.run`; without it there is nothing to run.
fn check_run(ctx: &mut Ctx, node: &Node, params: &Map<String, serde_json::Value>, path: &str) {
    let p = join(path, "params.run");
    let run_node = node.get("params").and_then(|n| n.get("run"));
    match (params.get("run"), run_node) {
        (Some(serde_json::Value::String(s)), Some(n)) if s.trim().is_empty() => {
            ctx.err(
                n.pos,
                &p,
                "expected the shell command to run, found an empty string",
            );
        }
        (Some(serde_json::Value::String(_)), _) => {}
        (_, Some(n)) => {
            ctx.err(
                n.pos,
                &p,
                format!(
                    "expected a string (the shell command to run), found {}",
                    n.describe()
                ),
            );
        }
        (_, None) => {
            let at = node.get("params").map_or(node.pos, |n| n.pos);
            ctx.err(
                at,
                &p,
                "a command stage needs params.run, the shell command to run",
            );
        }
    }
}
