//! One row: its cells, one per column, and the markers of runs that failed or diverged, which
//! stay visible even where another run of the row gave the values.

use super::cell::{build_cell, Tally};
use super::layout::{runs_in_cell, runs_in_row, ColumnDef};
use super::{Flag, RowKind, RowModel};
use crate::model::{RunRecord, RunRecordExt};
use crate::report_params::TableSpec;
use ddmd_core::StageKind;

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

/// Whether a run trained a model (its verdict is its own, not a copy of its upstream's).
pub(crate) fn is_trained(r: &RunRecord) -> bool {
    r.kind == StageKind::Distill.as_str() || r.kind == StageKind::Teacher.as_str()
}

/// How many students of a row diverged. An evaluate run repeats the verdict of the student it
/// evaluated, so a row pooling five diverged students with their evaluations holds ten flagged
/// runs: count the training runs when the row has any, else the flagged runs themselves.
pub(crate) fn diverged_students(diverged: &[&RunRecord]) -> usize {
    match diverged.iter().filter(|r| is_trained(r)).count() {
        0 => diverged.len(),
        n => n,
    }
}

/// `failed ×n` and `diverged ×n` (n students, see [`diverged_students`]), each with the runs
/// and their reasons as its tooltip.
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
    let diverged: Vec<&RunRecord> = in_row
        .iter()
        .copied()
        .filter(|r| r.diverged.is_some())
        .collect();
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
            text: format!("diverged ×{}", diverged_students(&diverged)),
            title,
        });
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: i64, kind: StageKind, diverged: bool) -> RunRecord {
        RunRecord {
            id,
            stage: kind.as_str().into(),
            job_name: format!("{}[seed={id}]", kind.as_str()),
            kind: kind.as_str().into(),
            status: "succeeded".into(),
            diverged: diverged.then(|| "pixel variance above bound".into()),
            ..RunRecord::default()
        }
    }

    fn diverged_flag(runs: &[RunRecord]) -> Option<String> {
        let refs: Vec<&RunRecord> = runs.iter().collect();
        row_flags(&refs)
            .into_iter()
            .find(|f| f.kind == "diverged")
            .map(|f| f.text)
    }

    #[test]
    fn a_student_and_its_evaluation_count_once() {
        let mut runs = Vec::new();
        for seed in 0..5 {
            runs.push(run(seed, StageKind::Distill, true));
            runs.push(run(10 + seed, StageKind::Evaluate, true));
        }
        runs.push(run(20, StageKind::Distill, false));
        assert_eq!(diverged_flag(&runs).as_deref(), Some("diverged ×5"));
    }

    #[test]
    fn evaluations_alone_are_counted_themselves() {
        let runs: Vec<RunRecord> = (0..3).map(|i| run(i, StageKind::Evaluate, i < 2)).collect();
        assert_eq!(diverged_flag(&runs).as_deref(), Some("diverged ×2"));
        let calm: Vec<RunRecord> = (0..3).map(|i| run(i, StageKind::Evaluate, false)).collect();
        assert_eq!(diverged_flag(&calm), None);
    }
}
