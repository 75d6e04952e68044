//! The parameters of report stages, checked in the plan's pass with every other problem, each
//! located at the entry it is about (`tables[1].columns[0]`, `plots[2]`): the report crate's
//! error names the field path inside the stage's params, and the nearest place of that path
//! the file holds is where the user looks.

use ddmd_core::StageKind;
use ddmd_pipeline::{Spec, SpecError};
use ddmd_report::ReportError;

pub(super) fn check(spec: &Spec) -> Vec<SpecError> {
    let mut out = Vec::new();
    for (name, stage) in &spec.stages {
        if stage.kind != StageKind::Report {
            continue;
        }
        let Err(e) = ddmd_report::parse_report_params(&stage.params) else {
            continue;
        };
        let (inner, message) = match e {
            ReportError::Param { path, message } => (path, message),
            other => (String::new(), other.to_string()),
        };
        let base = format!("stages.{name}.params");
        let path = if inner.is_empty() {
            base.clone()
        } else {
            format!("{base}.{inner}")
        };
        let at = nearest_location(spec, &path);
        out.push(SpecError {
            file: spec.file.clone(),
            line: at.map(|l| l.0),
            column: at.map(|l| l.1),
            path,
            message,
        });
    }
    out
}

/// The place of `path` in the file, else of its closest enclosing entry that is there (a
/// missing key is reported at the table or plot that lacks it).
fn nearest_location(spec: &Spec, path: &str) -> Option<(usize, usize)> {
    let mut p = path;
    loop {
        if let Some(at) = ddmd_pipeline::location(spec, p) {
            return Some(at);
        }
        let cut = p.rfind(['.', '['])?;
        p = &p[..cut];
    }
}
