//! The shapes judge: a small CNN that reads a shapes-world image back into a [`Scene`]
//! (background colour; per grid cell: empty or shape, colour, size). It answers prompt-graph
//! questions (DPG-shapes) and its penultimate layer gives the shapes-FID features.
//!
//! Any input resolution is resized (bilinear) to 24×24, so each grid cell is 8×8 pixels and
//! three 2× poolings end on the 3×3 grid. Saved as `judge.safetensors` + `judge.json`.

use crate::error::{EvalError, Result};
use ddmd_science::data::{ColorName, Object, Scene, Shape, Size, GRID};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use tch::{nn, nn::Module, Device, Kind, Tensor};

pub const WEIGHTS_FILE: &str = "judge.safetensors";
pub const CONFIG_FILE: &str = "judge.json";
const INPUT: i64 = 24;
const CELLS: i64 = (GRID * GRID) as i64;
pub(crate) const N_SHAPE: i64 = 1 + 3; // empty + shapes
pub(crate) const N_COLOR: i64 = 6;
pub(crate) const N_SIZE: i64 = 2;
pub(crate) const PER_CELL: i64 = N_SHAPE + N_COLOR + N_SIZE;
pub(crate) const N_BG: i64 = 3;

/// What defines a judge; stored in `judge.json` beside the weights.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JudgeConfig {
    /// Resolution of the data it was trained on (inputs are resized anyway).
    pub resolution: usize,
    /// Channels of the first convolution (doubled twice).
    pub width: i64,
    /// Size of the penultimate feature vector (the shapes-FID dimension).
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
            resolution: 16,
            width: 32,
            feature_dim: 256,
            accuracy: BTreeMap::new(),
            iterations: 0,
            seed: 0,
        }
    }
}

#[derive(Debug)]
pub(crate) struct JudgeNet {
    convs: Vec<nn::Conv2D>,
    fc: nn::Linear,
    cells: nn::Linear,
    bg: nn::Linear,
}

impl JudgeNet {
    fn new(p: &nn::Path, cfg: &JudgeConfig) -> JudgeNet {
        let w = cfg.width;
        let c = nn::ConvConfig {
            padding: 1,
            ..Default::default()
        };
        let chans = [(3, w), (w, w), (w, 2 * w), (2 * w, 2 * w), (2 * w, 4 * w)];
        let convs = chans
            .iter()
            .enumerate()
            .map(|(i, &(a, b))| nn::conv2d(p / format!("conv{i}"), a, b, 3, c))
            .collect();
        let flat = 4 * w * CELLS;
        JudgeNet {
            convs,
            fc: nn::linear(p / "fc", flat, cfg.feature_dim, Default::default()),
            cells: nn::linear(
                p / "cells",
                cfg.feature_dim,
                CELLS * PER_CELL,
                Default::default(),
            ),
            bg: nn::linear(p / "bg", cfg.feature_dim, N_BG, Default::default()),
        }
    }

    /// Penultimate features [n, feature_dim] of images [n, 3, R, R] in [-1, 1].
    pub(crate) fn features(&self, x: &Tensor) -> Tensor {
        let mut h = x.upsample_bilinear2d([INPUT, INPUT], false, None, None);
        for (i, conv) in self.convs.iter().enumerate() {
            h = conv.forward(&h).relu();
            // pool after conv1, conv3, conv4: 24 → 12 → 6 → 3
            if i == 1 || i == 3 || i == 4 {
                h = h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
            }
        }
        self.fc.forward(&h.flatten(1, -1)).relu()
    }

    /// (cell logits [n, 9, PER_CELL], background logits [n, 3]).
    pub(crate) fn heads(&self, feat: &Tensor) -> (Tensor, Tensor) {
        let n = feat.size()[0];
        (
            self.cells.forward(feat).view([n, CELLS, PER_CELL]),
            self.bg.forward(feat),
        )
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
    /// A freshly initialised (untrained) judge.
    pub fn new(config: JudgeConfig, device: Device) -> Judge {
        let vs = nn::VarStore::new(device);
        let net = JudgeNet::new(&vs.root(), &config);
        Judge { vs, net, config }
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    pub fn feature_dim(&self) -> usize {
        self.config.feature_dim as usize
    }

    /// Loads `judge.json` and `judge.safetensors` from an artifact directory.
    pub fn load(dir: &Path, device: Device) -> Result<Judge> {
        let cfg_path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| EvalError::io(&cfg_path, e))?;
        let config: JudgeConfig =
            serde_json::from_str(&text).map_err(|e| EvalError::io(&cfg_path, e))?;
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
            out.push(self.net.features(&x));
            i += b;
        }
        if out.is_empty() {
            return Ok(Tensor::zeros(
                [0, self.config.feature_dim],
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
