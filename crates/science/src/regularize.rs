//! Regularisers that can stand in for the DM term (seed §5): `meanvar`, a closed-form KL
//! between per-image pixel moments of the student and of the data, and `gan`, a
//! non-saturating discriminator head on the fake score network's bottleneck features.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

pub use ddmd_core::params::Regularizer;

/// Floor on variances inside the KL, so a constant image does not give log(0).
pub const VAR_FLOOR: f64 = 1e-6;

/// Per-image, per-channel pixel mean and (population) variance: two [B, C] tensors.
pub fn pixel_moments(x: &Tensor) -> (Tensor, Tensor) {
    let mean = x.mean_dim([2i64, 3].as_slice(), false, Kind::Float);
    let var = x.var_dim([2i64, 3].as_slice(), false, false);
    (mean, var)
}

/// Moments of the data the student's images are matched to: per image and channel, the
/// moments of the *render of the same prompt* (the training batch's own images). Matching every
/// image to one pooled mean and variance of all data (the first version) pulled each image
/// toward gray: a correct black- or white-background image paid ~3.6 nats per channel (issue
/// 13's estimate).
#[derive(Debug)]
pub struct DataMoments {
    /// [B, C]
    pub mean: Tensor,
    /// [B, C]
    pub var: Tensor,
}

impl DataMoments {
    /// Moments of `images` [B, C, H, W], the renders of the prompts the student draws.
    pub fn of_renders(images: &Tensor) -> DataMoments {
        let _g = tch::no_grad_guard();
        let (mean, var) = pixel_moments(images);
        DataMoments { mean, var }
    }
}

/// `KL(N(μ_s, σ²_s) ‖ N(μ_d, σ²_d))` per image and channel, against the same prompt's render,
/// averaged: the seed's mean–variance regulariser.
pub fn meanvar_kl(x: &Tensor, data: &DataMoments) -> Tensor {
    let (ms, vs) = pixel_moments(x);
    let vs = vs.clamp_min(VAR_FLOOR);
    let vd = data.var.clamp_min(VAR_FLOOR);
    let kl = ((&vd / &vs).log() + (&vs + (ms - &data.mean).square()) / &vd - 1.0) * 0.5;
    kl.mean(Kind::Float)
}

/// Discriminator head on bottleneck features: conv → SiLU → global average → linear → logit.
#[derive(Debug)]
pub struct GanHead {
    conv: nn::Conv2D,
    out: nn::Linear,
}

impl GanHead {
    pub fn new(p: &nn::Path, channels: i64) -> GanHead {
        GanHead {
            conv: nn::conv2d(
                p / "conv",
                channels,
                channels,
                3,
                nn::ConvConfig {
                    padding: 1,
                    ..Default::default()
                },
            ),
            out: nn::linear(p / "out", channels, 1, Default::default()),
        }
    }

    /// Features [B, C, h, w] → logits [B].
    pub fn logits(&self, features: &Tensor) -> Tensor {
        let h =
            self.conv
                .forward(features)
                .silu()
                .mean_dim([2i64, 3].as_slice(), false, Kind::Float);
        self.out.forward(&h).squeeze_dim(1)
    }
}

/// Non-saturating generator loss: `softplus(−D(fake))`.
pub fn gan_generator_loss(fake_logits: &Tensor) -> Tensor {
    (-fake_logits).softplus().mean(Kind::Float)
}

/// Discriminator loss: `softplus(−D(real)) + softplus(D(fake))`.
pub fn gan_discriminator_loss(real_logits: &Tensor, fake_logits: &Tensor) -> Tensor {
    (-real_logits).softplus().mean(Kind::Float) + fake_logits.softplus().mean(Kind::Float)
}
