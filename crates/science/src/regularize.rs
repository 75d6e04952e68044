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

/// Reference moments of the data: the per-channel average of per-image means and variances.
#[derive(Debug)]
pub struct DataMoments {
    /// [C]
    pub mean: Tensor,
    /// [C]
    pub var: Tensor,
}

impl DataMoments {
    pub fn from_batch(images: &Tensor) -> DataMoments {
        let _g = tch::no_grad_guard();
        let (m, v) = pixel_moments(images);
        DataMoments {
            mean: m.mean_dim(0, false, Kind::Float),
            var: v.mean_dim(0, false, Kind::Float),
        }
    }
}

/// `KL(N(μ_s, σ²_s) ‖ N(μ_d, σ²_d))` per image and channel, averaged.
pub fn meanvar_kl(x: &Tensor, data: &DataMoments) -> Tensor {
    let (ms, vs) = pixel_moments(x);
    let vs = vs.clamp_min(VAR_FLOOR);
    let md = data.mean.unsqueeze(0);
    let vd = data.var.clamp_min(VAR_FLOOR).unsqueeze(0);
    let kl = ((&vd / &vs).log() + (&vs + (ms - md).square()) / &vd - 1.0) * 0.5;
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
