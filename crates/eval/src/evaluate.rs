//! The `evaluate` stage: sample the upstream generator (a distilled student, or the teacher at
//! its own step count with CFG) at each requested step count and compute the requested
//! metrics with the upstream judge. Metric keys carry their setting (`fid@4`, `dpg@4`,
//! `pixel_var@4`, `throughput@4/bs16`); every FID also gets a status event naming the
//! extractor and N, because FIDs with different extractors or N are not comparable.

use crate::dpg::dpg_score;
use crate::features::Extractor;
use crate::fid::{frechet_distance, FeatureStats};
use crate::hps::{score_hps, HpsOutcome, ScorerCommand};
use crate::judge::Judge;
use crate::kid::kid;
use crate::pixels::pixel_stats;
use crate::throughput::measure;
use anyhow::{Context, Result};
use ddmd_core::params::EvaluateParams;
use ddmd_core::{EventSink, JobFile, StageKind, UpstreamJob};
use ddmd_science::data::{write_grid_png, Scene, ShapesConfig, ShapesWorld};
use ddmd_science::Generator;
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

/// Scene streams of evaluation: the data reference and the prompts are disjoint from each
/// other and from training streams (which use the job seed directly).
const REF_SALT: u64 = 0x5245_465f_4441_5441; // "REF_DATA"
const PROMPT_SALT: u64 = 0x4556_414c_5052_4d54; // "EVALPRMT"

struct Settings {
    steps: Vec<usize>,
    samples: usize,
    per_prompt: usize,
    batch: usize,
    seed: u64,
    metrics: Vec<String>,
    throughput_batches: Vec<usize>,
    throughput_calls: usize,
}

fn upstream_of<'a>(job: &'a JobFile, kinds: &[StageKind]) -> Option<&'a UpstreamJob> {
    job.upstream.iter().find(|u| kinds.contains(&u.kind))
}

fn settings(job: &JobFile, gen: &Generator) -> Result<Settings> {
    let p: EvaluateParams = ddmd_core::params::parse(&job.params)?;
    Ok(Settings {
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
    })
}

fn wants(s: &Settings, m: &str) -> bool {
    s.metrics.iter().any(|x| x == m)
}

/// Reference statistics of the data under the judge, cached as `.npz` under
/// `<home>/cache/fid-ref/` (shared by all evaluate jobs with the same judge, data and N) and
/// copied into the job's work dir as an artifact.
fn reference(
    judge_job: &UpstreamJob,
    judge: &Judge,
    cfg: &ShapesConfig,
    n: usize,
    job: &JobFile,
    batch: usize,
) -> Result<(FeatureStats, Tensor, PathBuf)> {
    let world = ShapesWorld::new(cfg.clone());
    let name = format!(
        "judge-{}-r{}-o{}-{}-n{n}.npz",
        judge_job.cache_key.short(),
        cfg.resolution,
        cfg.min_objects,
        cfg.max_objects
    );
    // A small sample of reference images for the pixel colour shift (cheap to re-render).
    let ref_imgs = world.batch(REF_SALT, 0, n.min(1000)).images;
    let cache_dir = ddmd_core::layout::Layout::new(&job.home).fid_ref_cache();
    let cached = cache_dir.join(&name);
    let stats = match FeatureStats::load_npz(&cached) {
        Ok(mut s) => {
            s.n = Some(n);
            s
        }
        Err(_) => {
            let ex = Extractor::Judge(Box::new(Judge::load(
                &judge_job.artifact_dir,
                judge.device(),
            )?));
            let mut feats = Vec::new();
            let mut i = 0;
            while i < n {
                let k = (n - i).min(batch);
                feats.push(ex.features(&world.batch(REF_SALT, i as u64, k).images, batch)?);
                i += k;
            }
            let s = FeatureStats::from_features(&Tensor::cat(&feats, 0))?;
            // The cache is an optimisation: failing to write it is not an error.
            if std::fs::create_dir_all(&cache_dir).is_ok() {
                let tmp = cache_dir.join(format!("{name}.tmp{}", std::process::id()));
                if s.save_npz(&tmp).is_ok() {
                    let _ = std::fs::rename(&tmp, &cached);
                }
            }
            s
        }
    };
    let local = job.work_dir.join(format!("ref_stats_{n}.npz"));
    stats.save_npz(&local)?;
    Ok((stats, ref_imgs, local))
}

/// Copies the upstream run's stability (from `stability.json`) into this job's metrics.
fn copy_stability(gen_job: &UpstreamJob, sink: &mut EventSink) -> Result<()> {
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
    if let Some(st) = v.get("stable_through").and_then(|x| x.as_f64()) {
        sink.metric("stability", 0, st)?;
    }
    match v.get("diverged_at").and_then(|x| x.as_f64()) {
        Some(at) => {
            sink.metric("diverged_at", 0, at)?;
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
    per_prompt: usize,
    steps: usize,
    batch: usize,
    seed: u64,
) -> Result<Tensor> {
    let texts: Vec<String> = prompts
        .iter()
        .flat_map(|s| std::iter::repeat_n(s.prompt(), per_prompt))
        .collect();
    let tokens = world.tokens_of(&texts);
    let n = texts.len() as i64;
    let mut out = Vec::new();
    let mut i = 0;
    let mut k = 0u64;
    while i < n {
        let b = (n - i).min(batch as i64);
        let _g = tch::no_grad_guard();
        let imgs = gen
            .try_generate_with(
                &tokens.narrow(0, i, b),
                Some(steps),
                None,
                seed.wrapping_add(k),
            )
            .with_context(|| format!("sampling {steps}-step images {i}..{}", i + b))?;
        out.push(imgs.to_device(Device::Cpu));
        i += b;
        k += 1;
    }
    Ok(Tensor::cat(&out, 0))
}

fn repo_root() -> PathBuf {
    // The worker runs from anywhere; the scorer script sits beside the binary's source tree,
    // or is named explicitly with DDMD_HPS_SCORER.
    std::env::var("DDMD_REPO")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

pub fn run_evaluate_stage(job: &JobFile, sink: &mut EventSink) -> Result<()> {
    let gen_job = upstream_of(job, &[StageKind::Distill, StageKind::Teacher])
        .context("evaluate needs an upstream distill or teacher job (needs: [...])")?;
    let judge_job = upstream_of(job, &[StageKind::Judge])
        .context("evaluate needs an upstream judge job (needs: [..., judge])")?;
    let device = ddmd_science::device_for_job();
    let gen = Generator::load(&gen_job.artifact_dir, device)
        .with_context(|| format!("loading the generator of {}", gen_job.job))?;
    let judge = Judge::load(&judge_job.artifact_dir, device)
        .with_context(|| format!("loading the judge of {}", judge_job.job))?;
    let s = settings(job, &gen)?;
    let cfg = gen.data_config();
    let world = ShapesWorld::new(cfg.clone());
    std::fs::create_dir_all(&job.work_dir)
        .with_context(|| format!("creating {}", job.work_dir.display()))?;
    sink.log(format!(
        "evaluate {} (kind {}) with judge {}: steps {:?}, {} samples, metrics {:?}, device {device:?}",
        gen_job.job, gen_job.kind, judge_job.job, s.steps, s.samples, s.metrics
    ))?;

    if wants(&s, "stability") {
        copy_stability(gen_job, sink)?;
    }
    let n_prompts = s.samples.div_ceil(s.per_prompt);
    let prompts: Vec<Scene> = (0..n_prompts as u64)
        .map(|i| world.scene(s.seed ^ PROMPT_SALT, i))
        .collect();
    let need_ref = wants(&s, "fid") || wants(&s, "kid") || wants(&s, "pixels");
    let reference = if need_ref {
        let t = std::time::Instant::now();
        let r = reference(judge_job, &judge, &cfg, s.samples, job, s.batch)?;
        sink.artifact(
            "ref_stats",
            &r.2.file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default(),
        )?;
        sink.metric("eval/ref_s", 0, t.elapsed().as_secs_f64())?;
        Some(r)
    } else {
        None
    };
    let ref_feats_for_kid = if wants(&s, "kid") {
        let n = s.samples.min(1000);
        Some(
            judge
                .features(&world.batch(REF_SALT, 0, n).images)?
                .to_device(Device::Cpu),
        )
    } else {
        None
    };

    for &steps in &s.steps {
        let t = std::time::Instant::now();
        let images = sample(
            &gen,
            &world,
            &prompts,
            s.per_prompt,
            steps,
            s.batch,
            s.seed.wrapping_mul(1_000_003).wrapping_add(steps as u64),
        )?;
        let images = images.narrow(0, 0, s.samples as i64);
        sink.metric(&format!("sample_s@{steps}"), 0, t.elapsed().as_secs_f64())?;
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

        let feats = if wants(&s, "fid") || wants(&s, "kid") {
            Some(judge.features(&images)?.to_device(Device::Cpu))
        } else {
            None
        };
        if let (Some(f), Some((ref_stats, _, _))) = (&feats, &reference) {
            if wants(&s, "fid") {
                let key = format!("fid@{steps}");
                let fid = frechet_distance(&FeatureStats::from_features(f)?, ref_stats)?;
                sink.metric(&key, 0, fid)?;
                sink.status(
                    "info",
                    Some(&key),
                    Some(&format!("extractor=judge N={}", s.samples)),
                )?;
            }
        }
        if let (Some(f), Some(rf)) = (&feats, &ref_feats_for_kid) {
            let k = kid(f, rf, 50, 500.min(s.samples), s.seed)?;
            let key = format!("kid@{steps}");
            sink.metric(&key, 0, k.mean)?;
            sink.metric(&format!("kid_std@{steps}"), 0, k.std)?;
            sink.status(
                "info",
                Some(&key),
                Some(&format!(
                    "extractor=judge N={} subsets={}x{}",
                    s.samples, k.subsets, k.subset_size
                )),
            )?;
        }
        if wants(&s, "dpg") {
            let pred = judge.predict(&images)?;
            let items: Vec<(Scene, Vec<Scene>)> = pred
                .chunks(s.per_prompt)
                .zip(&prompts)
                .map(|(p, t)| (t.clone(), p.to_vec()))
                .collect();
            let d = dpg_score(&items)?;
            sink.metric(&format!("dpg@{steps}"), 0, d.score)?;
            for (cat, v) in &d.per_category {
                sink.metric(&format!("dpg@{steps}/{cat}"), 0, *v)?;
            }
        }
        if let (true, Some((_, ref_imgs, _))) = (wants(&s, "pixels"), &reference) {
            let px = pixel_stats(&images, Some(ref_imgs))?;
            sink.metric(&format!("pixel_mean@{steps}"), 0, px.mean)?;
            sink.metric(&format!("pixel_var@{steps}"), 0, px.var)?;
            sink.metric(&format!("pixel_saturated@{steps}"), 0, px.saturated)?;
            for (c, name) in ["r", "g", "b"].iter().enumerate() {
                sink.metric(&format!("color_shift_{name}@{steps}"), 0, px.color_shift[c])?;
            }
            // One number per setting for tables: the mean absolute shift over the channels.
            let overall = px.color_shift.iter().map(|v| v.abs()).sum::<f64>() / 3.0;
            sink.metric(&format!("color_shift@{steps}"), 0, overall)?;
        }
        if wants(&s, "hps") {
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
            let scratch = job.work_dir.join(format!("hps@{steps}"));
            match score_hps(&cmd, &images.narrow(0, 0, n as i64), &texts, &scratch) {
                Ok(HpsOutcome::Score(v)) => sink.metric(&key, 0, v)?,
                Ok(HpsOutcome::Unavailable(why)) => {
                    sink.status("unavailable", Some(&key), Some(&why))?
                }
                Err(e) => sink.status(
                    "unavailable",
                    Some(&key),
                    Some(&format!("scorer failed: {e}")),
                )?,
            }
            let _ = std::fs::remove_dir_all(&scratch);
        }
        if wants(&s, "throughput") {
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
                    gen.try_generate_with(&tokens, Some(steps), None, call)
                        .map(|_| ())
                })?;
                let tag = format!("@{steps}/bs{bs}");
                sink.metric(&format!("throughput{tag}"), 0, tp.images_per_s)?;
                sink.metric(&format!("median_ms{tag}"), 0, tp.median_ms)?;
                sink.metric(&format!("p95_ms{tag}"), 0, tp.p95_ms)?;
                match tp.power_w {
                    Some(w) => sink.metric(&format!("power_w{tag}"), 0, w)?,
                    None => sink.status(
                        "unavailable",
                        Some(&format!("power_w{tag}")),
                        Some("no GPU power reading (NVML/nvidia-smi)"),
                    )?,
                }
            }
        }
        sink.metric(&format!("eval_s@{steps}"), 0, t.elapsed().as_secs_f64())?;
    }
    Ok(())
}
