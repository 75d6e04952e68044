//! Checks on the raw text before YAML parsing: encoding, binary data, tabs. These give a
//! clearer message than the YAML scanner would.

use crate::error::SpecError;
use std::path::Path;

/// 1-based line and column (in characters) of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Bytes -> text, or an error at the first byte that is not UTF-8.
pub fn decode(file: &Path, bytes: &[u8]) -> Result<String, SpecError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => {
            let at = e.valid_up_to();
            // The prefix is valid by construction.
            let prefix = String::from_utf8_lossy(&bytes[..at]);
            let pos = line_col(&prefix, at);
            Err(SpecError::new(
                file,
                Some(pos),
                "",
                format!(
                    "invalid UTF-8 (byte 0x{:02X}); a pipeline file must be UTF-8 text",
                    bytes[at]
                ),
            ))
        }
    }
}

/// The first control character YAML does not allow (binary data), if any.
pub fn find_binary(file: &Path, text: &str) -> Option<SpecError> {
    let (at, c) = text
        .char_indices()
        .find(|&(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))?;
    Some(SpecError::new(
        file,
        Some(line_col(text, at)),
        "",
        format!("control character U+{:04X} is not allowed; this looks like binary data, not a YAML pipeline file", c as u32),
    ))
}

/// The first tab in a line's indentation, at or before `line`.
pub fn find_indent_tab(text: &str, up_to_line: usize) -> Option<(usize, usize)> {
    for (i, l) in text.lines().enumerate().take(up_to_line) {
        let indent: String = l.chars().take_while(|c| *c == ' ' || *c == '\t').collect();
        if let Some(col) = indent.find('\t') {
            // Only a tab followed by content is indentation; a blank line of tabs is harmless.
            if l.len() > indent.len() {
                return Some((i + 1, col + 1));
            }
        }
    }
    None
}
