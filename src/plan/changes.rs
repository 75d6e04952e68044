//! What changed in a job since its latest run, in the words `plan` prints after "run:"
//! (`changed since run 3: iterations 160 → 400`): the parameters (flattened `a.b` keys, as the
//! `params` table holds them), the upstream jobs, the input files, the stage kind's version and
//! the rendered command — every input of a cache key except the key's own format.

use super::{JobIx, Plan};
use ddmd_store::{flatten_params, LatestRun};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// At most this many changes are named; the rest are counted.
const MAX_NAMED: usize = 4;
/// Longer values are cut (a command template can be a paragraph).
const MAX_VALUE_CHARS: usize = 40;

/// The changes from `last` to job `ix`, or `None` when nothing recorded differs (a run from
/// before the cache key's inputs were recorded, or a new key format).
pub fn describe(plan: &Plan, ix: JobIx, last: &LatestRun) -> Option<String> {
    let job = &plan.jobs[ix];
    let mut out = params_changes(&last.params, &Value::Object(job.params.clone()));
    let recorded = last.key_inputs.as_ref().and_then(Value::as_object);
    if let Some(old) = recorded {
        let now = plan.key_inputs(ix);
        let num = |m: &Map<String, Value>| m.get("impl_version").and_then(Value::as_u64);
        if let (Some(a), Some(b)) = (num(old), now.get("impl_version").and_then(Value::as_u64)) {
            if a != b {
                out.push(format!(
                    "the built-in {} stage's implementation (version {a} → {b})",
                    job.kind
                ));
            }
        }
        for (name, change) in map_changes(old.get("upstream"), now.get("upstream")) {
            out.push(match change {
                Change::Changed => format!("upstream {name} changed"),
                Change::Added => format!("new upstream {name}"),
                Change::Removed => format!("upstream {name} no longer needed"),
            });
        }
        for (name, change) in map_changes(old.get("inputs"), now.get("inputs")) {
            out.push(match change {
                Change::Changed => format!("input {name} changed"),
                Change::Added => format!("new input {name}"),
                Change::Removed => format!("input {name} dropped"),
            });
        }
    }
    // The command follows from the template (a parameter) and the upstream folders: name it
    // only when nothing else explains the change (`{{ pipeline_dir }}` after a move).
    if out.is_empty() && recorded.is_some() && last.command != job.command {
        out.push(format!(
            "command {} → {}",
            shown_text(last.command.as_deref().unwrap_or("(none)")),
            shown_text(job.command.as_deref().unwrap_or("(none)"))
        ));
    }
    if out.is_empty() {
        return None;
    }
    let more = out.len().saturating_sub(MAX_NAMED);
    out.truncate(MAX_NAMED);
    let mut text = out.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    Some(text)
}

/// `key old → new` for each flattened parameter that differs, in key order.
fn params_changes(old: &Value, new: &Value) -> Vec<String> {
    let old: BTreeMap<String, String> = flatten_params(old).into_iter().collect();
    let new: BTreeMap<String, String> = flatten_params(new).into_iter().collect();
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (a, b) = (old.get(k), new.get(k));
            (a != b).then(|| {
                let show = |v: Option<&String>| v.map_or("(unset)".to_string(), |v| shown_json(v));
                format!("{k} {} → {}", show(a), show(b))
            })
        })
        .collect()
}

enum Change {
    Changed,
    Added,
    Removed,
}

/// Keys of two JSON objects whose values differ, are new, or are gone.
fn map_changes(old: Option<&Value>, new: Option<&Value>) -> Vec<(String, Change)> {
    let empty = Map::new();
    let old = old.and_then(Value::as_object).unwrap_or(&empty);
    let new = new.and_then(Value::as_object).unwrap_or(&empty);
    let mut out = Vec::new();
    for (k, v) in new {
        match old.get(k) {
            Some(o) if o == v => {}
            Some(_) => out.push((k.clone(), Change::Changed)),
            None => out.push((k.clone(), Change::Added)),
        }
    }
    for k in old.keys().filter(|k| !new.contains_key(*k)) {
        out.push((k.clone(), Change::Removed));
    }
    out
}

/// A flattened value (JSON text) as a person reads it: strings without their quotes.
fn shown_json(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::String(s)) if !s.is_empty() && !s.contains(' ') => cut(&s),
        Ok(Value::String(s)) => shown_text(&s),
        _ => cut(text),
    }
}

/// Free text, quoted so that its ends are visible.
fn shown_text(s: &str) -> String {
    format!("{:?}", cut(s))
}

fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_VALUE_CHARS {
        return s.to_string();
    }
    let head: String = s.chars().take(MAX_VALUE_CHARS - 1).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameters_are_named_with_old_and_new_values() {
        let got = params_changes(
            &json!({"iterations": 160, "schedule": "hybrid", "opt": {"lr": 0.1}, "gone": 1}),
            &json!({"iterations": 400, "schedule": "coupled", "opt": {"lr": 0.1}, "new": "a b"}),
        );
        assert_eq!(
            got,
            [
                "gone 1 → (unset)",
                "iterations 160 → 400",
                "new (unset) → \"a b\"",
                "schedule hybrid → coupled"
            ]
        );
    }

    #[test]
    fn long_values_are_cut() {
        assert_eq!(cut(&"x".repeat(50)).chars().count(), MAX_VALUE_CHARS);
    }
}
