//! Cache keys (DESIGN §5): sha256 of one canonical JSON document holding every input of a
//! job. Object keys are sorted recursively here, whatever map order the parser kept.

use ddmd_core::{CacheKey, StageKind};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Every input of a cache key, in one place.
pub struct CacheInputs<'a> {
    pub stage: &'a str,
    pub kind: StageKind,
    pub params: &'a Map<String, Value>,
    pub upstream: Vec<CacheKey>,
    pub command: Option<&'a str>,
    /// (path as written, sha256 of content)
    pub inputs: Vec<(String, String)>,
}

pub fn cache_key(i: &CacheInputs<'_>) -> CacheKey {
    let mut upstream: Vec<&str> = i.upstream.iter().map(|k| k.0.as_str()).collect();
    upstream.sort_unstable();
    let mut inputs = i.inputs.clone();
    inputs.sort();
    let doc = serde_json::json!({
        "format": 1,
        "stage": i.stage,
        "kind": i.kind.as_str(),
        "impl_version": i.kind.impl_version(),
        "params": canonical(&Value::Object(i.params.clone())),
        "upstream": upstream,
        "command": i.command,
        "inputs": inputs,
    });
    let text = canonical(&doc).to_string();
    CacheKey(hex::encode(Sha256::digest(text.as_bytes())))
}

/// Rebuilds objects with sorted keys so the encoding never depends on insertion order.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), canonical(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

pub fn hash_file(path: &Path) -> std::io::Result<String> {
    ddmd_core::text::sha256_file(path).map(|(hash, _)| hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(params: Value, upstream: Vec<&str>) -> CacheKey {
        let p = params.as_object().cloned().unwrap_or_default();
        cache_key(&CacheInputs {
            stage: "s",
            kind: StageKind::Command,
            params: &p,
            upstream: upstream.into_iter().map(|s| CacheKey(s.into())).collect(),
            command: Some("echo"),
            inputs: vec![],
        })
    }

    #[test]
    fn key_ignores_map_and_upstream_order() {
        let a = key(
            serde_json::json!({"a": 1, "b": {"x": 1, "y": 2}}),
            vec!["k1", "k2"],
        );
        let b = key(
            serde_json::json!({"b": {"y": 2, "x": 1}, "a": 1}),
            vec!["k2", "k1"],
        );
        assert_eq!(a, b);
    }

    #[test]
    fn key_changes_with_any_input() {
        let base = key(serde_json::json!({"a": 1}), vec!["k1"]);
        assert_ne!(base, key(serde_json::json!({"a": 2}), vec!["k1"]));
        assert_ne!(base, key(serde_json::json!({"a": 1}), vec!["k3"]));
        assert_ne!(base, key(serde_json::json!({"a": 1.0}), vec!["k1"]));
    }
}
