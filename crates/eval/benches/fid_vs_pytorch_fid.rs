//! FID against pytorch-fid's `calculate_frechet_distance` on the same statistics: value and
//! time at d = 2048 from N = 5000 features (DESIGN §13). Not a timed test: prints a table.
//!
//! Run: `cargo bench -p ddmd-eval --bench fid_vs_pytorch_fid` (needs `.venv` with pytorch-fid;
//! `scripts/setup-venv numpy pytorch-fid`). Env: FID_BENCH_D, FID_BENCH_N.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_eval::fid::{frechet_distance, FeatureStats};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

fn main() -> anyhow::Result<()> {
    let d: i64 = std::env::var("FID_BENCH_D")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2048);
    let n: i64 = std::env::var("FID_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    tch::manual_seed(0);
    let opts = (Kind::Double, Device::Cpu);
    // Two feature sets with different, correlated covariances (like real activations).
    let mix_a = Tensor::randn([d, d], opts) / (d as f64).sqrt();
    let mix_b = &mix_a + Tensor::randn([d, d], opts) * (0.3 / (d as f64).sqrt());
    let fa = Tensor::randn([n, d], opts).matmul(&mix_a).relu();
    let fb = (Tensor::randn([n, d], opts).matmul(&mix_b) + 0.05).relu();

    let t = Instant::now();
    let sa = FeatureStats::from_features(&fa)?;
    let sb = FeatureStats::from_features(&fb)?;
    let stats_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let ours = frechet_distance(&sa, &sb)?;
    let ours_s = t.elapsed().as_secs_f64();

    let dir = tempfile::tempdir()?;
    let (pa, pb) = (dir.path().join("a.npz"), dir.path().join("b.npz"));
    sa.save_npz(&pa)?;
    sb.save_npz(&pb)?;
    let script = r#"
import sys, time, numpy as np
from pytorch_fid.fid_score import calculate_frechet_distance
a = np.load(sys.argv[1]); b = np.load(sys.argv[2])
t = time.perf_counter()
v = calculate_frechet_distance(a['mu'], a['sigma'], b['mu'], b['sigma'])
print(repr(float(v)), time.perf_counter() - t)
"#;
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&pa)
        .arg(&pb)
        .output()?;
    if !out.status.success() {
        anyhow::bail!(
            "pytorch-fid failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace();
    let theirs: f64 = it.next().unwrap_or("nan").parse()?;
    let theirs_s: f64 = it.next().unwrap_or("nan").parse()?;
    println!("FID at d={d}, N={n} (threads: {})", tch::get_num_threads());
    println!("| implementation | FID | time of the distance (s) |");
    println!("|---|---|---|");
    println!("| ddmd-eval (2× eigh, f64) | {ours:.6} | {ours_s:.3} |");
    println!("| pytorch-fid (scipy sqrtm) | {theirs:.6} | {theirs_s:.3} |");
    println!("relative difference {:.2e}; time ratio ours/theirs {:.3}; our statistics of 2×{n} features took {stats_s:.3} s", ((ours - theirs) / theirs).abs(), ours_s / theirs_s);
    Ok(())
}
