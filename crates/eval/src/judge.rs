//! The shapes judge: a small CNN that reads a shapes-world image back into a [`Scene`]
//! (background colour; per grid cell: empty or shape, colour, size). It answers prompt-graph
//! questions (DPG-shapes) and its penultimate layer gives the shapes-FID features.
//!
//! The scene is a 3×3 grid, so the network is built around it: the image is resized so each
//! cell is `k` pixels (k = 6 for data up to 18 px, which is nearly native at 16×16, else 8),
//! three batch-normalised convolutions (one 2× pooling) run over the whole image, and each
//! cell's window of the last feature map goes through the same small layer (weights shared by
//! the nine cells) to a per-cell embedding. The same per-cell head reads every embedding;
//! the background head reads a global-average embedding. The penultimate features are those
//! embeddings concatenated (9 × cell_dim + bg_dim = feature_dim), so the heads read exactly
//! the FID features. Two extra inputs make shape colour-invariant: the image minus its
//! median colour (the background, since objects cover little of it) and that difference's
//! norm. Saved as `judge.safetensors` + `judge.json`.

use crate::error::{EvalError, Result};
use ddmd_science::data::{ColorName, Object, Scene, Shape, Size, GRID};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use tch::{nn, nn::Module, nn::ModuleT, Device, Kind, Tensor};

pub const WEIGHTS_FILE: &str = "judge.safetensors";
pub const CONFIG_FILE: &str = "judge.json";
/// Architecture version written into `judge.json`; a file of another version is refused
/// (its weights would not fit), with a message to retrain. Version 1 (no field) was a
/// global-head CNN on 24×24 upsampled inputs.
pub const JUDGE_VERSION: u32 = 2;
const CELLS: i64 = (GRID * GRID) as i64;
pub(crate) const N_SHAPE: i64 = 1 + 3; // empty + shapes
pub(crate) const N_COLOR: i64 = 6;
pub(crate) const N_SIZE: i64 = 2;
pub(crate) const PER_CELL: i64 = N_SHAPE + N_COLOR + N_SIZE;
pub(crate) const N_BG: i64 = 3;
/// Input channels: RGB, RGB minus the median colour, and the norm of that difference.
const IN_CHANNELS: i64 = 7;

fn version_1() -> u32 {
    1
}

/// What defines a judge; stored in `judge.json` beside the weights.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JudgeConfig {
    /// Architecture version ([`JUDGE_VERSION`]); files without it are version 1.
    #[serde(default = "version_1")]
    pub version: u32,
    /// Resolution of the data it was trained on; picks the pixels per cell (inputs of any
    /// size are resized to 3 cells of that many pixels).
    pub resolution: usize,
    /// Channels of the first convolution (then 4/3× and 2×).
    pub width: i64,
    /// Size of the penultimate feature vector (the shapes-FID dimension), at least 19.
    pub feature_dim: i64,
    /// Accuracy per question category on held-out scenes, filled in after training.
    #[serde(default)]
    pub accuracy: BTreeMap<String, f64>,
    #[serde(default)]
    pub iterations: usize,
    #[serde(default)]
    pub seed: u64,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        JudgeConfig {
            version: JUDGE_VERSION,
            resolution: 16,
            width: 24,
            feature_dim: 256,
            accuracy: BTreeMap::new(),
            iterations: 0,
            seed: 0,
        }
    }
}

impl JudgeConfig {
    /// Pixels per grid cell after resizing: 6 keeps 16×16 data nearly native (16 → 18).
    pub(crate) fn cell_pixels(&self) -> i64 {
        if self.resolution <= 18 {
            6
        } else {
            8
        }
    }

    /// (per-cell embedding size, background embedding size); 9·cell + bg = feature_dim.
    pub(crate) fn split(&self) -> (i64, i64) {
        let cell = ((self.feature_dim - 1) / CELLS).max(1);
        (cell, (self.feature_dim - CELLS * cell).max(1))
    }

    /// Errors for configurations the network cannot be built from.
    pub fn validate(&self) -> Result<()> {
        if self.version != JUDGE_VERSION {
            return Err(EvalError::Invalid(format!(
                "judge version {} cannot be read by this build (version {JUDGE_VERSION}): retrain the judge",
                self.version
            )));
        }
        if self.feature_dim < 2 * CELLS + 1 {
            return Err(EvalError::Invalid(format!(
                "judge feature_dim must be at least {}, got {}",
                2 * CELLS + 1,
                self.feature_dim
            )));
        }
        if self.width < 3 {
            return Err(EvalError::Invalid(format!(
                "judge width must be at least 3, got {}",
                self.width
            )));
        }
        Ok(())
    }
}

#[derive(Debug)]
pub(crate) struct JudgeNet {
    convs: Vec<(nn::Conv2D, nn::BatchNorm)>,
    cell_fc: nn::Linear,
    bg_fc: nn::Linear,
    cell_head: nn::Linear,
    bg_head: nn::Linear,
    k: i64,
    cell_dim: i64,
}

impl JudgeNet {
    fn new(p: &nn::Path, cfg: &JudgeConfig) -> JudgeNet {
        let w = cfg.width.max(3);
        let (w1, w2, w3) = (w, w * 4 / 3, 2 * w);
        let c = nn::ConvConfig {
            padding: 1,
            ..Default::default()
        };
        let chans = [(IN_CHANNELS, w1), (w1, w2), (w2, w3)];
        let convs = chans
            .iter()
            .enumerate()
            .map(|(i, &(a, b))| {
                (
                    nn::conv2d(p / format!("conv{i}"), a, b, 3, c),
                    nn::batch_norm2d(p / format!("bn{i}"), b, Default::default()),
                )
            })
            .collect();
        let k = cfg.cell_pixels();
        let (cell_dim, bg_dim) = cfg.split();
        // After the one 2× pooling each cell is a (k/2)×(k/2) window of w3 channels.
        let window = w3 * (k / 2) * (k / 2);
        JudgeNet {
            convs,
            cell_fc: nn::linear(p / "cell_fc", window, cell_dim, Default::default()),
            bg_fc: nn::linear(p / "bg_fc", w3, bg_dim, Default::default()),
            cell_head: nn::linear(p / "cell_head", cell_dim, PER_CELL, Default::default()),
            bg_head: nn::linear(p / "bg_head", bg_dim, N_BG, Default::default()),
            k,
            cell_dim,
        }
    }

    /// Penultimate features [n, feature_dim] of images [n, 3, R, R] in [-1, 1]; `train`
    /// selects batch statistics (training) or the running ones (inference).
    pub(crate) fn features(&self, x: &Tensor, train: bool) -> Tensor {
        let n = x.size()[0];
        // The median colour is the background: objects cover well under half the image.
        let (median, _) = x.flatten(2, -1).median_dim(2, false);
        let diff = x - median.view([n, 3, 1, 1]);
        let norm = diff.square().sum_dim_intlist(1, true, Kind::Float).sqrt();
        let side = GRID as i64 * self.k;
        let mut h =
            Tensor::cat(&[x, &diff, &norm], 1).upsample_bilinear2d([side, side], false, None, None);
        for (i, (conv, bn)) in self.convs.iter().enumerate() {
            h = bn.forward_t(&conv.forward(&h), train).relu();
            if i == 1 {
                h = h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
            }
        }
        let c = h.size()[1];
        let kk = self.k / 2;
        // [n, c, 3·kk, 3·kk] → [n, 9, c·kk·kk]: one row per cell, row-major like the scene.
        let cells = h
            .view([n, c, GRID as i64, kk, GRID as i64, kk])
            .permute([0, 2, 4, 1, 3, 5])
            .reshape([n, CELLS, c * kk * kk]);
        let e = self.cell_fc.forward(&cells).relu().reshape([n, -1]);
        let b = self
            .bg_fc
            .forward(&h.mean_dim([2i64, 3].as_slice(), false, Kind::Float))
            .relu();
        Tensor::cat(&[e, b], 1)
    }

    /// (cell logits [n, 9, PER_CELL], background logits [n, 3]) from the features.
    pub(crate) fn heads(&self, feat: &Tensor) -> (Tensor, Tensor) {
        let n = feat.size()[0];
        let split = CELLS * self.cell_dim;
        let cells = feat.narrow(1, 0, split).view([n, CELLS, self.cell_dim]);
        let bg = feat.narrow(1, split, feat.size()[1] - split);
        (self.cell_head.forward(&cells), self.bg_head.forward(&bg))
    }
}

/// A trained (or loaded) judge on a device.
pub struct Judge {
    pub(crate) vs: nn::VarStore,
    pub(crate) net: JudgeNet,
    pub config: JudgeConfig,
}

impl std::fmt::Debug for Judge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Judge")
            .field("config", &self.config)
            .finish()
    }
}

impl Judge {
    /// A freshly initialised (untrained) judge. Call [`JudgeConfig::validate`] first for
    /// user-given configurations; odd values are clamped here rather than panicking.
    pub fn new(config: JudgeConfig, device: Device) -> Judge {
        let vs = nn::VarStore::new(device);
        let net = JudgeNet::new(&vs.root(), &config);
        Judge { vs, net, config }
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// Length of [`Judge::features`] rows: 9 cell embeddings plus the background one.
    pub fn feature_dim(&self) -> usize {
        let (cell, bg) = self.config.split();
        (CELLS * cell + bg) as usize
    }

    /// Loads `judge.json` and `judge.safetensors` from an artifact directory.
    pub fn load(dir: &Path, device: Device) -> Result<Judge> {
        let cfg_path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| EvalError::io(&cfg_path, e))?;
        let config: JudgeConfig =
            serde_json::from_str(&text).map_err(|e| EvalError::io(&cfg_path, e))?;
        config.validate().map_err(|e| EvalError::io(&cfg_path, e))?;
        let mut judge = Judge::new(config, device);
        let w = dir.join(WEIGHTS_FILE);
        judge.vs.load(&w).map_err(|e| EvalError::io(&w, e))?;
        Ok(judge)
    }

    /// Writes `judge.json` and `judge.safetensors` into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| EvalError::io(dir, e))?;
        let w = dir.join(WEIGHTS_FILE);
        self.vs.save(&w).map_err(|e| EvalError::io(&w, e))?;
        let cfg_path = dir.join(CONFIG_FILE);
        let text =
            serde_json::to_string_pretty(&self.config).map_err(|e| EvalError::io(&cfg_path, e))?;
        std::fs::write(&cfg_path, text).map_err(|e| EvalError::io(&cfg_path, e))
    }

    fn check(images: &Tensor) -> Result<()> {
        let s = images.size();
        if s.len() != 4 || s[1] != 3 {
            return Err(EvalError::Invalid(format!(
                "judge input must be [n, 3, H, W], got {s:?}"
            )));
        }
        Ok(())
    }

    /// Penultimate features [n, feature_dim] (f32, on the judge's device), batched by 256.
    pub fn features(&self, images: &Tensor) -> Result<Tensor> {
        Judge::check(images)?;
        let _g = tch::no_grad_guard();
        let n = images.size()[0];
        let mut out = Vec::new();
        let mut i = 0;
        while i < n {
            let b = (n - i).min(256);
            let x = images
                .narrow(0, i, b)
                .to_device(self.device())
                .to_kind(Kind::Float);
            out.push(self.net.features(&x, false));
            i += b;
        }
        if out.is_empty() {
            return Ok(Tensor::zeros(
                [0, self.feature_dim() as i64],
                (Kind::Float, self.device()),
            ));
        }
        Ok(Tensor::cat(&out, 0))
    }

    /// The scenes the judge reads from images [n, 3, H, W] in [-1, 1].
    pub fn predict(&self, images: &Tensor) -> Result<Vec<Scene>> {
        let feat = self.features(images)?;
        let _g = tch::no_grad_guard();
        let (cells, bg) = self.net.heads(&feat);
        let n = feat.size()[0];
        let shape = cells
            .narrow(2, 0, N_SHAPE)
            .argmax(2, false)
            .to_device(Device::Cpu);
        let color = cells
            .narrow(2, N_SHAPE, N_COLOR)
            .argmax(2, false)
            .to_device(Device::Cpu);
        let size = cells
            .narrow(2, N_SHAPE + N_COLOR, N_SIZE)
            .argmax(2, false)
            .to_device(Device::Cpu);
        let bg = bg.argmax(1, false).to_device(Device::Cpu);
        let to_vec = |t: &Tensor| Vec::<i64>::try_from(&t.flatten(0, -1)).map_err(EvalError::Torch);
        let (shape, color, size, bg) = (
            to_vec(&shape)?,
            to_vec(&color)?,
            to_vec(&size)?,
            to_vec(&bg)?,
        );
        let mut scenes = Vec::with_capacity(n as usize);
        for (i, &bg_i) in bg.iter().enumerate().take(n as usize) {
            let mut objects = Vec::new();
            for c in 0..CELLS as usize {
                let k = i * CELLS as usize + c;
                if shape[k] == 0 {
                    continue;
                }
                let (Some(sh), Some(co), Some(sz)) = (
                    Shape::from_index(shape[k] as usize - 1),
                    ColorName::OBJECT.get(color[k] as usize).copied(),
                    Size::from_index(size[k] as usize),
                ) else {
                    continue;
                };
                objects.push(Object::plain(sh, co, sz, (c / GRID, c % GRID)));
            }
            let background = ColorName::BACKGROUND
                .get(bg_i as usize)
                .copied()
                .unwrap_or(ColorName::Black);
            scenes.push(Scene {
                background,
                objects,
            });
        }
        Ok(scenes)
    }
}

/// Training targets of scenes: (shape-or-empty [n·9], colour [n·9], size [n·9], background
/// [n]); colour and size are -100 (ignored) in empty cells.
pub(crate) fn targets(scenes: &[Scene]) -> (Tensor, Tensor, Tensor, Tensor) {
    let cells = GRID * GRID;
    let mut shape = vec![0i64; scenes.len() * cells];
    let mut color = vec![-100i64; scenes.len() * cells];
    let mut size = vec![-100i64; scenes.len() * cells];
    let mut bg = Vec::with_capacity(scenes.len());
    for (i, s) in scenes.iter().enumerate() {
        for o in &s.objects {
            let k = i * cells + o.cell.0 * GRID + o.cell.1;
            shape[k] = 1 + o.shape.index() as i64;
            color[k] = ColorName::OBJECT
                .iter()
                .position(|c| *c == o.color)
                .unwrap_or(0) as i64;
            size[k] = o.size.index() as i64;
        }
        bg.push(
            ColorName::BACKGROUND
                .iter()
                .position(|c| *c == s.background)
                .unwrap_or(0) as i64,
        );
    }
    (
        Tensor::from_slice(&shape),
        Tensor::from_slice(&color),
        Tensor::from_slice(&size),
        Tensor::from_slice(&bg),
    )
}
