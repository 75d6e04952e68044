//! The `distill` stage: Decoupled DMD (DESIGN §9). A student and a fake score start from the
//! teacher (an upstream `teacher` artifact, or `teacher: {torchscript: path}`); each iteration
//! is one generator update plus `fake_updates` fake updates ([`step`]); monitoring, divergence
//! detection and the optional DM controller ([`monitor`]); checkpoints with exact resume.
//!
//! The loss itself is in [`loss`] (pure) and the re-noise schedules in [`levels`].

pub mod levels;
pub mod loss;
pub mod monitor;
pub mod step;

use crate::ckpt::{self, Part};
use crate::data::{ShapesConfig, ShapesWorld};
use crate::flow::Solver;
use crate::model::{device_for_job, Generator, ModelFile, ModelKind};
use crate::nets::{NetSpec, Network};
use crate::params::DistillParams;
use crate::sample::write_samples;
use crate::train_util::{lr_at, maybe_abort, metric, seed_iteration, shallow};
use anyhow::Context;
use ddmd_core::{EventSink, JobFile, StageKind};
use levels::{Schedule, TauRange};
use loss::LossConfig;
use monitor::{Check, Divergence, DmController, Stability};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;
use step::{DistillConfig, Distiller};
use tch::Device;

pub const STUDENT_FILE: &str = "student.safetensors";
pub const STABILITY_FILE: &str = "stability.json";
/// Where the teacher comes from.
pub enum TeacherSource {
    /// An artifact folder written by the teacher stage.
    Artifact(PathBuf),
    /// A user's TorchScript module; the data config then comes from the job's params.
    Torchscript(PathBuf),
}

fn loss_config(p: &DistillParams) -> anyhow::Result<(LossConfig, Schedule)> {
    let schedule = p.schedule;
    Ok((
        LossConfig {
            alpha: p.alpha,
            ca: p.ca,
            dm: p.dm,
            regularizer: p.regularizer,
            norm_eps: p.norm_eps,
            batched: true,
            full: false,
        },
        schedule,
    ))
}

pub fn run_distill_stage(job: &JobFile, sink: &mut EventSink) -> anyhow::Result<()> {
    // Freed tensor memory stays in the process (no page-fault churn); values are unchanged.
    crate::alloc::keep_freed_memory();
    let p = DistillParams::from_map(&job.params)?;
    let source = match &p.torchscript_teacher {
        Some(path) => TeacherSource::Torchscript(path.clone()),
        None => {
            let up = job
                .upstream
                .iter()
                .find(|u| u.kind == StageKind::Teacher)
                .ok_or_else(|| anyhow::anyhow!("distill needs a teacher: add `needs: [<teacher stage>]` or params.teacher = {{torchscript: path}}"))?;
            TeacherSource::Artifact(up.artifact_dir.clone())
        }
    };
    train_student(
        &p,
        &source,
        &job.params,
        &job.work_dir,
        device_for_job(),
        sink,
    )
}

/// Loads the teacher network, its data config and the `data` params value to record.
fn load_teacher(
    source: &TeacherSource,
    params: &serde_json::Map<String, Value>,
    device: Device,
) -> anyhow::Result<(Network, ShapesConfig, Value)> {
    match source {
        TeacherSource::Artifact(dir) => {
            let model = ModelFile::read(dir)?;
            if model.kind != ModelKind::Teacher {
                anyhow::bail!("{} holds a {:?}, not a teacher", dir.display(), model.kind);
            }
            let mut net = Network::build(&model.net, device)?;
            net.load(&dir.join(&model.weights))
                .with_context(|| format!("loading the teacher from {}", dir.display()))?;
            let data = model.data_config()?;
            Ok((net, data, model.data))
        }
        TeacherSource::Torchscript(path) => {
            let net = Network::build(&NetSpec::Torchscript { path: path.clone() }, device)?;
            let data = ShapesConfig::from_params(params).map_err(|e| anyhow::anyhow!("{e}"))?;
            let dv = params.get("data").cloned().unwrap_or(Value::Null);
            Ok((net, data, dv))
        }
    }
}

/// The distillation loop; `work_dir` gets `ckpt/`, the student, `model.json`, samples and
/// `stability.json`.
pub fn train_student(
    p: &DistillParams,
    source: &TeacherSource,
    params: &serde_json::Map<String, Value>,
    work_dir: &Path,
    device: Device,
    sink: &mut EventSink,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;
    let (teacher, data_cfg, data_value) = load_teacher(source, params, device)?;
    let world = ShapesWorld::new(data_cfg.clone());
    let (loss_cfg, schedule) = loss_config(p)?;
    let cfg = DistillConfig {
        loss: loss_cfg,
        schedule,
        student_steps: p.student_steps,
        tau: TauRange {
            min: p.tau_min,
            max: p.tau_max,
        },
        fake_updates: p.fake_updates,
        grad_clip: p.grad_clip,
        gan_weight: p.gan_weight,
        weight_decay: p.weight_decay,
    };
    // The GAN discriminator is the one randomly initialised part; seeding here makes it a
    // function of the run's seed, not of whatever the process drew before (a resumed run
    // and a straight one must build the same head).
    tch::manual_seed(p.seed as i64);
    let mut d = Distiller::new(teacher, cfg)?;
    sink.log(format!(
        "distill: {}-step student, schedule {:?}, regularizer {:?}, ca {} dm {} alpha {} on {device:?}",
        p.student_steps, schedule, loss_cfg.regularizer, p.ca, p.dm, p.alpha
    ))?;

    let student_params = d.student.named_parameters();
    let fake_params = d.fake.named_parameters();
    let gan_params: Vec<(String, tch::Tensor)> = d.gan_vs.variables().into_iter().collect();
    let mut divergence = Divergence::new(p.divergence, p.divergence_patience);
    let mut controller = DmController::new(p.saturation_margin);
    let ckpt_root = work_dir.join("ckpt");
    let mut start = 0;
    let mut parts = vec!["student", "fake", "opt_g", "opt_f"];
    if !gan_params.is_empty() {
        parts.push("gan");
    }
    let mut warnings = Vec::new();
    let valid = ckpt::latest_valid(&ckpt_root, &parts, |w| warnings.push(w))?;
    for w in warnings {
        sink.log(format!("distill: {w}"))?;
    }
    if let Some(c) = valid {
        ckpt::restore_into(&c.tensors("student")?, &student_params, &c.dir)?;
        ckpt::restore_into(&c.tensors("fake")?, &fake_params, &c.dir)?;
        if !gan_params.is_empty() {
            ckpt::restore_into(&c.tensors("gan")?, &gan_params, &c.dir)?;
        }
        let state = c.state()?;
        let get_i = |k: &str| state.get(k).and_then(|v| v.as_i64()).unwrap_or(0);
        d.opt_g
            .load_state(&c.tensors("opt_g")?, get_i("opt_g_steps"))
            .map_err(|m| anyhow::anyhow!("{}: {m}", c.dir.display()))?;
        d.opt_f
            .load_state(&c.tensors("opt_f")?, get_i("opt_f_steps"))
            .map_err(|m| anyhow::anyhow!("{}: {m}", c.dir.display()))?;
        if let Some(v) = state.get("divergence") {
            divergence =
                serde_json::from_value(v.clone()).context("checkpoint divergence state")?;
        }
        if let Some(v) = state.get("controller") {
            controller =
                serde_json::from_value(v.clone()).context("checkpoint controller state")?;
        }
        if let Some(v) = state.get("dm").and_then(|v| v.as_f64()) {
            d.cfg.loss.dm = v;
        }
        start = c.iteration;
        sink.log(format!(
            "distill: resumed from {} (iteration {start})",
            c.dir.display()
        ))?;
        metric(sink, ddmd_core::metrics::RESUMED_FROM, start, start as f64)?;
        // A verdict the detector reached before the checkpoint is part of this run's history:
        // state it again, or a resumed student would read as stable in `runs show`.
        if let Some(at) = divergence.diverged_at {
            let why = divergence.reason.clone().unwrap_or_default();
            sink.status(
                "diverged",
                Some("stability"),
                Some(&format!("iteration {at}: {why}")),
            )?;
        }
    }

    let b = p.batch;
    let mut done = start;
    let mut step_ms = 0.0;
    let mut step_n = 0usize;
    for it in start..p.iterations {
        let t0 = Instant::now();
        seed_iteration(p.seed, it);
        let batch = world.batch(p.seed, (it * b) as u64, b);
        let real = batch.images.to_device(device);
        let tokens = batch.tokens.to_device(device);
        done = it + 1;
        let monitor_now = done % p.monitor_every == 0 || done == p.iterations;
        let lr = lr_at(p.lr, 0, p.iterations, it).max(0.0);
        let fake_lr = lr_at(p.fake_lr, 0, p.iterations, it);
        let r = d.step(&real, &tokens, lr, fake_lr, monitor_now)?;
        step_ms += t0.elapsed().as_secs_f64() * 1e3;
        step_n += 1;
        if monitor_now {
            // The student's final samples of the batch's prompts against those prompts' renders:
            // a ratio of 1 is data-like whatever backgrounds this batch happened to draw.
            let finals = d.final_samples(&tokens, real.size()[2])?;
            let c = Check::of(&finals, &real)
                .context("the student's output is not a batch of RGB images")?;
            let (s, rel) = (&c.stats, &c.relative);
            for (k, v) in [
                ("train/loss", r.loss),
                ("train/loss_ca", r.out.loss_ca),
                ("train/loss_dm", r.out.loss_dm),
                ("train/loss_fake", r.loss_fake),
                ("train/delta_ca", r.out.delta_ca),
                ("train/delta_dm", r.out.delta_dm),
                ("train/pixel_mean", s.mean),
                ("train/pixel_var", s.var),
                ("train/saturated", s.clipped),
                ("train/var_ratio", rel.var_ratio),
                ("train/saturation_ratio", rel.saturation_ratio),
                ("train/sharpness", rel.sharpness),
                ("train/color_shift_r", rel.color_shift[0]),
                ("train/color_shift_g", rel.color_shift[1]),
                ("train/color_shift_b", rel.color_shift[2]),
                ("train/fake_teacher_cos", r.out.fake_teacher_cos),
                ("train/grad_norm", r.grad_norm),
                ("train/step_ms", step_ms / step_n as f64),
                ("train/dm_weight", d.cfg.loss.dm),
                ("train/lr", lr),
            ] {
                metric(sink, k, done, v)?;
            }
            step_ms = 0.0;
            step_n = 0;
            sink.progress(done as f64, Some(p.iterations as f64))?;
            if divergence.check(done, r.loss, &c) {
                let why = divergence.reason.clone().unwrap_or_default();
                sink.status(
                    "diverged",
                    Some("stability"),
                    Some(&format!("iteration {done}: {why}")),
                )?;
                if p.stop_on_divergence {
                    break;
                }
            }
            if p.dm_controller {
                d.cfg.loss.dm = controller.update(d.cfg.loss.dm, s.clipped);
            }
        }
        if p.checkpoint_every > 0 && done % p.checkpoint_every == 0 && done < p.iterations {
            let (og, og_steps) = d.opt_g.state();
            let (of, of_steps) = d.opt_f.state();
            ckpt::save(
                &ckpt_root,
                done,
                &[
                    Part {
                        name: "student",
                        tensors: shallow(&student_params),
                    },
                    Part {
                        name: "fake",
                        tensors: shallow(&fake_params),
                    },
                    Part {
                        name: "gan",
                        tensors: shallow(&gan_params),
                    },
                    Part {
                        name: "opt_g",
                        tensors: og,
                    },
                    Part {
                        name: "opt_f",
                        tensors: of,
                    },
                ],
                &json!({
                    "iteration": done, "opt_g_steps": og_steps, "opt_f_steps": of_steps,
                    "divergence": divergence, "controller": controller, "dm": d.cfg.loss.dm,
                }),
            )?;
        }
        if p.snapshot_every > 0 && done % p.snapshot_every == 0 {
            save_snapshot(&d.student, work_dir, done)?;
        }
        maybe_abort(done);
    }

    let stability: Stability = divergence.stability(done);
    let st_path = work_dir.join(STABILITY_FILE);
    std::fs::write(&st_path, serde_json::to_string_pretty(&stability)?)
        .with_context(|| format!("writing {}", st_path.display()))?;
    metric(sink, "stability", done, stability.stable_through as f64)?;
    sink.artifact("stability", STABILITY_FILE)?;

    d.student.save(&work_dir.join(STUDENT_FILE))?;
    let model = ModelFile {
        kind: ModelKind::Student,
        net: d.student.spec().clone(),
        weights: STUDENT_FILE.into(),
        data: if data_value.is_null() {
            json!({"kind": "shapes", "resolution": data_cfg.resolution, "objects": [data_cfg.min_objects, data_cfg.max_objects]})
        } else {
            data_value
        },
        default_steps: p.student_steps,
        alpha: p.alpha,
        solver: Solver::Euler,
    };
    model.write(work_dir)?;
    sink.artifact("model", "model.json")?;
    sink.artifact("weights", STUDENT_FILE)?;
    let g = Generator::load(work_dir, device)?;
    write_samples(&g, &world, p.seed, None, work_dir)?;
    sink.artifact("samples", "samples.png")?;
    sink.artifact("prompts", "samples.txt")?;
    Ok(())
}

/// For `examples/bench_steps.rs`: times of distill iterations with default parameters.
pub struct DistillBench {
    pub schedule: String,
    /// Timed iterations (two untimed warm-up iterations run first).
    pub iters: usize,
    pub batch: usize,
    /// The student steps k of every student sample (warm-up included, 1 + fake updates per
    /// iteration, in order) when the caller fixes them (`Distiller::use_given_steps`), so a
    /// mirror of this iteration can do the same work; `None`: random draws.
    pub ks: Option<Vec<usize>>,
}

/// What [`bench_distill_step`] measured.
pub struct DistillBenchTimes {
    /// Wall time of each timed iteration (ms), in order.
    pub times_ms: Vec<f64>,
    /// The student steps k the run used (warm-up included), in order.
    pub ks: Vec<usize>,
}

/// Warm-up iterations of [`bench_distill_step`] (first-call allocations, lazy initialisation).
pub const BENCH_WARMUP: usize = 2;

/// Runs `BENCH_WARMUP + iters` distill iterations on `world`'s first batch (prompts and
/// renders) from copies of `teacher`, timing the last `iters`.
pub fn bench_distill_step(
    teacher: &Network,
    world: &ShapesWorld,
    b: &DistillBench,
) -> anyhow::Result<DistillBenchTimes> {
    // As the distill stage runs (run_distill_stage).
    crate::alloc::keep_freed_memory();
    let mut m = serde_json::Map::new();
    m.insert("schedule".into(), json!(b.schedule));
    let p = DistillParams::from_map(&m)?;
    let (loss, schedule) = loss_config(&p)?;
    let batch = world.batch(0, 0, b.batch);
    let dev = teacher.device();
    let real = batch.images.to_device(dev);
    let tokens = batch.tokens.to_device(dev);
    let cfg = DistillConfig {
        loss,
        schedule,
        student_steps: p.student_steps,
        tau: TauRange::default(),
        fake_updates: p.fake_updates,
        grad_clip: p.grad_clip,
        gan_weight: p.gan_weight,
        weight_decay: 0.0,
    };
    let mut d = Distiller::new(teacher.duplicate()?, cfg)?;
    if let Some(ks) = &b.ks {
        d.use_given_steps(ks.clone());
    }
    let mut times_ms = Vec::new();
    let mut ks = Vec::new();
    for i in 0..b.iters + BENCH_WARMUP {
        let t = Instant::now();
        let r = d
            .step(&real, &tokens, 1e-5, 1e-5, false)
            .with_context(|| format!("distill iteration {i} of the benchmark"))?;
        if i >= BENCH_WARMUP {
            times_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        ks.push(r.k);
        ks.extend(r.fake_ks);
    }
    Ok(DistillBenchTimes { times_ms, ks })
}

/// Keeps the student's weights at `iteration` for evaluation along training (`evaluate` with
/// `checkpoint: N`): unlike resume checkpoints, snapshots are never pruned and end up in the
/// artifact. Written under a temporary name and renamed, so a crash never leaves half a file.
fn save_snapshot(student: &Network, work_dir: &Path, iteration: usize) -> anyhow::Result<()> {
    let path = crate::model::snapshot_path(work_dir, iteration, STUDENT_FILE);
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| work_dir.to_path_buf());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // The writer picks the format by extension: keep `.safetensors` at the end.
    let tmp = dir.join(format!(".tmp-{STUDENT_FILE}"));
    student.save(&tmp)?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
