//! The `prompts:` block of a generating stage and the two simple file formats (text, JSONL);
//! DPG-Bench's CSV is in `dpg_csv`. The shapes prompts are produced by the worker (they need
//! the shapes world) in DPG-Bench's CSV format and read back by `dpg_csv`.

use super::{Prompt, PromptFileError};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::PathBuf;

/// Where a prompt set comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptSource {
    /// `count` built-in shapes prompts drawn with `seed`, with their DPG questions.
    Shapes { count: usize, seed: u64 },
    /// A DPG-Bench CSV in the official column format.
    DpgBench(PathBuf),
    /// One prompt per line; blank lines and lines starting with `#` are skipped.
    Text(PathBuf),
    /// One JSON object per line: `{"text": …}`, optionally `"id"`.
    Jsonl(PathBuf),
}

impl PromptSource {
    /// The key the source is written under in a `prompts:` block.
    pub fn key(&self) -> &'static str {
        match self {
            PromptSource::Shapes { .. } => "shapes",
            PromptSource::DpgBench(_) => "dpg_bench",
            PromptSource::Text(_) => "text",
            PromptSource::Jsonl(_) => "jsonl",
        }
    }

    /// The file a source reads, if it reads one.
    pub fn file(&self) -> Option<&PathBuf> {
        match self {
            PromptSource::Shapes { .. } => None,
            PromptSource::DpgBench(p) | PromptSource::Text(p) | PromptSource::Jsonl(p) => Some(p),
        }
    }
}

/// A stage's `prompts:` block, validated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PromptsDecl {
    pub source: PromptSource,
    pub images_per_prompt: u32,
    /// Base of the per-image seeds handed to the generator.
    pub seed: u64,
    /// Only the first `limit` prompts of the source.
    pub limit: Option<usize>,
}

pub const SOURCE_KEYS: &[&str] = &["shapes", "dpg_bench", "text", "jsonl"];
pub const DECL_KEYS: &[&str] = &[
    "shapes",
    "dpg_bench",
    "text",
    "jsonl",
    "images_per_prompt",
    "seed",
    "limit",
];
pub const MAX_IMAGES_PER_PROMPT: u32 = 64;
pub const MAX_SHAPES_PROMPTS: usize = 100_000;

/// Whether `id` can name a file: `[A-Za-z0-9._-]`, 1–128 characters, not starting with `.`.
pub fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Id of the prompt on line `line` of a file without ids.
fn line_id(line: usize) -> String {
    format!("line{line:05}")
}

/// One prompt per line; `#` comments and blank lines skipped; ids from line numbers.
pub fn parse_text(text: &str) -> Result<Vec<Prompt>, PromptFileError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        out.push(Prompt {
            id: line_id(line),
            text: t.to_string(),
            questions: Vec::new(),
        });
    }
    if out.is_empty() {
        return Err(PromptFileError::new(1, "no prompts in the file"));
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonlLine {
    text: String,
    #[serde(default)]
    id: Option<String>,
}

/// One JSON object per line: `{"text": "…", "id": "…"}` (`id` optional; from the line number
/// when absent). Blank lines are skipped; any other key is an error.
pub fn parse_jsonl(text: &str) -> Result<Vec<Prompt>, PromptFileError> {
    let mut out = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let v: JsonlLine = serde_json::from_str(raw).map_err(|e| {
            PromptFileError::new(
                line,
                format!("expected a JSON object {{\"text\": …, \"id\": …}}: {e}"),
            )
        })?;
        if v.text.trim().is_empty() {
            return Err(PromptFileError::new(line, "`text` is empty"));
        }
        let id = v.id.unwrap_or_else(|| line_id(line));
        if !is_safe_id(&id) {
            return Err(PromptFileError::new(
                line,
                format!("id {id:?} cannot name a file: use letters, digits, '.', '_' and '-' (at most 128, not starting with '.')"),
            ));
        }
        if !seen.insert(id.clone()) {
            return Err(PromptFileError::new(
                line,
                format!("id {id:?} appears twice"),
            ));
        }
        out.push(Prompt {
            id,
            text: v.text,
            questions: Vec::new(),
        });
    }
    if out.is_empty() {
        return Err(PromptFileError::new(1, "no prompts in the file"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_skips_comments_and_numbers_by_line() {
        let p = parse_text("# header\na cat\n\n  a dog  \n").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].id.as_str(), p[0].text.as_str()),
            ("line00002", "a cat")
        );
        assert_eq!(
            (p[1].id.as_str(), p[1].text.as_str()),
            ("line00004", "a dog")
        );
        assert_eq!(
            parse_text("\n# only\n").unwrap_err().message,
            "no prompts in the file"
        );
    }

    #[test]
    fn jsonl_ids_and_errors_name_the_line() {
        let p = parse_jsonl("{\"text\": \"a\", \"id\": \"x1\"}\n{\"text\": \"b\"}\n").unwrap();
        assert_eq!(p[0].id, "x1");
        assert_eq!(p[1].id, "line00002");
        let e = parse_jsonl("{\"text\": \"a\"}\n{\"txt\": \"b\"}\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unknown field `txt`"), "{}", e.message);
        let e = parse_jsonl("{\"text\": \"a\", \"id\": \"../x\"}").unwrap_err();
        assert!(e.message.contains("cannot name a file"), "{}", e.message);
        let e = parse_jsonl("{\"text\": \"a\", \"id\": \"k\"}\n{\"text\": \"b\", \"id\": \"k\"}")
            .unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (2, "id \"k\" appears twice"));
    }

    #[test]
    fn safe_ids() {
        for ok in ["a", "item_12", "A-1.b"] {
            assert!(is_safe_id(ok), "{ok}");
        }
        for bad in ["", ".hidden", "a/b", "a b", "..", &"x".repeat(129)] {
            assert!(!is_safe_id(bad), "{bad}");
        }
    }
}
