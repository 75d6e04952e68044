//! A `--set` that no job reads is an error (issue 19): `--set train.stpes=10` on a command
//! stage whose command never uses `stpes` would otherwise change every cache key, rerun the
//! stage and everything after it, and change nothing. A built-in stage's keys are checked
//! by its contract (`params_check`); a command stage reads what its template names.

use super::render::template_reads;
use ddmd_core::params::{known_keys, EXECUTOR_KEYS};
use ddmd_core::suggest::did_you_mean;
use ddmd_core::{StageKind, StageName};
use ddmd_pipeline::{Override, Spec, SpecError, Stage};
use std::collections::BTreeSet;
use std::path::Path;

/// What one stage reads: `None` for everything (a template that reads `params` whole).
fn reads(stage: &Stage) -> Option<BTreeSet<String>> {
    let mut keys: BTreeSet<String> = match stage.kind {
        StageKind::Command => {
            let template = stage.params.get("run").and_then(|v| v.as_str())?;
            template_reads(template)?
        }
        kind => known_keys(kind)?.into_iter().collect(),
    };
    keys.extend(EXECUTOR_KEYS.iter().map(|k| k.to_string()));
    keys.insert("run".into());
    Some(keys)
}

pub(super) fn check(spec: &Spec, overrides: &[Override]) -> Vec<SpecError> {
    let has_command = spec.stages.values().any(|s| s.kind == StageKind::Command);
    let mut out = Vec::new();
    for ov in overrides {
        let Some(first) = ov.path.first() else {
            continue;
        };
        let key = ov.path.join(".");
        match spec.stages.get(&StageName(first.clone())) {
            // Scoped to a stage: that stage must read it. Built-in stages are checked by
            // their contract, with the parameter's own message.
            Some(stage) if stage.kind == StageKind::Command => {
                let Some(param) = ov.path.get(1) else {
                    continue;
                };
                let Some(read) = reads(stage) else {
                    continue;
                };
                if !read.contains(param) {
                    out.push(error(
                        &key,
                        format!(
                            "no job of stage '{first}' reads '{param}'{}; its command reads: {}",
                            did_you_mean(param, read.iter().map(String::as_str)),
                            shown(&read)
                        ),
                    ));
                }
            }
            Some(_) => {}
            // Unscoped, in a pipeline with command stages (without one, the contracts of the
            // built-in stages already name a key none of them reads): some stage must read it.
            None if has_command => {
                let mut all = BTreeSet::new();
                let mut everything = false;
                for s in spec.stages.values() {
                    match reads(s) {
                        Some(r) => all.extend(r),
                        None => everything = true,
                    }
                }
                if !everything && !all.contains(first) {
                    out.push(error(
                        &key,
                        format!(
                            "no stage of this pipeline reads '{first}'{}; they read: {}",
                            did_you_mean(first, all.iter().map(String::as_str)),
                            shown(&all)
                        ),
                    ));
                }
            }
            None => {}
        }
    }
    out
}

/// The keys a user can set: without the ones every stage takes (`run`, `mem`).
fn shown(read: &BTreeSet<String>) -> String {
    let keys: Vec<&str> = read
        .iter()
        .map(String::as_str)
        .filter(|k| *k != "run" && !EXECUTOR_KEYS.contains(k))
        .filter(|k| !super::render::BUILTIN_NAMES.contains(k))
        .collect();
    if keys.is_empty() {
        "no parameter".into()
    } else {
        keys.join(", ")
    }
}

fn error(key: &str, message: String) -> SpecError {
    SpecError::new(Path::new("--set"), None, key, message)
}
