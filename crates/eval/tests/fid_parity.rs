//! FID parity with pytorch-fid: the project's `frechet_distance` and pytorch-fid's
//! `calculate_frechet_distance` (run in the project's `.venv`) on the same statistics must
//! agree to 1e-6 relative — full-rank covariances, N < dim (singular), and ill-conditioned.
//! Also checks that `.npz` files cross between the two (numpy reads ours, we read numpy's),
//! and at d = 2048 that statistics files written by pytorch-fid's own `save_fid_stats`
//! (compressed `.npz`) are read to the same values our `from_features` gives on the same
//! activations, with the same FID as pytorch-fid's on those files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_eval::fid::{frechet_distance, FeatureStats};
use std::path::{Path, PathBuf};
use std::process::Command;
use tch::{Device, Kind, Tensor};

fn python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
}

/// pytorch-fid's value for two npz files.
fn pytorch_fid(a: &Path, b: &Path) -> f64 {
    let script = "import sys, numpy as np\n\
from pytorch_fid.fid_score import calculate_frechet_distance\n\
a = np.load(sys.argv[1]); b = np.load(sys.argv[2])\n\
print(repr(float(calculate_frechet_distance(a['mu'], a['sigma'], b['mu'], b['sigma']))))\n";
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(a)
        .arg(b)
        .output()
        .expect("run .venv python");
    assert!(
        out.status.success(),
        "pytorch-fid failed (install with scripts/setup-venv numpy pytorch-fid): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a number")
}

fn check(name: &str, fa: &Tensor, fb: &Tensor) {
    let dir = tempfile::tempdir().unwrap();
    let sa = FeatureStats::from_features(fa).unwrap();
    let sb = FeatureStats::from_features(fb).unwrap();
    let (pa, pb) = (dir.path().join("a.npz"), dir.path().join("b.npz"));
    sa.save_npz(&pa).unwrap();
    sb.save_npz(&pb).unwrap();
    let ours = frechet_distance(&sa, &sb).unwrap();
    let theirs = pytorch_fid(&pa, &pb);
    let rel = ((ours - theirs) / theirs).abs();
    println!("{name}: ours {ours:.10} pytorch-fid {theirs:.10} rel {rel:.2e}");
    assert!(
        rel <= 1e-6,
        "{name}: ours {ours} vs pytorch-fid {theirs} (rel {rel:.3e})"
    );
}

#[test]
fn parity_full_rank() {
    tch::manual_seed(11);
    let opts = (Kind::Double, Device::Cpu);
    let d = 64;
    let mix = Tensor::randn([d, d], opts) / 8.0;
    let fa = Tensor::randn([2000, d], opts).matmul(&mix);
    let fb =
        Tensor::randn([2000, d], opts).matmul(&(&mix + Tensor::randn([d, d], opts) * 0.05)) + 0.1;
    check("full rank", &fa, &fb);
}

#[test]
fn parity_fewer_samples_than_dims() {
    tch::manual_seed(12);
    let opts = (Kind::Double, Device::Cpu);
    // N = 100 < d = 256: both covariances have rank 99
    let fa = Tensor::randn([100, 256], opts).relu();
    let fb = (Tensor::randn([100, 256], opts) * 1.3 + 0.2).relu();
    check("N < dim", &fa, &fb);
}

#[test]
fn parity_ill_conditioned() {
    tch::manual_seed(13);
    let opts = (Kind::Double, Device::Cpu);
    let d = 96;
    // singular values spread over 8 orders of magnitude
    let scales = Tensor::logspace(0.0, -4.0, d, 10.0, opts);
    let (q, _) = Tensor::linalg_qr(&Tensor::randn([d, d], opts), "reduced");
    let fa = (Tensor::randn([3000, d], opts) * &scales).matmul(&q);
    let fb = (Tensor::randn([3000, d], opts) * &scales * 1.1).matmul(&q) + 0.01;
    check("ill-conditioned", &fa, &fb);
}

#[test]
fn numpy_written_npz_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("np.npz");
    let script = "import sys, numpy as np\n\
np.savez(sys.argv[1], mu=np.arange(3, dtype=np.float64), sigma=np.eye(3) * 2.0)\n";
    let st = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(&p)
        .status()
        .unwrap();
    assert!(st.success());
    let s = FeatureStats::load_npz(&p).unwrap();
    assert_eq!(Vec::<f64>::try_from(&s.mu).unwrap(), vec![0.0, 1.0, 2.0]);
    assert_eq!(s.sigma.double_value(&[1, 1]), 2.0);
    assert_eq!(s.sigma.double_value(&[0, 1]), 0.0);
}

/// pytorch-fid's own `save_fid_stats` (its `calculate_activation_statistics`, `np.mean` /
/// `np.cov`, and `np.savez_compressed`) on activations read from `feats` (.npy) instead of
/// from its Inception, which would download weights: only the network is stubbed.
fn pytorch_fid_save_stats(feats: &Path, out: &Path) {
    let script = r#"
import sys, tempfile, numpy as np
import pytorch_fid.fid_score as fs
class NoNetwork:
    BLOCK_INDEX_BY_DIM = {2048: 3}
    def __init__(self, blocks): pass
    def to(self, device): return self
acts = np.load(sys.argv[1])
fs.InceptionV3 = NoNetwork
fs.get_activations = lambda files, model, *a, **k: acts
with tempfile.TemporaryDirectory() as empty:
    fs.save_fid_stats([empty, sys.argv[2]], 50, 'cpu', 2048, num_workers=0)
"#;
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(feats)
        .arg(out)
        .output()
        .expect("run .venv python");
    assert!(
        out.status.success(),
        "pytorch-fid save_fid_stats failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rel_frobenius(a: &Tensor, b: &Tensor) -> f64 {
    let num = (a - b).square().sum(Kind::Double).sqrt().double_value(&[]);
    num / b.square().sum(Kind::Double).sqrt().double_value(&[])
}

#[test]
fn pytorch_fid_saved_stats_at_2048() {
    tch::manual_seed(14);
    let opts = (Kind::Double, Device::Cpu);
    let (n, d) = (2500, 2048);
    // Non-negative, correlated activations like Inception's pool3 (pytorch-fid keeps f64).
    let mix = Tensor::randn([d, d], opts) / (d as f64).sqrt();
    let fa = Tensor::randn([n, d], opts).matmul(&mix).relu();
    let fb = (Tensor::randn([n, d], opts).matmul(&(&mix + Tensor::randn([d, d], opts) * 0.02))
        + 0.05)
        .relu();
    let dir = tempfile::tempdir().unwrap();
    let mut loaded = Vec::new();
    for (name, f) in [("a", &fa), ("b", &fb)] {
        let acts = dir.path().join(format!("{name}.npy"));
        let stats = dir.path().join(format!("{name}.npz"));
        f.write_npy(&acts).unwrap();
        pytorch_fid_save_stats(&acts, &stats);
        let theirs = FeatureStats::load_npz(&stats).unwrap();
        assert_eq!(theirs.dims(), 2048);
        let ours = FeatureStats::from_features(f).unwrap();
        let (dmu, dsigma) = (
            rel_frobenius(&ours.mu, &theirs.mu),
            rel_frobenius(&ours.sigma, &theirs.sigma),
        );
        println!("{name}: from_features vs np.mean/np.cov: mu {dmu:.2e}, sigma {dsigma:.2e}");
        assert!(
            dmu <= 1e-6 && dsigma <= 1e-6,
            "mu {dmu:.3e} sigma {dsigma:.3e}"
        );
        loaded.push((stats, theirs));
    }
    let ours = frechet_distance(&loaded[0].1, &loaded[1].1).unwrap();
    let theirs = pytorch_fid(&loaded[0].0, &loaded[1].0);
    let rel = ((ours - theirs) / theirs).abs();
    println!(
        "d=2048 from pytorch-fid's files: ours {ours:.10} pytorch-fid {theirs:.10} rel {rel:.2e}"
    );
    assert!(
        rel <= 1e-6,
        "ours {ours} vs pytorch-fid {theirs} (rel {rel:.3e})"
    );
}
