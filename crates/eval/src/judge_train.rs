//! Training the judge on procedural scenes (labels are free) and measuring its accuracy per
//! question category on held-out scenes.
//!
//! Every batch is freshly rendered (a new stream index per iteration), from a denser world
//! than the job's (up to five objects per scene): the network reads cells independently, so
//! more objects per image is more labelled examples for the same compute. Every
//! `check_every` iterations it is measured on a validation stream (its own seed, disjoint
//! from the held-out stream the stage reports) and training stops once every category
//! reaches `target`.

use crate::error::{EvalError, Result};
use crate::judge::{targets, Judge, JudgeConfig, N_BG, N_COLOR, N_SHAPE, N_SIZE};
use ddmd_core::EventSink;
use ddmd_science::data::{QuestionCategory, ShapesConfig, ShapesWorld};
use std::collections::BTreeMap;
use tch::{nn, nn::OptimizerConfig, Device, Kind, Reduction, Tensor};

/// The held-out stream is a different seed than any training stream.
pub const HELD_OUT_SALT: u64 = 0x4a55_4447_455f_4845; // "JUDGE_HE"

/// The validation stream used for early stopping (not the reported held-out one).
pub const VALIDATION_SALT: u64 = 0x4a55_4447_455f_5641; // "JUDGE_VA"

/// Training scenes hold up to this many objects (the world's maximum).
const DENSE_MAX_OBJECTS: usize = 5;

#[derive(Clone, Debug)]
pub struct JudgeTrainParams {
    pub iterations: usize,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
    /// Largest std of the Gaussian noise added to training images, so the judge also reads
    /// slightly noisy generator samples.
    pub noise: f64,
    pub width: i64,
    pub feature_dim: i64,
    /// Emit the loss every this many iterations.
    pub log_every: usize,
    /// Measure on the validation stream every this many iterations (0: never, train all
    /// `iterations`).
    pub check_every: usize,
    /// Scenes of the validation stream.
    pub val_scenes: usize,
    /// Stop early once every category reaches this accuracy on the validation stream.
    pub target: f64,
}

impl Default for JudgeTrainParams {
    /// The documented defaults of the `judge` stage (`ddmd_core::params::JudgeParams`).
    fn default() -> Self {
        JudgeTrainParams::from(&ddmd_core::params::JudgeParams::default())
    }
}

impl From<&ddmd_core::params::JudgeParams> for JudgeTrainParams {
    fn from(p: &ddmd_core::params::JudgeParams) -> Self {
        JudgeTrainParams {
            iterations: p.iterations,
            batch: p.batch,
            lr: p.lr,
            seed: p.seed,
            noise: p.noise,
            width: p.width as i64,
            feature_dim: p.feature_dim as i64,
            log_every: p.log_every,
            check_every: p.check_every,
            val_scenes: p.val_scenes,
            target: p.target,
        }
    }
}

/// Accuracy per question category (fraction of questions answered right, no parent gating).
#[derive(Clone, Debug, PartialEq)]
pub struct AccuracyTable {
    pub per_category: BTreeMap<String, f64>,
    pub scenes: usize,
}

impl AccuracyTable {
    /// A fixed-width table, one category per line.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{:<10} {:>8}   (held-out scenes: {})\n",
            "category", "accuracy", self.scenes
        );
        for (k, v) in &self.per_category {
            s.push_str(&format!("{:<10} {:>7.2}%\n", k, v * 100.0));
        }
        s
    }

    /// Err with the table when any category is below `threshold`.
    pub fn check(&self, threshold: f64) -> Result<()> {
        let failing: Vec<String> = self
            .per_category
            .iter()
            .filter(|(_, v)| **v < threshold)
            .map(|(k, v)| format!("{k} {:.2}%", v * 100.0))
            .collect();
        if failing.is_empty() {
            Ok(())
        } else {
            Err(EvalError::JudgeTooWeak {
                threshold: threshold * 100.0,
                failing: failing.join(", "),
                table: self.render(),
            })
        }
    }
}

/// Trains a judge with default settings for `iterations` on scenes of `cfg`.
pub fn train_judge(
    cfg: &ShapesConfig,
    iterations: usize,
    seed: u64,
    device: Device,
    sink: &mut EventSink,
) -> Result<Judge> {
    let p = JudgeTrainParams {
        iterations,
        seed,
        ..Default::default()
    };
    train_judge_with(cfg, &p, device, sink)
}

pub(crate) fn ev(r: std::io::Result<()>) -> Result<()> {
    r.map_err(|e| EvalError::Invalid(format!("cannot write events: {e}")))
}

/// Trains a judge per `p`; see the module doc for the schedule and the early stop. The
/// returned judge's `config.iterations` is the number of iterations actually run.
pub fn train_judge_with(
    cfg: &ShapesConfig,
    p: &JudgeTrainParams,
    device: Device,
    sink: &mut EventSink,
) -> Result<Judge> {
    tch::manual_seed(p.seed as i64);
    let dense = ShapesWorld::new(ShapesConfig {
        max_objects: DENSE_MAX_OBJECTS,
        ..cfg.clone()
    });
    let config = JudgeConfig {
        resolution: cfg.resolution,
        width: p.width,
        feature_dim: p.feature_dim,
        iterations: p.iterations,
        seed: p.seed,
        ..Default::default()
    };
    config.validate()?;
    let mut judge = Judge::new(config, device);
    let mut opt = nn::Adam::default().build(&judge.vs, p.lr)?;
    let b = p.batch.max(1);
    let mut ran = 0;
    for it in 0..p.iterations {
        // Cosine decay to 5% of the rate: the last iterations polish the rare confusions.
        let frac = it as f64 / p.iterations.max(1) as f64;
        opt.set_lr(p.lr * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos())));
        let batch = dense.batch(p.seed, (it * b) as u64, b);
        let (shape_t, color_t, size_t, bg_t) = targets(&batch.scenes);
        let mut x = batch.images.to_device(device);
        if p.noise > 0.0 {
            let sigma = Tensor::rand([b as i64, 1, 1, 1], (Kind::Float, device)) * p.noise;
            x = &x + x.randn_like() * sigma;
        }
        let feat = judge.net.features(&x, true);
        let (cells, bg) = judge.net.heads(&feat);
        let cells = cells.view([-1, cells.size()[2]]);
        let ce = |logits: Tensor, t: &Tensor| {
            logits.cross_entropy_loss::<Tensor>(
                &t.to_device(device),
                None,
                Reduction::Mean,
                -100,
                0.0,
            )
        };
        let loss = ce(cells.narrow(1, 0, N_SHAPE), &shape_t)
            + ce(cells.narrow(1, N_SHAPE, N_COLOR), &color_t)
            + ce(cells.narrow(1, N_SHAPE + N_COLOR, N_SIZE), &size_t)
            + ce(bg.view([-1, N_BG]), &bg_t);
        opt.backward_step(&loss);
        ran = it + 1;
        if it % p.log_every.max(1) == 0 || it + 1 == p.iterations {
            let l = loss.double_value(&[]);
            if !l.is_finite() {
                return Err(EvalError::Invalid(format!(
                    "judge loss is {l} at iteration {it}"
                )));
            }
            ev(sink.metric("judge/loss", it as i64, l))?;
            ev(sink.progress((it + 1) as f64, Some(p.iterations as f64)))?;
        }
        if p.check_every > 0 && ran % p.check_every == 0 && ran < p.iterations {
            let val = accuracy_on(&judge, cfg, p.val_scenes, p.seed ^ VALIDATION_SALT)?;
            for (cat, v) in &val.per_category {
                ev(sink.metric(&format!("judge/val/{cat}"), ran as i64, *v))?;
            }
            let worst = val.per_category.values().copied().fold(1.0, f64::min);
            if worst >= p.target {
                ev(sink.log(format!(
                    "judge: every category >= {:.1}% on {} validation scenes after {ran} iterations; stopping",
                    p.target * 100.0,
                    p.val_scenes
                )))?;
                break;
            }
        }
    }
    judge.config.iterations = ran;
    Ok(judge)
}

/// Accuracy per question category of `judge` on `n` held-out scenes of `cfg`.
pub fn judge_accuracy(
    judge: &Judge,
    cfg: &ShapesConfig,
    n: usize,
    seed: u64,
) -> Result<AccuracyTable> {
    accuracy_on(judge, cfg, n, seed ^ HELD_OUT_SALT)
}

/// Accuracy per category on scenes `0..n` of stream `stream` of `cfg`.
fn accuracy_on(judge: &Judge, cfg: &ShapesConfig, n: usize, stream: u64) -> Result<AccuracyTable> {
    let world = ShapesWorld::new(cfg.clone());
    let mut right: BTreeMap<QuestionCategory, (usize, usize)> = BTreeMap::new();
    let mut done = 0usize;
    while done < n {
        let b = (n - done).min(500);
        let batch = world.batch(stream, done as u64, b);
        let pred = judge.predict(&batch.images)?;
        for (truth, p) in batch.scenes.iter().zip(&pred) {
            for q in truth.questions() {
                let e = right.entry(q.category).or_insert((0, 0));
                e.0 += q.passes(p) as usize;
                e.1 += 1;
            }
        }
        done += b;
    }
    Ok(AccuracyTable {
        per_category: right
            .into_iter()
            .map(|(k, (r, t))| (k.name().to_string(), r as f64 / t.max(1) as f64))
            .collect(),
        scenes: n,
    })
}
