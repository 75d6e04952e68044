//! Trained artifacts as generators: `model.json` (what the network is, what data it learnt,
//! how to sample it) plus weights, loaded into a [`Generator`] that turns prompts' tokens into
//! images. Used by the distill stage (to load its teacher), the sample command and evaluation.

use crate::data::ShapesConfig;
use crate::flow::{sample_ode, sample_student, Solver};
use crate::nets::{NetSpec, Network};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

pub const MODEL_FILE: &str = "model.json";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Velocity model sampled with an ODE solver and CFG.
    Teacher,
    /// Few-step x0 generator (DESIGN §9 "Student G").
    Student,
}

/// Contents of `model.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelFile {
    pub kind: ModelKind,
    pub net: NetSpec,
    /// Weights file, relative to the artifact folder.
    pub weights: String,
    /// The `data` parameters it was trained on (`{kind, resolution, objects}`).
    pub data: Value,
    pub default_steps: usize,
    /// CFG scale for teachers (students bake it in; recorded for reference).
    pub alpha: f64,
    pub solver: Solver,
}

impl ModelFile {
    pub fn read(dir: &Path) -> anyhow::Result<ModelFile> {
        let path = dir.join(MODEL_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(MODEL_FILE);
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    }

    pub fn data_config(&self) -> anyhow::Result<ShapesConfig> {
        let mut m = Map::new();
        m.insert("data".into(), self.data.clone());
        ShapesConfig::from_params(&m).map_err(|e| anyhow::anyhow!("data config in model.json: {e}"))
    }
}

/// A loaded teacher or student.
pub struct Generator {
    model: ModelFile,
    net: Network,
    data: ShapesConfig,
    dir: PathBuf,
}

/// Cuda(0) when a GPU was assigned (CUDA_VISIBLE_DEVICES names one) and CUDA works, else Cpu.
pub fn device_for_job() -> Device {
    let assigned = match std::env::var("CUDA_VISIBLE_DEVICES") {
        Ok(v) => {
            let v = v.trim();
            !v.is_empty() && v != "-1" && v != "NoDevFiles"
        }
        // Unset: whatever the machine has (a user running a stage by hand).
        Err(_) => true,
    };
    if assigned && tch::Cuda::is_available() {
        Device::Cuda(0)
    } else {
        Device::Cpu
    }
}

impl Generator {
    /// `path`: an artifact folder holding `model.json`, or a weights file inside one.
    pub fn load(path: &Path, device: Device) -> anyhow::Result<Generator> {
        let dir = if path.is_file() {
            path.parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."))
        } else {
            path.to_path_buf()
        };
        let model = ModelFile::read(&dir)?;
        let weights = if path.is_file() {
            path.to_path_buf()
        } else {
            dir.join(&model.weights)
        };
        Generator::build(dir, model, &weights, device)
    }

    /// The generator of artifact folder `dir` with the weights of its training snapshot at
    /// `iteration` (`snapshots/it-NNNNNNNN/student.safetensors`, written by a distill run
    /// with `snapshot_every`); the error lists the snapshots the folder has.
    pub fn load_snapshot(
        dir: &Path,
        iteration: usize,
        device: Device,
    ) -> anyhow::Result<Generator> {
        let model = ModelFile::read(dir)?;
        let weights = snapshot_path(dir, iteration, &model.weights);
        if !weights.is_file() {
            let have = snapshot_iterations(dir);
            anyhow::bail!(
                "{} has no training snapshot at iteration {iteration}; it has {}",
                dir.display(),
                if have.is_empty() {
                    "none (train it with snapshot_every > 0)".to_string()
                } else {
                    have.iter()
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            );
        }
        Generator::build(dir.to_path_buf(), model, &weights, device)
    }

    fn build(
        dir: PathBuf,
        model: ModelFile,
        weights: &Path,
        device: Device,
    ) -> anyhow::Result<Generator> {
        let mut net = Network::build(&model.net, device)
            .with_context(|| format!("building the network of {}", dir.display()))?;
        net.load(weights)
            .with_context(|| format!("loading weights {}", weights.display()))?;
        let data = model.data_config()?;
        let g = Generator {
            model,
            net,
            data,
            dir,
        };
        // A TorchScript module with the wrong call fails here, with a message, not mid-evaluation.
        let _ = g
            .try_generate_with(
                &Tensor::zeros(
                    [1, crate::data::MAX_TOKENS as i64],
                    (Kind::Int64, Device::Cpu),
                ),
                Some(1),
                None,
                0,
            )
            .with_context(|| format!("trial generation with {}", g.dir.display()))?;
        Ok(g)
    }

    pub fn kind(&self) -> ModelKind {
        self.model.kind
    }

    pub fn model_file(&self) -> &ModelFile {
        &self.model
    }

    pub fn network(&self) -> &Network {
        &self.net
    }

    pub fn default_steps(&self) -> usize {
        self.model.default_steps
    }

    pub fn default_alpha(&self) -> f64 {
        self.model.alpha
    }

    pub fn resolution(&self) -> usize {
        self.data.resolution
    }

    pub fn data_config(&self) -> ShapesConfig {
        self.data.clone()
    }

    /// Images [n, 3, R, R] in [-1, 1] on the CPU for `tokens` [n, MAX_TOKENS]; noise depends only
    /// on `seed` (drawn on the CPU), so a GPU and a CPU run start from the same noise.
    pub fn try_generate_with(
        &self,
        tokens: &Tensor,
        steps: Option<usize>,
        alpha: Option<f64>,
        seed: u64,
    ) -> anyhow::Result<Tensor> {
        let n = tokens.size()[0];
        let r = self.resolution() as i64;
        let dev = self.net.device();
        let steps = steps.unwrap_or(self.model.default_steps).max(1);
        let mut rng = crate::train_util::mix(seed, 0x5A3E);
        let mut draw = move || {
            tch::manual_seed(rng as i64);
            rng = crate::train_util::mix(rng, 1);
            Tensor::randn([n, 3, r, r], (Kind::Float, Device::Cpu)).to_device(dev)
        };
        let noise = draw();
        let tokens = tokens.to_device(dev);
        let out = match self.model.kind {
            ModelKind::Teacher => sample_ode(
                &self.net,
                &noise,
                &tokens,
                steps,
                alpha.unwrap_or(self.model.alpha),
                self.model.solver,
            )?,
            ModelKind::Student => sample_student(&self.net, &noise, &tokens, steps, &mut draw)?,
        };
        Ok(out.clamp(-1.0, 1.0).to_device(Device::Cpu))
    }
}

/// Folder of a distill run's training snapshots, inside its work / artifact folder.
pub const SNAPSHOTS_DIR: &str = "snapshots";

/// Where the snapshot at `iteration` of the weights file `weights` lives under `dir`.
pub fn snapshot_path(dir: &Path, iteration: usize, weights: &str) -> PathBuf {
    dir.join(SNAPSHOTS_DIR)
        .join(format!("it-{iteration:08}"))
        .join(weights)
}

/// The iterations `dir` holds snapshots of, ascending.
pub fn snapshot_iterations(dir: &Path) -> Vec<usize> {
    let mut its: Vec<usize> = std::fs::read_dir(dir.join(SNAPSHOTS_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("it-"))
                .and_then(|n| n.parse().ok())
        })
        .collect();
    its.sort_unstable();
    its
}
