//! The `evaluate` stage: sample the upstream generator (a distilled student, or the teacher at
//! its own step count with CFG) at each requested step count and compute the requested
//! metrics with the upstream judge. Metric keys carry their setting (`fid@4`, `dpg@4`,
//! `pixel_var@4`, `throughput@4/bs16`); every FID also gets a status event naming the
//! extractor and N, because FIDs with different extractors or N are not comparable.
//!
//! Every comparison is against renders of the *same prompts* (fresh jitter, same N), and the
//! same metrics are also measured on a second, independent set of renders with the setting
//! `data` (`fid@data`, `dpg@data/entity`, …): each metric's floor and DPG's ceiling, which
//! the report shows as the "data" row of every table.

use crate::agreement::judge_agreement;
use crate::dpg::dpg_score;
use crate::fid::{frechet_distance, FeatureStats};
use crate::hps::{record_outcome, score_hps, ScorerCommand};
use crate::judge::Judge;
use crate::judged_page::write_judged_page;
use crate::kid::kid;
use crate::psnr::psnr_db;
use crate::reference::{same_prompt_renders, COMPARE_SALT, DATA_ROW_SALT};
use crate::throughput::measure;
use anyhow::{bail, Context, Result};
use ddmd_core::params::EvaluateParams;
use ddmd_core::{EventSink, JobFile, StageKind, UpstreamJob};
use ddmd_science::data::{write_grid_png, Scene, ShapesWorld};
use ddmd_science::image_stats::ImageStats;
use ddmd_science::{Generator, ModelKind};
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

/// Prompt stream of evaluation, disjoint from training streams (which use the job seed).
pub(crate) const PROMPT_SALT: u64 = 0x4556_414c_5052_4d54; // "EVALPRMT"
/// Noise stream of the PSNR comparison (student and teacher draw the same noise from it).
const PSNR_SALT: u64 = 0x5053_4e52_5f4e_5349; // "PSNR_NSI"
/// Images shown with the judge's answers on the `judged@S.html` page.
const JUDGED_SHOWN: usize = 24;

struct Settings {
    steps: Vec<usize>,
    samples: usize,
    per_prompt: usize,
    batch: usize,
    seed: u64,
    metrics: Vec<String>,
    throughput_batches: Vec<usize>,
    throughput_calls: usize,
    alpha: Option<f64>,
    psnr_samples: usize,
    checkpoint: Option<usize>,
    /// The step every metric is recorded at: the checkpoint's iteration, else 0.
    step: i64,
}

fn settings(p: EvaluateParams, gen: &Generator) -> Settings {
    Settings {
        steps: p
            .sample_steps
            .map(|s| s.to_vec())
            .unwrap_or_else(|| vec![gen.default_steps()]),
        samples: p.samples,
        per_prompt: p.images_per_prompt,
        batch: p.batch,
        seed: p.seed,
        metrics: p
            .metrics
            .to_vec()
            .iter()
            .map(|m| m.as_str().to_string())
            .collect(),
        throughput_batches: p.throughput_batches.to_vec(),
        throughput_calls: p.throughput_calls,
        alpha: p.alpha,
        psnr_samples: p.psnr_samples,
        checkpoint: p.checkpoint,
        step: p.checkpoint.map(|c| c as i64).unwrap_or(0),
    }
}

fn wants(s: &Settings, m: &str) -> bool {
    s.metrics.iter().any(|x| x == m)
}

/// Copies the upstream run's stability (from `stability.json`) into this job's metrics; at a
/// checkpoint, the detector's verdict as of that iteration (diverged only if it had fired by
/// then, else stable through the checkpoint).
fn copy_stability(
    gen_job: &UpstreamJob,
    checkpoint: Option<usize>,
    sink: &mut EventSink,
) -> Result<()> {
    let path = gen_job.artifact_dir.join("stability.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        sink.status(
            "unavailable",
            Some("stability"),
            Some(&format!(
                "no stability.json in the {} artifact",
                gen_job.kind
            )),
        )?;
        return Ok(());
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    let at_checkpoint = |x: f64| checkpoint.map(|c| x.min(c as f64)).unwrap_or(x);
    let step = checkpoint.map(|c| c as i64).unwrap_or(0);
    let diverged = v
        .get("diverged_at")
        .and_then(|x| x.as_f64())
        .filter(|&at| checkpoint.is_none_or(|c| at <= c as f64));
    if let Some(st) = v.get("stable_through").and_then(|x| x.as_f64()) {
        let st = match (diverged, checkpoint) {
            // Not diverged by the checkpoint: stable through it.
            (None, Some(c)) => c as f64,
            _ => at_checkpoint(st),
        };
        sink.metric("stability", step, st)?;
    }
    match diverged {
        Some(at) => {
            sink.metric("diverged_at", step, at)?;
            let why = v.get("reason").and_then(|r| r.as_str()).unwrap_or("");
            sink.status(
                "diverged",
                Some("stability"),
                Some(&format!("iteration {at}: {why}")),
            )?;
        }
        None => sink.status("info", Some("stability"), Some("stable"))?,
    }
    Ok(())
}

/// Generates `per_prompt` images for each prompt scene, in batches.
fn sample(
    gen: &Generator,
    world: &ShapesWorld,
    prompts: &[Scene],
    s: &Settings,
    steps: usize,
    seed: u64,
) -> Result<Tensor> {
    let texts: Vec<String> = prompts
        .iter()
        .flat_map(|p| std::iter::repeat_n(p.prompt(), s.per_prompt))
        .collect();
    let tokens = world.tokens_of(&texts);
    let n = texts.len() as i64;
    let mut out = Vec::new();
    let mut i = 0;
    let mut k = 0u64;
    while i < n {
        let b = (n - i).min(s.batch as i64);
        let _g = tch::no_grad_guard();
        let imgs = gen
            .try_generate_with(
                &tokens.narrow(0, i, b),
                Some(steps),
                s.alpha,
                seed.wrapping_add(k),
            )
            .with_context(|| format!("sampling {steps}-step images {i}..{}", i + b))?;
        out.push(imgs.to_device(Device::Cpu));
        i += b;
        k += 1;
    }
    Ok(Tensor::cat(&out, 0))
}

pub(crate) fn repo_root() -> PathBuf {
    // The worker runs from anywhere; the scorer script sits beside the binary's source tree,
    // or is named explicitly with DDMD_HPS_SCORER.
    std::env::var("DDMD_REPO")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// The upstream jobs an evaluate job reads: the generator, the teacher for PSNR, the judge and
/// an optional second judge whose agreement with the first is measured.
struct Upstreams<'a> {
    generator: &'a UpstreamJob,
    teacher: Option<&'a UpstreamJob>,
    judge: &'a UpstreamJob,
    second_judge: Option<&'a UpstreamJob>,
}

fn upstreams(job: &JobFile) -> Result<Upstreams<'_>> {
    let of = |k: StageKind| job.upstream.iter().filter(move |u| u.kind == k);
    let teacher = of(StageKind::Teacher).next();
    let generator = of(StageKind::Distill)
        .next()
        .or(teacher)
        .context("evaluate needs an upstream distill or teacher job (needs: [...])")?;
    let judges: Vec<&UpstreamJob> = of(StageKind::Judge).collect();
    let (judge, second_judge) =
        match judges.as_slice() {
            [] => bail!("evaluate needs an upstream judge job (needs: [..., judge])"),
            [one] => (*one, None),
            [one, two] => (*one, Some(*two)),
            more => bail!(
            "evaluate reads one judge, or two to measure their agreement; its needs bring {}: {}",
            more.len(),
            more.iter().map(|u| u.job.to_string()).collect::<Vec<_>>().join(", ")
        ),
        };
    Ok(Upstreams {
        generator,
        // The teacher is a comparison only when the generator is something else.
        teacher: teacher.filter(|t| t.job != generator.job),
        judge,
        second_judge,
    })
}

/// What every measured image set is compared with.
struct SetContext<'a> {
    s: &'a Settings,
    judge: &'a Judge,
    second_judge: Option<&'a Judge>,
    /// The prompt scene of each image (image i belongs to prompt i / per_prompt).
    targets: Vec<&'a Scene>,
    prompts: &'a [Scene],
    /// Judge features and their statistics of the same-prompt comparison renders.
    ref_feats: Option<Tensor>,
    ref_stats: Option<FeatureStats>,
    ref_pixels: ImageStats,
    work_dir: &'a Path,
}

/// Measures one image set (samples at `tag` steps, or `data`) against the comparison renders.
fn measure_set(cx: &SetContext, tag: &str, images: &Tensor, sink: &mut EventSink) -> Result<()> {
    let s = cx.s;
    let feats = match (wants(s, "fid") || wants(s, "kid"), &cx.ref_feats) {
        (true, Some(_)) => Some(cx.judge.features(images)?.to_device(Device::Cpu)),
        _ => None,
    };
    if let (Some(f), Some(ref_stats)) = (&feats, &cx.ref_stats) {
        if wants(s, "fid") {
            let key = format!("fid@{tag}");
            let fid = frechet_distance(&FeatureStats::from_features(f)?, ref_stats)?;
            sink.metric(&key, s.step, fid)?;
            sink.status(
                "info",
                Some(&key),
                Some(&format!(
                    "extractor=judge N={} reference=same-prompt renders",
                    s.samples
                )),
            )?;
        }
    }
    if let (Some(f), Some(rf), true) = (&feats, &cx.ref_feats, wants(s, "kid")) {
        let k = kid(f, rf, 50, 500.min(s.samples), s.seed)?;
        let key = format!("kid@{tag}");
        sink.metric(&key, s.step, k.mean)?;
        sink.metric(&format!("kid_std@{tag}"), s.step, k.std)?;
        sink.status(
            "info",
            Some(&key),
            Some(&format!(
                "extractor=judge N={} subsets={}x{}",
                s.samples, k.subsets, k.subset_size
            )),
        )?;
    }
    if wants(s, "dpg") {
        let pred = cx.judge.predict(images)?;
        let items: Vec<(Scene, Vec<Scene>)> = pred
            .chunks(s.per_prompt)
            .zip(cx.prompts)
            .map(|(p, t)| (t.clone(), p.to_vec()))
            .collect();
        let d = dpg_score(&items)?;
        sink.metric(&format!("dpg@{tag}"), s.step, d.score)?;
        for (cat, v) in &d.per_category {
            sink.metric(&format!("dpg@{tag}/{cat}"), s.step, *v)?;
        }
        let page = format!("judged@{tag}");
        write_judged_page(
            cx.work_dir,
            &page,
            &if tag == "data" {
                "The judge's answers on renders of the evaluation prompts (the data row)"
                    .to_string()
            } else {
                format!("The judge's answers on {tag}-step samples")
            },
            images,
            &cx.targets,
            &pred,
            JUDGED_SHOWN,
        )?;
        sink.artifact(&page, &format!("{page}.html"))?;
        if let Some(j2) = cx.second_judge {
            let pred2 = j2.predict(images)?;
            for (cat, v) in judge_agreement(&cx.targets, &pred, &pred2) {
                let key = if cat == "all" {
                    format!("judge_agreement@{tag}")
                } else {
                    format!("judge_agreement@{tag}/{cat}")
                };
                sink.metric(&key, s.step, 100.0 * v)?;
            }
        }
    }
    if wants(s, "pixels") {
        let px = ImageStats::of(images).context("pixel statistics need [n, 3, H, W] images")?;
        let rel = px.relative_to(&cx.ref_pixels);
        for (key, v) in [
            ("pixel_mean", px.mean),
            ("pixel_var", px.var),
            ("pixel_saturated", px.clipped),
            ("pixel_var_ratio", rel.var_ratio),
            ("saturation", rel.saturation_ratio),
            ("sharpness", rel.sharpness),
            ("color_shift_r", rel.color_shift[0]),
            ("color_shift_g", rel.color_shift[1]),
            ("color_shift_b", rel.color_shift[2]),
            // One number per setting for tables: the mean absolute shift over the channels.
            ("color_shift", rel.color_shift_abs()),
        ] {
            sink.metric(&format!("{key}@{tag}"), s.step, v)?;
        }
    }
    Ok(())
}

pub fn run_evaluate_stage(job: &JobFile, sink: &mut EventSink) -> Result<()> {
    let params: EvaluateParams = ddmd_core::params::parse(&job.params)?;
    // Images a command stage drew (the user's own model): measured from the files.
    if let Some(drawn) = job.upstream.iter().find(|u| u.kind == StageKind::Command) {
        let inputs = crate::images_eval::ImageEvalInputs {
            generator: drawn,
            judge: job.upstream.iter().find(|u| u.kind == StageKind::Judge),
            metrics_given: job.params.contains_key("metrics"),
        };
        return crate::images_eval::run_on_images(job, inputs, params, sink);
    }
    let up = upstreams(job)?;
    let device = ddmd_science::device_for_job();
    let gen = match params.checkpoint {
        None => Generator::load(&up.generator.artifact_dir, device),
        Some(_) if up.generator.kind != StageKind::Distill => bail!(
            "evaluate: checkpoint picks a training snapshot of a distill run; {} is a {}",
            up.generator.job,
            up.generator.kind
        ),
        Some(it) => Generator::load_snapshot(&up.generator.artifact_dir, it, device),
    }
    .with_context(|| format!("loading the generator of {}", up.generator.job))?;
    let judge = Judge::load(&up.judge.artifact_dir, device)
        .with_context(|| format!("loading the judge of {}", up.judge.job))?;
    let second_judge = match up.second_judge {
        Some(u) => Some(
            Judge::load(&u.artifact_dir, device)
                .with_context(|| format!("loading the judge of {}", u.job))?,
        ),
        None => None,
    };
    let s = settings(params, &gen);
    if s.alpha.is_some() && gen.kind() == ModelKind::Student {
        bail!(
            "evaluate: alpha applies when sampling a teacher with CFG; {} is a distilled student, which samples without CFG (remove alpha)",
            up.generator.job
        );
    }
    let teacher = if wants(&s, "psnr") {
        let Some(t) = up.teacher.filter(|_| gen.kind() == ModelKind::Student) else {
            bail!(
                "evaluate: metric psnr compares a student with its teacher from the same noise; add the teacher stage to needs (needs: [distill, judge, teacher])"
            );
        };
        Some(
            Generator::load(&t.artifact_dir, device)
                .with_context(|| format!("loading the teacher of {}", t.job))?,
        )
    } else {
        None
    };
    let cfg = gen.data_config();
    let world = ShapesWorld::new(cfg.clone());
    std::fs::create_dir_all(&job.work_dir)
        .with_context(|| format!("creating {}", job.work_dir.display()))?;
    sink.log(format!(
        "evaluate {}{} (kind {}) with judge {}{}: steps {:?}, {} samples, metrics {:?}, device {device:?}",
        up.generator.job,
        s.checkpoint
            .map(|c| format!(" at its iteration-{c} snapshot"))
            .unwrap_or_default(),
        up.generator.kind,
        up.judge.job,
        up.second_judge
            .map(|u| format!(" (agreement with {})", u.job))
            .unwrap_or_default(),
        s.steps,
        s.samples,
        s.metrics
    ))?;

    if wants(&s, "stability") {
        copy_stability(up.generator, s.checkpoint, sink)?;
    }
    let n_prompts = s.samples.div_ceil(s.per_prompt);
    let prompts: Vec<Scene> = (0..n_prompts as u64)
        .map(|i| world.scene(s.seed ^ PROMPT_SALT, i))
        .collect();

    // The same prompts rendered twice with fresh jitter: the comparison set, and the data row.
    let t = std::time::Instant::now();
    let (compare, _) = same_prompt_renders(
        &world,
        &prompts,
        s.per_prompt,
        s.samples,
        COMPARE_SALT,
        s.seed,
    );
    let (data_row, _) = same_prompt_renders(
        &world,
        &prompts,
        s.per_prompt,
        s.samples,
        DATA_ROW_SALT,
        s.seed,
    );
    let ref_feats = if wants(&s, "fid") || wants(&s, "kid") {
        Some(judge.features(&compare)?.to_device(Device::Cpu))
    } else {
        None
    };
    let ref_stats = match &ref_feats {
        Some(f) => {
            let st = FeatureStats::from_features(f)?;
            let local = job.work_dir.join(format!("ref_stats_{}.npz", s.samples));
            st.save_npz(&local)?;
            sink.artifact("ref_stats", &format!("ref_stats_{}.npz", s.samples))?;
            Some(st)
        }
        None => None,
    };
    let cx = SetContext {
        s: &s,
        judge: &judge,
        second_judge: second_judge.as_ref(),
        targets: (0..s.samples)
            .filter_map(|i| prompts.get(i / s.per_prompt))
            .collect(),
        prompts: &prompts,
        ref_feats,
        ref_stats,
        ref_pixels: ImageStats::of(&compare).context("statistics of the reference renders")?,
        work_dir: &job.work_dir,
    };
    measure_set(&cx, "data", &data_row, sink)?;
    sink.metric("eval/ref_s", s.step, t.elapsed().as_secs_f64())?;

    // The teacher's images for PSNR, from the PSNR noise stream, once for every step count.
    let psnr_n = s.psnr_samples.min(s.samples);
    let psnr_tokens = world.tokens_of(
        &cx.targets[..psnr_n]
            .iter()
            .map(|p| p.prompt())
            .collect::<Vec<_>>(),
    );
    let psnr_seed = s.seed ^ PSNR_SALT;
    let teacher_images = match &teacher {
        Some(t) => {
            let _g = tch::no_grad_guard();
            Some(t.try_generate_with(&psnr_tokens, None, None, psnr_seed)?)
        }
        None => None,
    };

    for &steps in &s.steps {
        let t = std::time::Instant::now();
        let images = sample(
            &gen,
            &world,
            &prompts,
            &s,
            steps,
            s.seed.wrapping_mul(1_000_003).wrapping_add(steps as u64),
        )?;
        let images = images.narrow(0, 0, s.samples as i64);
        sink.metric(
            &format!("sample_s@{steps}"),
            s.step,
            t.elapsed().as_secs_f64(),
        )?;
        let grid = format!("samples@{steps}.png");
        let show = images.size()[0].min(16);
        write_grid_png(&job.work_dir.join(&grid), &images.narrow(0, 0, show), 4, 4)?;
        let caption: Vec<String> = (0..show as usize)
            .map(|i| prompts[i / s.per_prompt].prompt())
            .collect();
        std::fs::write(
            job.work_dir.join(format!("samples@{steps}.txt")),
            caption.join("\n"),
        )?;
        sink.artifact(&format!("samples@{steps}"), &grid)?;

        measure_set(&cx, &steps.to_string(), &images, sink)?;

        if let Some(teacher_images) = &teacher_images {
            let _g = tch::no_grad_guard();
            let student = gen.try_generate_with(&psnr_tokens, Some(steps), None, psnr_seed)?;
            let db = psnr_db(&student, teacher_images)?;
            let key = format!("psnr_teacher@{steps}");
            sink.metric(&key, s.step, db)?;
            sink.status(
                "info",
                Some(&key),
                Some(&format!(
                    "N={psnr_n}, teacher at its own steps and alpha, same noise"
                )),
            )?;
        }
        if wants(&s, "hps") {
            hps(&s, &prompts, &images, steps, &job.work_dir, sink)?;
        }
        if wants(&s, "throughput") {
            throughput(&s, &gen, &world, &prompts, steps, device, sink)?;
        }
        sink.metric(
            &format!("eval_s@{steps}"),
            s.step,
            t.elapsed().as_secs_f64(),
        )?;
    }
    Ok(())
}

fn hps(
    s: &Settings,
    prompts: &[Scene],
    images: &Tensor,
    steps: usize,
    work_dir: &Path,
    sink: &mut EventSink,
) -> Result<()> {
    let key = format!("hps@{steps}");
    let n = s.samples.min(64);
    let texts: Vec<String> = (0..n).map(|i| prompts[i / s.per_prompt].prompt()).collect();
    let cmd = match std::env::var("DDMD_HPS_SCORER") {
        Ok(p) => ScorerCommand {
            program: PathBuf::from(p),
            args: vec![],
        },
        Err(_) => ScorerCommand::hps_default(&repo_root()),
    };
    let scratch = work_dir.join(format!("hps@{steps}"));
    let outcome = score_hps(&cmd, &images.narrow(0, 0, n as i64), &texts, &scratch);
    record_outcome(sink, &key, s.step, outcome)?;
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

fn throughput(
    s: &Settings,
    gen: &Generator,
    world: &ShapesWorld,
    prompts: &[Scene],
    steps: usize,
    device: Device,
    sink: &mut EventSink,
) -> Result<()> {
    let gpu = match device {
        Device::Cuda(_) => std::env::var("CUDA_VISIBLE_DEVICES")
            .ok()
            .and_then(|v| v.split(',').next().and_then(|x| x.trim().parse().ok()))
            .or(Some(0)),
        _ => None,
    };
    for &bs in &s.throughput_batches {
        let bs = bs.max(1);
        let texts: Vec<String> = (0..bs)
            .map(|i| prompts[i % prompts.len()].prompt())
            .collect();
        let tokens = world.tokens_of(&texts);
        let mut call = 0u64;
        let tp = measure(bs, 2, s.throughput_calls, gpu, || {
            call += 1;
            let _g = tch::no_grad_guard();
            gen.try_generate_with(&tokens, Some(steps), s.alpha, call)
                .map(|_| ())
        })?;
        let tag = format!("@{steps}/bs{bs}");
        sink.metric(&format!("throughput{tag}"), s.step, tp.images_per_s)?;
        sink.metric(&format!("median_ms{tag}"), s.step, tp.median_ms)?;
        sink.metric(&format!("p95_ms{tag}"), s.step, tp.p95_ms)?;
        match tp.power_w {
            Some(w) => sink.metric(&format!("power_w{tag}"), s.step, w)?,
            None => sink.status(
                "unavailable",
                Some(&format!("power_w{tag}")),
                Some("no GPU power reading (NVML/nvidia-smi)"),
            )?,
        }
    }
    Ok(())
}
