//! One row: its cells, one per column, and the markers of runs that failed or diverged, which
//! stay visible even where another run of the row gave the values.

use super::cell::{build_cell, Tally};
use super::layout::{runs_in_cell, runs_in_row, ColumnDef};
use super::{Flag, RowKind, RowModel};
use crate::model::{RunRecord, RunRecordExt};
use crate::report_params::TableSpec;

pub(super) fn build_row(
    key: &[String],
    candidates: &[&RunRecord],
    col_defs: &[ColumnDef],
    spec: &TableSpec,
    col_axis: Option<&str>,
    tally: &mut Tally,
) -> RowModel {
    let in_row = runs_in_row(spec, candidates, key);
    let mut cells = Vec::with_capacity(col_defs.len());
    for (ci, col) in col_defs.iter().enumerate() {
        let in_cell = runs_in_cell(&in_row, col_axis, col);
        cells.push(build_cell(
            &in_cell,
            &col.pattern,
            ci,
            spec,
            col_axis,
            tally,
        ));
    }
    RowModel {
        kind: RowKind::Variant,
        labels: key.to_vec(),
        cells,
        flags: row_flags(&in_row),
        run_ids: in_row.iter().map(|r| r.id).collect(),
    }
}

/// `failed ×n` and `diverged ×n`, each with the runs and their reasons as its tooltip.
fn row_flags(in_row: &[&RunRecord]) -> Vec<Flag> {
    let mut flags = Vec::new();
    let failed: Vec<&&RunRecord> = in_row.iter().filter(|r| r.failed()).collect();
    if !failed.is_empty() {
        let title = failed
            .iter()
            .map(|r| {
                format!(
                    "{} ({}){}",
                    r.job_name,
                    r.status,
                    r.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        flags.push(Flag {
            kind: "failed".into(),
            text: format!("failed ×{}", failed.len()),
            title,
        });
    }
    let diverged: Vec<&&RunRecord> = in_row.iter().filter(|r| r.diverged.is_some()).collect();
    if !diverged.is_empty() {
        let title = diverged
            .iter()
            .map(|r| {
                format!(
                    "{}: {}",
                    r.job_name,
                    r.diverged.as_deref().unwrap_or("diverged")
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        flags.push(Flag {
            kind: "diverged".into(),
            text: format!("diverged ×{}", diverged.len()),
            title,
        });
    }
    flags
}
