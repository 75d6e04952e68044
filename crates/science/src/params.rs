//! Stage parameters of the teacher and distill stages, read through the contracts of
//! `ddmd_core::params` (the same types the orchestrator checks at `validate`), and shaped
//! for the trainers: the network's shape grouped, the TorchScript teacher as a path.

use ddmd_core::params::{self, Regularizer, Schedule, Solver};
use serde_json::{Map, Value};
use std::path::PathBuf;

pub use ddmd_core::params::ParamIssues as ParamError;

/// Network shape parameters of the teacher stage (the distill stage copies the teacher).
#[derive(Clone, Debug)]
pub struct NetParams {
    pub widths: Vec<i64>,
    pub blocks: usize,
    pub emb_dim: i64,
    pub token_dim: i64,
    pub heads: i64,
    pub attn_res: i64,
}

#[derive(Clone, Debug)]
pub struct TeacherParams {
    pub iterations: usize,
    pub batch: usize,
    pub lr: f64,
    pub warmup: usize,
    pub weight_decay: f64,
    pub cfg_dropout: f64,
    pub ema: f64,
    pub checkpoint_every: usize,
    pub seed: u64,
    pub net: NetParams,
    /// CFG scale and steps recorded as the teacher's sampling defaults.
    pub alpha: f64,
    pub sample_steps: usize,
    pub solver: Solver,
    pub log_every: usize,
    pub grad_clip: f64,
}

impl TeacherParams {
    pub fn from_map(m: &Map<String, Value>) -> Result<TeacherParams, ParamError> {
        let p: params::TeacherParams = params::parse(m)?;
        Ok(TeacherParams {
            iterations: p.iterations,
            batch: p.batch,
            lr: p.lr,
            warmup: p.warmup,
            weight_decay: p.weight_decay,
            cfg_dropout: p.cfg_dropout,
            ema: p.ema,
            checkpoint_every: p.checkpoint_every,
            seed: p.seed,
            net: NetParams {
                widths: p.widths,
                blocks: p.blocks,
                emb_dim: p.emb_dim as i64,
                token_dim: p.token_dim as i64,
                heads: p.heads as i64,
                attn_res: p.attn_res as i64,
            },
            alpha: p.alpha,
            sample_steps: p.sample_steps,
            solver: p.solver,
            log_every: p.log_every,
            grad_clip: p.grad_clip,
        })
    }
}

#[derive(Clone, Debug)]
pub struct DistillParams {
    pub iterations: usize,
    pub batch: usize,
    pub lr: f64,
    pub fake_lr: f64,
    pub weight_decay: f64,
    pub student_steps: usize,
    pub alpha: f64,
    pub ca: f64,
    pub dm: f64,
    pub schedule: Schedule,
    pub regularizer: Regularizer,
    pub fake_updates: usize,
    pub grad_clip: f64,
    pub monitor_every: usize,
    pub stop_on_divergence: bool,
    pub dm_controller: bool,
    pub divergence: ddmd_core::params::DivergenceBounds,
    pub divergence_patience: usize,
    pub saturation_margin: f64,
    pub tau_min: f64,
    pub tau_max: f64,
    pub norm_eps: f64,
    pub gan_weight: f64,
    pub checkpoint_every: usize,
    pub snapshot_every: usize,
    pub seed: u64,
    /// `teacher: {torchscript: path}`: a user's teacher instead of an upstream teacher stage.
    pub torchscript_teacher: Option<PathBuf>,
}

impl DistillParams {
    pub fn from_map(m: &Map<String, Value>) -> Result<DistillParams, ParamError> {
        let p: params::DistillParams = params::parse(m)?;
        Ok(DistillParams {
            iterations: p.iterations,
            batch: p.batch,
            lr: p.lr,
            fake_lr: p.fake_lr(),
            weight_decay: p.weight_decay,
            student_steps: p.student_steps,
            alpha: p.alpha,
            ca: p.ca,
            dm: p.dm,
            schedule: p.schedule,
            regularizer: p.regularizer,
            fake_updates: p.fake_updates,
            grad_clip: p.grad_clip,
            monitor_every: p.monitor_every,
            stop_on_divergence: p.stop_on_divergence,
            dm_controller: p.dm_controller,
            divergence: p.divergence,
            divergence_patience: p.divergence_patience,
            saturation_margin: p.saturation_margin,
            tau_min: p.tau_min,
            tau_max: p.tau_max,
            norm_eps: p.norm_eps,
            gan_weight: p.gan_weight,
            checkpoint_every: p.checkpoint_every,
            snapshot_every: p.snapshot_every,
            seed: p.seed,
            torchscript_teacher: p.teacher.map(|t| t.torchscript),
        })
    }
}
