//! `samples`: which runs' sample grids the report shows. `true` / `false` is shorthand for
//! the default selection or none; a mapping narrows it.

use super::filter::{opt_filter, Filter};
use super::values::{check_keys, show, string, uint};
use crate::error::{ReportError, Result};
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Clone, Debug, Serialize)]
pub struct SamplesSpec {
    pub enabled: bool,
    pub filter: Filter,
    /// Only runs of these stages (all when empty).
    pub stages: Vec<String>,
    /// Prompts listed under each grid.
    pub max_prompts: usize,
}

impl Default for SamplesSpec {
    fn default() -> Self {
        SamplesSpec {
            enabled: true,
            filter: Vec::new(),
            stages: Vec::new(),
            max_prompts: 16,
        }
    }
}

pub(super) const SAMPLES_KEYS: &[&str] = &["filter", "stages", "max_prompts", "enabled"];

pub(super) fn parse_samples(v: &Value, path: &str) -> Result<SamplesSpec> {
    match v {
        Value::Bool(b) => Ok(SamplesSpec {
            enabled: *b,
            ..SamplesSpec::default()
        }),
        Value::Object(m) => parse_samples_map(m, path),
        other => Err(ReportError::param(
            path,
            format!(
                "expected true/false or {{filter, stages, max_prompts}}, got {}",
                show(other)
            ),
        )),
    }
}

/// The mapping form: each key present replaces its default.
fn parse_samples_map(m: &Map<String, Value>, path: &str) -> Result<SamplesSpec> {
    check_keys(m, SAMPLES_KEYS, path)?;
    let mut s = SamplesSpec::default();
    if let Some(e) = m.get("enabled") {
        s.enabled = match e {
            Value::Bool(b) => *b,
            other => {
                return Err(ReportError::param(
                    format!("{path}.enabled"),
                    format!("expected true or false, got {}", show(other)),
                ))
            }
        };
    }
    s.filter = opt_filter(m, path)?;
    if let Some(st) = m.get("stages") {
        s.stages = parse_stages(st, &format!("{path}.stages"))?;
    }
    if let Some(n) = m.get("max_prompts") {
        s.max_prompts = uint(n, &format!("{path}.max_prompts"))?;
    }
    Ok(s)
}

/// One stage name or a list of them.
fn parse_stages(v: &Value, path: &str) -> Result<Vec<String>> {
    match v {
        Value::String(one) => Ok(vec![one.clone()]),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| string(v, &format!("{path}[{i}]")))
            .collect(),
        other => Err(ReportError::param(
            path,
            format!(
                "expected a stage name or a list of them, got {}",
                show(other)
            ),
        )),
    }
}
