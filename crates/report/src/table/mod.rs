//! Builds an ablation table from a [`TableSpec`] and the runs: rows from matrix axes, columns
//! from metric keys (or the values of an axis), repeats that differ only in `seed` aggregated
//! as mean ± the 95 % interval of the mean with n, the best cell per column marked and every
//! other row tested against it (Welch), a last row with each metric measured on the data (its
//! floor or ceiling), missing / unavailable / failed kept apart. Also writes the table as CSV
//! and Markdown. No HTML here: the template renders the model.
//!
//! The steps, one file each: `layout` (runs, rows, columns), `rows` and `cell` (the values),
//! `columns` (headers, best marks), `format` (one number format per column), `significance` (the test against the best), `data_row`,
//! `notes` (footnotes, legend, notes under the table), `export` (CSV, Markdown); `select`
//! holds the filter and key patterns plots and samples share.

mod cell;
mod columns;
mod data_row;
mod export;
mod format;
mod layout;
mod notes;
mod rows;
pub(crate) use rows::{diverged_students, is_trained};
mod select;
mod significance;

use crate::metrics_meta::Direction;
use crate::model::RunRecord;
use crate::report_params::TableSpec;
use serde::Serialize;
use std::collections::BTreeSet;

pub use data_row::DATA_ROW_LABEL;
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
    /// The variants' rows, then the data row when there is one.
    pub rows: Vec<RowModel>,
    /// How to read the table (±, n, bold, ≈, the data row), one line each; only the lines for
    /// marks the table uses.
    pub legend: Vec<String>,
    pub notes: Vec<String>,
    pub footnotes: Vec<Footnote>,
    /// Holes of a partial grid, one line per column (`fid@1: terms=DM only`): noted under
    /// the table and said in the report stage's output.
    pub gaps: Vec<String>,
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

/// A variant of the ablation, or the data row under them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowKind {
    /// One combination of the row axes' values: ranked, tested.
    Variant,
    /// Each column's metric measured on renders of the data (`fid@data`, `dpg@data/entity`):
    /// the floor or ceiling the variants are read against, never ranked.
    Data,
}

#[derive(Clone, Debug, Serialize)]
pub struct RowModel {
    pub kind: RowKind,
    /// One per row axis; the data row has its label first and empty ones after.
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
    /// No meaning in its row: the data row under a metric that has no data counterpart
    /// (`stability`, `train/loss`).
    Blank,
}

#[derive(Clone, Debug, Serialize)]
pub struct CellModel {
    pub state: CellState,
    /// As displayed: `17.80 ± 1.27` (mean ± 95 % half-width), `n/a`, `—`, `failed`.
    pub text: String,
    pub mean: Option<f64>,
    /// Sample standard deviation over the runs (n > 1).
    pub std: Option<f64>,
    /// Half-width of the 95 % confidence interval of the mean, t_{0.975, n−1}·s/√n (n > 1).
    pub ci95: Option<f64>,
    pub n: usize,
    pub best: bool,
    /// The row tested against the column's best (Welch): set on value cells of variant rows
    /// in columns with a direction, except the best cells themselves.
    pub versus_best: Option<VersusBest>,
    /// Tooltip: per-run values or the reason a value is absent.
    pub title: String,
    pub footnotes: Vec<usize>,
}

/// A cell against its column's best cell.
#[derive(Clone, Debug, Serialize)]
pub struct VersusBest {
    pub verdict: Verdict,
    /// Welch's two-sided p-value; `None` when untested.
    pub p: Option<f64>,
    /// Shown next to the value: `≈`, `?`, or nothing when the best is significantly better.
    pub marker: String,
    /// Tooltip: the test and its p, or why there is none.
    pub title: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// p < 0.05: the best is better than this row.
    Worse,
    /// p ≥ 0.05: the seeds do not tell this row from the best.
    Indistinguishable,
    /// n < 2 on one side: no variance, no test, no ordering claimed.
    Untested,
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
    significance::compare_with_best(&columns, &mut rows);
    // After the ranking, so the data row can never take part in it.
    if spec.data_row {
        rows.extend(data_row::build(spec, &candidates, &col_defs, col_axis));
    }
    format::unify_columns(&mut rows);
    let legend = notes::legend(&rows);
    let table_notes = notes::table_notes(spec, &tally.pooled, &columns, &rows);
    let gaps = notes::gaps(spec, &columns, &rows);
    TableModel {
        index,
        slug: format!("{:02}-{}", index + 1, slugify(&spec.title)),
        title: spec.title.clone(),
        preset: spec.preset.clone(),
        row_axes: spec.rows.clone(),
        columns,
        rows,
        legend,
        notes: table_notes,
        footnotes: tally.notes.footnotes,
        gaps,
    }
}
