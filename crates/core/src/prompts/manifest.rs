//! The contract between a generating job and the orchestrator (docs/PIPELINES.md, "Drawing
//! images"): the job reads `$DDMD_PROMPTS` (one JSON line per image to draw) and writes
//! `$DDMD_IMAGES/<id>.png` (or `.jpg`/`.jpeg`) for every line. After a successful exit the
//! orchestrator checks the folder against the manifest and publishes, beside the images,
//! `prompt_set.json` (the set with its questions) and `images.json` (the files in manifest
//! order) — what `evaluate` reads.

use super::Prompt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Folder (inside the artifacts) the images are written to.
pub const IMAGES_DIR: &str = "images";
/// The set, published with the images.
pub const PROMPT_SET_FILE: &str = "prompt_set.json";
/// The image files in manifest order, published with the images.
pub const IMAGES_INDEX_FILE: &str = "images.json";
/// The per-image manifest in the job's folder (`$DDMD_PROMPTS`).
pub const MANIFEST_FILE: &str = "prompts.jsonl";
/// The metrics `evaluate` can measure on drawn images (the others need the built-in
/// generator): the plan checks a job's list against it, the worker enforces it.
pub const DRAWN_IMAGE_METRICS: &[&str] = &["fid", "kid", "dpg", "hps"];
/// Extensions a generator may write, lowercase.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg"];

/// A resolved prompt set: what one generating job is asked to draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PromptSet {
    /// How the set was declared, for messages and reports (`dpg_bench: data/dpg.csv`).
    pub source: String,
    pub images_per_prompt: u32,
    pub seed: u64,
    pub prompts: Vec<Prompt>,
}

/// One image to draw: a line of `$DDMD_PROMPTS`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageEntry {
    /// `<prompt id>_<image>`: the file stem the generator writes.
    pub id: String,
    pub prompt_id: String,
    /// 0-based index of the image among its prompt's images.
    pub image: u32,
    pub text: String,
    /// The seed the generator should draw this image with (31 bits, so any framework's
    /// generator and JavaScript's numbers hold it exactly).
    pub seed: u64,
}

/// One published image: a line of `images.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageFile {
    pub id: String,
    /// Index of its prompt in `PromptSet::prompts`.
    pub prompt: usize,
    /// File name inside `images/`.
    pub file: String,
}

impl PromptSet {
    /// Every image to draw, prompt by prompt.
    pub fn entries(&self) -> Vec<ImageEntry> {
        let mut out = Vec::with_capacity(self.prompts.len() * self.images_per_prompt as usize);
        for p in &self.prompts {
            for k in 0..self.images_per_prompt {
                out.push(ImageEntry {
                    id: format!("{}_{k}", p.id),
                    prompt_id: p.id.clone(),
                    image: k,
                    text: p.text.clone(),
                    seed: image_seed(self.seed, &p.id, k),
                });
            }
        }
        out
    }

    /// The `$DDMD_PROMPTS` file's text: one JSON object per line.
    pub fn manifest_text(&self) -> String {
        let mut s = String::new();
        for e in self.entries() {
            // Serialising a struct of strings and integers cannot fail.
            if let Ok(line) = serde_json::to_string(&e) {
                s.push_str(&line);
                s.push('\n');
            }
        }
        s
    }

    /// sha256 of the canonical JSON of the set: what enters the cache key.
    pub fn fingerprint(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    /// Keeps only the first `limit` prompts.
    pub fn truncate(&mut self, limit: Option<usize>) {
        if let Some(n) = limit {
            self.prompts.truncate(n);
        }
    }
}

/// Seed of image `k` of prompt `id`: independent of the other prompts, so adding a prompt
/// to a file changes no other image's seed.
pub fn image_seed(base: u64, prompt_id: &str, k: u32) -> u64 {
    let mut h = Sha256::new();
    h.update(base.to_le_bytes());
    h.update(prompt_id.as_bytes());
    h.update(k.to_le_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_le_bytes(b) & 0x7fff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> PromptSet {
        PromptSet {
            source: "text: p.txt".into(),
            images_per_prompt: 2,
            seed: 7,
            prompts: vec![
                Prompt {
                    id: "a".into(),
                    text: "a cat".into(),
                    questions: vec![],
                },
                Prompt {
                    id: "b".into(),
                    text: "a dog".into(),
                    questions: vec![],
                },
            ],
        }
    }

    #[test]
    fn entries_name_every_image_and_seed_it_stably() {
        let s = set();
        let e = s.entries();
        let ids: Vec<&str> = e.iter().map(|x| x.id.as_str()).collect();
        assert_eq!(ids, ["a_0", "a_1", "b_0", "b_1"]);
        assert!(e.iter().all(|x| x.seed < (1 << 31)));
        assert_ne!(e[0].seed, e[1].seed);
        // Dropping a prompt leaves the other prompts' seeds as they were.
        let mut t = s.clone();
        t.prompts.remove(0);
        assert_eq!(t.entries()[0].seed, e[2].seed);
        assert_eq!(s.manifest_text().lines().count(), 4);
        assert_ne!(s.fingerprint(), t.fingerprint());
    }
}
