//! Every row against its column's best: Welch's t-test over the seeds (two-sided, unequal
//! variances). Bold alone says which mean is lowest; a reviewer also needs to know whether the
//! seeds could have ordered the rows the other way, so a row the test cannot tell from the
//! best is marked `≈`, and a row with a single run (or a best with one) is marked untested
//! rather than ranked.

use super::{CellModel, CellState, ColumnModel, RowKind, RowModel, Verdict, VersusBest};
use crate::stats::{fmt_p, welch, Summary};

/// The level below which the best is called better than a row.
pub const ALPHA: f64 = 0.05;

/// Sets `versus_best` on every value cell of a variant row in a column with a best, and notes
/// on the best cell which rows it cannot be told from.
pub(super) fn compare_with_best(columns: &[ColumnModel], rows: &mut [RowModel]) {
    for (ci, col) in columns.iter().enumerate() {
        if col.direction.is_none() {
            continue;
        }
        // A column of single runs has nothing to test: one legend line says so, rather than
        // a "?" in every cell.
        let single_runs = rows
            .iter()
            .filter(|r| r.kind == RowKind::Variant)
            .all(|r| r.cells[ci].n <= 1);
        if single_runs {
            continue;
        }
        let Some(bi) = reference_best(rows, ci) else {
            continue;
        };
        let Some(best) = summary(&rows[bi].cells[ci]) else {
            continue;
        };
        let best_label = rows[bi].labels.join(", ");
        let mut close = Vec::new();
        for row in rows.iter_mut().filter(|r| r.kind == RowKind::Variant) {
            let cell = &mut row.cells[ci];
            if cell.best {
                continue;
            }
            let Some(s) = summary(cell) else { continue };
            let v = versus(&s, &best, &best_label);
            if let (Verdict::Indistinguishable, Some(p)) = (v.verdict, v.p) {
                close.push(format!("{} (p {})", row.labels.join(", "), fmt_p(p)));
            }
            // On the whole cell too: a row the best beats has no marker to hover.
            cell.title.push('\n');
            cell.title.push_str(&v.title);
            cell.versus_best = Some(v);
        }
        if !close.is_empty() {
            rows[bi].cells[ci].title.push_str(&format!(
                "\nbest, but not distinguishable at p < {ALPHA} from: {}",
                close.join("; ")
            ));
        }
    }
}

/// The best cell the others are tested against. Tied bests are all bold; the one with the
/// most runs gives the test the most to work with (the first of those on a tie).
fn reference_best(rows: &[RowModel], ci: usize) -> Option<usize> {
    rows.iter()
        .enumerate()
        .filter(|(_, r)| r.kind == RowKind::Variant && r.cells[ci].best)
        .fold(None, |acc: Option<(usize, usize)>, (i, r)| {
            let n = r.cells[ci].n;
            match acc {
                Some((_, best_n)) if best_n >= n => acc,
                _ => Some((i, n)),
            }
        })
        .map(|(i, _)| i)
}

/// The cell's values as a test sees them; `None` without a finite mean.
fn summary(cell: &CellModel) -> Option<Summary> {
    if cell.state != CellState::Value {
        return None;
    }
    let mean = cell.mean.filter(|m| m.is_finite())?;
    Some(Summary {
        mean,
        sd: cell.std.unwrap_or(0.0),
        n: cell.n,
    })
}

/// The verdict on one row against the best, with its marker and tooltip.
fn versus(row: &Summary, best: &Summary, best_label: &str) -> VersusBest {
    let Some(w) = welch(row, best) else {
        let who = if row.n < 2 {
            "this row has one run".to_string()
        } else {
            format!("the best ({best_label}) has one run")
        };
        return VersusBest {
            verdict: Verdict::Untested,
            p: None,
            marker: "?".into(),
            title: format!(
                "untested: n = 1 — {who}; Welch's t-test needs two runs on each side, so no ordering is claimed"
            ),
        };
    };
    let test = format!("Welch's t-test over seeds, df = {:.1}", w.df);
    if w.p >= ALPHA {
        VersusBest {
            verdict: Verdict::Indistinguishable,
            p: Some(w.p),
            marker: "≈".into(),
            title: format!(
                "≈ not distinguishable from the best ({best_label}): p {} ≥ {ALPHA} ({test})",
                fmt_p(w.p)
            ),
        }
    } else {
        VersusBest {
            verdict: Verdict::Worse,
            p: Some(w.p),
            marker: String::new(),
            title: format!(
                "the best ({best_label}) is better at p < {ALPHA}: p {} ({test})",
                fmt_p(w.p)
            ),
        }
    }
}
