//! Builds an ablation table from a [`TableSpec`] and the runs: rows from matrix axes, columns
//! from metric keys (or the values of an axis), repeats that differ only in `seed` aggregated
//! as mean ± std, the best cell per column marked, missing / unavailable / failed kept apart.
//! Also writes the table as CSV and Markdown. No HTML here: the template renders the model.
//!
//! The steps, one file each: `layout` (runs, rows, columns), `rows` and `cell` (the values),
//! `columns` (headers, best marks), `notes` (footnotes, notes under the table), `export`
//! (CSV, Markdown); `select` holds the filter and key patterns plots and samples share.

mod cell;
mod columns;
mod export;
mod layout;
mod notes;
mod rows;
mod select;

use crate::metrics_meta::Direction;
use crate::model::RunRecord;
use crate::report_params::TableSpec;
use serde::Serialize;
use std::collections::BTreeSet;

pub use export::{header_text, slugify, to_csv, to_markdown};
pub use select::{key_matches, passes};

#[derive(Clone, Debug, Serialize)]
pub struct TableModel {
    pub index: usize,
    /// File stem of the CSV / Markdown files and the HTML anchor.
    pub slug: String,
    pub title: String,
    pub preset: Option<String>,
    pub row_axes: Vec<String>,
    pub columns: Vec<ColumnModel>,
    pub rows: Vec<RowModel>,
    pub notes: Vec<String>,
    pub footnotes: Vec<Footnote>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ColumnModel {
    /// The metric key (pattern) shown in this column.
    pub metric: String,
    pub label: String,
    pub direction: Option<Direction>,
    pub arrow: String,
    pub units: Option<String>,
    /// The metric's setting as the runs reported it (FID extractor and N).
    pub setting: Option<String>,
    /// True when runs in this column reported different settings.
    pub setting_mixed: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct RowModel {
    pub labels: Vec<String>,
    pub cells: Vec<CellModel>,
    /// Markers such as `failed (1)` and `diverged (2)`, with their explanations.
    pub flags: Vec<Flag>,
    pub run_ids: Vec<i64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Flag {
    pub kind: String,
    pub text: String,
    pub title: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CellState {
    Value,
    Missing,
    Unavailable,
    Failed,
    NonFinite,
    Ambiguous,
}

#[derive(Clone, Debug, Serialize)]
pub struct CellModel {
    pub state: CellState,
    /// As displayed: `17.80 ± 0.12`, `n/a`, `—`, `failed`.
    pub text: String,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub n: usize,
    pub best: bool,
    /// Tooltip: per-run values or the reason a value is absent.
    pub title: String,
    pub footnotes: Vec<usize>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Footnote {
    pub n: usize,
    pub text: String,
}

/// Builds the table model of `spec` over `runs`.
pub fn build_table(index: usize, spec: &TableSpec, runs: &[RunRecord]) -> TableModel {
    let col_axis = layout::column_axis(spec);
    let candidates = layout::candidates(spec, runs, col_axis);
    let row_keys = layout::row_keys(spec, &candidates);
    let col_defs = layout::column_defs(spec, &candidates);
    // Rows are built in order, cells left to right: footnotes are numbered as they first occur.
    let mut tally = cell::Tally {
        notes: notes::Notes::default(),
        pooled: BTreeSet::new(),
        settings: vec![BTreeSet::new(); col_defs.len()],
    };
    let mut rows: Vec<RowModel> = row_keys
        .iter()
        .map(|key| rows::build_row(key, &candidates, &col_defs, spec, col_axis, &mut tally))
        .collect();
    let columns = columns::column_models(spec, &col_defs, &tally.settings);
    columns::mark_best(&columns, &mut rows);
    let table_notes = notes::table_notes(spec, &tally.pooled, &columns, &rows);
    TableModel {
        index,
        slug: format!("{:02}-{}", index + 1, slugify(&spec.title)),
        title: spec.title.clone(),
        preset: spec.preset.clone(),
        row_axes: spec.rows.clone(),
        columns,
        rows,
        notes: table_notes,
        footnotes: tally.notes.footnotes,
    }
}
