//! Re-noise schedules of the Decoupled-DMD loss (DESIGN §9, seed §4): which noise levels and
//! noises the CA and DM terms use for a student at its own step t.

use tch::{Device, Kind, Tensor};

pub use ddmd_core::params::Schedule;

/// Where τ may be drawn: away from the ends, where x0 predictions divide by small numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TauRange {
    pub min: f64,
    pub max: f64,
}

impl Default for TauRange {
    fn default() -> Self {
        TauRange {
            min: 0.02,
            max: 0.98,
        }
    }
}

/// The random inputs of one generator loss evaluation. The loss is a pure function of these,
/// the student output and the networks.
pub struct NoiseDraw {
    pub tau_ca: Tensor,
    pub tau_dm: Tensor,
    pub eps_ca: Tensor,
    pub eps_dm: Tensor,
}

/// U(0, 1) on [lo, hi]: `lo + (hi−lo)·u`.
fn uniform(b: i64, lo: f64, hi: f64, dev: Device) -> Tensor {
    Tensor::rand([b], (Kind::Float, dev)) * (hi - lo) + lo
}

/// U(t, 1] clipped to the range: `t + (1−t)·(1−u)` with u ∈ [0, 1) is never equal to t.
fn above(b: i64, t: f64, range: TauRange, dev: Device) -> Tensor {
    let u = Tensor::rand([b], (Kind::Float, dev));
    let tau: Tensor = (1.0 - u) * (1.0 - t) + t;
    tau.clamp(range.min, range.max)
}

impl NoiseDraw {
    /// Draws levels and noises for a batch of shape `shape` ([B, C, H, W]) whose student step is
    /// `t` (0 for a 1-step student), from the global torch generator.
    pub fn sample(
        schedule: Schedule,
        t: f64,
        shape: &[i64],
        range: TauRange,
        dev: Device,
    ) -> NoiseDraw {
        let b = shape[0];
        let eps_ca = Tensor::randn(shape, (Kind::Float, dev));
        match schedule {
            Schedule::Coupled => {
                let tau = uniform(b, range.min, range.max, dev);
                NoiseDraw {
                    tau_dm: tau.shallow_clone(),
                    tau_ca: tau,
                    eps_dm: eps_ca.shallow_clone(),
                    eps_ca,
                }
            }
            Schedule::Hybrid => NoiseDraw {
                tau_ca: above(b, t, range, dev),
                tau_dm: uniform(b, range.min, range.max, dev),
                eps_dm: Tensor::randn(shape, (Kind::Float, dev)),
                eps_ca,
            },
            Schedule::Constrained => NoiseDraw {
                tau_ca: above(b, t, range, dev),
                tau_dm: above(b, t, range, dev),
                eps_dm: Tensor::randn(shape, (Kind::Float, dev)),
                eps_ca,
            },
        }
    }
}
