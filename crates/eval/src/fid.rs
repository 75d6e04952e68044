//! Fréchet distance between Gaussian feature statistics (DESIGN §11) and their `.npz` files.
//!
//! Statistics are f64 with the N−1 covariance (as pytorch-fid's `np.cov`). The trace term
//! `tr sqrt(Σ1 Σ2)` is computed as `Σ sqrt(λ_i)` over the eigenvalues of the symmetric
//! matrix `sqrt(Σ1)·Σ2·sqrt(Σ1)`, which is similar to `Σ1 Σ2`; `sqrt(Σ1)` comes from a
//! symmetric eigendecomposition. Negative eigenvalues (round-off, or rank deficiency when
//! N < dim) are clamped to 0. Two `eigh` calls instead of a general `sqrtm`: faster, and
//! no complex parts to throw away.

use crate::error::{EvalError, Result};
use std::path::Path;
use tch::{Kind, Tensor};

/// Mean and covariance of a feature set; `n` is None when read from a file that lacks it.
#[derive(Debug)]
pub struct FeatureStats {
    /// [d] f64, CPU.
    pub mu: Tensor,
    /// [d, d] f64, CPU.
    pub sigma: Tensor,
    pub n: Option<usize>,
}

impl FeatureStats {
    /// Statistics of features [n, d] (any kind, any device); needs n ≥ 2.
    pub fn from_features(features: &Tensor) -> Result<FeatureStats> {
        let size = features.size();
        if size.len() != 2 || size[0] < 2 {
            return Err(EvalError::Invalid(format!(
                "features must be [n >= 2, d], got {size:?}"
            )));
        }
        let x = features.to_device(tch::Device::Cpu).to_kind(Kind::Double);
        let n = size[0];
        let mu = x.mean_dim(0, false, Kind::Double);
        let xc = &x - mu.unsqueeze(0);
        let sigma = xc.transpose(0, 1).matmul(&xc) / (n - 1) as f64;
        Ok(FeatureStats {
            mu,
            sigma,
            n: Some(n as usize),
        })
    }

    pub fn dims(&self) -> usize {
        self.mu.size()[0] as usize
    }

    /// Writes `mu` and `sigma` (f64) like pytorch-fid's `--save-stats`, so either tool can
    /// read the other's file.
    pub fn save_npz(&self, path: &Path) -> Result<()> {
        Tensor::write_npz(&[("mu", &self.mu), ("sigma", &self.sigma)], path)
            .map_err(|e| EvalError::io(path, e))
    }

    /// Reads `mu` and `sigma` from an `.npz` (as written by numpy's `savez`, pytorch-fid or
    /// [`FeatureStats::save_npz`]).
    pub fn load_npz(path: &Path) -> Result<FeatureStats> {
        if !path.is_file() {
            return Err(EvalError::io(path, "no such file"));
        }
        // tch's reader unwraps on some malformed archives; keep a bad file an error.
        let read = std::panic::catch_unwind(|| Tensor::read_npz(path))
            .map_err(|_| EvalError::io(path, "malformed npz archive"))?
            .map_err(|e| EvalError::io(path, e))?;
        let get = |name: &str| {
            read.iter()
                .find(|(k, _)| k == name)
                .map(|(_, t)| t.to_kind(Kind::Double))
                .ok_or_else(|| EvalError::io(path, format!("npz has no array {name:?}")))
        };
        let (mu, sigma) = (get("mu")?, get("sigma")?);
        let d = mu.size();
        if d.len() != 1 || sigma.size() != [d[0], d[0]] {
            return Err(EvalError::io(
                path,
                format!("mu {:?} and sigma {:?} do not fit", d, sigma.size()),
            ));
        }
        Ok(FeatureStats { mu, sigma, n: None })
    }
}

/// `tr sqrt(Σ1 Σ2)` through two symmetric eigendecompositions (see module docs).
pub fn trace_sqrt_product(sigma1: &Tensor, sigma2: &Tensor) -> Result<f64> {
    let s1 = sigma1.to_kind(Kind::Double);
    let s2 = sigma2.to_kind(Kind::Double);
    let (w, v) = s1.f_linalg_eigh("L")?;
    let root = w.clamp_min(0.0).sqrt();
    let sqrt_s1 = (&v * root.unsqueeze(0)).matmul(&v.transpose(0, 1));
    let m = sqrt_s1.matmul(&s2).matmul(&sqrt_s1);
    // Symmetrise: round-off makes m slightly asymmetric and eigvalsh reads one triangle.
    let m = (&m + m.transpose(0, 1)) * 0.5;
    let ev = m.f_linalg_eigvalsh("L")?;
    Ok(ev.clamp_min(0.0).sqrt().sum(Kind::Double).double_value(&[]))
}

/// FID = ‖μ1 − μ2‖² + tr Σ1 + tr Σ2 − 2 tr sqrt(Σ1 Σ2).
pub fn frechet_distance(a: &FeatureStats, b: &FeatureStats) -> Result<f64> {
    if a.mu.size() != b.mu.size() {
        return Err(EvalError::Invalid(format!(
            "feature dimensions differ: {:?} vs {:?}",
            a.mu.size(),
            b.mu.size()
        )));
    }
    let diff = (&a.mu - &b.mu).square().sum(Kind::Double).double_value(&[]);
    let tr1 = a.sigma.trace().double_value(&[]);
    let tr2 = b.sigma.trace().double_value(&[]);
    let tr_covmean = trace_sqrt_product(&a.sigma, &b.sigma)?;
    let fid = diff + tr1 + tr2 - 2.0 * tr_covmean;
    if !fid.is_finite() {
        return Err(EvalError::Invalid(format!("FID is not finite ({fid})")));
    }
    Ok(fid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_stats_give_zero_and_shift_gives_squared_norm() {
        tch::manual_seed(0);
        let f = Tensor::randn([500, 16], (Kind::Double, tch::Device::Cpu));
        let a = FeatureStats::from_features(&f).unwrap();
        let b = FeatureStats::from_features(&(&f + 0.5)).unwrap();
        let same = frechet_distance(&a, &a).unwrap();
        assert!(same.abs() < 1e-9, "{same}");
        let shifted = frechet_distance(&a, &b).unwrap();
        assert!((shifted - 16.0 * 0.25).abs() < 1e-9, "{shifted}");
    }

    #[test]
    fn diagonal_covariances_have_closed_form() {
        // Σ1 = diag(a), Σ2 = diag(b): trace term Σ sqrt(a_i b_i)
        let a = Tensor::from_slice(&[1.0f64, 4.0, 9.0]);
        let b = Tensor::from_slice(&[4.0f64, 1.0, 0.0]);
        let t = trace_sqrt_product(&a.diag(0), &b.diag(0)).unwrap();
        assert!((t - (2.0 + 2.0 + 0.0)).abs() < 1e-12, "{t}");
    }

    #[test]
    fn covariance_is_unbiased() {
        let f = Tensor::from_slice(&[1.0f64, 2.0, 3.0, 4.0]).view([4, 1]);
        let s = FeatureStats::from_features(&f).unwrap();
        // np.var([1,2,3,4], ddof=1) = 5/3
        assert!((s.sigma.double_value(&[0, 0]) - 5.0 / 3.0).abs() < 1e-12);
        assert!(FeatureStats::from_features(&f.narrow(0, 0, 1)).is_err());
    }

    #[test]
    fn npz_round_trip_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = Tensor::randn([50, 8], (Kind::Double, tch::Device::Cpu));
        let s = FeatureStats::from_features(&f).unwrap();
        let p = dir.path().join("s.npz");
        s.save_npz(&p).unwrap();
        let back = FeatureStats::load_npz(&p).unwrap();
        assert!(back.mu.allclose(&s.mu, 0.0, 0.0, false));
        assert!(back.sigma.allclose(&s.sigma, 0.0, 0.0, false));
        let bad = dir.path().join("bad.npz");
        std::fs::write(&bad, b"not a zip").unwrap();
        assert!(FeatureStats::load_npz(&bad).is_err());
        assert!(FeatureStats::load_npz(&dir.path().join("missing.npz")).is_err());
    }
}
