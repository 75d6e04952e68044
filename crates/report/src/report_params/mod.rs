//! The `params` of a report stage, parsed and validated into a [`ReportSpec`]. Errors name the
//! field path (`tables[0].columns[2]`) and what was expected.
//!
//! The top level of a stage's params also holds parameters inherited from the pipeline's
//! `defaults` (`seed`, `data`, …), so unknown top-level keys are ignored here (the plan checks
//! them by name, `ddmd_core::params`, and names a misspelt report key); inside `tables`, `plots`
//! and `samples` every key is ours and unknown keys are errors.
//!
//! One file per part of the params: [`tables`](TableSpec), [`plots`](PlotSpec),
//! [`samples`](SamplesSpec), the `filter` all three share, and the value readers behind every
//! message.

mod filter;
mod plots;
mod samples;
mod tables;
mod values;

use crate::error::Result;
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::PathBuf;
use values::{array, string, uint};

pub use filter::Filter;
pub use plots::{PlotKind, PlotSpec};
pub use samples::SamplesSpec;
pub use tables::{ColumnSpec, Columns, TableSpec};

#[derive(Clone, Debug, Default, Serialize)]
pub struct ReportSpec {
    pub title: Option<String>,
    pub description: Option<String>,
    /// Publish the finished report to `<output_dir>/<pipeline>/` (and refresh the index of
    /// reports there); `None`: the default, `reports/` (`stage::DEFAULT_OUTPUT_DIR`).
    pub output_dir: Option<PathBuf>,
    pub tables: Vec<TableSpec>,
    pub plots: Vec<PlotSpec>,
    pub samples: SamplesSpec,
    /// Lines of each job's log shown on its run page.
    pub log_tail: usize,
}

/// Parses and validates the `params` of a report stage.
pub fn parse_report_params(params: &Map<String, Value>) -> Result<ReportSpec> {
    let mut spec = ReportSpec {
        log_tail: 40,
        ..ReportSpec::default()
    };
    // Unknown top-level keys are the plan's to reject (`ddmd_core::params::check`, with the
    // key's own location); inherited defaults land here too and are ignored.
    if let Some(v) = params.get("title") {
        spec.title = Some(string(v, "title")?);
    }
    if let Some(v) = params.get("description") {
        spec.description = Some(string(v, "description")?);
    }
    if let Some(v) = params.get("output_dir") {
        spec.output_dir = Some(PathBuf::from(string(v, "output_dir")?));
    }
    if let Some(v) = params.get("log_tail") {
        spec.log_tail = uint(v, "log_tail")?;
    }
    if let Some(v) = params.get("tables") {
        let items = array(v, "tables")?;
        for (i, item) in items.iter().enumerate() {
            spec.tables
                .push(tables::parse_table(item, &format!("tables[{i}]"))?);
        }
    }
    if let Some(v) = params.get("plots") {
        let items = array(v, "plots")?;
        for (i, item) in items.iter().enumerate() {
            spec.plots
                .push(plots::parse_plot(item, &format!("plots[{i}]"))?);
        }
    }
    if let Some(v) = params.get("samples") {
        spec.samples = samples::parse_samples(v, "samples")?;
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use ddmd_core::StageKind;
    use serde_json::Value;

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v["properties"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    }

    fn sorted(k: &[&str]) -> Vec<String> {
        let mut k: Vec<String> = k.iter().map(|s| s.to_string()).collect();
        k.sort();
        k
    }

    /// The editor's schema (`ddmd_core::params::report`) names exactly the keys parsed here.
    #[test]
    fn the_json_schema_names_the_keys_this_parser_takes() {
        let (s, _) = ddmd_core::params::json_schema(StageKind::Report).expect("report schema");
        let props = &s["properties"];
        assert_eq!(
            keys(&props["tables"]["items"]),
            sorted(super::tables::TABLE_KEYS)
        );
        assert_eq!(
            keys(&props["plots"]["items"]),
            sorted(super::plots::PLOT_KEYS)
        );
        assert_eq!(
            keys(&props["samples"]["anyOf"][1]),
            sorted(super::samples::SAMPLES_KEYS)
        );
        assert_eq!(
            props["tables"]["items"]["properties"]["preset"]["enum"],
            serde_json::json!(crate::presets::names())
        );
    }
}
