//! Loading a pipeline as the user asked: file, then `--set` overrides, then checks of the
//! built-in stages' parameters, all reported as bad input (exit 2).

use crate::cli::SpecArgs;
use crate::error::bad;
use ddmd_core::StageKind;
use ddmd_pipeline::{Spec, SpecError, SpecErrors};

pub fn load_spec(args: &SpecArgs) -> anyhow::Result<Spec> {
    let mut spec = ddmd_pipeline::load(&args.file).map_err(bad)?;
    let mut ovs = Vec::new();
    let mut errs = Vec::new();
    for s in &args.set {
        match ddmd_pipeline::parse_override(s) {
            Ok(o) => ovs.push(o),
            Err(e) => errs.push(e),
        }
    }
    if !errs.is_empty() {
        return Err(bad(SpecErrors(errs)));
    }
    ddmd_pipeline::apply_overrides(&mut spec, &ovs).map_err(bad)?;
    check_builtin_params(&spec).map_err(bad)?;
    Ok(spec)
}

/// Parameters of built-in stages that can be checked before anything runs.
fn check_builtin_params(spec: &Spec) -> Result<(), SpecErrors> {
    let mut errs = Vec::new();
    for (name, stage) in &spec.stages {
        if stage.kind == StageKind::Report {
            if let Err(e) = crate::builtin::check_report_params(&stage.params) {
                let path = format!("stages.{name}.params");
                let loc = ddmd_pipeline::location(spec, &path);
                errs.push(SpecError {
                    file: spec.file.clone(),
                    line: loc.map(|l| l.0),
                    column: loc.map(|l| l.1),
                    path,
                    message: e,
                });
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(SpecErrors(errs))
    }
}
