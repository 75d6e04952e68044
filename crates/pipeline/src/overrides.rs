//! `--set key.path=value` overrides and `--set key=v1,v2` sweeps, applied to a parsed [`Spec`].
//!
//! Scoping: when the first component names a stage, the rest is a path in that stage's params.
//! Otherwise the value goes into `defaults` and into every stage whose params already hold the
//! top-level key (stage params override defaults, so setting defaults alone would be silently
//! ignored there). A sweep becomes a matrix axis named by the dotted key: on the named stage,
//! or, unscoped, on every stage that does not fan in.

use crate::error::{did_you_mean, SpecError, SpecErrors};
use crate::model::{Axis, AxisValue, Spec};
use crate::parse::check_label;
use crate::parse::keys::MAX_POINTS;
use crate::parse::read::{is_ident, Ctx};
use crate::yaml;
use ddmd_core::StageName;
use serde_json::{Map, Value};
use std::path::Path;

/// One `--set` argument.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// The argument as given.
    pub raw: String,
    /// The key split at dots.
    pub path: Vec<String>,
    /// One value, or several for a sweep.
    pub values: Vec<Value>,
}

impl Override {
    pub fn is_sweep(&self) -> bool {
        self.values.len() > 1
    }

    fn key(&self) -> String {
        self.path.join(".")
    }
}

fn set_err(path: &str, message: impl Into<String>) -> SpecError {
    SpecError::new(Path::new("--set"), None, path, message)
}

/// Parses `a.b=v` or `lr=0.1,0.01` (a sweep). Each value is read as YAML, so `0.1` is a
/// number, `true` a boolean and `[1,2]` one list value; commas inside quotes or brackets do
/// not split.
pub fn parse_override(arg: &str) -> Result<Override, SpecError> {
    let Some((key, text)) = arg.split_once('=') else {
        return Err(set_err(
            "",
            format!(
                "expected key=value (e.g. lr=0.1 or lr=0.1,0.01), found {:?}",
                arg
            ),
        ));
    };
    let path: Vec<String> = key.split('.').map(str::to_string).collect();
    if let Some(bad) = path.iter().find(|c| !is_ident(c, &['_', '-'])) {
        return Err(set_err(
            key,
            format!("invalid key {:?} (component {:?}); use letters, digits, '_' and '-' separated by dots", key, bad),
        ));
    }
    if text.trim().is_empty() {
        return Err(set_err(
            key,
            format!(
                "missing value after '=' in {:?}; to set an empty string write {key}=\"''\"",
                arg
            ),
        ));
    }
    let parts = split_values(text).map_err(|m| set_err(key, m))?;
    let mut values = Vec::new();
    for part in parts {
        let part = part.trim();
        if part.is_empty() {
            return Err(set_err(key, format!("empty value in the list {:?}", text)));
        }
        let v = parse_value(part).map_err(|m| set_err(key, m))?;
        if values.contains(&v) {
            return Err(set_err(key, format!("value {part} is listed twice")));
        }
        values.push(v);
    }
    Ok(Override {
        raw: arg.to_string(),
        path,
        values,
    })
}

/// Splits at commas outside quotes and brackets.
fn split_values(text: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quote.is_some() || depth != 0 {
        return Err(format!("unbalanced quotes or brackets in {:?}", text));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn parse_value(part: &str) -> Result<Value, String> {
    let parsed = yaml::parse(part);
    if let Some(e) = parsed.errors.first() {
        return Err(format!("invalid value {:?}: {}", part, e.message));
    }
    let Some(root) = parsed.root else {
        return Err(format!("invalid value {:?}", part));
    };
    let mut ctx = Ctx::new(Path::new("--set"));
    let v = ctx.json(&root, "");
    match ctx.errors.first() {
        Some(e) => Err(format!("invalid value {:?}: {}", part, e.message)),
        None => Ok(v),
    }
}

/// Applies overrides in order (a later one wins); collects every error.
pub fn apply_overrides(spec: &mut Spec, ovs: &[Override]) -> Result<(), SpecErrors> {
    let mut errors = Vec::new();
    for ov in ovs {
        if let Err(e) = apply_one(spec, ov) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(SpecErrors(errors))
    }
}

fn apply_one(spec: &mut Spec, ov: &Override) -> Result<(), SpecError> {
    let key = ov.key();
    let Some(first) = ov.path.first() else {
        return Err(set_err("", "empty key"));
    };
    if let Some(stage) = spec.stages.get_mut(&StageName(first.clone())) {
        let rest: Vec<&str> = ov.path[1..].iter().map(String::as_str).collect();
        if rest.is_empty() {
            return Err(set_err(
                &key,
                format!("'{first}' is a stage; expected {first}.<param>=value"),
            ));
        }
        let pkey = rest.join(".");
        if stage.matrix.iter().any(|a| a.name == pkey) {
            return Err(axis_clash(&key, &pkey, &stage.name));
        }
        if let Some(axis) = extra_holder(&stage.matrix, rest[0]) {
            return Err(extra_clash(&key, rest[0], &axis, &stage.name));
        }
        let name = stage.name.clone();
        if ov.is_sweep() {
            add_axis(&mut stage.matrix, &pkey, &ov.values, &stage.name, &key)?;
            spec.overridden.push(format!("stages.{name}.matrix.{pkey}"));
        } else {
            set_checked(&mut stage.params, &rest, ov.values[0].clone())
                .map_err(|m| set_err(&key, m))?;
            spec.overridden.push(format!("stages.{name}.params.{pkey}"));
        }
        return Ok(());
    }

    let top_known = spec.defaults.contains_key(first)
        || spec.stages.values().any(|s| s.params.contains_key(first));
    if ov.path.len() > 1 && !top_known {
        let names: Vec<&str> = spec.stages.keys().map(|s| s.as_str()).collect();
        let hint = did_you_mean(first, names.iter().copied());
        if !hint.is_empty() {
            return Err(set_err(
                &key,
                format!(
                    "unknown stage '{first}'{hint}; stages: {}",
                    names.join(", ")
                ),
            ));
        }
    }
    let path: Vec<&str> = ov.path.iter().map(String::as_str).collect();
    if ov.is_sweep() {
        // A key some stages hold in their own params sweeps those stages only (the others'
        // jobs would be identical copies); a key in defaults, or nowhere yet, sweeps every
        // stage that does not fan in.
        let holders = spec
            .stages
            .values()
            .filter(|s| !s.fan_in && s.params.contains_key(first))
            .count();
        let only_holders = holders > 0 && !spec.defaults.contains_key(first);
        for stage in spec
            .stages
            .values_mut()
            .filter(|s| !s.fan_in && (!only_holders || s.params.contains_key(first)))
        {
            if stage.matrix.iter().any(|a| a.name == key) {
                return Err(axis_clash(&key, &key, &stage.name));
            }
            add_axis(&mut stage.matrix, &key, &ov.values, &stage.name, &key)?;
            spec.overridden
                .push(format!("stages.{}.matrix.{key}", stage.name));
        }
        return Ok(());
    }
    if let Some(stage) = spec
        .stages
        .values()
        .find(|s| s.matrix.iter().any(|a| a.name == key))
    {
        return Err(axis_clash(&key, &key, &stage.name));
    }
    for stage in spec.stages.values() {
        if let Some(axis) = extra_holder(&stage.matrix, first) {
            return Err(extra_clash(&key, first, &axis, &stage.name));
        }
    }
    let value = ov.values[0].clone();
    set_checked(&mut spec.defaults, &path, value.clone())
        .map_err(|m| set_err(&key, format!("in defaults: {m}")))?;
    spec.overridden.push(format!("defaults.{key}"));
    for stage in spec.stages.values_mut() {
        if stage.params.contains_key(first) {
            set_checked(&mut stage.params, &path, value.clone())
                .map_err(|m| set_err(&key, format!("in stage '{}': {m}", stage.name)))?;
            spec.overridden
                .push(format!("stages.{}.params.{key}", stage.name));
        }
    }
    Ok(())
}

fn axis_clash(key: &str, axis: &str, stage: &StageName) -> SpecError {
    set_err(
        key,
        format!("'{axis}' is already a matrix axis of stage '{stage}'; change the matrix (or its include/exclude) in the file instead"),
    )
}

/// The axis whose mapping values set `param` (their extra keys win over params).
fn extra_holder(matrix: &[Axis], param: &str) -> Option<String> {
    matrix
        .iter()
        .find(|a| a.values.iter().any(|v| v.extra.contains_key(param)))
        .map(|a| a.name.clone())
}

fn extra_clash(key: &str, param: &str, axis: &str, stage: &StageName) -> SpecError {
    set_err(
        key,
        format!("'{param}' is set by the values of matrix axis '{axis}' of stage '{stage}', which would override this --set; change the matrix in the file instead"),
    )
}

fn add_axis(
    matrix: &mut Vec<Axis>,
    name: &str,
    values: &[Value],
    stage: &StageName,
    key: &str,
) -> Result<(), SpecError> {
    let values: Vec<AxisValue> = values.iter().cloned().map(AxisValue::scalar).collect();
    for v in &values {
        check_label(&v.label).map_err(|m| set_err(key, m))?;
    }
    let points = matrix
        .iter()
        .try_fold(values.len(), |acc, a| acc.checked_mul(a.values.len()));
    if points.is_none_or(|n| n > MAX_POINTS) {
        return Err(set_err(
            key,
            format!("the sweep would give stage '{stage}' more than {MAX_POINTS} points"),
        ));
    }
    matrix.push(Axis {
        name: name.to_string(),
        values,
    });
    Ok(())
}

/// Sets a nested key, refusing to replace a non-mapping on the way.
fn set_checked(map: &mut Map<String, Value>, path: &[&str], value: Value) -> Result<(), String> {
    let mut cur = map;
    for (i, comp) in path.iter().enumerate() {
        if i + 1 == path.len() {
            cur.insert((*comp).to_string(), value);
            return Ok(());
        }
        let slot = cur
            .entry((*comp).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        cur = match slot {
            Value::Object(m) => m,
            other => {
                return Err(format!(
                    "'{}' is {}, not a mapping",
                    path[..=i].join("."),
                    describe(other)
                ));
            }
        };
    }
    Ok(())
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", yaml::quote(s)),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}
