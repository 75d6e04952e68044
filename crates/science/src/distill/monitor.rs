//! Monitoring of a distillation run: the student's outputs against renders of the same
//! prompts (the batch it was trained on), a divergence detector relative to those renders
//! (→ the run's `stability`), and the seed's optional DM-weight controller (§8: "if
//! saturation climbs, raise DM weight 10%").

use crate::image_stats::{ImageStats, Relative};
use ddmd_core::params::DivergenceBounds;
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// One check of the student: its outputs' statistics and the same relative to the data.
#[derive(Debug, Clone)]
pub struct Check {
    pub stats: ImageStats,
    pub relative: Relative,
}

impl Check {
    /// `student` and `data` are images of the same prompts; `None` when either is not a
    /// batch of RGB images.
    pub fn of(student: &Tensor, data: &Tensor) -> Option<Check> {
        let stats = ImageStats::of(student)?;
        let relative = stats.relative_to(&ImageStats::of(data)?);
        Some(Check { stats, relative })
    }
}

/// Outcome written to `stability.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stability {
    pub diverged_at: Option<usize>,
    pub stable_through: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Divergence detector, relative to the data: a NaN at once, or for `patience` consecutive
/// checks the student's per-image pixel variance, its chroma, its high-frequency energy or its
/// colour shift outside the bounds around the data's own (ratios, in both directions: the
/// seed's "pure red or green blocks" *lower* per-image variance and edges, a neon, speckled
/// drift raises chroma and high-frequency energy).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Divergence {
    pub bounds: DivergenceBounds,
    pub patience: usize,
    pub over: usize,
    pub diverged_at: Option<usize>,
    pub reason: Option<String>,
    pub last_checked: usize,
}

impl Divergence {
    pub fn new(bounds: DivergenceBounds, patience: usize) -> Self {
        Divergence {
            bounds,
            patience: patience.max(1),
            over: 0,
            diverged_at: None,
            reason: None,
            last_checked: 0,
        }
    }

    /// What is out of bounds in `r`, if anything.
    pub fn violation(&self, r: &Relative) -> Option<String> {
        let b = &self.bounds;
        let outside = |v: f64, [lo, hi]: [f64; 2]| !(lo..=hi).contains(&v);
        if outside(r.var_ratio, b.var_ratio) {
            return Some(format!(
                "pixel variance {:.2}× the data's (bounds {}–{})",
                r.var_ratio, b.var_ratio[0], b.var_ratio[1]
            ));
        }
        if outside(r.saturation_ratio, b.saturation_ratio) {
            return Some(format!(
                "colour saturation {:.2}× the data's (bounds {}–{})",
                r.saturation_ratio, b.saturation_ratio[0], b.saturation_ratio[1]
            ));
        }
        if outside(r.sharpness, b.sharpness) {
            return Some(format!(
                "high-frequency energy {:.2}× the data's (bounds {}–{})",
                r.sharpness, b.sharpness[0], b.sharpness[1]
            ));
        }
        let shift = r.color_shift.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if shift > b.color_shift {
            return Some(format!(
                "colour shift {:+.2}/{:+.2}/{:+.2} (R/G/B) beyond ±{}",
                r.color_shift[0], r.color_shift[1], r.color_shift[2], b.color_shift
            ));
        }
        None
    }

    /// Feeds one check at `iteration`; returns true when this check declared divergence.
    pub fn check(&mut self, iteration: usize, loss: f64, check: &Check) -> bool {
        self.last_checked = iteration;
        if self.diverged_at.is_some() {
            return false;
        }
        if !loss.is_finite() || !check.stats.finite {
            self.diverged_at = Some(iteration);
            self.reason = Some("non-finite loss or student output".into());
            return true;
        }
        match self.violation(&check.relative) {
            Some(why) => {
                self.over += 1;
                if self.over >= self.patience {
                    self.diverged_at = Some(iteration);
                    self.reason = Some(format!("{why} for {} checks", self.patience));
                    return true;
                }
            }
            None => self.over = 0,
        }
        false
    }

    pub fn stability(&self, iterations_done: usize) -> Stability {
        Stability {
            diverged_at: self.diverged_at,
            stable_through: self.diverged_at.unwrap_or(iterations_done),
            reason: self.reason.clone(),
        }
    }
}

/// The seed's remedy: when the saturated fraction climbs past `margin` and rises between
/// checks, multiply the DM weight by 1.1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DmController {
    pub margin: f64,
    pub last_saturated: f64,
    pub raises: usize,
}

impl DmController {
    pub fn new(margin: f64) -> Self {
        DmController {
            margin,
            last_saturated: 0.0,
            raises: 0,
        }
    }

    /// Returns the new DM weight.
    pub fn update(&mut self, dm: f64, saturated: f64) -> f64 {
        let climbing = saturated > self.margin && saturated > self.last_saturated;
        self.last_saturated = saturated;
        if climbing {
            self.raises += 1;
            // A zero weight stays zero under ×1.1; start it at a small value instead.
            if dm == 0.0 {
                0.1
            } else {
                dm * 1.1
            }
        } else {
            dm
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(var_ratio: f64, saturation_ratio: f64, shift: f64) -> Relative {
        Relative {
            var_ratio,
            saturation_ratio,
            sharpness: 1.0,
            color_shift: [shift, 0.0, 0.0],
        }
    }

    fn check(r: Relative, finite: bool) -> Check {
        Check {
            stats: ImageStats {
                images: 1,
                mean: 0.0,
                var: 0.1,
                clipped: 0.0,
                saturation: 0.5,
                hf_energy: 0.01,
                channel_mean: [0.0; 3],
                finite,
            },
            relative: r,
        }
    }

    fn detector() -> Divergence {
        Divergence::new(DivergenceBounds::default(), 3)
    }

    #[test]
    fn divergence_needs_a_run_of_checks_or_a_nan() {
        let hi = DivergenceBounds::default().var_ratio[1] * 1.5;
        let mut d = detector();
        assert!(!d.check(10, 1.0, &check(rel(hi, 1.0, 0.0), true)));
        assert!(!d.check(20, 1.0, &check(rel(hi, 1.0, 0.0), true)));
        assert!(
            !d.check(30, 1.0, &check(rel(1.0, 1.0, 0.0), true)),
            "a good check resets the run"
        );
        assert!(!d.check(40, 1.0, &check(rel(hi, 1.0, 0.0), true)));
        assert!(!d.check(50, 1.0, &check(rel(hi, 1.0, 0.0), true)));
        assert!(d.check(60, 1.0, &check(rel(hi, 1.0, 0.0), true)));
        assert_eq!(d.stability(100).diverged_at, Some(60));
        assert_eq!(d.stability(100).stable_through, 60);
        let mut d = detector();
        assert!(d.check(7, f64::NAN, &check(rel(1.0, 1.0, 0.0), true)));
        let d = detector();
        assert_eq!(
            d.stability(300),
            Stability {
                diverged_at: None,
                stable_through: 300,
                reason: None
            }
        );
    }

    #[test]
    fn every_direction_of_drift_is_caught() {
        let b = DivergenceBounds::default();
        let d = detector();
        for (r, what) in [
            (rel(b.var_ratio[0] * 0.5, 1.0, 0.0), "variance"),
            (rel(b.var_ratio[1] * 2.0, 1.0, 0.0), "variance"),
            (rel(1.0, b.saturation_ratio[0] * 0.5, 0.0), "saturation"),
            (rel(1.0, b.saturation_ratio[1] * 2.0, 0.0), "saturation"),
            (
                Relative {
                    sharpness: b.sharpness[1] * 2.0,
                    ..rel(1.0, 1.0, 0.0)
                },
                "high-frequency",
            ),
            (
                Relative {
                    sharpness: b.sharpness[0] * 0.5,
                    ..rel(1.0, 1.0, 0.0)
                },
                "high-frequency",
            ),
            (rel(1.0, 1.0, b.color_shift * 2.0), "shift"),
            (rel(1.0, 1.0, -b.color_shift * 2.0), "shift"),
        ] {
            let why = d.violation(&r).unwrap_or_default();
            assert!(why.contains(what), "{r:?}: {why:?}");
        }
        assert_eq!(d.violation(&rel(1.0, 1.0, 0.0)), None);
    }

    /// A synthetic run: steady statistics with batch noise never fire; a slow drift of the
    /// per-image variance downwards (colour blocks) fires once it leaves the bounds, and the
    /// iteration is recorded.
    #[test]
    fn fires_on_a_drifting_run_and_not_on_a_steady_one() {
        let mut steady = detector();
        let mut drifting = detector();
        let mut fired_at = None;
        for k in 1..=200usize {
            let wobble = 1.0 + 0.15 * ((k as f64) * 0.7).sin();
            assert!(!steady.check(k * 10, 1.0, &check(rel(wobble, wobble, 0.02), true)));
            let drift = wobble * (1.0 - k as f64 / 150.0).max(0.02);
            if drifting.check(k * 10, 1.0, &check(rel(drift, 1.0, 0.0), true)) {
                fired_at = Some(k * 10);
            }
        }
        assert_eq!(steady.stability(2000).diverged_at, None);
        let at = fired_at.unwrap_or(0);
        assert!(at > 0 && at < 1500, "fired at {at}");
        assert_eq!(drifting.stability(2000).diverged_at, Some(at));
    }

    /// Replays the monitor's checks of two recorded 1,000-update runs (the calibration runs of
    /// docs/RESULTS.md) through the detector with its default bounds: CA only must be flagged,
    /// CA + DM never.
    #[test]
    fn default_bounds_separate_the_recorded_ca_only_and_ca_dm_runs() {
        fn replay(csv: &str) -> Option<usize> {
            let mut d = detector();
            for line in csv.lines().filter(|l| !l.starts_with('#')).skip(1) {
                let v: Vec<f64> = line
                    .split(',')
                    .map(|x| x.parse().unwrap_or(f64::NAN))
                    .collect();
                let r = Relative {
                    var_ratio: v[1],
                    saturation_ratio: v[2],
                    sharpness: v[3],
                    color_shift: [v[4], v[5], v[6]],
                };
                d.check(v[0] as usize, 1.0, &check(r, true));
            }
            d.diverged_at
        }
        let ca_only = replay(include_str!("../../tests/fixtures/detector/ca_only.csv"));
        let ca_dm = replay(include_str!("../../tests/fixtures/detector/ca_dm.csv"));
        assert_eq!(ca_dm, None, "CA + DM must never be flagged");
        let at = ca_only.unwrap_or(0);
        assert!((50..=300).contains(&at), "CA only flagged at {at}");
    }

    #[test]
    fn controller_raises_dm_by_ten_percent_when_saturation_climbs() {
        let mut c = DmController::new(0.05);
        assert_eq!(c.update(1.0, 0.01), 1.0);
        assert!((c.update(1.0, 0.1) - 1.1).abs() < 1e-12);
        assert_eq!(
            c.update(1.1, 0.08),
            1.1,
            "falling saturation keeps the weight"
        );
        assert!((c.update(1.1, 0.2) - 1.21).abs() < 1e-12);
    }
}
