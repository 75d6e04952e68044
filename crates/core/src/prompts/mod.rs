//! Prompt sets: what a generating stage is asked to draw, and the questions its images are
//! scored with. A set is read from one of four sources (the built-in shapes prompts, a
//! DPG-Bench CSV, a text file with one prompt per line, JSONL), hashed into the cache key of
//! the stage that draws it, and handed to that stage's process as a manifest file (one line
//! per image: id, prompt, seed, expected file name; see `manifest`).

pub mod dpg_csv;
pub mod manifest;
pub mod source;

pub use manifest::{ImageEntry, ImageFile, PromptSet};
pub use source::{PromptSource, PromptsDecl};

use serde::{Deserialize, Serialize};

/// One prompt of a set. `id` is unique within the set and safe as a file-name stem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    pub id: String,
    pub text: String,
    /// DPG-Bench questions about the prompt (empty when the source has none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<Question>,
}

/// One DPG-Bench proposition of a prompt: a yes/no question with the propositions it depends
/// on (a question scores 0 when any parent was answered no).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// `proposition_id`: 1, 2, … within its prompt.
    pub id: u32,
    /// `dependency` without the `0` that means "none".
    pub parents: Vec<u32>,
    /// `category_broad`: the level-1 category (entity, attribute, relation, global, other).
    pub category: String,
    /// `category_detailed`: the level-2 category (`attribute - color`, …).
    pub detail: String,
    /// `tuple`, as written (`entity - whole (cat)`).
    pub tuple: String,
    /// `question_natural_language`: what a VQA model is asked.
    pub text: String,
}

/// A problem in a prompt file: the 1-based line it is on and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct PromptFileError {
    pub line: usize,
    pub message: String,
}

impl PromptFileError {
    pub fn new(line: usize, message: impl Into<String>) -> PromptFileError {
        PromptFileError {
            line,
            message: message.into(),
        }
    }
}
