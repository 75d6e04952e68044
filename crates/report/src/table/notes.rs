//! The text around a table: numbered footnotes that cells point to, and the notes under the
//! table (filter, pooled axes, mixed settings, why it is empty, the user's own note).

use super::{ColumnModel, Footnote, RowModel};
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
    if rows.is_empty() {
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
    if let Some(n) = &spec.note {
        table_notes.push(n.clone());
    }
    table_notes
}
