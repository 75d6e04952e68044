//! PSNR of one image set against another drawn from the same noise (a student against its
//! teacher): the seed's "washed colours (PSNR ↓ 0.8 dB)".

use crate::error::{EvalError, Result};
use tch::{Kind, Tensor};

/// Mean over images of 10·log10(peak² / MSE) for images in [-1, 1] (peak-to-peak 2). An
/// identical pair is capped at 100 dB rather than infinity.
pub fn psnr_db(a: &Tensor, b: &Tensor) -> Result<f64> {
    if a.size() != b.size() || a.dim() != 4 || a.size()[0] == 0 {
        return Err(EvalError::Invalid(format!(
            "PSNR needs two image sets of one shape [n > 0, C, H, W], got {:?} and {:?}",
            a.size(),
            b.size()
        )));
    }
    let mse = (a.to_kind(Kind::Double) - b.to_kind(Kind::Double))
        .square()
        .mean_dim([1i64, 2, 3].as_slice(), false, Kind::Double)
        .clamp_min(4e-10);
    let db = (mse.reciprocal() * 4.0).log10() * 10.0;
    Ok(db.mean(Kind::Double).double_value(&[]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use tch::Device;

    #[test]
    fn known_values() {
        let a = Tensor::zeros([2, 3, 4, 4], (Kind::Float, Device::Cpu));
        // A uniform error of 0.2: MSE 0.04, PSNR = 10·log10(4 / 0.04) = 20 dB.
        let b = &a + 0.2;
        assert!((psnr_db(&a, &b).unwrap() - 20.0).abs() < 1e-5);
        assert!((psnr_db(&a, &a).unwrap() - 100.0).abs() < 1e-9);
        // Twice the error: 6.02 dB less.
        let c = &a + 0.4;
        assert!((psnr_db(&a, &b).unwrap() - psnr_db(&a, &c).unwrap() - 6.0206).abs() < 1e-3);
        assert!(psnr_db(&a, &a.narrow(0, 0, 1)).is_err());
    }
}
