//! Small numeric helpers: mean ± std over seeds, number formatting for tables, smoothing and
//! downsampling of curves for display (the database keeps every point; a browser does not
//! need 10,000 vertices per line). Student's t — the tables' 95 % intervals and Welch's test
//! against the best row — is [`student`].

pub mod student;

pub use student::{welch, Summary, Welch};

/// Mean and sample standard deviation (n − 1; 0 for a single value).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
    (mean, var.sqrt())
}

/// A number as a table shows it: integers as integers, otherwise about four significant digits.
pub fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        };
    }
    let a = v.abs();
    if v.fract() == 0.0 && a < 1e12 {
        return format!("{}", v as i64);
    }
    if a >= 1e6 || (a > 0.0 && a < 1e-3) {
        return format!("{v:.3e}");
    }
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The spread as shown after ± (a table's 95 % half-width, a plot's std): the same number of
/// decimals as the mean would get, so both line up.
pub fn fmt_spread(std: f64, mean: f64) -> String {
    let a = mean.abs();
    if !std.is_finite() {
        return fmt_num(std);
    }
    if mean.fract() == 0.0 && std.fract() == 0.0 {
        return format!("{}", std as i64);
    }
    if a >= 1e6 || (a > 0.0 && a < 1e-3) {
        format!("{std:.1e}")
    } else if a >= 1000.0 {
        format!("{std:.0}")
    } else if a >= 100.0 {
        format!("{std:.1}")
    } else if a >= 1.0 {
        format!("{std:.2}")
    } else {
        format!("{std:.3}")
    }
}

/// A p-value as a table shows it after `p `, with its relation: `= 0.31` to three significant
/// digits (so 0.0496 does not read as 0.05), and `< 0.001` below that.
pub fn fmt_p(p: f64) -> String {
    if p.is_nan() {
        return "NaN".into();
    }
    if p < 0.001 {
        return "< 0.001".into();
    }
    let decimals = (2 - p.log10().floor() as i32).max(0) as usize;
    let s = format!("{p:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("= {s}")
}

/// Exponential moving average with TensorBoard's debiasing; `weight` in [0, 1), 0 = none.
pub fn smooth(points: &[(f64, f64)], weight: f64) -> Vec<(f64, f64)> {
    if weight <= 0.0 {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity(points.len());
    let mut last = 0.0;
    let mut num = 0;
    for &(x, y) in points {
        num += 1;
        last = last * weight + (1.0 - weight) * y;
        let debias = 1.0 - weight.powi(num);
        out.push((x, last / debias));
    }
    out
}

/// Keeps at most about `max_points` points: the first and last, and in each bucket the minimum
/// and the maximum (in x order), so that spikes and divergence stay visible.
pub fn downsample(points: &[(f64, f64)], max_points: usize) -> Vec<(f64, f64)> {
    let n = points.len();
    if n <= max_points || max_points < 4 {
        return points.to_vec();
    }
    let buckets = (max_points - 2) / 2;
    let inner = &points[1..n - 1];
    let mut out = Vec::with_capacity(max_points);
    out.push(points[0]);
    for b in 0..buckets {
        let lo = b * inner.len() / buckets;
        let hi = ((b + 1) * inner.len() / buckets)
            .max(lo + 1)
            .min(inner.len());
        let chunk = &inner[lo..hi];
        let (mut imin, mut imax) = (0, 0);
        for (i, p) in chunk.iter().enumerate() {
            if p.1 < chunk[imin].1 {
                imin = i;
            }
            if p.1 > chunk[imax].1 {
                imax = i;
            }
        }
        if imin == imax {
            out.push(chunk[imin]);
        } else if imin < imax {
            out.push(chunk[imin]);
            out.push(chunk[imax]);
        } else {
            out.push(chunk[imax]);
            out.push(chunk[imin]);
        }
    }
    out.push(points[n - 1]);
    out
}

/// True when two value labels name the same value: equal text, or equal numbers (`4` and `4.0`).
pub fn labels_match(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_std_sample() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert_eq!(m, 2.0);
        assert!((s - 1.0).abs() < 1e-12);
        assert_eq!(mean_std(&[5.0]), (5.0, 0.0));
    }

    #[test]
    fn formatting() {
        assert_eq!(fmt_num(17.8), "17.80");
        assert_eq!(fmt_num(6000.0), "6000");
        assert_eq!(fmt_num(0.0312), "0.031");
        assert_eq!(fmt_num(183.25), "183.2");
        assert_eq!(fmt_num(f64::NAN), "NaN");
        assert_eq!(fmt_spread(0.123, 17.8), "0.12");
        assert_eq!(fmt_p(0.31), "= 0.31");
        assert_eq!(fmt_p(0.0496), "= 0.0496");
        assert_eq!(fmt_p(0.1055728), "= 0.106");
        assert_eq!(fmt_p(1.0), "= 1");
        assert_eq!(fmt_p(0.0002), "< 0.001");
    }

    #[test]
    fn downsample_keeps_extremes_and_bounds() {
        let pts: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (i as f64, if i == 5_432 { 1e6 } else { (i as f64).sin() }))
            .collect();
        let d = downsample(&pts, 500);
        assert!(d.len() <= 500, "{}", d.len());
        assert!(d.iter().any(|p| p.1 == 1e6), "spike lost");
        assert_eq!(d.first(), pts.first());
        assert_eq!(d.last(), pts.last());
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0), "x order broken");
    }

    #[test]
    fn smoothing_debiased() {
        let s = smooth(&[(0.0, 10.0), (1.0, 10.0)], 0.9);
        assert!((s[0].1 - 10.0).abs() < 1e-9 && (s[1].1 - 10.0).abs() < 1e-9);
    }

    #[test]
    fn label_numbers() {
        assert!(labels_match("4", "4.0"));
        assert!(!labels_match("4", "5"));
        assert!(labels_match("CA only", "CA only"));
    }
}
