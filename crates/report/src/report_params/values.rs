//! Readers of single JSON values for the params parser: each returns the value or one
//! [`ReportError::Param`] naming the field path and what was expected, so that every
//! message of the parser has the same shape (`tables[0].rows: expected …, got …`).

use crate::error::{ReportError, Result};
use serde_json::{Map, Value};

/// Rejects keys outside `allowed`, suggesting the nearest one: inside `tables`, `plots` and
/// `samples` every key is the report's, so a misspelt one is a mistake, not a pass-through.
pub(super) fn check_keys(m: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<()> {
    for k in m.keys() {
        if !allowed.contains(&k.as_str()) {
            let hint = allowed
                .iter()
                .find(|a| edit_distance(a, k) <= 2)
                .map(|a| format!("; did you mean `{a}`?"))
                .unwrap_or_else(|| format!("; expected one of: {}", allowed.join(", ")));
            return Err(ReportError::param(
                format!("{path}.{k}"),
                format!("unknown key{hint}"),
            ));
        }
    }
    Ok(())
}

pub(super) fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| ReportError::param(path, format!("expected a mapping, got {}", show(v))))
}

pub(super) fn array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>> {
    v.as_array()
        .ok_or_else(|| ReportError::param(path, format!("expected a list, got {}", show(v))))
}

pub(super) fn string(v: &Value, path: &str) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(ReportError::param(
            path,
            format!("expected a string, got {}", show(other)),
        )),
    }
}

/// `m[key]` as a string when present; the error path is `{path}.{key}`. Most optional text
/// fields (titles, notes, series) read this way.
pub(super) fn opt_string(m: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>> {
    match m.get(key) {
        Some(v) => Ok(Some(string(v, &format!("{path}.{key}"))?)),
        None => Ok(None),
    }
}

/// `m[key]` as a boolean when present: only `true` / `false`, not `"no"` or `0`, so a switch
/// reads one way in every file.
pub(super) fn opt_bool(m: &Map<String, Value>, key: &str, path: &str) -> Result<Option<bool>> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ReportError::param(
            format!("{path}.{key}"),
            format!("expected true or false, got {}", show(other)),
        )),
    }
}

pub(super) fn uint(v: &Value, path: &str) -> Result<usize> {
    v.as_u64().map(|n| n as usize).ok_or_else(|| {
        ReportError::param(
            path,
            format!("expected a non-negative integer, got {}", show(v)),
        )
    })
}

/// A value as an error message shows it: its type and a short rendering.
pub(super) fn show(v: &Value) -> String {
    let kind = match v {
        Value::Null => return "null".into(),
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    };
    let mut text = v.to_string();
    if text.len() > 40 {
        let cut = (0..=40)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    format!("{kind} {text}")
}

/// Levenshtein distance, for the "did you mean" hint of [`check_keys`].
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
