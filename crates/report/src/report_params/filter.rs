//! The `filter` of tables, plots and samples: axis -> accepted value labels. One reader for
//! all three, so that a filter means the same wherever it is written.

use super::values::{object, show};
use crate::error::{ReportError, Result};
use serde_json::Value;

/// Axis filter: axis -> accepted value labels.
pub type Filter = Vec<(String, Vec<String>)>;

pub(super) fn parse_filter(v: &Value, path: &str) -> Result<Filter> {
    let m = object(v, path)?;
    let mut out = Vec::new();
    for (axis, want) in m {
        let p = format!("{path}.{axis}");
        let values = match want {
            Value::Array(a) if !a.is_empty() => a
                .iter()
                .enumerate()
                .map(|(i, v)| scalar_label(v, &format!("{p}[{i}]")))
                .collect::<Result<Vec<_>>>()?,
            other => vec![scalar_label(other, &p)?],
        };
        out.push((axis.clone(), values));
    }
    Ok(out)
}

/// `m.filter` when present, else no filter (every run passes).
pub(super) fn opt_filter(m: &serde_json::Map<String, Value>, path: &str) -> Result<Filter> {
    match m.get("filter") {
        Some(v) => parse_filter(v, &format!("{path}.filter")),
        None => Ok(Vec::new()),
    }
}

/// A filter value as the label a matrix point stores: strings as they are, numbers and
/// booleans in their JSON form, a mapping by its `name`.
fn scalar_label(v: &Value, path: &str) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Object(o) => match o.get("name") {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(ReportError::param(
                path,
                "expected a value label; a mapping needs a `name`",
            )),
        },
        other => Err(ReportError::param(
            path,
            format!(
                "expected a value (or a list of values), got {}",
                show(other)
            ),
        )),
    }
}
