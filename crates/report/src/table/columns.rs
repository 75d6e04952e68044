//! Column headers (label, better direction, unit, the metric's setting) and the best cell of
//! each column, which needs every row's value first.

use super::layout::ColumnDef;
use super::{CellState, ColumnModel, RowKind, RowModel};
use crate::metrics_meta::{self, Direction};
use crate::report_params::TableSpec;
use std::collections::BTreeSet;

/// The header of each column; the table's `direction` and `units` override what the report
/// knows of the metric.
pub(super) fn column_models(
    spec: &TableSpec,
    defs: &[ColumnDef],
    settings: &[BTreeSet<String>],
) -> Vec<ColumnModel> {
    defs.iter()
        .zip(settings)
        .map(|(def, s)| {
            let pattern = &def.pattern;
            let direction = match spec.direction.get(pattern) {
                Some(d) => *d,
                None => metrics_meta::known_direction(pattern),
            };
            let units = spec
                .units
                .get(pattern)
                .cloned()
                .or_else(|| metrics_meta::known_unit(pattern).map(str::to_string));
            ColumnModel {
                metric: pattern.clone(),
                label: def.label.clone(),
                direction,
                arrow: direction.map(|d| d.arrow().to_string()).unwrap_or_default(),
                units,
                setting: if s.is_empty() {
                    None
                } else {
                    Some(
                        s.iter()
                            .map(|x| pretty_setting(x))
                            .collect::<Vec<_>>()
                            .join(" | "),
                    )
                },
                setting_mixed: s.len() > 1,
            }
        })
        .collect()
}

/// Marks the best value of each column with a direction. Only cells with a value in variant
/// rows take part (the data row is a reference, not a contender); a column with a single
/// value, or with every value equal, has no best.
pub(super) fn mark_best(columns: &[ColumnModel], rows: &mut [RowModel]) {
    for (ci, col) in columns.iter().enumerate() {
        let Some(dir) = col.direction else { continue };
        let best = rows
            .iter()
            .filter(|r| r.kind == RowKind::Variant)
            .filter_map(|r| {
                r.cells[ci]
                    .mean
                    .filter(|m| m.is_finite() && r.cells[ci].state == CellState::Value)
            })
            .fold(None, |acc: Option<f64>, v| match (acc, dir) {
                (None, _) => Some(v),
                (Some(a), Direction::Up) => Some(a.max(v)),
                (Some(a), Direction::Down) => Some(a.min(v)),
            });
        if let Some(b) = best {
            let with_values = rows
                .iter()
                .filter(|r| r.kind == RowKind::Variant && r.cells[ci].state == CellState::Value)
                .count();
            if with_values < 2 {
                continue; // a single value is not "best" of anything
            }
            // A column where every row has the best value ranks nothing ("300 ± 0" on every
            // row): marking them all would read as if each row had won.
            let all_tied = rows
                .iter()
                .filter(|r| r.kind == RowKind::Variant && r.cells[ci].state == CellState::Value)
                .all(|r| r.cells[ci].mean == Some(b));
            if all_tied {
                continue;
            }
            for r in rows.iter_mut().filter(|r| r.kind == RowKind::Variant) {
                if r.cells[ci].state == CellState::Value && r.cells[ci].mean == Some(b) {
                    r.cells[ci].best = true;
                }
            }
        }
    }
}

/// `extractor=judge N=2000` -> `judge, N=2000`; other messages unchanged.
fn pretty_setting(s: &str) -> String {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if !parts.is_empty() && parts.iter().all(|p| p.contains('=')) {
        parts
            .iter()
            .map(|p| match p.split_once('=') {
                Some(("extractor", v)) => v.to_string(),
                _ => p.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        s.to_string()
    }
}
