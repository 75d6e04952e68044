//! Reads a command stage's prompt set at plan time: its content enters the cache key, and a
//! bad file is reported before anything runs, with the file's line.

use ddmd_core::prompts::{dpg_csv, source};
use ddmd_core::{PromptSet, PromptSource, PromptsDecl};
use std::path::Path;

/// The set a `prompts:` block declares; `base_dir` resolves relative paths (the pipeline
/// file's folder). The error is one line: `file:line: what was expected`.
pub fn load(decl: &PromptsDecl, base_dir: &Path) -> Result<PromptSet, String> {
    let (prompts, described) = match &decl.source {
        PromptSource::Shapes { count, seed } => {
            let csv = shapes_csv(*count, *seed)?;
            let prompts =
                dpg_csv::parse(&csv).map_err(|e| format!("the worker's shapes prompts: {e}"))?;
            (prompts, format!("shapes: {count} (seed {seed})"))
        }
        src => {
            let Some(file) = src.file() else {
                return Err("no file".into());
            };
            let full = if file.is_absolute() {
                file.clone()
            } else {
                base_dir.join(file)
            };
            let text = std::fs::read_to_string(&full)
                .map_err(|e| format!("cannot read prompt file {}: {e}", full.display()))?;
            let parsed = match src {
                PromptSource::DpgBench(_) => dpg_csv::parse(&text),
                PromptSource::Text(_) => source::parse_text(&text),
                _ => source::parse_jsonl(&text),
            };
            let prompts =
                parsed.map_err(|e| format!("{}:{}: {}", full.display(), e.line, e.message))?;
            (prompts, format!("{}: {}", src.key(), file.display()))
        }
    };
    if prompts.is_empty() {
        return Err(format!("the prompt set ({described}) has no prompts"));
    }
    let mut set = PromptSet {
        source: described,
        images_per_prompt: decl.images_per_prompt,
        seed: decl.seed,
        prompts,
    };
    set.truncate(decl.limit);
    Ok(set)
}

/// The built-in shapes prompts in DPG-Bench's CSV format, from the worker (the shapes world
/// lives with libtorch's crates; this process never loads them).
fn shapes_csv(count: usize, seed: u64) -> Result<String, String> {
    let worker = crate::builtin::worker_path();
    let out = std::process::Command::new(&worker)
        .args([
            "prompts",
            "--shapes",
            &count.to_string(),
            "--seed",
            &seed.to_string(),
        ])
        .output()
        .map_err(|e| {
            format!(
                "cannot start {} to draw the shapes prompts: {e}",
                worker.display()
            )
        })?;
    if !out.status.success() {
        return Err(format!(
            "{} prompts failed: {}",
            worker.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("the worker's shapes prompts: {e}"))
}
