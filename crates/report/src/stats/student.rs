//! Student's t distribution, written here rather than taken from a crate: the tables need
//! only its CDF and one quantile, and both reduce to the regularized incomplete beta function,
//! which a continued fraction (modified Lentz) evaluates to near machine precision.
//!
//! Used for the 95 % interval of a mean over seeds (t_{0.975, n−1}·s/√n) and for Welch's
//! t-test of a row against the best one. The unit tests pin the values against scipy.

/// Coefficients of Lanczos' approximation with g = 7, n = 9 (the widely published set); the
/// relative error of `ln_gamma` is about 1e-15 for x > 0.
const LANCZOS: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// ln Γ(x) for x > 0.
fn ln_gamma(x: f64) -> f64 {
    if x < 0.5 {
        // Reflection keeps the series in its accurate range.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = LANCZOS[0];
    for (i, c) in LANCZOS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// Values this close to zero are replaced by it in Lentz's recurrences (avoids dividing by 0).
const TINY: f64 = 1e-300;

/// One term `aa` of modified Lentz's method: updates C and D and returns the factor C·D.
fn lentz_step(aa: f64, c: &mut f64, d: &mut f64) -> f64 {
    *d = 1.0 + aa * *d;
    if d.abs() < TINY {
        *d = TINY;
    }
    *c = 1.0 + aa / *c;
    if c.abs() < TINY {
        *c = TINY;
    }
    *d = 1.0 / *d;
    *d * *c
}

/// The continued fraction of the incomplete beta function (modified Lentz), valid where
/// x < (a + 1) / (a + b + 2); the caller uses the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) elsewhere.
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const EPS: f64 = 1e-15;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        // Even step.
        h *= lentz_step(m * (b - m) * x / ((qam + m2) * (a + m2)), &mut c, &mut d);
        // Odd step.
        let del = lentz_step(
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
            &mut c,
            &mut d,
        );
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// The regularized incomplete beta function I_x(a, b), for a, b > 0 and x in [0, 1].
pub fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x.is_nan() || a <= 0.0 || b <= 0.0 {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// P(|T| ≥ |t|) for T with `df` degrees of freedom (df > 0, not necessarily whole): the
/// two-sided p-value of a t statistic. Computed directly from I_x rather than as 1 − CDF, so
/// small p-values keep their precision.
pub fn two_sided_p(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return 0.0;
    }
    inc_beta(df / 2.0, 0.5, df / (df + t * t))
}

/// The CDF of Student's t with `df` degrees of freedom.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let tail = two_sided_p(t, df) / 2.0;
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The quantile of Student's t: the t with `t_cdf(t, df) = p`, for p in (0, 1). Bisection on
/// the CDF, which is monotone; 200 halvings reach the resolution of f64 on any bracket.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if p.is_nan() || df.is_nan() || df <= 0.0 || p <= 0.0 || p >= 1.0 {
        return f64::NAN;
    }
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    let mut hi = 1.0;
    while t_cdf(hi, df) < p {
        hi *= 2.0;
        if hi > 1e300 {
            return f64::INFINITY;
        }
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Mean, sample standard deviation and count of one cell's values: what an interval and a
/// test need of it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for a single value.
    pub sd: f64,
    pub n: usize,
}

impl Summary {
    pub fn of(values: &[f64]) -> Summary {
        let (mean, sd) = super::mean_std(values);
        Summary {
            mean,
            sd,
            n: values.len(),
        }
    }

    /// Half-width of the 95 % confidence interval of the mean, t_{0.975, n−1}·s/√n; `None`
    /// for fewer than two values, where there is no interval to give.
    pub fn ci95_half_width(&self) -> Option<f64> {
        if self.n < 2 {
            return None;
        }
        let n = self.n as f64;
        Some(t_quantile(0.975, n - 1.0) * self.sd / n.sqrt())
    }
}

/// The outcome of Welch's t-test of two means.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Welch {
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// Welch's t-test (two-sided, unequal variances) of `a` against `b`; `None` when either has
/// fewer than two values, where no variance can be estimated.
///
/// When both samples have zero spread the statistic is 0/0 or x/0: equal means give p = 1,
/// different means p = 0 (every seed agreed, and the two rows differ), and df is taken as
/// n_a + n_b − 2, the limit of the equal-variance case.
pub fn welch(a: &Summary, b: &Summary) -> Option<Welch> {
    if a.n < 2 || b.n < 2 {
        return None;
    }
    let (na, nb) = (a.n as f64, b.n as f64);
    let (va, vb) = (a.sd * a.sd / na, b.sd * b.sd / nb);
    let diff = a.mean - b.mean;
    let se2 = va + vb;
    if se2 == 0.0 {
        let df = na + nb - 2.0;
        return Some(if diff == 0.0 {
            Welch { t: 0.0, df, p: 1.0 }
        } else {
            Welch {
                t: diff.signum() * f64::INFINITY,
                df,
                p: 0.0,
            }
        });
    }
    let t = diff / se2.sqrt();
    let df = se2 * se2 / (va * va / (na - 1.0) + vb * vb / (nb - 1.0));
    Some(Welch {
        t,
        df,
        p: two_sided_p(t, df),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn incomplete_beta_matches_scipy() {
        // scipy.special.betainc(2.5, 0.5, 0.3), betainc(10, 20, 0.4)
        assert!(close(inc_beta(2.5, 0.5, 0.3), 0.018927124071945658, 1e-12));
        assert!(close(inc_beta(10.0, 20.0, 0.4), 0.7853183897628262, 1e-12));
        assert_eq!(inc_beta(2.0, 3.0, 0.0), 0.0);
        assert_eq!(inc_beta(2.0, 3.0, 1.0), 1.0);
    }

    #[test]
    fn quantiles_match_tables() {
        // The printed tables' values, and scipy.stats.t.ppf(0.975, df) to more digits.
        for (df, want) in [
            (1.0, 12.706204736174694),
            (2.0, 4.302652729749462),
            (4.0, 2.7764451051977934),
            (9.0, 2.262157162798205),
            (29.0, 2.045229642132703),
            (100.0, 1.9839715185235518),
        ] {
            let got = t_quantile(0.975, df);
            assert!(close(got, want, 1e-10), "df {df}: {got} vs {want}");
        }
        assert_eq!(format!("{:.3}", t_quantile(0.975, 2.0)), "4.303");
        assert_eq!(format!("{:.3}", t_quantile(0.975, 4.0)), "2.776");
        assert_eq!(format!("{:.3}", t_quantile(0.975, 29.0)), "2.045");
        assert!(close(t_quantile(0.025, 4.0), -2.7764451051977934, 1e-10));
        assert!(t_quantile(1.0, 4.0).is_nan() && t_quantile(0.5, 0.0).is_nan());
    }

    #[test]
    fn cdf_matches_scipy() {
        // scipy.stats.t.cdf(t, df), fractional df included (Welch's df is not whole).
        for (t, df, want) in [
            (2.0, 3.0, 0.9303370157205785),
            (1.0, 10.0, 0.8295534338489701),
            (-0.5, 7.5, 0.31570548231122725),
            (3.0, 2.2, 0.9574896550872933),
            (0.0, 5.0, 0.5),
        ] {
            let got = t_cdf(t, df);
            assert!(close(got, want, 1e-10), "t {t} df {df}: {got} vs {want}");
        }
    }

    /// Two samples and scipy's statistic, p-value and df for them.
    type WelchCase<'a> = (&'a [f64], &'a [f64], f64, f64, f64);

    #[test]
    fn welch_matches_scipy() {
        // scipy.stats.ttest_ind(a, b, equal_var=False): statistic, pvalue, df.
        let cases: [WelchCase; 4] = [
            (
                &[17.8, 17.6],
                &[18.2, 18.0],
                -2.8284271247461903,
                0.1055728090000841,
                2.0,
            ),
            (
                &[17.8, 17.6],
                &[28.9, 29.3],
                -50.982349886995024,
                0.0022938757931499415,
                1.4705882352941102,
            ),
            (
                &[49.5, 51.2, 47.9],
                &[50.1, 46.0, 52.3, 48.8],
                0.14362185199784333,
                0.8914787229931286,
                4.935344626843841,
            ),
            (
                &[1.0, 2.0, 3.0, 4.0],
                &[2.5, 3.5, 4.5, 6.0, 7.0],
                -2.1153194253318914,
                0.07252100711561206,
                6.946661847188643,
            ),
        ];
        for (a, b, t, p, df) in cases {
            let w = welch(&Summary::of(a), &Summary::of(b)).expect("n ≥ 2 on both sides");
            assert!(close(w.t, t, 1e-10), "{a:?} {b:?}: t {} vs {t}", w.t);
            assert!(close(w.df, df, 1e-10), "{a:?} {b:?}: df {} vs {df}", w.df);
            assert!(close(w.p, p, 1e-9), "{a:?} {b:?}: p {} vs {p}", w.p);
        }
    }

    #[test]
    fn welch_edge_cases() {
        let one = Summary::of(&[3.0]);
        let two = Summary::of(&[3.0, 4.0]);
        assert_eq!(welch(&one, &two), None, "n = 1 cannot be tested");
        assert_eq!(welch(&two, &one), None);
        let flat_a = Summary::of(&[2.0, 2.0]);
        let flat_b = Summary::of(&[2.0, 2.0, 2.0]);
        assert_eq!(welch(&flat_a, &flat_b).map(|w| w.p), Some(1.0));
        let flat_c = Summary::of(&[5.0, 5.0]);
        assert_eq!(welch(&flat_a, &flat_c).map(|w| w.p), Some(0.0));
    }

    #[test]
    fn interval_half_width() {
        // Three values with s = 1: t_{0.975,2} / √3.
        let s = Summary::of(&[1.0, 2.0, 3.0]);
        let h = s.ci95_half_width().expect("n = 3");
        assert!(close(h, 4.302652729749462 / 3f64.sqrt(), 1e-10), "{h}");
        assert_eq!(Summary::of(&[7.0]).ci95_half_width(), None);
    }
}
