//! DPG-Bench's scoring rule on answer tables (issue 15): a VQA model has answered every
//! question of a prompt yes/no on each image drawn for it; this module turns the answers into
//! the benchmark score and per-category scores. Pure arithmetic: asking the VQA model is done
//! elsewhere.
//!
//! The rule, as in ELLA's `dpg_bench/compute_dpg_bench.py`:
//! - every question scores 1 for yes, 0 for no;
//! - then, visiting the prompt's questions in their listed order (the CSV's row order, which
//!   is proposition order in the official file), a question any of whose parents *currently*
//!   scores 0 is set to 0. The official loop zeroes in place, so a parent visited earlier is
//!   read after its own gating (no → chains propagate: 1 no, 2 ← 1 yes, 3 ← 2 yes gives
//!   0, 0, 0), while a parent visited later is read as answered (see [`gated`]);
//! - an image's score is the mean of its gated question scores; a prompt's score the mean over
//!   its images; the benchmark score the mean over prompts × 100.
//!
//! Per-category scores ([`DpgBenchScore::per_category`]) pool, per level-1 category, the
//! *raw* answers (before gating: the official script reports `qid2scores_orig`, the copy taken
//! before the dependency loop) of every question of that category over every scored image.
//! Two differences from the official script, both deliberate:
//! - the category is the `category_broad` column; the official script takes the `tuple`
//!   column's text before `(` and then before `-` (`entity - whole (cat)` → `entity`), which
//!   names the same category in the official file;
//! - all images of a prompt are pooled; the official script keeps only the last crop's
//!   answers of each grid (`qid2scores_orig` is overwritten crop after crop), so its category
//!   scores use one image in four. Pooling all images estimates the same quantity with four
//!   times the answers.
//!
//! Because categories pool questions and the overall score weights prompts equally, a
//! category score is not a mean of prompt scores: a prompt with many questions of a category
//! weighs more in that category than in the overall score.

use ddmd_core::prompts::Prompt;
use std::collections::BTreeMap;

/// One image's raw answers: proposition id → answered yes.
pub type ImageAnswers = BTreeMap<u32, bool>;

#[derive(Clone, Debug, PartialEq)]
pub struct DpgBenchScore {
    /// The DPG-Bench score, 0..=100: mean over prompts of the mean over images of the mean
    /// gated question score.
    pub score: f64,
    /// Level-1 category (`category_broad`) → 0..=100: the raw answers pooled over all
    /// questions of the category on all images (what the official script reports, see the
    /// module comment).
    pub per_category: BTreeMap<String, f64>,
    /// The same pooling on the gated scores (a question counts as passed only when its
    /// parents passed), the per-category reading our shapes-world DPG rule uses.
    pub per_category_gated: BTreeMap<String, f64>,
    pub prompts: usize,
    /// Images scored, over all prompts.
    pub images: usize,
    /// Questions over all prompts (each counted once, not once per image).
    pub questions: usize,
}

/// The gated scores (0 or 1) of one image's answers to `prompt`'s questions: questions are
/// visited in the order of `prompt.questions` and one is set to 0 when any parent's score, as
/// it stands at that moment, is 0. A parent listed before its child has already been gated
/// (so "no" propagates down chains); a parent listed after it is read as answered.
///
/// Every question of the prompt has an entry. A question missing from `raw` reads as "no"
/// ([`score`] rejects such tables before they get here); answers to propositions the prompt
/// does not have are ignored.
pub fn gated(prompt: &Prompt, raw: &ImageAnswers) -> BTreeMap<u32, f64> {
    let mut scores: BTreeMap<u32, f64> = prompt
        .questions
        .iter()
        .map(|q| (q.id, f64::from(u8::from(raw.get(&q.id) == Some(&true)))))
        .collect();
    for q in &prompt.questions {
        let any_parent_no = q
            .parents
            .iter()
            .any(|p| scores.get(p).copied().unwrap_or(0.0) == 0.0);
        if any_parent_no {
            scores.insert(q.id, 0.0);
        }
    }
    scores
}

/// Scores prompts from their answer tables: `answers[i]` holds, for `prompts[i]`, one
/// [`ImageAnswers`] per image (image `k` below is the index in that list, from 0).
///
/// Errors: no prompts; a different number of answer lists and prompts; a prompt without
/// questions or without images; an image without an answer for one of its prompt's
/// questions, or with an answer for a proposition its prompt does not have.
pub fn score(prompts: &[Prompt], answers: &[Vec<ImageAnswers>]) -> Result<DpgBenchScore, String> {
    if prompts.is_empty() {
        return Err("DPG-Bench needs at least one prompt".into());
    }
    if answers.len() != prompts.len() {
        return Err(format!(
            "{} prompts but answers for {}",
            prompts.len(),
            answers.len()
        ));
    }
    let mut prompt_scores = Vec::with_capacity(prompts.len());
    // category → (sum, count)
    let mut raw_pool: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    let mut gated_pool: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    let (mut images, mut questions) = (0, 0);
    for (prompt, table) in prompts.iter().zip(answers) {
        let id = &prompt.id;
        if prompt.questions.is_empty() {
            return Err(format!("prompt {id:?} has no questions"));
        }
        if table.is_empty() {
            return Err(format!("prompt {id:?} has no images"));
        }
        questions += prompt.questions.len();
        images += table.len();
        let mut image_scores = Vec::with_capacity(table.len());
        for (k, raw) in table.iter().enumerate() {
            let mut raw_yes = Vec::with_capacity(prompt.questions.len());
            for q in &prompt.questions {
                match raw.get(&q.id) {
                    Some(&yes) => raw_yes.push(yes),
                    None => {
                        return Err(format!(
                            "prompt {id:?} image {k}: no answer for proposition {}",
                            q.id
                        ))
                    }
                }
            }
            if let Some(extra) = raw
                .keys()
                .find(|p| !prompt.questions.iter().any(|q| q.id == **p))
            {
                return Err(format!(
                    "prompt {id:?} image {k}: an answer for proposition {extra}, which the prompt does not have"
                ));
            }
            let g = gated(prompt, raw);
            image_scores.push(g.values().sum::<f64>() / prompt.questions.len() as f64);
            for (q, yes) in prompt.questions.iter().zip(raw_yes) {
                let r = raw_pool.entry(q.category.clone()).or_insert((0.0, 0));
                r.0 += f64::from(u8::from(yes));
                r.1 += 1;
                let s = gated_pool.entry(q.category.clone()).or_insert((0.0, 0));
                s.0 += g.get(&q.id).copied().unwrap_or(0.0);
                s.1 += 1;
            }
        }
        prompt_scores.push(mean(&image_scores));
    }
    let percent = |pool: BTreeMap<String, (f64, usize)>| -> BTreeMap<String, f64> {
        pool.into_iter()
            .map(|(c, (sum, n))| (c, 100.0 * sum / n as f64))
            .collect()
    };
    Ok(DpgBenchScore {
        score: 100.0 * mean(&prompt_scores),
        per_category: percent(raw_pool),
        per_category_gated: percent(gated_pool),
        prompts: prompts.len(),
        images,
        questions,
    })
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}
