//! DPG scoring (DPG-Bench's rule) over shapes-world prompt graphs, and the adapter that
//! writes images in DPG-Bench's layout and runs its official scorer as a command.
//!
//! Rule: a question scores 1 only if it passes and all its parents pass; an image's score is
//! the mean over its questions; a prompt's score is the mean over its images (4 by default);
//! the benchmark score is the mean over prompts × 100. Per-category scores average, per
//! image, the gated scores of the questions of that category, then over images and prompts.

use crate::error::{EvalError, Result};
use ddmd_core::text::shell_quote;
use ddmd_science::data::{QuestionCategory, Scene};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Clone, Debug, PartialEq)]
pub struct DpgScore {
    /// 0..=100.
    pub score: f64,
    /// Category name → 0..=100 (categories that occur in the prompts only).
    pub per_category: BTreeMap<String, f64>,
    pub prompts: usize,
    pub images: usize,
}

/// Gated scores (0/1) of the target's questions on one predicted scene, with categories.
pub fn gated_answers(target: &Scene, predicted: &Scene) -> Vec<(QuestionCategory, f64)> {
    let qs = target.questions();
    let raw: Vec<bool> = qs.iter().map(|q| q.passes(predicted)).collect();
    qs.iter()
        .map(|q| {
            let ok = raw[q.id]
                && q.parents
                    .iter()
                    .all(|&p| raw.get(p).copied().unwrap_or(false));
            (q.category, ok as u8 as f64)
        })
        .collect()
}

/// Scores prompts (target scenes), each with the judge's readings of its images.
pub fn dpg_score(items: &[(Scene, Vec<Scene>)]) -> Result<DpgScore> {
    if items.is_empty() {
        return Err(EvalError::Invalid("DPG needs at least one prompt".into()));
    }
    let mut prompt_scores = Vec::with_capacity(items.len());
    let mut cat_prompt: BTreeMap<QuestionCategory, Vec<f64>> = BTreeMap::new();
    let mut images = 0;
    for (target, preds) in items {
        if preds.is_empty() {
            return Err(EvalError::Invalid(format!(
                "prompt {:?} has no images",
                target.prompt()
            )));
        }
        images += preds.len();
        let mut img_scores = Vec::with_capacity(preds.len());
        let mut cat_img: BTreeMap<QuestionCategory, Vec<f64>> = BTreeMap::new();
        for p in preds {
            let ans = gated_answers(target, p);
            img_scores.push(ans.iter().map(|a| a.1).sum::<f64>() / ans.len().max(1) as f64);
            let mut per: BTreeMap<QuestionCategory, (f64, usize)> = BTreeMap::new();
            for (c, v) in ans {
                let e = per.entry(c).or_insert((0.0, 0));
                e.0 += v;
                e.1 += 1;
            }
            for (c, (s, n)) in per {
                cat_img.entry(c).or_default().push(s / n as f64);
            }
        }
        prompt_scores.push(mean(&img_scores));
        for (c, v) in cat_img {
            cat_prompt.entry(c).or_default().push(mean(&v));
        }
    }
    Ok(DpgScore {
        score: 100.0 * mean(&prompt_scores),
        per_category: cat_prompt
            .into_iter()
            .map(|(c, v)| (c.name().to_string(), 100.0 * mean(&v)))
            .collect(),
        prompts: items.len(),
        images,
    })
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Writes one 2×2 grid PNG per prompt, named `<prompt id>.png`, the layout DPG-Bench's
/// `compute_dpg_bench.py` reads (`--pic-num 4`). `images` holds 4 images [4, 3, R, R] per
/// prompt, in [-1, 1].
pub fn write_dpg_layout(dir: &Path, prompts: &[(String, tch::Tensor)]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| EvalError::io(dir, e))?;
    for (id, imgs) in prompts {
        if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') {
            return Err(EvalError::Invalid(format!(
                "prompt id {id:?} is not a plain file name"
            )));
        }
        if imgs.size().first() != Some(&4) {
            return Err(EvalError::Invalid(format!(
                "prompt {id}: need 4 images, got {:?}",
                imgs.size()
            )));
        }
        write_grid_no_gap(&dir.join(format!("{id}.png")), imgs)?;
    }
    Ok(())
}

/// A 2×2 grid without gaps (DPG-Bench crops the grid into equal quarters).
fn write_grid_no_gap(path: &Path, imgs: &tch::Tensor) -> Result<()> {
    let (chw, h, w) = ddmd_science::data::tensor_to_chw_images(imgs)?;
    let (gw, gh) = (2 * w, 2 * h);
    let mut rgb = vec![0u8; gw * gh * 3];
    for (k, img) in chw.iter().enumerate() {
        let (oy, ox) = ((k / 2) * h, (k % 2) * w);
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    let v = img[c * h * w + y * w + x];
                    rgb[((oy + y) * gw + ox + x) * 3 + c] =
                        (((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round()) as u8;
                }
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, gw as u32, gh as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().map_err(|e| EvalError::io(path, e))?;
        wr.write_image_data(&rgb)
            .map_err(|e| EvalError::io(path, e))?;
    }
    std::fs::write(path, out).map_err(|e| EvalError::io(path, e))
}

/// Runs a configured scorer command over a DPG layout folder and reads the score back.
///
/// `command` is run with `sh -c` after replacing `{images}` (the folder) and `{resolution}`
/// (side of one image); the score is the last number printed on stdout (DPG-Bench prints
/// its final "DPG-Bench score: X" last). Non-zero exit or no number is an error.
pub fn run_dpg_scorer(command: &str, images: &Path, resolution: usize) -> Result<f64> {
    let cmd = command
        .replace("{images}", &shell_quote(&images.to_string_lossy()))
        .replace("{resolution}", &resolution.to_string());
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .output()
        .map_err(|e| EvalError::Scorer(format!("{cmd}: {e}")))?;
    if !out.status.success() {
        return Err(EvalError::Scorer(format!(
            "{cmd}: exit {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    last_number(&stdout)
        .ok_or_else(|| EvalError::Scorer(format!("{cmd}: printed no score: {stdout:?}")))
}

fn last_number(text: &str) -> Option<f64> {
    text.split(|c: char| {
        !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e' || c == 'E' || c == '+')
    })
    .filter_map(|t| {
        t.trim_matches(|c: char| c == '.' || c == 'e' || c == 'E')
            .parse::<f64>()
            .ok()
    })
    .rfind(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ddmd_science::data::{parse_prompt, ColorName, Shape};

    fn target() -> Scene {
        parse_prompt("a large red circle at top left and a small blue square at bottom right on a black background").unwrap()
    }

    #[test]
    fn perfect_images_score_100_and_parent_gating_applies() {
        let t = target();
        let s = dpg_score(&[(t.clone(), vec![t.clone(); 4])]).unwrap();
        assert_eq!(s.score, 100.0);
        assert!(s.per_category.values().all(|v| *v == 100.0));
        // Wrong shape at top left: the entity fails, so its colour and size (which pass on
        // their own) and the relation are gated to 0. 9 questions: global, count, 2×(entity,
        // colour, size), relation → 5 pass.
        let mut p = t.clone();
        p.objects[0].shape = Shape::Triangle;
        let ans = gated_answers(&t, &p);
        assert_eq!(ans.len(), 9);
        assert_eq!(ans.iter().map(|a| a.1).sum::<f64>(), 5.0);
        // one bad image of four: prompt score = (3·1 + 5/9) / 4
        let s = dpg_score(&[(t.clone(), vec![t.clone(), t.clone(), t.clone(), p])]).unwrap();
        assert!(
            (s.score - 100.0 * (3.0 + 5.0 / 9.0) / 4.0).abs() < 1e-9,
            "{}",
            s.score
        );
        assert!((s.per_category["global"] - 100.0).abs() < 1e-12);
        assert!((s.per_category["entity"] - 100.0 * (3.0 + 0.5) / 4.0).abs() < 1e-9);
        assert!((s.per_category["relation"] - 75.0).abs() < 1e-9);
        // per-prompt mean before the mean over prompts
        let mut bg = t.clone();
        bg.background = ColorName::White;
        let s2 = dpg_score(&[
            (t.clone(), vec![t.clone()]),
            (t.clone(), vec![bg.clone(), bg]),
        ])
        .unwrap();
        assert!((s2.score - 100.0 * (1.0 + 8.0 / 9.0) / 2.0).abs() < 1e-9);
        assert!(dpg_score(&[]).is_err());
        assert!(dpg_score(&[(t, vec![])]).is_err());
    }

    #[test]
    fn layout_and_scorer_command() {
        let dir = tempfile::tempdir().unwrap();
        let imgs =
            tch::Tensor::rand([4, 3, 16, 16], (tch::Kind::Float, tch::Device::Cpu)) * 2.0 - 1.0;
        write_dpg_layout(dir.path(), &[("p001".to_string(), imgs.shallow_clone())]).unwrap();
        let (w, h, _) = ddmd_science::data::decode_png_rgb(&dir.path().join("p001.png")).unwrap();
        assert_eq!((w, h), (32, 32));
        assert!(
            write_dpg_layout(dir.path(), &[("../x".to_string(), imgs.shallow_clone())]).is_err()
        );
        assert!(write_dpg_layout(dir.path(), &[("p2".to_string(), imgs.narrow(0, 0, 3))]).is_err());
        // a scorer that counts the grids and prints a score line last
        let cmd = "n=$(ls {images} | wc -l); echo loading; echo \"DPG-Bench score: $((n * 40)).5\"";
        assert_eq!(run_dpg_scorer(cmd, dir.path(), 16).unwrap(), 40.5);
        assert!(run_dpg_scorer("exit 3", dir.path(), 16).is_err());
        assert!(run_dpg_scorer("echo no score here", dir.path(), 16).is_err());
    }
}
