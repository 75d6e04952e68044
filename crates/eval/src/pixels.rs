//! Pixel statistics of generated images (DESIGN §11): mean, variance, saturated fraction and
//! per-channel colour shift against the data — the cheap signals of CA-only saturation.

use crate::error::{EvalError, Result};
use serde::Serialize;
use tch::{Kind, Tensor};

/// |x| at or beyond this (in [-1, 1] units) counts as saturated.
pub const SATURATION_LEVEL: f64 = 0.98;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PixelStats {
    pub mean: f64,
    pub var: f64,
    pub saturated: f64,
    /// Per-channel (R, G, B) mean minus the data's per-channel mean; zeros without reference.
    pub color_shift: [f64; 3],
}

fn channel_means(x: &Tensor) -> Result<[f64; 3]> {
    let m = x.mean_dim([0i64, 2, 3].as_slice(), false, Kind::Double);
    let v = Vec::<f64>::try_from(&m.to_device(tch::Device::Cpu))?;
    Ok([v[0], v[1], v[2]])
}

fn check(x: &Tensor) -> Result<()> {
    let s = x.size();
    if s.len() != 4 || s[1] != 3 || s[0] == 0 {
        return Err(EvalError::Invalid(format!(
            "pixel stats need [n > 0, 3, H, W], got {s:?}"
        )));
    }
    Ok(())
}

/// Statistics of images [n, 3, H, W] in [-1, 1]; colour shift against `reference` images.
pub fn pixel_stats(images: &Tensor, reference: Option<&Tensor>) -> Result<PixelStats> {
    check(images)?;
    let x = images.to_kind(Kind::Double);
    let mean = x.mean(Kind::Double).double_value(&[]);
    // population variance over all pixels (what a training monitor reports)
    let var = x.var(false).double_value(&[]);
    let saturated = x
        .abs()
        .ge(SATURATION_LEVEL)
        .to_kind(Kind::Double)
        .mean(Kind::Double)
        .double_value(&[]);
    let mut color_shift = [0.0; 3];
    if let Some(r) = reference {
        check(r)?;
        let (a, b) = (channel_means(&x)?, channel_means(&r.to_kind(Kind::Double))?);
        for c in 0..3 {
            color_shift[c] = a[c] - b[c];
        }
    }
    Ok(PixelStats {
        mean,
        var,
        saturated,
        color_shift,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // half the pixels at +1 (saturated), half at 0
        let x = Tensor::cat(
            &[
                Tensor::ones([2, 3, 4, 4], (Kind::Float, tch::Device::Cpu)),
                Tensor::zeros([2, 3, 4, 4], (Kind::Float, tch::Device::Cpu)),
            ],
            0,
        );
        let s = pixel_stats(&x, None).unwrap();
        assert!((s.mean - 0.5).abs() < 1e-12);
        assert!((s.var - 0.25).abs() < 1e-12);
        assert!((s.saturated - 0.5).abs() < 1e-12);
        let r = Tensor::zeros([1, 3, 4, 4], (Kind::Float, tch::Device::Cpu));
        let shifted = Tensor::zeros([1, 3, 4, 4], (Kind::Float, tch::Device::Cpu));
        let _ = shifted.narrow(1, 2, 1).fill_(0.25);
        let s = pixel_stats(&shifted, Some(&r)).unwrap();
        assert_eq!(s.color_shift, [0.0, 0.0, 0.25]);
        assert!(pixel_stats(
            &Tensor::zeros([2, 4], (Kind::Float, tch::Device::Cpu)),
            None
        )
        .is_err());
    }
}
