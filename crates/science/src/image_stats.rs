//! Image statistics shared by the training monitor, the divergence detector and the evaluate
//! stage: pixel moments, colour saturation, high-frequency energy and per-channel means, and
//! the same numbers *relative to a reference set* (renders of the same prompts), which is how
//! they are reported. An absolute pixel variance means little on its own: the data's own sits
//! at 0.07–0.1 and depends on the backgrounds drawn, so every statistic is read as a ratio to
//! (or a difference from) what the data shows for the same prompts.

use tch::{Device, Kind, Tensor};

/// |x| at or beyond this (in [-1, 1] units) counts as clipped.
pub const CLIP_LEVEL: f64 = 0.98;

/// Statistics of one set of images [n, 3, H, W] in [-1, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct ImageStats {
    pub images: usize,
    /// Mean of all pixel values.
    pub mean: f64,
    /// Mean over images and channels of the per-image pixel variance: what a washed-out or
    /// single-colour image lowers and a neon, high-contrast one raises.
    pub var: f64,
    /// Fraction of values at or beyond ±[`CLIP_LEVEL`].
    pub clipped: f64,
    /// Mean chroma (max − min of R, G, B in [0, 1]) of the pixels: how colourful they are.
    /// Not HSV's (max − min) / max, which blows up on near-black pixels: a black background
    /// with a faint tint would read as strongly saturated.
    pub saturation: f64,
    /// Mean squared difference between an image and its 3×3 box blur: the high-frequency
    /// energy that blur removes.
    pub hf_energy: f64,
    /// Per-channel (R, G, B) mean.
    pub channel_mean: [f64; 3],
    /// Whether every value is finite.
    pub finite: bool,
}

/// A set's statistics against a reference set's: ratios near 1 and shifts near 0 are data-like.
#[derive(Clone, Debug, PartialEq)]
pub struct Relative {
    /// Per-image pixel variance over the reference's.
    pub var_ratio: f64,
    /// Chroma over the reference's (> 1 oversaturated, < 1 washed out).
    pub saturation_ratio: f64,
    /// High-frequency energy over the reference's (< 1 blurrier than the data).
    pub sharpness: f64,
    /// Per-channel mean minus the reference's (signed: both directions).
    pub color_shift: [f64; 3],
}

impl Relative {
    /// Mean absolute colour shift over the three channels.
    pub fn color_shift_abs(&self) -> f64 {
        self.color_shift.iter().map(|v| v.abs()).sum::<f64>() / 3.0
    }
}

fn scalar(t: &Tensor) -> f64 {
    t.double_value(&[])
}

impl ImageStats {
    /// Statistics of `x` [n, 3, H, W]; `None` when it is not such a tensor.
    pub fn of(x: &Tensor) -> Option<ImageStats> {
        let s = x.size();
        if s.len() != 4 || s[1] != 3 || s[0] == 0 {
            return None;
        }
        let _g = tch::no_grad_guard();
        let x = x.detach().to_device(Device::Cpu).to_kind(Kind::Double);
        let finite = x.isfinite().all().int64_value(&[]) == 1;
        let per_image_var = x.var_dim([2i64, 3].as_slice(), false, false);
        let cm = x.mean_dim([0i64, 2, 3].as_slice(), false, Kind::Double);
        let channel_mean = [0i64, 1, 2].map(|c| cm.double_value(&[c]));
        // Chroma of the image mapped to [0, 1].
        let rgb = ((&x + 1.0) / 2.0).clamp(0.0, 1.0);
        let sat = rgb.amax([1i64].as_slice(), false) - rgb.amin([1i64].as_slice(), false);
        Some(ImageStats {
            images: s[0] as usize,
            mean: scalar(&x.mean(Kind::Double)),
            var: scalar(&per_image_var.mean(Kind::Double)),
            clipped: scalar(
                &x.abs()
                    .ge(CLIP_LEVEL)
                    .to_kind(Kind::Double)
                    .mean(Kind::Double),
            ),
            saturation: scalar(&sat.mean(Kind::Double)),
            hf_energy: hf_energy(&x),
            channel_mean,
            finite,
        })
    }

    /// These statistics relative to `reference`'s. A reference statistic of zero gives a
    /// ratio of 1 when this one is zero too, infinity otherwise.
    pub fn relative_to(&self, reference: &ImageStats) -> Relative {
        let ratio = |a: f64, b: f64| {
            if b > 0.0 {
                a / b
            } else if a == 0.0 {
                1.0
            } else {
                f64::INFINITY
            }
        };
        Relative {
            var_ratio: ratio(self.var, reference.var),
            saturation_ratio: ratio(self.saturation, reference.saturation),
            sharpness: ratio(self.hf_energy, reference.hf_energy),
            color_shift: [0, 1, 2].map(|c| self.channel_mean[c] - reference.channel_mean[c]),
        }
    }
}

/// Mean squared difference between `x` [n, C, H, W] (double) and its 3×3 box blur
/// (replicated borders), i.e. the energy of the highest spatial frequencies.
fn hf_energy(x: &Tensor) -> f64 {
    let c = x.size()[1];
    let padded = x.pad([1i64, 1, 1, 1].as_slice(), "replicate", None);
    let kernel = Tensor::full([c, 1, 3, 3], 1.0 / 9.0, (Kind::Double, x.device()));
    let blurred = padded.conv2d(&kernel, None::<Tensor>, [1i64], [0i64], [1i64], c);
    scalar(&(x - blurred).square().mean(Kind::Double))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn scene_like(n: i64) -> Tensor {
        // Images with sharp blocks on a background: something for blur to remove.
        tch::manual_seed(3);
        let base = Tensor::rand([n, 3, 4, 4], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        base.upsample_nearest2d([16i64, 16].as_slice(), None, None)
    }

    #[test]
    fn a_set_against_itself_is_neutral() {
        let x = scene_like(8);
        let s = ImageStats::of(&x).unwrap();
        let r = s.relative_to(&s);
        assert_eq!(r.var_ratio, 1.0);
        assert_eq!(r.sharpness, 1.0);
        assert_eq!(r.saturation_ratio, 1.0);
        assert_eq!(r.color_shift, [0.0; 3]);
    }

    #[test]
    fn a_blurred_copy_is_less_sharp() {
        let x = scene_like(8);
        let blurred = x
            .pad([1i64, 1, 1, 1].as_slice(), "replicate", None)
            .avg_pool2d(
                [3i64, 3].as_slice(),
                [1i64].as_slice(),
                [0i64].as_slice(),
                false,
                true,
                None,
            );
        let r = ImageStats::of(&blurred)
            .unwrap()
            .relative_to(&ImageStats::of(&x).unwrap());
        assert!(r.sharpness < 0.5, "sharpness {}", r.sharpness);
        assert!(r.var_ratio < 1.0);
    }

    #[test]
    fn a_uniform_shift_is_measured_with_its_sign() {
        let x = scene_like(8).clamp(-0.8, 0.8);
        let shifted = &x + Tensor::from_slice(&[0.1f32, 0.0, -0.05]).view([1, 3, 1, 1]);
        let r = ImageStats::of(&shifted)
            .unwrap()
            .relative_to(&ImageStats::of(&x).unwrap());
        assert!((r.color_shift[0] - 0.1).abs() < 1e-6);
        assert!(r.color_shift[1].abs() < 1e-9);
        assert!((r.color_shift[2] + 0.05).abs() < 1e-6);
        assert!((r.color_shift_abs() - 0.05).abs() < 1e-6);
        // A shift changes no image's contrast or edges.
        assert!((r.var_ratio - 1.0).abs() < 1e-6);
        assert!((r.sharpness - 1.0).abs() < 1e-6);
    }

    #[test]
    fn gray_is_unsaturated_and_pure_red_fully() {
        let gray = Tensor::zeros([2, 3, 8, 8], (Kind::Float, Device::Cpu));
        assert_eq!(ImageStats::of(&gray).unwrap().saturation, 0.0);
        let red = Tensor::from_slice(&[1.0f32, -1.0, -1.0])
            .view([1, 3, 1, 1])
            .expand([2, 3, 8, 8], false);
        let s = ImageStats::of(&red).unwrap();
        assert!((s.saturation - 1.0).abs() < 1e-9);
        assert!((s.clipped - 1.0).abs() < 1e-9);
        // A flat block: no variance within an image, no edges.
        assert!(s.var.abs() < 1e-20);
        assert!(s.hf_energy.abs() < 1e-20);
        let washed = ImageStats::of(&(&red * 0.3)).unwrap();
        assert!(washed.relative_to(&s).saturation_ratio < 1.0);
    }

    #[test]
    fn not_images_is_none() {
        assert!(ImageStats::of(&Tensor::zeros([2, 4], (Kind::Float, Device::Cpu))).is_none());
        assert!(ImageStats::of(&Tensor::zeros([0, 3, 4, 4], (Kind::Float, Device::Cpu))).is_none());
    }
}
