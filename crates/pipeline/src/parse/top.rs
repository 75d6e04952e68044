//! The top level of a pipeline file: name, description, defaults, stages, executor.

use super::keys::*;
use super::read::{is_ident, join, Ctx};
use super::{graph, stage};
use crate::error::did_you_mean;
use crate::model::Spec;
use crate::yaml::{Kind, Node, Scalar};
use ddmd_core::StageName;
use indexmap::IndexMap;
use serde_json::{Map, Value};

/// The entry of `key` unless absent or null (an empty `key:` line counts as absent).
pub fn opt<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    node.get(key)
        .filter(|n| !matches!(n.kind, Kind::Scalar(Scalar::Null)))
}

pub fn spec(ctx: &mut Ctx, root: &Node, text: &str, hash: String) -> Option<Spec> {
    let Some(entries) = root.entries() else {
        ctx.err(
            root.pos,
            "",
            format!(
                "expected a mapping at the top of the file (with 'name' and 'stages'), found {}",
                root.describe()
            ),
        );
        return None;
    };
    ctx.only_keys(entries, TOP_KEYS, "", "the pipeline");

    let name = match root.get("name") {
        None => {
            ctx.err(
                root.pos,
                "name",
                "missing required key 'name' (the pipeline's name)",
            );
            None
        }
        Some(n) => ctx.string(n, "name").and_then(|s| {
            if is_ident(&s, PIPELINE_NAME_EXTRA) {
                Some(s)
            } else {
                ctx.err(
                    n.pos,
                    "name",
                    format!(
                        "invalid pipeline name {:?}; use letters, digits, '_', '.' and '-'",
                        s
                    ),
                );
                None
            }
        }),
    };
    let description = opt(root, "description").and_then(|n| ctx.string(n, "description"));
    let defaults = match opt(root, "defaults") {
        None => Some(Map::new()),
        Some(n) => ctx.map(n, "defaults").map(|e| ctx.json_map(e, "defaults")),
    };
    let executor = opt(root, "executor").and_then(|n| executor(ctx, n));
    let stages = stages(ctx, root);
    Some(Spec {
        file: ctx.file.clone(),
        text: text.to_string(),
        hash,
        name: name?,
        description,
        defaults: defaults?,
        stages: stages?,
        executor,
        overridden: Vec::new(),
    })
}

fn stages(ctx: &mut Ctx, root: &Node) -> Option<IndexMap<StageName, crate::model::Stage>> {
    let Some(node) = root.get("stages") else {
        ctx.err(
            root.pos,
            "stages",
            "missing required key 'stages' (a mapping of stage name to stage)",
        );
        return None;
    };
    let entries = ctx.map(node, "stages")?;
    if entries.is_empty() {
        ctx.err(
            node.pos,
            "stages",
            "expected at least one stage, found an empty mapping",
        );
        return None;
    }
    let names: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    let mut out = IndexMap::new();
    let mut edges = Vec::new();
    let mut ok = true;
    for e in entries {
        let path = join("stages", &e.key);
        if !is_ident(&e.key, STAGE_NAME_EXTRA) {
            ctx.err(
                e.key_pos,
                &path,
                format!(
                    "invalid stage name {:?}; use letters, digits, '_' and '-'",
                    e.key
                ),
            );
            ok = false;
            continue;
        }
        match stage::stage(ctx, &e.key, &e.value, &path, &names) {
            Some((st, needs)) => {
                edges.push((e.key.clone(), needs));
                out.insert(StageName(e.key.clone()), st);
            }
            None => ok = false,
        }
    }
    graph::check_cycles(ctx, &edges);
    ok.then_some(out)
}

fn executor(ctx: &mut Ctx, node: &Node) -> Option<Value> {
    let entries = ctx.map(node, "executor")?;
    ctx.only_keys(entries, EXECUTOR_KEYS, "executor", "executor");
    if let Some(k) = opt(node, "kind") {
        if let Some(s) = ctx.string(k, "executor.kind") {
            if !EXECUTOR_KINDS.contains(&s.as_str()) {
                let hint = did_you_mean(&s, EXECUTOR_KINDS.iter().copied());
                ctx.err(
                    k.pos,
                    "executor.kind",
                    format!(
                        "unknown executor kind {:?}{hint}; expected one of: local, slurm",
                        s
                    ),
                );
            }
        }
    }
    for key in ["partition", "account", "qos"] {
        if let Some(n) = opt(node, key) {
            ctx.string(n, &join("executor", key));
        }
    }
    if let Some(n) = opt(node, "max_submitted") {
        ctx.u32_in(n, "executor.max_submitted", 1, MAX_SUBMITTED);
    }
    if let Some(n) = opt(node, "extra") {
        if let Some(items) = ctx.seq(
            n,
            "executor.extra",
            "a list of extra scheduler arguments (strings)",
        ) {
            for (i, it) in items.iter().enumerate() {
                ctx.string(it, &format!("executor.extra[{i}]"));
            }
        }
    }
    Some(ctx.json(node, "executor"))
}
