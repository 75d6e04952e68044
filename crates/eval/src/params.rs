//! Reading stage parameters from a job's JSON params with defaults and clear errors.

use anyhow::{bail, Result};
use serde_json::{Map, Value};

pub fn usize_or(p: &Map<String, Value>, key: &str, default: usize) -> Result<usize> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_u64() {
            Some(u) => Ok(u as usize),
            None => bail!("parameter {key} must be a non-negative integer, got {v}"),
        },
    }
}

pub fn f64_or(p: &Map<String, Value>, key: &str, default: f64) -> Result<f64> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_f64() {
            Some(f) if f.is_finite() => Ok(f),
            _ => bail!("parameter {key} must be a number, got {v}"),
        },
    }
}

/// An integer or a list of integers (`sample_steps: 4` or `[1, 4]`).
pub fn usize_list(p: &Map<String, Value>, key: &str) -> Result<Option<Vec<usize>>> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_u64().map(|u| u as usize).ok_or_else(|| {
                    anyhow::anyhow!("{key} must hold non-negative integers, got {v}")
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(v) => match v.as_u64() {
            Some(u) => Ok(Some(vec![u as usize])),
            None => bail!("parameter {key} must be an integer or a list of integers, got {v}"),
        },
    }
}

pub fn string_list(p: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| anyhow::anyhow!("{key} must hold strings, got {v}"))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
        Some(v) => bail!("parameter {key} must be a list of strings, got {v}"),
    }
}
