//! The text around a table: numbered footnotes that cells point to, the legend (how to read
//! the marks), and the notes under the table (filter, pooled axes, mixed settings, why it is
//! empty, the user's own note).

use super::significance::ALPHA;
use super::{CellState, ColumnModel, Footnote, RowKind, RowModel, Verdict};
use crate::report_params::TableSpec;
use std::collections::BTreeSet;

/// A table's footnotes, numbered in order of first use; a text already there keeps its
/// number, so many cells with one reason share one footnote.
#[derive(Default)]
pub(super) struct Notes {
    pub footnotes: Vec<Footnote>,
}

impl Notes {
    pub fn add(&mut self, text: String) -> usize {
        if let Some(f) = self.footnotes.iter().find(|f| f.text == text) {
            return f.n;
        }
        let n = self.footnotes.len() + 1;
        self.footnotes.push(Footnote { n, text });
        n
    }
}

/// How to read the table, for the HTML page and the Markdown file alike: always what ± and n
/// mean, and bold where a cell is bold; the lines for `≈`, `?` and the data row only where the table shows them.
pub(super) fn legend(rows: &[RowModel]) -> Vec<String> {
    // "Best in bold" only where something is bold: a table without a direction, or whose
    // columns tie, marks nothing.
    let any_best = rows.iter().flat_map(|r| &r.cells).any(|c| c.best);
    let best_line = if any_best {
        "Best value per column in bold (↑ higher is better, ↓ lower is better). "
    } else {
        ""
    };
    let mut lines = vec![format!(
        "{best_line}Mean ± half-width of the 95 % confidence interval of the mean (Student t, n − 1 degrees of freedom) over repeats that differ only in seed; n = runs; a single run shows its value alone."
    )];
    let verdicts = || {
        rows.iter()
            .flat_map(|r| &r.cells)
            .filter_map(|c| c.versus_best.as_ref().map(|v| v.verdict))
    };
    if verdicts().any(|v| v == Verdict::Indistinguishable) {
        lines.push(format!(
            "≈: not distinguishable from the best at p < {ALPHA} (Welch's t-test over seeds); p in the tooltip and the CSV."
        ));
    }
    if verdicts().any(|v| v == Verdict::Untested) {
        lines.push(
            "?: untested: n = 1 on one side (this row or the best), so Welch's t-test is not possible and no ordering is claimed.".into(),
        );
    }
    let values = || {
        rows.iter()
            .filter(|r| r.kind == RowKind::Variant)
            .flat_map(|r| &r.cells)
            .filter(|c| c.state == CellState::Value)
    };
    if any_best && values().any(|_| true) && values().all(|c| c.n <= 1) {
        lines.push(
            "Every row is a single run: bold marks the best value, but no ordering is tested (more seeds give an interval and a test).".into(),
        );
    }
    if rows.iter().any(|r| r.kind == RowKind::Data) {
        lines.push(
            "Data (floor · ceiling): each metric measured on renders of the data instead of samples (fid@data, dpg@data, …), the mean over the table's runs: the floor of FID, the ceiling of DPG. Not ranked.".into(),
        );
    }
    let states = || rows.iter().flat_map(|r| &r.cells).map(|c| c.state);
    let mut absent = Vec::new();
    if states().any(|s| s == CellState::Missing) {
        absent.push("— no value reported");
    }
    if states().any(|s| s == CellState::Unavailable) {
        absent.push("n/a unavailable (reason in the footnote)");
    }
    if states().any(|s| s == CellState::Failed) {
        absent.push("failed: the run failed");
    }
    if !absent.is_empty() {
        lines.push(format!("{}.", absent.join(" · ")));
    }
    lines
}

/// The notes under the table, in the order a reader needs them: what was left out, what was
/// mixed, why nothing shows, then the declaration's own note.
pub(super) fn table_notes(
    spec: &TableSpec,
    pooled: &BTreeSet<String>,
    columns: &[ColumnModel],
    rows: &[RowModel],
) -> Vec<String> {
    let mut table_notes = Vec::new();
    if !spec.filter.is_empty() {
        let f = spec
            .filter
            .iter()
            .map(|(a, v)| format!("{a} = {}", v.join(" | ")))
            .collect::<Vec<_>>()
            .join(", ");
        table_notes.push(format!("Filter: {f}."));
    }
    if !pooled.is_empty() {
        table_notes.push(format!(
            "Cells pool runs that differ in {} (not only in seed); add a filter or a row axis to separate them.",
            pooled.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    if columns.iter().any(|c| c.setting_mixed) {
        table_notes.push(
            "⚠ A column mixes metric settings (extractor or N): its values are not comparable."
                .into(),
        );
    }
    if !rows.iter().any(|r| r.kind == RowKind::Variant) {
        table_notes.push(format!(
            "No run has all of the row axes ({}){}.",
            spec.rows.join(", "),
            if spec.filter.is_empty() {
                String::new()
            } else {
                " and passes the filter".into()
            }
        ));
    }
    let gaps = gaps(spec, columns, rows);
    if !gaps.is_empty() {
        table_notes.push(format!(
            "Gaps in the grid (— where no run reported a value): {}.",
            gaps.join("; ")
        ));
    }
    if let Some(n) = &spec.note {
        table_notes.push(n.clone());
    }
    table_notes
}

/// The holes of a partial grid: per column, the variant rows with no value (`fid@1:
/// terms=DM only`), or `no run reported …` for a column with none at all — left by a preset
/// or a filter; a declared metric no run has is rejected before (`crate::references`).
pub(super) fn gaps(spec: &TableSpec, columns: &[ColumnModel], rows: &[RowModel]) -> Vec<String> {
    let mut out = Vec::new();
    if !spec.note_gaps {
        return out;
    }
    let variants: Vec<&RowModel> = rows.iter().filter(|r| r.kind == RowKind::Variant).collect();
    for (ci, col) in columns.iter().enumerate() {
        let state = |r: &RowModel| r.cells[ci].state;
        // Failed rows report nothing either: a column of only those is "no run reported".
        let silent = |r: &&RowModel| matches!(state(r), CellState::Missing | CellState::Failed);
        if variants.iter().any(|r| state(r) == CellState::Missing) && variants.iter().all(silent) {
            out.push(format!("{}: no run reported {}", col.label, col.metric));
            continue;
        }
        let missing: Vec<String> = variants
            .iter()
            .filter(|r| state(r) == CellState::Missing)
            .map(|r| {
                spec.rows
                    .iter()
                    .zip(&r.labels)
                    .map(|(a, v)| format!("{a}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect();
        if !missing.is_empty() {
            out.push(format!("{}: {}", col.label, missing.join(" | ")));
        }
    }
    out
}
