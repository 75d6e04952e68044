//! A command stage's `prompts:` block: which prompt set its jobs draw (one source key), how
//! many images per prompt, the seed of the per-image seeds, and an optional prefix length.
//! The file itself is read at plan time (its content enters the cache key).

use super::read::{join, Ctx};
use super::top::opt;
use crate::yaml::Node;
use ddmd_core::prompts::source::{
    DECL_KEYS, MAX_IMAGES_PER_PROMPT, MAX_SHAPES_PROMPTS, SOURCE_KEYS,
};
use ddmd_core::{PromptSource, PromptsDecl, StageKind};
use std::path::PathBuf;

pub fn prompts(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    kind: Option<StageKind>,
) -> Option<PromptsDecl> {
    let entries = ctx.map(node, path)?;
    ctx.only_keys(entries, DECL_KEYS, path, "prompts");
    if kind.is_some_and(|k| k != StageKind::Command) {
        ctx.err(
            node.pos,
            path,
            "prompts are drawn by a command stage (your sampler); built-in stages draw the shapes prompts themselves",
        );
        return None;
    }
    let given: Vec<&str> = SOURCE_KEYS
        .iter()
        .copied()
        .filter(|k| opt(node, k).is_some())
        .collect();
    let key = match given.as_slice() {
        [one] => *one,
        [] => {
            ctx.err(
                node.pos,
                path,
                format!("expected one prompt source: {}", SOURCE_KEYS.join(", ")),
            );
            return None;
        }
        many => {
            ctx.err(
                node.pos,
                path,
                format!(
                    "expected one prompt source, found {}: keep one",
                    many.join(" and ")
                ),
            );
            return None;
        }
    };
    let src_node = opt(node, key)?;
    let src_path = join(path, key);
    let mut ok = true;
    let seed = match opt(node, "seed") {
        None => 0,
        Some(n) => match ctx.u32_in(n, &join(path, "seed"), 0, u32::MAX) {
            Some(v) => u64::from(v),
            None => {
                ok = false;
                0
            }
        },
    };
    let source = if key == "shapes" {
        let count = ctx.u32_in(src_node, &src_path, 1, MAX_SHAPES_PROMPTS as u32)?;
        PromptSource::Shapes {
            count: count as usize,
            seed,
        }
    } else {
        let s = ctx.string(src_node, &src_path)?;
        if s.trim().is_empty() {
            ctx.err(
                src_node.pos,
                &src_path,
                "expected a file path, found an empty string",
            );
            return None;
        }
        let p = PathBuf::from(s);
        match key {
            "dpg_bench" => PromptSource::DpgBench(p),
            "text" => PromptSource::Text(p),
            _ => PromptSource::Jsonl(p),
        }
    };
    let images_per_prompt = match opt(node, "images_per_prompt") {
        None => 1,
        Some(n) => ctx
            .u32_in(
                n,
                &join(path, "images_per_prompt"),
                1,
                MAX_IMAGES_PER_PROMPT,
            )
            .unwrap_or_else(|| {
                ok = false;
                1
            }),
    };
    let limit = match opt(node, "limit") {
        None => None,
        Some(n) => match ctx.u32_in(n, &join(path, "limit"), 1, u32::MAX) {
            Some(v) => Some(v as usize),
            None => {
                ok = false;
                None
            }
        },
    };
    ok.then_some(PromptsDecl {
        source,
        images_per_prompt,
        seed,
        limit,
    })
}
