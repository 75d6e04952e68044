//! One cell: the runs of a row (and column value) reduced to the mean of a metric ± the 95 %
//! interval of that mean, or to the reason there is no value — unavailable, ambiguous,
//! non-finite, failed or missing, kept apart because each asks the reader for something else.
//! Also the data row's cells, which read the same way but feed nothing into the table's tally.

use super::notes::Notes;
use super::select::key_matches;
use super::{CellModel, CellState};
use crate::model::{RunRecord, RunRecordExt};
use crate::report_params::TableSpec;
use crate::stats::{fmt_num, fmt_spread, Summary};
use std::collections::{BTreeMap, BTreeSet};

/// What the cells of a table find beyond their own value, gathered across the table:
/// footnotes, axes pooled into one cell, and the metric settings each column's runs reported.
pub(super) struct Tally {
    pub notes: Notes,
    pub pooled: BTreeSet<String>,
    pub settings: Vec<BTreeSet<String>>,
}

/// What one run contributes to one cell.
enum Contribution {
    Value(f64, String),
    Unavailable(String),
    Ambiguous(Vec<String>),
    None,
}

fn contribution(run: &RunRecord, pattern: &str) -> Contribution {
    let keys: Vec<&String> = run
        .finals
        .keys()
        .filter(|k| key_matches(pattern, k))
        .collect();
    match keys.len() {
        0 => match run
            .unavailable
            .iter()
            .find(|(k, _)| key_matches(pattern, k))
        {
            Some((_, reason)) => Contribution::Unavailable(reason.clone()),
            None => Contribution::None,
        },
        1 => Contribution::Value(run.finals[keys[0]].value, keys[0].clone()),
        _ => Contribution::Ambiguous(keys.into_iter().cloned().collect()),
    }
}

/// The cell's contributions, sorted by kind.
struct Found<'a> {
    /// Finite values with their runs.
    values: Vec<(f64, &'a RunRecord)>,
    /// Distinct reasons the metric was unavailable.
    unavailable: Vec<String>,
    /// Keys that matched the pattern more than once in a run.
    ambiguous: Vec<String>,
    /// Runs whose value was NaN or infinite.
    nonfinite: usize,
}

/// Builds the cell of `in_cell`'s runs for metric `pattern` in column `column`.
pub(super) fn build_cell(
    in_cell: &[&RunRecord],
    pattern: &str,
    column: usize,
    spec: &TableSpec,
    col_axis: Option<&str>,
    tally: &mut Tally,
) -> CellModel {
    let per_point = latest_per_point(in_cell, pattern);
    let found = sort_contributions(&per_point, &mut tally.settings[column]);
    let failed: Vec<&&RunRecord> = in_cell.iter().filter(|r| r.failed()).collect();
    note_pooled_axes(&found, spec, col_axis, &mut tally.pooled);
    let footnotes = absence_footnotes(pattern, &found, &failed, &mut tally.notes);
    if found.values.is_empty() {
        empty_cell(pattern, &found, &failed, footnotes)
    } else {
        value_cell(pattern, &found, footnotes, &mut tally.notes)
    }
}

/// One contribution per full matrix point (seed included): the latest run that has the
/// metric wins, so a metric logged by two stages of the same point is not counted twice.
fn latest_per_point<'a>(
    in_cell: &[&'a RunRecord],
    pattern: &str,
) -> BTreeMap<String, (&'a RunRecord, Contribution)> {
    let mut per_point: BTreeMap<String, (&RunRecord, Contribution)> = BTreeMap::new();
    for r in in_cell.iter().rev() {
        let point_key = format!("{:?}", r.point);
        let c = contribution(r, pattern);
        let has = !matches!(c, Contribution::None);
        match per_point.get(&point_key) {
            Some((_, existing)) if !matches!(existing, Contribution::None) => {}
            Some(_) if !has => {}
            _ => {
                per_point.insert(point_key, (r, c));
            }
        }
    }
    per_point
}

/// Sorts the contributions by kind, and records the setting (extractor, N) each value was
/// measured with, for the column header.
fn sort_contributions<'a>(
    per_point: &BTreeMap<String, (&'a RunRecord, Contribution)>,
    settings: &mut BTreeSet<String>,
) -> Found<'a> {
    let mut found = Found {
        values: Vec::new(),
        unavailable: Vec::new(),
        ambiguous: Vec::new(),
        nonfinite: 0,
    };
    for (r, c) in per_point.values() {
        match c {
            Contribution::Value(v, key) => {
                if let Some(s) = r.info.get(key) {
                    settings.insert(s.clone());
                }
                if v.is_finite() {
                    found.values.push((*v, r));
                } else {
                    found.nonfinite += 1;
                }
            }
            Contribution::Unavailable(reason) => {
                if !found.unavailable.contains(reason) {
                    found.unavailable.push(reason.clone());
                }
            }
            Contribution::Ambiguous(keys) => found.ambiguous.extend(keys.iter().cloned()),
            Contribution::None => {}
        }
    }
    found
}

/// Axes other than seed, the rows and the column axis that vary among the values: the cell
/// averages over them, which the table's notes must say.
fn note_pooled_axes(
    found: &Found,
    spec: &TableSpec,
    col_axis: Option<&str>,
    pooled: &mut BTreeSet<String>,
) {
    if found.values.len() < 2 {
        return;
    }
    let mut axes: BTreeSet<&str> = BTreeSet::new();
    for (_, r) in &found.values {
        axes.extend(r.point.keys().map(String::as_str));
    }
    for a in axes {
        if a == "seed" || spec.rows.iter().any(|x| x == a) || col_axis == Some(a) {
            continue;
        }
        let distinct: BTreeSet<Option<&str>> =
            found.values.iter().map(|(_, r)| r.label(a)).collect();
        if distinct.len() > 1 {
            pooled.insert(a.to_string());
        }
    }
}

/// Footnotes for the runs that gave no value (unavailable, ambiguous, failed), shown with the
/// cell whether or not other runs gave one.
fn absence_footnotes(
    pattern: &str,
    found: &Found,
    failed: &[&&RunRecord],
    notes: &mut Notes,
) -> Vec<usize> {
    let mut footnotes = Vec::new();
    for reason in &found.unavailable {
        footnotes.push(notes.add(format!("{pattern} unavailable: {reason}")));
    }
    if !found.ambiguous.is_empty() {
        footnotes.push(notes.add(format!(
            "{pattern} matches several keys of one run ({}); name the key in `columns`.",
            found
                .ambiguous
                .iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for r in failed {
        let why = r.error.as_deref().unwrap_or("no error recorded");
        footnotes.push(notes.add(format!("{} {}: {why}", r.job_name, r.status)));
    }
    footnotes
}

/// The cell of the data row for `pattern` (already the data key, `fid@data`) over `in_cell`'s
/// runs: the mean alone as its text, since the row is a reference line rather than a result
/// with an uncertainty to weigh; n, the interval and the range go to the tooltip and the CSV.
/// No footnotes: a run that failed is already footnoted in its own row.
pub(super) fn data_cell(in_cell: &[&RunRecord], pattern: &str) -> CellModel {
    let per_point = latest_per_point(in_cell, pattern);
    let found = sort_contributions(&per_point, &mut BTreeSet::new());
    if found.values.is_empty() {
        return empty_cell(pattern, &found, &[], Vec::new());
    }
    let vs: Vec<f64> = found.values.iter().map(|v| v.0).collect();
    let s = Summary::of(&vs);
    let (lo, hi) = vs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    let what = crate::metrics_meta::known_label(pattern).unwrap_or(pattern);
    let mut title = format!("{what} on renders of the data ({pattern})");
    if s.n > 1 && lo == hi {
        title.push_str(&format!(": {} in all {} runs", fmt_num(lo), s.n));
    } else if s.n > 1 {
        title.push_str(&format!(
            ": mean of {} runs, range {} to {}",
            s.n,
            fmt_num(lo),
            fmt_num(hi)
        ));
    }
    CellModel {
        state: CellState::Value,
        text: fmt_num(s.mean),
        mean: Some(s.mean),
        std: (s.n > 1).then_some(s.sd),
        ci95: s.ci95_half_width(),
        n: s.n,
        best: false,
        versus_best: None,
        title,
        footnotes: Vec::new(),
    }
}

/// The data row's cell under a column whose metric has no data counterpart.
pub(super) fn blank_cell(pattern: &str) -> CellModel {
    CellModel {
        state: CellState::Blank,
        text: String::new(),
        mean: None,
        std: None,
        ci95: None,
        n: 0,
        best: false,
        versus_best: None,
        title: format!("{pattern} has no step setting to measure on the data"),
        footnotes: Vec::new(),
    }
}

/// A cell with values: mean (± the 95 % interval of the mean over several runs), the per-run
/// values as its tooltip, and a footnote when non-finite values were left out of the mean.
fn value_cell(
    pattern: &str,
    found: &Found,
    mut footnotes: Vec<usize>,
    notes: &mut Notes,
) -> CellModel {
    let vs: Vec<f64> = found.values.iter().map(|v| v.0).collect();
    let s = Summary::of(&vs);
    let ci95 = s.ci95_half_width();
    let text = match ci95 {
        Some(h) => format!("{} ± {}", fmt_num(s.mean), fmt_spread(h, s.mean)),
        None => fmt_num(s.mean),
    };
    let mut title = found
        .values
        .iter()
        .map(|(v, r)| format!("{}: {}", r.job_name, fmt_num(*v)))
        .collect::<Vec<_>>()
        .join("\n");
    let nonfinite = found.nonfinite;
    if nonfinite > 0 {
        title.push_str(&format!(
            "\n{nonfinite} run(s) ended with a non-finite value (not averaged)"
        ));
        footnotes.push(notes.add(format!(
            "{pattern}: {nonfinite} run(s) ended with NaN/∞ and are left out of the mean."
        )));
    }
    if let Some(h) = ci95 {
        title.push_str(&format!(
            "\nmean {} ± {} (95 % interval of the mean, n = {}; std {})",
            fmt_num(s.mean),
            fmt_spread(h, s.mean),
            s.n,
            fmt_spread(s.sd, s.mean)
        ));
    }
    CellModel {
        state: CellState::Value,
        text,
        mean: Some(s.mean),
        std: (s.n > 1).then_some(s.sd),
        ci95,
        n: s.n,
        best: false,
        versus_best: None,
        title,
        footnotes,
    }
}

/// A cell without a value, showing the most telling reason: ambiguous keys, then non-finite
/// values, unavailable metrics, failed runs, and last plain absence.
fn empty_cell(
    pattern: &str,
    found: &Found,
    failed: &[&&RunRecord],
    footnotes: Vec<usize>,
) -> CellModel {
    let (state, text, title) = if !found.ambiguous.is_empty() {
        (
            CellState::Ambiguous,
            "ambiguous".to_string(),
            format!("several keys match {pattern}"),
        )
    } else if found.nonfinite > 0 {
        (
            CellState::NonFinite,
            "NaN".to_string(),
            "the run(s) ended with a non-finite value".to_string(),
        )
    } else if !found.unavailable.is_empty() {
        (
            CellState::Unavailable,
            "n/a".to_string(),
            format!("unavailable: {}", found.unavailable.join("; ")),
        )
    } else if !failed.is_empty() {
        (
            CellState::Failed,
            "failed".to_string(),
            failed
                .iter()
                .map(|r| {
                    format!(
                        "{}: {}",
                        r.job_name,
                        r.error.as_deref().unwrap_or(&r.status)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        )
    } else {
        (
            CellState::Missing,
            "—".to_string(),
            format!("no run reported {pattern}"),
        )
    };
    CellModel {
        state,
        text,
        mean: None,
        std: None,
        ci95: None,
        n: 0,
        best: false,
        versus_best: None,
        title,
        footnotes,
    }
}
