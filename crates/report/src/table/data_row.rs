//! The last row of a table: each column's metric measured on renders of the data instead of
//! generated samples (`fid@4` -> `fid@data`, `dpg@*/entity` -> `dpg@data/entity`). It is the
//! floor of FID and the ceiling of DPG — what a perfect student would score with this
//! evaluator — so a reader sees how far each variant is from it, not only from the others.
//!
//! Evaluate emits the `@data` keys in every run, so the cell is the mean over the table's runs
//! (narrowed to the column's axis value in a pivot). The row is omitted where no cell has a
//! value (databases older than the `@data` keys, tables of metrics without a step setting).

use super::cell::{blank_cell, data_cell};
use super::layout::{runs_in_cell, ColumnDef};
use super::{CellState, RowKind, RowModel};
use crate::metrics_meta::data_counterpart;
use crate::model::RunRecord;
use crate::report_params::TableSpec;

/// The row's label, in the first row-axis column.
pub const DATA_ROW_LABEL: &str = "Data (floor · ceiling)";

/// The data row of the table, or `None` when it would hold no value.
pub(super) fn build(
    spec: &TableSpec,
    candidates: &[&RunRecord],
    col_defs: &[ColumnDef],
    col_axis: Option<&str>,
) -> Option<RowModel> {
    let cells: Vec<_> = col_defs
        .iter()
        .map(|col| match data_counterpart(&col.pattern) {
            Some(key) => data_cell(&runs_in_cell(candidates, col_axis, col), &key),
            None => blank_cell(&col.pattern),
        })
        .collect();
    if !cells.iter().any(|c| c.state == CellState::Value) {
        return None;
    }
    let mut labels = vec![String::new(); spec.rows.len().max(1)];
    labels[0] = DATA_ROW_LABEL.to_string();
    Some(RowModel {
        kind: RowKind::Data,
        labels,
        cells,
        flags: Vec::new(),
        run_ids: candidates.iter().map(|r| r.id).collect(),
    })
}
