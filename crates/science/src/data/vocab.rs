//! The fixed vocabulary of the shapes world and its tokenizer. Id 0 is padding (and the
//! unconditional, empty prompt is all padding); id 1 stands for any unknown word, which only
//! occurs in users' captions.

use super::error::DataError;
use super::scene::{ColorName, Shape, Size};
use super::MAX_TOKENS;
use std::collections::HashMap;

pub const PAD: i64 = 0;
pub const UNK: i64 = 1;

const FIXED_WORDS: &[&str] = &[
    "a",
    "at",
    "and",
    "on",
    "background",
    ",",
    "top",
    "bottom",
    "left",
    "right",
    "center",
];

/// The vocabulary; cheap to build, build it where needed.
#[derive(Clone, Debug)]
pub struct Vocab {
    words: Vec<String>,
    ids: HashMap<String, i64>,
}

impl Default for Vocab {
    fn default() -> Self {
        Vocab::new()
    }
}

impl Vocab {
    pub fn new() -> Vocab {
        let mut words: Vec<String> = vec!["<pad>".into(), "<unk>".into()];
        words.extend(FIXED_WORDS.iter().map(|w| w.to_string()));
        words.extend(Size::ALL.iter().map(|s| s.name().to_string()));
        words.extend(ColorName::ALL.iter().map(|c| c.name().to_string()));
        words.extend(Shape::ALL.iter().map(|s| s.name().to_string()));
        let ids = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as i64))
            .collect();
        Vocab { words, ids }
    }

    /// Number of ids, PAD and UNK included (the embedding table size).
    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    fn split(prompt: &str) -> Vec<String> {
        let lower = prompt.to_ascii_lowercase().replace(',', " , ");
        lower
            .split_whitespace()
            .map(|w| {
                w.trim_matches(|c: char| c == '.' || c == '!' || c == '?')
                    .to_string()
            })
            .filter(|w| !w.is_empty())
            .collect()
    }

    fn ids_of(&self, prompt: &str) -> Vec<i64> {
        Vocab::split(prompt)
            .iter()
            .map(|w| self.ids.get(w).copied().unwrap_or(UNK))
            .collect()
    }

    /// Token ids padded with PAD to MAX_TOKENS; unknown words map to UNK; a prompt longer than
    /// MAX_TOKENS is an error (shapes-world prompts never are).
    pub fn encode(&self, prompt: &str) -> Result<Vec<i64>, DataError> {
        let mut ids = self.ids_of(prompt);
        if ids.len() > MAX_TOKENS {
            return Err(DataError::PromptTooLong {
                prompt: prompt.to_string(),
                got: ids.len(),
                max: MAX_TOKENS,
            });
        }
        ids.resize(MAX_TOKENS, PAD);
        Ok(ids)
    }

    /// Like [`Vocab::encode`] but cuts long captions (users' data) to MAX_TOKENS.
    pub fn encode_truncated(&self, prompt: &str) -> Vec<i64> {
        let mut ids = self.ids_of(prompt);
        ids.resize(MAX_TOKENS, PAD);
        ids
    }

    /// Text of the ids, padding dropped; commas attach to the previous word.
    pub fn decode(&self, ids: &[i64]) -> String {
        let mut out = String::new();
        for &id in ids {
            if id == PAD {
                continue;
            }
            let w = usize::try_from(id)
                .ok()
                .and_then(|i| self.words.get(i))
                .map(String::as_str)
                .unwrap_or("<unk>");
            if !out.is_empty() && w != "," {
                out.push(' ');
            }
            out.push_str(w);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_and_unknowns() {
        let v = Vocab::new();
        let p = "a large red circle at top left, a small cyan triangle at center and a small blue square at bottom on a gray background";
        let ids = v.encode(p).unwrap();
        assert_eq!(ids.len(), MAX_TOKENS);
        assert!(!ids.contains(&UNK));
        assert_eq!(v.decode(&ids), p);
        assert_eq!(v.encode("").unwrap(), vec![PAD; MAX_TOKENS]);
        let u = v.encode("a fluffy red dog").unwrap();
        assert_eq!(&u[..4], &[v.ids["a"], UNK, v.ids["red"], UNK]);
        let long = "a ".repeat(MAX_TOKENS + 1);
        assert!(matches!(
            v.encode(&long),
            Err(DataError::PromptTooLong { .. })
        ));
        assert_eq!(v.encode_truncated(&long).len(), MAX_TOKENS);
    }
}
