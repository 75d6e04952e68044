//! Stage parameters: typed views of `job.params` with the quickstart defaults. Keys other
//! stages use (or the spec layer adds) are ignored here; a key this stage reads with the wrong
//! type is an error naming the key.

use serde_json::{Map, Value};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[error("parameter `{key}`: {message}")]
pub struct ParamError {
    pub key: String,
    pub message: String,
}

fn err(key: &str, message: impl Into<String>) -> ParamError {
    ParamError {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Typed getters with defaults over a params map.
pub struct Params<'a>(pub &'a Map<String, Value>);

impl Params<'_> {
    pub fn f64(&self, key: &str, default: f64) -> Result<f64, ParamError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| err(key, format!("expected a number, got {v}"))),
        }
    }

    pub fn usize(&self, key: &str, default: usize) -> Result<usize, ParamError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_u64()
                .map(|u| u as usize)
                .ok_or_else(|| err(key, format!("expected a non-negative integer, got {v}"))),
        }
    }

    pub fn u64(&self, key: &str, default: u64) -> Result<u64, ParamError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| err(key, format!("expected a non-negative integer, got {v}"))),
        }
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ParamError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| err(key, format!("expected true or false, got {v}"))),
        }
    }

    pub fn string(&self, key: &str, default: &str) -> Result<String, ParamError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(err(key, format!("expected a string, got {v}"))),
        }
    }

    pub fn ints(&self, key: &str, default: &[i64]) -> Result<Vec<i64>, ParamError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default.to_vec()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_i64().ok_or_else(|| {
                        err(key, format!("expected a list of integers, got {x} in it"))
                    })
                })
                .collect(),
            Some(v) => Err(err(key, format!("expected a list of integers, got {v}"))),
        }
    }
}

/// Network shape parameters shared by the teacher stage (the distill stage copies the teacher).
#[derive(Clone, Debug)]
pub struct NetParams {
    pub widths: Vec<i64>,
    pub blocks: usize,
    pub emb_dim: i64,
    pub token_dim: i64,
    pub heads: i64,
    pub attn_res: i64,
}

impl NetParams {
    pub fn from_params(p: &Params) -> Result<NetParams, ParamError> {
        Ok(NetParams {
            widths: p.ints("widths", &[32, 64])?,
            blocks: p.usize("blocks", 1)?,
            emb_dim: p.usize("emb_dim", 64)? as i64,
            token_dim: p.usize("token_dim", 64)? as i64,
            heads: p.usize("heads", 4)? as i64,
            attn_res: p.usize("attn_res", 8)? as i64,
        })
    }
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
    pub solver: String,
    pub log_every: usize,
    pub grad_clip: f64,
}

impl TeacherParams {
    pub fn from_map(m: &Map<String, Value>) -> Result<TeacherParams, ParamError> {
        let p = Params(m);
        let tp = TeacherParams {
            iterations: p.usize("iterations", 4000)?,
            batch: p.usize("batch", 64)?,
            lr: p.f64("lr", 2e-3)?,
            warmup: p.usize("warmup", 100)?,
            weight_decay: p.f64("weight_decay", 0.0)?,
            cfg_dropout: p.f64("cfg_dropout", 0.1)?,
            ema: p.f64("ema", 0.995)?,
            checkpoint_every: p.usize("checkpoint_every", 500)?,
            seed: p.u64("seed", 0)?,
            net: NetParams::from_params(&p)?,
            alpha: p.f64("alpha", 3.0)?,
            sample_steps: p.usize("sample_steps", 50)?,
            solver: p.string("solver", "euler")?,
            log_every: p.usize("log_every", 10)?,
            grad_clip: p.f64("grad_clip", 1.0)?,
        };
        if tp.batch == 0 {
            return Err(err("batch", "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&tp.cfg_dropout) {
            return Err(err("cfg_dropout", "must be in [0, 1]"));
        }
        if !(0.0..1.0).contains(&tp.ema) {
            return Err(err("ema", "must be in [0, 1)"));
        }
        if tp.solver != "euler" && tp.solver != "heun" {
            return Err(err(
                "solver",
                format!("expected euler or heun, got {}", tp.solver),
            ));
        }
        Ok(tp)
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
    pub schedule: String,
    pub regularizer: String,
    pub fake_updates: usize,
    pub grad_clip: f64,
    pub monitor_every: usize,
    pub stop_on_divergence: bool,
    pub dm_controller: bool,
    pub var_bound: f64,
    pub divergence_patience: usize,
    pub saturation_margin: f64,
    pub tau_min: f64,
    pub tau_max: f64,
    pub norm_eps: f64,
    pub gan_weight: f64,
    pub checkpoint_every: usize,
    pub seed: u64,
    /// `teacher: {torchscript: path}`: a user's teacher instead of an upstream teacher stage.
    pub torchscript_teacher: Option<PathBuf>,
}

impl DistillParams {
    pub fn from_map(m: &Map<String, Value>) -> Result<DistillParams, ParamError> {
        let p = Params(m);
        let lr = p.f64("lr", 2e-4)?;
        let torchscript_teacher = match m.get("teacher") {
            None | Some(Value::Null) => None,
            Some(Value::Object(o)) => match o.get("torchscript") {
                Some(Value::String(s)) => Some(PathBuf::from(s)),
                _ => {
                    return Err(err(
                        "teacher",
                        "expected {torchscript: <path to a TorchScript module>}",
                    ))
                }
            },
            Some(v) => {
                return Err(err(
                    "teacher",
                    format!("expected {{torchscript: path}}, got {v}"),
                ))
            }
        };
        let dp = DistillParams {
            iterations: p.usize("iterations", 300)?,
            batch: p.usize("batch", 32)?,
            lr,
            fake_lr: p.f64("fake_lr", lr)?,
            weight_decay: p.f64("weight_decay", 0.0)?,
            student_steps: p.usize("student_steps", 4)?,
            alpha: p.f64("alpha", 4.0)?,
            ca: p.f64("ca", 1.0)?,
            dm: p.f64("dm", 1.0)?,
            schedule: p.string("schedule", "hybrid")?,
            regularizer: p.string("regularizer", "dm")?,
            fake_updates: p.usize("fake_updates", 5)?,
            grad_clip: p.f64("grad_clip", 1.0)?,
            monitor_every: p.usize("monitor_every", 10)?,
            stop_on_divergence: p.bool("stop_on_divergence", false)?,
            dm_controller: p.bool("dm_controller", false)?,
            var_bound: p.f64("var_bound", 0.8)?,
            divergence_patience: p.usize("divergence_patience", 3)?,
            saturation_margin: p.f64("saturation_margin", 0.05)?,
            tau_min: p.f64("tau_min", 0.02)?,
            tau_max: p.f64("tau_max", 0.98)?,
            norm_eps: p.f64("norm_eps", 1e-4)?,
            gan_weight: p.f64("gan_weight", 0.1)?,
            checkpoint_every: p.usize("checkpoint_every", 100)?,
            seed: p.u64("seed", 0)?,
            torchscript_teacher,
        };
        if !(1..=8).contains(&dp.student_steps) {
            return Err(err(
                "student_steps",
                format!("expected 1..=8, got {}", dp.student_steps),
            ));
        }
        if dp.batch == 0 {
            return Err(err("batch", "must be at least 1"));
        }
        if !(0.0 < dp.tau_min && dp.tau_min < dp.tau_max && dp.tau_max <= 1.0) {
            return Err(err("tau_min", "need 0 < tau_min < tau_max <= 1"));
        }
        if dp.monitor_every == 0 {
            return Err(err("monitor_every", "must be at least 1"));
        }
        Ok(dp)
    }
}
