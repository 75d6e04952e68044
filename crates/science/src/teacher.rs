//! The `teacher` stage: flow-matching pre-training of the built-in UNet on the shapes world,
//! with condition dropout (for CFG), AdamW, EMA weights, checkpoints and exact resume, metrics
//! as events, and a sample grid (Euler/Heun, CFG) with its prompts as artifacts.

use crate::ckpt::{self, Part};
use crate::data::{ShapesConfig, ShapesWorld, MAX_TOKENS};
use crate::flow::{renoise, target_v};
use crate::model::{device_for_job, Generator, ModelFile, ModelKind};
use crate::nets::{NetSpec, Network, UnetConfig};
use crate::optim::{ema_update, AdamW, AdamWConfig};
use crate::params::TeacherParams;
use crate::sample::write_samples;
use crate::train_util::{lr_at, maybe_abort, metric, seed_iteration, shallow};
use anyhow::Context;
use ddmd_core::{EventSink, JobFile};
use serde_json::json;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

pub const WEIGHTS_FILE: &str = "ema.safetensors";

/// The network a teacher stage builds for these parameters and data.
pub fn teacher_spec(p: &TeacherParams, data: &ShapesConfig, vocab: usize) -> NetSpec {
    NetSpec::Unet(UnetConfig {
        resolution: data.resolution as i64,
        widths: p.net.widths.clone(),
        blocks: p.net.blocks,
        emb_dim: p.net.emb_dim,
        token_dim: p.net.token_dim,
        heads: p.net.heads,
        attn_res: p.net.attn_res,
        vocab: vocab as i64,
        max_tokens: MAX_TOKENS as i64,
    })
}

/// Replaces the prompts of a random `p` fraction of the batch by the empty prompt.
pub fn drop_conditions(tokens: &Tensor, p: f64) -> Tensor {
    if p <= 0.0 {
        return tokens.shallow_clone();
    }
    let b = tokens.size()[0];
    let keep = Tensor::rand([b], (Kind::Float, tokens.device()))
        .ge(p)
        .to_kind(Kind::Int64)
        .unsqueeze(1);
    tokens * keep
}

/// One flow-matching loss on a data batch (τ ~ U(0,1), ε ~ N(0,1) from the global generator).
pub fn flow_matching_loss(net: &Network, x0: &Tensor, tokens: &Tensor) -> anyhow::Result<Tensor> {
    use crate::nets::VelocityNet;
    let b = x0.size()[0];
    let tau = Tensor::rand([b], (Kind::Float, x0.device()));
    let eps = x0.randn_like();
    let v = net.velocity(&renoise(x0, &eps, &tau), &tau, tokens)?;
    Ok((v - target_v(x0, &eps)).square().mean(Kind::Float))
}

pub fn run_teacher_stage(job: &JobFile, sink: &mut EventSink) -> anyhow::Result<()> {
    // Freed tensor memory stays in the process (no page-fault churn); values are unchanged.
    crate::alloc::keep_freed_memory();
    let p = TeacherParams::from_map(&job.params)?;
    let data_cfg = ShapesConfig::from_params(&job.params).map_err(|e| anyhow::anyhow!("{e}"))?;
    let device = device_for_job();
    train_teacher(
        &p,
        &data_cfg,
        job.params.get("data").cloned(),
        &job.work_dir,
        device,
        sink,
    )
}

/// The teacher loop; `work_dir` gets `ckpt/`, the weights, `model.json` and samples.
pub fn train_teacher(
    p: &TeacherParams,
    data_cfg: &ShapesConfig,
    data_param: Option<serde_json::Value>,
    work_dir: &std::path::Path,
    device: Device,
    sink: &mut EventSink,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;
    let world = ShapesWorld::new(data_cfg.clone());
    let spec = teacher_spec(p, data_cfg, world.vocab().len());
    tch::manual_seed(p.seed as i64);
    let net = Network::build(&spec, device)?;
    let ema = net.duplicate()?;
    sink.log(format!(
        "teacher: {} parameters on {:?}",
        net.num_params(),
        device
    ))?;
    let params = net.named_parameters();
    let ema_params = ema.named_parameters();
    let mut opt = AdamW::new(
        shallow(&params),
        AdamWConfig {
            weight_decay: p.weight_decay,
            ..Default::default()
        },
    );

    let ckpt_root = work_dir.join("ckpt");
    let mut start = 0;
    let mut warnings = Vec::new();
    let valid = ckpt::latest_valid(&ckpt_root, &["net", "ema", "opt"], |w| warnings.push(w))?;
    for w in warnings {
        sink.log(format!("teacher: {w}"))?;
    }
    if let Some(c) = valid {
        ckpt::restore_into(&c.tensors("net")?, &params, &c.dir)?;
        ckpt::restore_into(&c.tensors("ema")?, &ema_params, &c.dir)?;
        let state = c.state()?;
        let steps = state.get("opt_steps").and_then(|v| v.as_i64()).unwrap_or(0);
        opt.load_state(&c.tensors("opt")?, steps)
            .map_err(|m| anyhow::anyhow!("{}: {m}", c.dir.display()))?;
        start = c.iteration;
        sink.log(format!(
            "teacher: resumed from {} (iteration {start})",
            c.dir.display()
        ))?;
        metric(sink, ddmd_core::metrics::RESUMED_FROM, start, start as f64)?;
    }

    let b = p.batch;
    let mut window = 0.0;
    let mut window_n = 0usize;
    let mut window_ms = 0.0;
    for it in start..p.iterations {
        let t0 = Instant::now();
        seed_iteration(p.seed, it);
        let batch = world.batch(p.seed, (it * b) as u64, b);
        let x0 = batch.images.to_device(device);
        let tokens = drop_conditions(&batch.tokens.to_device(device), p.cfg_dropout);
        let loss = flow_matching_loss(&net, &x0, &tokens)?;
        opt.zero_grad();
        loss.backward();
        opt.clip_grad_norm(p.grad_clip);
        let lr = lr_at(p.lr, p.warmup, p.iterations, it);
        opt.step(lr);
        ema_update(&ema_params, &params, p.ema);
        let l = loss.double_value(&[]);
        if !l.is_finite() {
            anyhow::bail!(
                "teacher loss is {l} at iteration {it}: training diverged (try a lower lr)"
            );
        }
        window += l;
        window_n += 1;
        window_ms += t0.elapsed().as_secs_f64() * 1e3;
        let done = it + 1;
        if done % p.log_every.max(1) == 0 || done == p.iterations {
            metric(sink, "train/loss", done, window / window_n as f64)?;
            metric(sink, "train/lr", done, lr)?;
            metric(sink, "train/step_ms", done, window_ms / window_n as f64)?;
            sink.progress(done as f64, Some(p.iterations as f64))?;
            window = 0.0;
            window_n = 0;
            window_ms = 0.0;
        }
        if p.checkpoint_every > 0 && done % p.checkpoint_every == 0 && done < p.iterations {
            let (opt_t, steps) = opt.state();
            ckpt::save(
                &ckpt_root,
                done,
                &[
                    Part {
                        name: "net",
                        tensors: shallow(&params),
                    },
                    Part {
                        name: "ema",
                        tensors: shallow(&ema_params),
                    },
                    Part {
                        name: "opt",
                        tensors: opt_t,
                    },
                ],
                &json!({ "iteration": done, "opt_steps": steps }),
            )?;
        }
        maybe_abort(done);
    }

    ema.save(&work_dir.join(WEIGHTS_FILE))?;
    let model = ModelFile {
        kind: ModelKind::Teacher,
        net: spec,
        weights: WEIGHTS_FILE.into(),
        data: data_param.unwrap_or_else(|| json!({"kind": "shapes", "resolution": data_cfg.resolution, "objects": [data_cfg.min_objects, data_cfg.max_objects]})),
        default_steps: p.sample_steps,
        alpha: p.alpha,
        solver: p.solver,
    };
    model.write(work_dir)?;
    sink.artifact("model", "model.json")?;
    sink.artifact("weights", WEIGHTS_FILE)?;
    let g = Generator::load(work_dir, device)?;
    write_samples(&g, &world, p.seed, None, work_dir)?;
    sink.artifact("samples", "samples.png")?;
    sink.artifact("prompts", "samples.txt")?;
    Ok(())
}
