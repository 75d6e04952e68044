//! Every job's parameters checked against its stage kind's contract (`ddmd_core::params`)
//! before anything runs, each problem located where the value was written: the stage's
//! `params`, a matrix axis, the pipeline's `defaults`, or a `--set` argument.

use super::resolve::located;
use ddmd_core::params;
use ddmd_pipeline::{Point, Spec, SpecError, Stage};
use serde_json::{Map, Value};
use std::path::Path;

/// Where a top-level parameter of a job came from.
enum Origin {
    /// `stages.<stage>.matrix.<axis>` (the axis itself, or a key of a mapping value).
    Axis(String),
    Params,
    Defaults,
}

/// An axis whose values are all written as mappings with a `name`
/// (`terms: [{name: "CA + DM", ca: 1, dm: 1}]`, `model: [{name: "Teacher"}]`) names points;
/// its own key is a label, not a parameter. Its mappings' other keys are parameters. A
/// scalar axis sets the parameter of its name, so a misspelled one is an error.
fn is_label_axis(stage: &Stage, axis: &str) -> bool {
    stage
        .matrix
        .iter()
        .find(|a| a.name == axis)
        .is_some_and(|a| a.values.iter().all(|v| v.named))
}

fn top(axis: &str) -> &str {
    axis.split('.').next().unwrap_or(axis)
}

/// The problems with one job's parameters. `params` is the job's merged parameter map
/// (defaults, stage params, matrix point), as the cache key sees it.
pub(super) fn check_job(
    spec: &Spec,
    stage: &Stage,
    point: &Point,
    params: &Map<String, Value>,
) -> Vec<SpecError> {
    let known = params::known_keys(stage.kind);
    let origin = |key: &str| -> Origin {
        for (axis, v) in &point.0 {
            if top(axis) == key || v.extra.contains_key(key) {
                return Origin::Axis(axis.clone());
            }
        }
        if stage.params.contains_key(key) {
            Origin::Params
        } else {
            Origin::Defaults
        }
    };
    let mut checked = Map::new();
    for (key, value) in params {
        let label = point
            .0
            .iter()
            .any(|(axis, _)| axis == key && is_label_axis(stage, axis));
        if label {
            continue;
        }
        // A defaults key this kind does not read is for other stages (checked once, by
        // `check_defaults`); a key written on the stage itself must be this kind's.
        let unknown_here = known.as_ref().is_some_and(|k| !k.contains(key));
        if unknown_here && matches!(origin(key), Origin::Defaults) {
            continue;
        }
        checked.insert(key.clone(), value.clone());
    }
    params::check(stage.kind, &checked)
        .into_iter()
        .map(|issue| {
            let mut message = issue.message;
            let path = match origin(top(&issue.key)) {
                Origin::Axis(axis) => {
                    if top(&axis) == issue.key && message.starts_with("unknown parameter") {
                        message.push_str(
                            "; a matrix axis sets the parameter of its name (to label points instead, write its values as mappings: [{name: ...}])",
                        );
                    }
                    format!("stages.{}.matrix.{axis}", stage.name)
                }
                Origin::Params => format!("stages.{}.params.{}", stage.name, issue.key),
                Origin::Defaults => format!("defaults.{}", issue.key),
            };
            locate(spec, &path, message)
        })
        .collect()
}

/// Keys of `defaults` that no stage of the pipeline reads: a misspelled default would
/// otherwise reach every job and change nothing.
pub(super) fn check_defaults(spec: &Spec) -> Vec<SpecError> {
    let readers: Vec<Option<Vec<String>>> = spec
        .stages
        .values()
        .map(|s| params::known_keys(s.kind))
        .collect();
    // A command stage's template may read any key.
    if readers.iter().any(Option::is_none) {
        return Vec::new();
    }
    let all: Vec<&str> = readers
        .iter()
        .flatten()
        .flat_map(|k| k.iter().map(String::as_str))
        .collect();
    let kinds: Vec<String> = spec
        .stages
        .values()
        .map(|s| s.kind.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    spec.defaults
        .keys()
        .filter(|k| !all.contains(&k.as_str()))
        .map(|k| {
            let hint = ddmd_core::suggest::did_you_mean(k, all.iter().copied());
            locate(
                spec,
                &format!("defaults.{k}"),
                format!(
                    "unknown parameter{hint}: no stage of this pipeline ({}) reads it",
                    kinds.join(", ")
                ),
            )
        })
        .collect()
}

/// A located error; a value set on the command line (or a path the file does not hold) is
/// named as `--set`, not by the line of the file it replaced.
fn locate(spec: &Spec, path: &str, message: String) -> SpecError {
    let set_here = spec.overridden.iter().any(|p| {
        path == p
            || path
                .strip_prefix(p.as_str())
                .is_some_and(|r| r.starts_with('.'))
            || p.strip_prefix(path).is_some_and(|r| r.starts_with('.'))
    });
    if !set_here && ddmd_pipeline::location(spec, path).is_some() {
        return located(spec, path, message);
    }
    SpecError {
        file: Path::new("--set").to_path_buf(),
        line: None,
        column: None,
        path: path.to_string(),
        message,
    }
}

/// Drops repeats: a bad value in `params` is the same problem in every job of the stage.
pub(super) fn dedup(errors: &mut Vec<SpecError>) {
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert((e.file.clone(), e.path.clone(), e.message.clone())));
}
