//! Loading a pipeline as the user asked: find the file, read it, apply `--set`, then resolve
//! every job, all reported as bad input (exit 2). The file's structure and the `--set`
//! arguments are checked first (nothing can be resolved without them); everything else —
//! parameters, report parameters, templates, input files, `--set` keys nothing reads — is
//! found in one pass by `plan::resolve` and reported together, sorted by position.

use crate::cli::SpecArgs;
use crate::error::bad;
use crate::home::Home;
use crate::plan::{resolve, Plan};
use ddmd_pipeline::{Override, Spec, SpecErrors};
use std::path::{Path, PathBuf};

/// Where pipelines live in a project: `ddmd-pipe run ablations.yaml` from the project root
/// finds `pipelines/ablations.yaml`.
pub const PIPELINES_DIR: &str = "pipelines";

/// A pipeline read and overridden, with the overrides that were applied.
pub struct Loaded {
    pub spec: Spec,
    pub overrides: Vec<Override>,
}

pub fn load_spec(args: &SpecArgs) -> anyhow::Result<Loaded> {
    let file = find_pipeline(&args.file)?;
    let mut spec = ddmd_pipeline::load(&file).map_err(bad)?;
    let mut overrides = Vec::new();
    let mut errs = Vec::new();
    for s in &args.set {
        match ddmd_pipeline::parse_override(s) {
            Ok(o) => overrides.push(o),
            Err(e) => errs.push(e),
        }
    }
    if !errs.is_empty() {
        return Err(bad(SpecErrors(errs)));
    }
    ddmd_pipeline::apply_overrides(&mut spec, &overrides).map_err(bad)?;
    Ok(Loaded { spec, overrides })
}

/// Every job of the pipeline, or every problem found in the one pass over it.
pub fn build_plan(loaded: &Loaded, home: &Home) -> anyhow::Result<Plan> {
    resolve(
        &loaded.spec,
        home.root(),
        &pipeline_dir(&loaded.spec),
        &loaded.overrides,
    )
    .map_err(bad)
}

/// The pipeline file's folder, absolute: relative paths in `inputs`, `prompts` and file
/// parameters are read from it, and command jobs run in it, wherever `ddmd-pipe` started.
pub fn pipeline_dir(spec: &Spec) -> PathBuf {
    let dir = spec
        .file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// The file as given; else, for a bare name that is not here, the file of that name in
/// `pipelines/` (said on stderr, so the user knows which file ran). A miss lists the
/// pipelines there.
fn find_pipeline(file: &Path) -> anyhow::Result<PathBuf> {
    if file.as_os_str().is_empty() || file.exists() {
        return Ok(file.to_path_buf());
    }
    let bare = file.parent().is_none_or(|p| p.as_os_str().is_empty());
    let dir = Path::new(PIPELINES_DIR);
    if bare {
        let candidate = dir.join(file);
        if candidate.is_file() {
            use std::io::Write as _;
            // Ignoring a closed stderr: the run must not panic over a note.
            let _ = writeln!(
                std::io::stderr(),
                "using {} ({} is not in this folder)",
                candidate.display(),
                file.display()
            );
            return Ok(candidate);
        }
    }
    let known = known_pipelines(dir);
    if known.is_empty() {
        // Nothing to offer: the reader's own message (`no such file`).
        return Ok(file.to_path_buf());
    }
    Err(bad(format!(
        "{}: cannot read the pipeline file: no such file; the pipelines in {}/: {}",
        file.display(),
        dir.display(),
        known.join(", ")
    )))
}

/// The YAML files of `dir`, sorted; none when there is no such folder.
fn known_pipelines(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
        .collect();
    out.sort();
    out
}
