//! Typed reading of YAML nodes with error collection: every helper either returns the value
//! or records one "expected X, found Y" error at the node and returns `None`, so that
//! validation goes on and reports everything it can.

use crate::error::{did_you_mean, SpecError};
use crate::yaml::{fmt_float, Entry, Kind, Node, Pos, Scalar};
use serde_json::{Map, Number, Value};
use std::path::{Path, PathBuf};

/// Collects errors for one file.
pub struct Ctx {
    pub file: PathBuf,
    pub errors: Vec<SpecError>,
}

/// `a.b` or `a[0]` from a parent path and a key.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl Ctx {
    pub fn new(file: &Path) -> Self {
        Ctx {
            file: file.to_path_buf(),
            errors: Vec::new(),
        }
    }

    pub fn err(&mut self, pos: Pos, path: &str, message: impl Into<String>) {
        self.errors
            .push(SpecError::new(&self.file, Some(pos.pair()), path, message));
    }

    pub fn map<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [Entry]> {
        match &node.kind {
            Kind::Map(e) => Some(e),
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!("expected a mapping, found {}", node.describe()),
                );
                None
            }
        }
    }

    pub fn seq<'n>(&mut self, node: &'n Node, path: &str, what: &str) -> Option<&'n [Node]> {
        match &node.kind {
            Kind::Seq(items) => Some(items),
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!("expected {what}, found {}", node.describe()),
                );
                None
            }
        }
    }

    /// Reports every key not in `allowed`, listing the allowed keys and the closest one.
    pub fn only_keys(&mut self, entries: &[Entry], allowed: &[&str], path: &str, what: &str) {
        for e in entries {
            if !allowed.contains(&e.key.as_str()) {
                let hint = did_you_mean(&e.key, allowed.iter().copied());
                self.err(
                    e.key_pos,
                    &join(path, &e.key),
                    format!(
                        "unknown key '{}' in {what}{hint}; allowed keys: {}",
                        e.key,
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.kind {
            Kind::Scalar(Scalar::Str(s)) => Some(s.clone()),
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!("expected a string, found {}", node.describe()),
                );
                None
            }
        }
    }

    pub fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.kind {
            Kind::Scalar(Scalar::Bool(b)) => Some(*b),
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!("expected true or false, found {}", node.describe()),
                );
                None
            }
        }
    }

    /// An integer in `min..=max`.
    pub fn u32_in(&mut self, node: &Node, path: &str, min: u32, max: u32) -> Option<u32> {
        let n: Option<i128> = match &node.kind {
            Kind::Scalar(Scalar::Int(i)) => Some(i128::from(*i)),
            Kind::Scalar(Scalar::UInt(u)) => Some(i128::from(*u)),
            _ => None,
        };
        match n {
            Some(v) if v >= i128::from(min) && v <= i128::from(max) => u32::try_from(v).ok(),
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!(
                        "expected a whole number from {min} to {max}, found {}",
                        node.describe()
                    ),
                );
                None
            }
        }
    }

    /// Any YAML value as JSON; reports numbers JSON cannot hold.
    pub fn json(&mut self, node: &Node, path: &str) -> Value {
        match &node.kind {
            Kind::Scalar(s) => match s {
                Scalar::Null => Value::Null,
                Scalar::Bool(b) => Value::Bool(*b),
                Scalar::Int(i) => Value::from(*i),
                Scalar::UInt(u) => Value::from(*u),
                Scalar::Str(s) => Value::String(s.clone()),
                Scalar::BigInt(t) => {
                    self.err(node.pos, path, format!("the number {t} does not fit in 64 bits; write it as a string or a float"));
                    Value::Null
                }
                Scalar::Float(f) => match Number::from_f64(*f) {
                    Some(n) => Value::Number(n),
                    None => {
                        self.err(
                            node.pos,
                            path,
                            format!(
                                "{} is not a finite number; parameters must be finite",
                                fmt_float(*f)
                            ),
                        );
                        Value::Null
                    }
                },
            },
            Kind::Seq(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| self.json(n, &format!("{path}[{i}]")))
                    .collect(),
            ),
            Kind::Map(entries) => Value::Object(self.json_map(entries, path)),
        }
    }

    pub fn json_map(&mut self, entries: &[Entry], path: &str) -> Map<String, Value> {
        entries
            .iter()
            .map(|e| (e.key.clone(), self.json(&e.value, &join(path, &e.key))))
            .collect()
    }
}

/// Whether `s` is non-empty and made of `[A-Za-z0-9]` and the given extra characters.
pub fn is_ident(s: &str, extra: &[char]) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}
