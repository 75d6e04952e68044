//! The shape of a table before any value is read: which runs take part, the rows (one per
//! combination of row-axis values) and the columns (metrics, or values of the column axis),
//! each in order of first appearance among the runs.

use super::select::passes;
use crate::model::{RunRecord, RunRecordExt};
use crate::report_params::{Columns, TableSpec};

/// One column: its header label, the metric pattern its cells show, and the value of the
/// column axis its runs have (`None` for a metric column, which takes every run of the row).
pub(super) struct ColumnDef {
    pub label: String,
    pub pattern: String,
    pub axis_value: Option<String>,
}

/// The axis whose values make the columns, when the table pivots on one.
pub(super) fn column_axis(spec: &TableSpec) -> Option<&str> {
    match &spec.columns {
        Columns::Axis { axis, .. } => Some(axis.as_str()),
        Columns::Metrics(_) => None,
    }
}

/// The runs that pass the filter and have every axis the table is laid out by.
pub(super) fn candidates<'a>(
    spec: &TableSpec,
    runs: &'a [RunRecord],
    col_axis: Option<&str>,
) -> Vec<&'a RunRecord> {
    runs.iter()
        .filter(|r| passes(r, &spec.filter))
        .filter(|r| spec.rows.iter().all(|a| r.label(a).is_some()))
        .filter(|r| col_axis.is_none_or(|a| r.label(a).is_some()))
        .collect()
}

/// The distinct combinations of row-axis values.
pub(super) fn row_keys(spec: &TableSpec, runs: &[&RunRecord]) -> Vec<Vec<String>> {
    let mut keys: Vec<Vec<String>> = Vec::new();
    for r in runs {
        let key: Vec<String> = spec
            .rows
            .iter()
            .map(|a| r.label(a).unwrap_or("").to_string())
            .collect();
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// The declared metric columns, or one column per value of the column axis.
pub(super) fn column_defs(spec: &TableSpec, runs: &[&RunRecord]) -> Vec<ColumnDef> {
    let mut defs: Vec<ColumnDef> = Vec::new();
    match &spec.columns {
        Columns::Metrics(cols) => {
            for c in cols {
                defs.push(ColumnDef {
                    label: c.label.clone().unwrap_or_else(|| c.metric.clone()),
                    pattern: c.metric.clone(),
                    axis_value: None,
                });
            }
        }
        Columns::Axis { axis, metric } => {
            for r in runs {
                let v = r.label(axis).unwrap_or("").to_string();
                if !defs
                    .iter()
                    .any(|c| c.axis_value.as_deref() == Some(v.as_str()))
                {
                    defs.push(ColumnDef {
                        label: format!("{axis}={v}"),
                        pattern: metric.clone(),
                        axis_value: Some(v),
                    });
                }
            }
        }
    }
    defs
}

/// The runs of one row: those with exactly its row-axis values.
pub(super) fn runs_in_row<'a>(
    spec: &TableSpec,
    runs: &[&'a RunRecord],
    key: &[String],
) -> Vec<&'a RunRecord> {
    runs.iter()
        .copied()
        .filter(|r| {
            spec.rows
                .iter()
                .zip(key)
                .all(|(a, v)| r.label(a) == Some(v.as_str()))
        })
        .collect()
}

/// The runs of one cell: the row's runs, narrowed to the column's axis value if it has one.
pub(super) fn runs_in_cell<'a>(
    in_row: &[&'a RunRecord],
    col_axis: Option<&str>,
    col: &ColumnDef,
) -> Vec<&'a RunRecord> {
    in_row
        .iter()
        .copied()
        .filter(|r| match (col_axis, &col.axis_value) {
            (Some(a), Some(v)) => r.label(a) == Some(v.as_str()),
            _ => true,
        })
        .collect()
}
