//! Flattening of parameter objects into `(key, value)` rows for the `params` table, so that SQL
//! can filter runs by `params.key = 'distill.alpha'` without JSON functions.

use serde_json::Value;

/// Nested object keys joined with '.', values as JSON text (`"hybrid"` with its quotes, `4.0`,
/// `[1,4]`). Arrays are leaves; an empty object is kept as `{}` so that it is not lost. A
/// non-object at the top level yields one pair with an empty key. Sorted by key.
pub fn flatten_params(params: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match params {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                walk(k.clone(), v, &mut out);
            }
        }
        Value::Object(_) | Value::Null => {}
        other => out.push((String::new(), other.to_string())),
    }
    out.sort();
    out
}

fn walk(prefix: String, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, child) in map {
                walk(format!("{prefix}.{k}"), child, out);
            }
        }
        leaf => out.push((prefix, leaf.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_keys_are_joined_and_values_are_json_text() {
        let p = json!({
            "lr": 0.001,
            "schedule": "hybrid",
            "data": {"kind": "shapes", "objects": [1, 3], "opts": {}},
            "terms": {"ca": 1.0, "dm": null},
        });
        assert_eq!(
            flatten_params(&p),
            vec![
                ("data.kind".to_string(), "\"shapes\"".to_string()),
                ("data.objects".to_string(), "[1,3]".to_string()),
                ("data.opts".to_string(), "{}".to_string()),
                ("lr".to_string(), "0.001".to_string()),
                ("schedule".to_string(), "\"hybrid\"".to_string()),
                ("terms.ca".to_string(), "1.0".to_string()),
                ("terms.dm".to_string(), "null".to_string()),
            ]
        );
    }

    #[test]
    fn empty_and_scalar_tops() {
        assert!(flatten_params(&json!({})).is_empty());
        assert!(flatten_params(&Value::Null).is_empty());
        assert_eq!(
            flatten_params(&json!(3)),
            vec![(String::new(), "3".to_string())]
        );
    }
}
