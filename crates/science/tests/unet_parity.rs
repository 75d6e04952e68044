//! Parity of our built-in UNet with its PyTorch mirror (bench/peers/unet_mirror.py, the network
//! of the benchmark peer bench/peers/dmd_step.py): the same weights through both give the same
//! velocity to 1e-5 (max abs), for the benchmark's widths 32/64, for three levels 16/32/64 and
//! for two blocks per level. Our weights are randomised first: a fresh UNet zero-initialises
//! its output convolution and every residual branch's last layer, so its output is 0 whatever
//! the mirror computes. A negative check runs a deliberately wrong mirror (middle
//! cross-attention left out) and requires the comparison to fail, so the test can fail.
//!
//! Runs the project's `.venv` Python (torch is there anyway: tch links its libtorch); when it
//! cannot run the mirror the test fails, it never skips (also under `DDMD_REQUIRE_PEERS=1`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_science::data::{ShapesConfig, ShapesWorld};
use ddmd_science::nets::{Network, VelocityNet};
use ddmd_science::params::TeacherParams;
use ddmd_science::teacher::teacher_spec;
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use tch::{Device, Kind, Tensor};

const TOL: f64 = 1e-5;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("DDMD_VENV_PYTHON") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
}

fn mirror_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/peers/unet_mirror.py")
}

fn load(path: &Path) -> HashMap<String, Tensor> {
    Tensor::read_safetensors(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .into_iter()
        .collect()
}

/// Runs the mirror's forward on `dir` and returns its velocity.
fn mirror_forward(dir: &Path, perturb: &str) -> Tensor {
    let out = Command::new(python())
        .arg(mirror_script())
        .arg("forward")
        .arg(dir)
        .args(["--perturb", perturb])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python().display()));
    assert!(
        out.status.success(),
        "unet_mirror.py forward failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    load(&dir.join("mirror_out.safetensors"))
        .remove("v")
        .expect("mirror_out.safetensors has no v")
}

/// Builds our UNet for `params` (teacher params: widths, blocks), randomises its weights,
/// writes weights, spec and inputs to a temporary folder and returns (our velocity, mirror's
/// velocity, mirror's velocity with the perturbation).
fn compare(params: serde_json::Value, seed: i64) -> (Tensor, Tensor, Tensor) {
    tch::manual_seed(seed);
    let p = TeacherParams::from_map(params.as_object().unwrap()).unwrap();
    let data = ShapesConfig::default();
    let world = ShapesWorld::new(data.clone());
    let spec = teacher_spec(&p, &data, world.vocab().len());
    let net = Network::build(&spec, Device::Cpu).unwrap();
    tch::no_grad(|| {
        for (_, mut w) in net.named_parameters() {
            // Every weight moved, the zero-initialised ones included (see the module doc).
            let noise = w.randn_like() * 0.05;
            let _ = w.g_add_(&noise);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    net.save(&dir.path().join("weights.safetensors")).unwrap();
    std::fs::write(
        dir.path().join("spec.json"),
        serde_json::to_string(&spec).unwrap(),
    )
    .unwrap();
    // Real prompts of different lengths plus the empty prompt (only the null token attends).
    let prompts = world.batch(0, 0, 3).tokens;
    let tokens = Tensor::cat(
        &[
            prompts.shallow_clone(),
            prompts.get(0).zeros_like().unsqueeze(0),
        ],
        0,
    );
    let r = data.resolution as i64;
    let x = Tensor::randn([4, 3, r, r], (Kind::Float, Device::Cpu));
    let tau = Tensor::from_slice(&[0.02f32, 0.3, 0.71, 0.98]);
    Tensor::write_safetensors(
        &[("x", &x), ("tau", &tau), ("tokens", &tokens)],
        dir.path().join("inputs.safetensors"),
    )
    .unwrap();
    let ours = tch::no_grad(|| net.velocity(&x, &tau, &tokens)).unwrap();
    let mirror = mirror_forward(dir.path(), "none");
    let wrong = mirror_forward(dir.path(), "skip-mid");
    (ours, mirror, wrong)
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "output shapes differ");
    (a - b).abs().max().double_value(&[])
}

fn check(name: &str, params: serde_json::Value, seed: i64) {
    let (ours, mirror, wrong) = compare(params, seed);
    let scale = ours.abs().max().double_value(&[]);
    let diff = max_abs_diff(&ours, &mirror);
    let wrong_diff = max_abs_diff(&ours, &wrong);
    println!(
        "{name}: max |v| {scale:.4}, max abs diff ours vs mirror {diff:.3e}, \
         vs mirror without its middle cross-attention {wrong_diff:.3e}"
    );
    // A near-zero output would make any mirror agree.
    assert!(scale > 0.1, "{name}: output too small to compare ({scale})");
    assert!(
        diff <= TOL,
        "{name}: ours and the PyTorch mirror differ by {diff:e} (> {TOL:e})"
    );
    assert!(
        wrong_diff > 100.0 * TOL,
        "{name}: a mirror without its middle cross-attention still matched ({wrong_diff:e}): \
         the comparison cannot tell"
    );
}

#[test]
fn unet_32_64_matches_pytorch_mirror() {
    check("widths 32/64", json!({"widths": [32, 64]}), 1);
}

#[test]
fn unet_16_32_64_matches_pytorch_mirror() {
    check("widths 16/32/64", json!({"widths": [16, 32, 64]}), 2);
}

#[test]
fn unet_two_blocks_per_level_matches_pytorch_mirror() {
    check(
        "widths 32/64, 2 blocks",
        json!({"widths": [32, 64], "blocks": 2}),
        3,
    );
}
