//! One number format per column. Each cell formatted on its own gives `0.001` above
//! `5.405e-4` and `17.80` above `0.512`: decimals that change from row to row make a column
//! hard to compare by eye and read as different precisions. The column's values choose one
//! format — scientific when any value needs it, else the decimals its smallest value needs —
//! and every value cell (the data row's too) is written with it, the ± half-width with the
//! same decimals.

use super::{CellState, RowKind, RowModel};

/// How a column writes its numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NumFormat {
    /// A fixed number of decimals (0 for a column of whole numbers).
    Fixed(usize),
    /// `1.234e-4`: mantissa with three decimals, the ± half-width with one.
    Scientific,
}

impl NumFormat {
    /// The format the values (finite means) need: the same thresholds as `stats::fmt_num`,
    /// taken over the whole column. Whole numbers get no decimals only when their half-widths
    /// are whole too (`625 ± 190.6` is not `625 ± 191`, and `300 ± 0.4` not `300 ± 0`).
    fn of(values: &[f64], spreads: &[f64]) -> Option<NumFormat> {
        let nonzero: Vec<f64> = values
            .iter()
            .map(|v| v.abs())
            .filter(|a| *a > 0.0)
            .collect();
        if values.is_empty() {
            return None;
        }
        let whole = |v: &f64| v.fract() == 0.0 && v.abs() < 1e12;
        if values.iter().all(whole) && spreads.iter().all(whole) {
            return Some(NumFormat::Fixed(0));
        }
        if nonzero.iter().any(|a| *a >= 1e6 || *a < 1e-3) {
            return Some(NumFormat::Scientific);
        }
        let decimals = |a: f64| match a {
            a if a >= 1000.0 => 0,
            a if a >= 100.0 => 1,
            a if a >= 1.0 => 2,
            _ => 3,
        };
        Some(NumFormat::Fixed(
            nonzero.iter().map(|a| decimals(*a)).max().unwrap_or(0),
        ))
    }

    fn value(self, v: f64) -> String {
        match self {
            NumFormat::Fixed(d) => clean_zero(format!("{v:.d$}")),
            NumFormat::Scientific => format!("{v:.3e}"),
        }
    }

    fn spread(self, h: f64) -> String {
        match self {
            NumFormat::Fixed(d) => format!("{h:.d$}"),
            NumFormat::Scientific => format!("{h:.1e}"),
        }
    }
}

/// `-0.00` is a zero that rounding left a sign on.
fn clean_zero(s: String) -> String {
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => s,
    }
}

/// Rewrites the text of every value cell with its column's format.
pub(super) fn unify_columns(rows: &mut [RowModel]) {
    let Some(width) = rows.first().map(|r| r.cells.len()) else {
        return;
    };
    for ci in 0..width {
        let values = || {
            rows.iter()
                .map(|r| &r.cells[ci])
                .filter(|c| c.state == CellState::Value)
        };
        let means: Vec<f64> = values()
            .filter_map(|c| c.mean.filter(|m| m.is_finite()))
            .collect();
        let spreads: Vec<f64> = values()
            .filter_map(|c| c.ci95.filter(|h| h.is_finite()))
            .collect();
        let Some(format) = NumFormat::of(&means, &spreads) else {
            continue;
        };
        for row in rows.iter_mut() {
            let kind = row.kind;
            let cell = &mut row.cells[ci];
            let Some(mean) = cell.mean.filter(|m| m.is_finite()) else {
                continue;
            };
            if cell.state != CellState::Value {
                continue;
            }
            // The data row is a reference line: its mean alone (`cell::data_cell`).
            cell.text = match (kind, cell.ci95) {
                (RowKind::Variant, Some(h)) => {
                    format!("{} ± {}", format.value(mean), format.spread(h))
                }
                _ => format.value(mean),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_format_per_column() {
        assert_eq!(
            NumFormat::of(&[0.001, 5.405e-4], &[]),
            Some(NumFormat::Scientific)
        );
        assert_eq!(
            NumFormat::of(&[300.0, 300.0], &[]),
            Some(NumFormat::Fixed(0))
        );
        assert_eq!(
            NumFormat::of(&[17.8, 0.512], &[]),
            Some(NumFormat::Fixed(3))
        );
        assert_eq!(
            NumFormat::of(&[17.8, 18.25], &[]),
            Some(NumFormat::Fixed(2))
        );
        assert_eq!(NumFormat::of(&[], &[]), None);
        assert_eq!(
            NumFormat::of(&[625.0, 2000.0], &[190.6, 0.0]),
            Some(NumFormat::Fixed(1))
        );
        let sci = NumFormat::Scientific;
        assert_eq!(
            (sci.value(0.001), sci.value(5.405e-4)),
            ("1.000e-3".into(), "5.405e-4".into())
        );
        assert_eq!(NumFormat::Fixed(2).value(-0.001), "0.00");
        assert_eq!(NumFormat::Fixed(3).spread(0.25), "0.250");
    }
}
