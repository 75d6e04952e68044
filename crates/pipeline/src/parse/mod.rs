//! Pipeline file -> validated [`Spec`]: text checks, YAML with positions, then field-by-field
//! validation that collects every error it can, sorted by position.

mod graph;
pub(crate) mod keys;
mod matrix;
mod prompts;
pub(crate) mod read;
mod stage;
pub(crate) mod text;
mod top;

use crate::error::{SpecError, SpecErrors};
use crate::model::Spec;
use crate::yaml;
use read::Ctx;
use sha2::{Digest, Sha256};
use std::path::Path;

pub(crate) use matrix::{axis_value, check_label};

/// Reads, parses and validates a pipeline file.
pub fn load(path: &Path) -> Result<Spec, SpecErrors> {
    let bytes = std::fs::read(path).map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            _ => e.to_string(),
        };
        SpecError::new(
            path,
            None,
            "",
            format!("cannot read the pipeline file: {what}"),
        )
    })?;
    let text = text::decode(path, &bytes)?;
    parse_str(path, &text)
}

/// Reads YAML text that is not a pipeline (the report presets) into a JSON value with the same
/// reader, limits and scalar rules as pipeline files: the one YAML entry point of the project.
pub fn read_value(file: &Path, text: &str) -> Result<serde_json::Value, SpecErrors> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let parsed = yaml::parse(text);
    let mut ctx = Ctx::new(file);
    for e in parsed.errors {
        ctx.errors.push(SpecError::new(
            file,
            e.pos.map(|p| p.pair()),
            e.path,
            e.message,
        ));
    }
    let value = match &parsed.root {
        Some(root) => ctx.json(root, ""),
        None => serde_json::Value::Null,
    };
    if ctx.errors.is_empty() {
        Ok(value)
    } else {
        Err(SpecErrors::sorted(ctx.errors))
    }
}

/// Parses and validates pipeline text; `file` is only used in errors and in [`Spec::file`].
pub fn parse_str(file: &Path, text: &str) -> Result<Spec, SpecErrors> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(e) = text::find_binary(file, text) {
        return Err(e.into());
    }
    let parsed = yaml::parse(text);
    let mut ctx = Ctx::new(file);
    for e in parsed.errors {
        let mut at = e.pos.map(|p| p.pair());
        let mut message = e.message;
        // A syntax error after a tab in the indentation is almost always caused by the tab.
        if parsed.root.is_none() {
            if let Some(tab) = at.and_then(|(line, _)| text::find_indent_tab(text, line)) {
                at = Some(tab);
                message = "tab character in indentation; YAML indents with spaces only".into();
            }
        }
        ctx.errors.push(SpecError::new(file, at, e.path, message));
    }
    let Some(root) = parsed.root else {
        if ctx.errors.is_empty() {
            ctx.errors.push(SpecError::new(
                file,
                None,
                "",
                "the file is empty; expected a mapping with at least 'name' and 'stages'",
            ));
        }
        return Err(SpecErrors::sorted(ctx.errors));
    };
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    let spec = top::spec(&mut ctx, &root, text, hash);
    match spec {
        Some(spec) if ctx.errors.is_empty() => Ok(spec),
        _ => {
            if ctx.errors.is_empty() {
                // Every path that returns None records an error; keep the promise regardless.
                ctx.errors
                    .push(SpecError::new(file, None, "", "invalid pipeline"));
            }
            Err(SpecErrors::sorted(ctx.errors))
        }
    }
}
