//! Kernel Inception Distance (Bińkowski et al. 2018): the unbiased MMD² estimate with the
//! cubic polynomial kernel k(x, y) = (xᵀy / d + 1)³, averaged over random subsets, as
//! torch-fidelity and clean-fid compute it.

use crate::error::{EvalError, Result};
use ddmd_science::data::SplitMix64;
use tch::{Kind, Tensor};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Kid {
    pub mean: f64,
    pub std: f64,
    pub subsets: usize,
    pub subset_size: usize,
}

fn choose(rng: &mut SplitMix64, n: usize, m: usize) -> Vec<i64> {
    let mut idx: Vec<i64> = (0..n as i64).collect();
    rng.shuffle(&mut idx);
    idx.truncate(m);
    idx
}

/// KID between features a [n1, d] and b [n2, d]; `subset_size` is capped at min(n1, n2).
pub fn kid(a: &Tensor, b: &Tensor, subsets: usize, subset_size: usize, seed: u64) -> Result<Kid> {
    let (sa, sb) = (a.size(), b.size());
    if sa.len() != 2 || sb.len() != 2 || sa[1] != sb[1] {
        return Err(EvalError::Invalid(format!(
            "KID needs [n, d] features of equal d, got {sa:?} and {sb:?}"
        )));
    }
    let m = subset_size.min(sa[0] as usize).min(sb[0] as usize);
    if m < 2 || subsets == 0 {
        return Err(EvalError::Invalid(format!(
            "KID needs subsets >= 1 of size >= 2 (got {subsets} x {m})"
        )));
    }
    let d = sa[1] as f64;
    let a = a.to_device(tch::Device::Cpu).to_kind(Kind::Double);
    let b = b.to_device(tch::Device::Cpu).to_kind(Kind::Double);
    let mut rng = SplitMix64::new(seed);
    let kern =
        |x: &Tensor, y: &Tensor| (x.matmul(&y.transpose(0, 1)) / d + 1.0).pow_tensor_scalar(3);
    let mut vals = Vec::with_capacity(subsets);
    for _ in 0..subsets {
        let x = a.index_select(0, &Tensor::from_slice(&choose(&mut rng, sa[0] as usize, m)));
        let y = b.index_select(0, &Tensor::from_slice(&choose(&mut rng, sb[0] as usize, m)));
        let kxx = kern(&x, &x);
        let kyy = kern(&y, &y);
        let kxy = kern(&x, &y);
        let mf = m as f64;
        let sum = |t: &Tensor| t.sum(Kind::Double).double_value(&[]);
        let diag = |t: &Tensor| t.diagonal(0, 0, 1).sum(Kind::Double).double_value(&[]);
        let mmd = (sum(&kxx) - diag(&kxx) + sum(&kyy) - diag(&kyy)) / (mf * (mf - 1.0))
            - 2.0 * sum(&kxy) / (mf * mf);
        vals.push(mmd);
    }
    let mean = vals.iter().sum::<f64>() / vals.len() as f64;
    let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / vals.len() as f64;
    Ok(Kid {
        mean,
        std: var.sqrt(),
        subsets,
        subset_size: m,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_near_zero_for_same_distribution_and_positive_for_shift() {
        tch::manual_seed(1);
        let opts = (Kind::Double, tch::Device::Cpu);
        let a = Tensor::randn([400, 8], opts);
        let b = Tensor::randn([400, 8], opts);
        let c = Tensor::randn([400, 8], opts) + 1.0;
        let same = kid(&a, &b, 20, 200, 0).unwrap();
        let diff = kid(&a, &c, 20, 200, 0).unwrap();
        assert!(same.mean.abs() < 0.02, "{same:?}");
        assert!(diff.mean > 0.2, "{diff:?}");
        assert!(diff.mean > 10.0 * same.mean.abs());
        // deterministic by seed
        assert_eq!(
            kid(&a, &c, 5, 100, 3).unwrap(),
            kid(&a, &c, 5, 100, 3).unwrap()
        );
        assert!(kid(&a, &c.narrow(1, 0, 4), 5, 100, 3).is_err());
    }
}
