//! Monitoring of a distillation run: student pixel statistics against the data, divergence
//! detection (→ the run's `stability`), and the seed's optional DM-weight controller (§8:
//! "if saturation climbs, raise DM weight 10%").

use crate::regularize::pixel_moments;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Reference statistics of the data the student should match.
#[derive(Debug, Clone)]
pub struct DataStats {
    /// Per-channel mean [3].
    pub channel_mean: [f64; 3],
    pub pixel_var: f64,
}

impl DataStats {
    pub fn from_images(images: &Tensor) -> DataStats {
        let s = PixelStats::of(images, None);
        DataStats {
            channel_mean: s.channel_mean,
            pixel_var: s.pixel_var,
        }
    }
}

/// Statistics of a batch of student outputs.
#[derive(Debug, Clone)]
pub struct PixelStats {
    pub pixel_mean: f64,
    /// Mean over images of the per-image, per-channel pixel variance.
    pub pixel_var: f64,
    /// Fraction of values outside the data range [-1, 1] (the data has none): the "neon"
    /// explosion the seed describes shows up here first. A slight overshoot of the black (-1)
    /// background counts too, so read its trend across iterations, not its level.
    pub saturated: f64,
    pub channel_mean: [f64; 3],
    /// Student minus data per-channel mean (zero when no reference is given).
    pub color_shift: [f64; 3],
    pub finite: bool,
}

impl PixelStats {
    pub fn of(x: &Tensor, data: Option<&DataStats>) -> PixelStats {
        let _g = tch::no_grad_guard();
        let x = x.detach().to_kind(Kind::Float);
        let finite = x.isfinite().all().int64_value(&[]) == 1;
        let (_, var) = pixel_moments(&x);
        let cm = x
            .mean_dim([0i64, 2, 3].as_slice(), false, Kind::Float)
            .to_device(tch::Device::Cpu);
        let channel_mean = [0, 1, 2].map(|c| {
            if cm.size()[0] > c {
                cm.double_value(&[c])
            } else {
                f64::NAN
            }
        });
        let color_shift = match data {
            Some(d) => [0, 1, 2].map(|c| channel_mean[c] - d.channel_mean[c]),
            None => [0.0; 3],
        };
        PixelStats {
            pixel_mean: x.mean(Kind::Float).double_value(&[]),
            pixel_var: var.mean(Kind::Float).double_value(&[]),
            saturated: x
                .abs()
                .gt(1.0)
                .to_kind(Kind::Float)
                .mean(Kind::Float)
                .double_value(&[]),
            channel_mean,
            color_shift,
            finite,
        }
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

/// Divergence detector: NaN at once, or pixel variance above `var_bound` for `patience`
/// consecutive checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Divergence {
    pub var_bound: f64,
    pub patience: usize,
    pub over: usize,
    pub diverged_at: Option<usize>,
    pub reason: Option<String>,
    pub last_checked: usize,
}

impl Divergence {
    pub fn new(var_bound: f64, patience: usize) -> Self {
        Divergence {
            var_bound,
            patience: patience.max(1),
            over: 0,
            diverged_at: None,
            reason: None,
            last_checked: 0,
        }
    }

    /// Feeds one check at `iteration`; returns true when this check declared divergence.
    pub fn check(&mut self, iteration: usize, loss: f64, stats: &PixelStats) -> bool {
        self.last_checked = iteration;
        if self.diverged_at.is_some() {
            return false;
        }
        if !loss.is_finite() || !stats.finite {
            self.diverged_at = Some(iteration);
            self.reason = Some("non-finite loss or student output".into());
            return true;
        }
        if stats.pixel_var > self.var_bound {
            self.over += 1;
        } else {
            self.over = 0;
        }
        if self.over >= self.patience {
            self.diverged_at = Some(iteration);
            self.reason = Some(format!(
                "pixel variance {:.3} above {} for {} checks",
                stats.pixel_var, self.var_bound, self.patience
            ));
            return true;
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

    fn stats(var: f64, finite: bool) -> PixelStats {
        PixelStats {
            pixel_mean: 0.0,
            pixel_var: var,
            saturated: 0.0,
            channel_mean: [0.0; 3],
            color_shift: [0.0; 3],
            finite,
        }
    }

    #[test]
    fn divergence_needs_a_run_of_checks_or_a_nan() {
        let mut d = Divergence::new(0.5, 3);
        assert!(!d.check(10, 1.0, &stats(0.9, true)));
        assert!(!d.check(20, 1.0, &stats(0.9, true)));
        assert!(
            !d.check(30, 1.0, &stats(0.1, true)),
            "a good check resets the run"
        );
        assert!(!d.check(40, 1.0, &stats(0.9, true)));
        assert!(!d.check(50, 1.0, &stats(0.9, true)));
        assert!(d.check(60, 1.0, &stats(0.9, true)));
        assert_eq!(d.stability(100).diverged_at, Some(60));
        assert_eq!(d.stability(100).stable_through, 60);
        let mut d = Divergence::new(0.5, 3);
        assert!(d.check(7, f64::NAN, &stats(0.1, true)));
        let d = Divergence::new(0.5, 3);
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

    #[test]
    fn pixel_stats_see_saturation_and_colour_shift() {
        let x = Tensor::from_slice(&[
            2.0f32, 0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5, -1.0, -1.0, -1.0, -1.0,
        ])
        .view([1, 3, 2, 2]);
        let data = DataStats {
            channel_mean: [0.0, 0.0, 0.0],
            pixel_var: 0.1,
        };
        let s = PixelStats::of(&x, Some(&data));
        assert!((s.saturated - 1.0 / 12.0).abs() < 1e-6);
        assert!((s.color_shift[0] - 0.5).abs() < 1e-6);
        assert!((s.color_shift[1] - 0.5).abs() < 1e-6);
        assert!((s.color_shift[2] + 1.0).abs() < 1e-6);
        // Channel 0 is [2,0,0,0]: variance 0.75; the others are constant.
        assert!((s.pixel_var - 0.25).abs() < 1e-6);
    }
}
