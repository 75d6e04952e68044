//! Built-in table declarations: the seed's five tables, as YAML files under `reports/presets/`
//! embedded in the binary. A table entry `{preset: loss_terms, filter: {...}}` starts from the
//! preset and replaces any key it names.

use serde_json::{Map, Value};

const PRESETS: &[(&str, &str)] = &[
    (
        "loss_terms",
        include_str!("../../../reports/presets/loss_terms.yaml"),
    ),
    (
        "renoise_schedules",
        include_str!("../../../reports/presets/renoise_schedules.yaml"),
    ),
    (
        "regularizers",
        include_str!("../../../reports/presets/regularizers.yaml"),
    ),
    (
        "cfg_scale",
        include_str!("../../../reports/presets/cfg_scale.yaml"),
    ),
    (
        "deployment",
        include_str!("../../../reports/presets/deployment.yaml"),
    ),
];

pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

/// The preset's table declaration as a JSON mapping; the error says which presets exist.
pub fn load(name: &str) -> Result<Map<String, Value>, String> {
    let (_, text) = PRESETS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
        format!(
            "unknown preset {name:?}; expected one of: {}",
            names().join(", ")
        )
    })?;
    let file = std::path::PathBuf::from(format!("reports/presets/{name}.yaml"));
    let value = ddmd_pipeline::read_value(&file, text)
        .map_err(|e| format!("preset {name} is not valid YAML: {e}"))?;
    match value {
        Value::Object(m) => Ok(m),
        _ => Err(format!("preset {name} is not a mapping")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_as_a_table() {
        for name in names() {
            let mut params = Map::new();
            params.insert("tables".into(), serde_json::json!([{ "preset": name }]));
            let spec =
                crate::parse_report_params(&params).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(spec.tables.len(), 1);
            assert_eq!(spec.tables[0].preset.as_deref(), Some(name));
        }
    }
}
