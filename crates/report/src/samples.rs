//! Sample grids: the `samples` PNG artifact of each run (teacher, student) with the prompts it
//! was drawn from (`samples_prompts`, or `samples.txt` beside the image), copied into the report
//! folder so that it opens without the artifact store.

use crate::error::{ReportError, Result};
use crate::model::{RunRecord, RunRecordExt};
use crate::report_params::SamplesSpec;
use crate::table::passes;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize)]
pub struct SampleGroup {
    pub stage: String,
    /// The prompts most grids of the section share, listed once above them; a card lists its
    /// own only when they differ.
    pub prompts: Vec<String>,
    pub more_prompts: usize,
    pub items: Vec<SampleItem>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SampleItem {
    pub run_id: i64,
    pub job_name: String,
    pub variant: String,
    /// Path of the copied image relative to the report folder; `None` when the file is gone.
    pub img: Option<String>,
    pub prompts: Vec<String>,
    pub more_prompts: usize,
    pub missing: Option<String>,
    pub flags: Vec<String>,
}

/// An artifact path as recorded: absolute, or relative to the run's artifact directory.
pub fn resolve(run: &RunRecord, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match &run.artifact_dir {
        Some(d) => Path::new(d).join(p),
        None => p.to_path_buf(),
    }
}

/// Collects and copies the sample grids into `<out>/samples/`.
pub fn collect(runs: &[RunRecord], spec: &SamplesSpec, out: &Path) -> Result<Vec<SampleGroup>> {
    let mut groups: Vec<SampleGroup> = Vec::new();
    if !spec.enabled {
        return Ok(groups);
    }
    for run in runs {
        if !spec.stages.is_empty() && !spec.stages.contains(&run.stage) {
            continue;
        }
        if !passes(run, &spec.filter) {
            continue;
        }
        let Some(art) = grid_of(run) else {
            continue;
        };
        let src = resolve(run, &art.path);
        let mut item = SampleItem {
            run_id: run.id,
            job_name: run.job_name.clone(),
            variant: run.variant_key(),
            img: None,
            prompts: Vec::new(),
            more_prompts: 0,
            missing: None,
            flags: Vec::new(),
        };
        if run.failed() {
            item.flags.push(run.status.clone());
        }
        if run.diverged.is_some() {
            item.flags.push("diverged".into());
        }
        if src.is_file() {
            let dir = out.join("samples");
            std::fs::create_dir_all(&dir).map_err(|e| ReportError::io(&dir, e))?;
            let ext = src
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("png")
                .to_ascii_lowercase();
            let name = format!(
                "run-{}.{}",
                run.id,
                if ext.chars().all(|c| c.is_ascii_alphanumeric()) {
                    ext
                } else {
                    "png".into()
                }
            );
            let dst = dir.join(&name);
            std::fs::copy(&src, &dst).map_err(|e| ReportError::io(&src, e))?;
            item.img = Some(format!("samples/{name}"));
        } else {
            item.missing = Some(format!("image not found at {}", src.display()));
        }
        let prompts_path = match run
            .artifacts
            .iter()
            .rev()
            .find(|a| a.name == "samples_prompts")
        {
            Some(a) => Some(resolve(run, &a.path)),
            None => Some(src.with_extension("txt")).filter(|p| p.is_file()),
        };
        if let Some(p) = prompts_path {
            match std::fs::read_to_string(&p) {
                Ok(text) => {
                    let lines: Vec<String> = text
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_string)
                        .collect();
                    item.more_prompts = lines.len().saturating_sub(spec.max_prompts);
                    item.prompts = lines.into_iter().take(spec.max_prompts).collect();
                }
                Err(e) => {
                    let note = format!("prompts not readable at {}: {e}", p.display());
                    item.missing = Some(match item.missing.take() {
                        Some(m) => format!("{m}; {note}"),
                        None => note,
                    });
                }
            }
        }
        match groups.iter_mut().find(|g| g.stage == run.stage) {
            Some(g) => g.items.push(item),
            None => groups.push(SampleGroup {
                stage: run.stage.clone(),
                prompts: Vec::new(),
                more_prompts: 0,
                items: vec![item],
            }),
        }
    }
    for g in &mut groups {
        hoist_shared_prompts(g);
    }
    Ok(groups)
}

/// The run's sample grid: a training stage's `samples`, else an evaluation's `samples@<steps>`
/// (the last one it recorded), so that `samples: {stages: [evaluate]}` shows the grids of the
/// checkpoints a study evaluated.
fn grid_of(run: &RunRecord) -> Option<&crate::model::Artifact> {
    let rev = || run.artifacts.iter().rev();
    rev()
        .find(|a| a.name == "samples")
        .or_else(|| rev().find(|a| a.name.starts_with("samples@")))
}

/// Moves the most common prompt list of the section's cards to the section (a 16-prompt list
/// under each of 36 cards is the same list 36 times); cards with other prompts keep theirs.
fn hoist_shared_prompts(g: &mut SampleGroup) {
    let lists: Vec<(&Vec<String>, usize)> = g
        .items
        .iter()
        .filter(|i| !i.prompts.is_empty())
        .map(|i| (&i.prompts, i.more_prompts))
        .collect();
    let Some(&(shared, more)) = lists
        .iter()
        .max_by_key(|l| lists.iter().filter(|m| *m == *l).count())
    else {
        return;
    };
    let (shared, more) = (shared.clone(), more);
    for item in &mut g.items {
        if item.prompts == shared && item.more_prompts == more {
            item.prompts.clear();
            item.more_prompts = 0;
        }
    }
    g.prompts = shared;
    g.more_prompts = more;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, prompts: &[&str]) -> SampleItem {
        SampleItem {
            run_id: id,
            job_name: format!("job{id}"),
            variant: String::new(),
            img: None,
            prompts: prompts.iter().map(|p| p.to_string()).collect(),
            more_prompts: 0,
            missing: None,
            flags: Vec::new(),
        }
    }

    #[test]
    fn an_evaluations_grid_is_shown_and_a_training_grid_preferred() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("samples@4.png"), b"png").unwrap();
        std::fs::write(dir.path().join("samples.png"), b"png").unwrap();
        let art = |name: &str, path: &str| crate::model::Artifact {
            name: name.into(),
            path: path.into(),
            bytes: None,
        };
        let eval = RunRecord {
            id: 7,
            stage: "evaluate".into(),
            artifact_dir: Some(dir.path().display().to_string()),
            artifacts: vec![art("ref_stats", "r.npz"), art("samples@4", "samples@4.png")],
            ..RunRecord::default()
        };
        let both = RunRecord {
            id: 8,
            artifacts: vec![art("samples", "samples.png"), art("samples@1", "x.png")],
            ..eval.clone()
        };
        assert_eq!(grid_of(&eval).unwrap().name, "samples@4");
        assert_eq!(grid_of(&both).unwrap().name, "samples");
        let out = tempfile::tempdir().unwrap();
        let groups = collect(&[eval], &SamplesSpec::default(), out.path()).unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].items[0].img.as_deref(), Some("samples/run-7.png"));
        assert!(out.path().join("samples/run-7.png").is_file());
    }

    #[test]
    fn shared_prompts_are_listed_once_per_section() {
        let mut g = SampleGroup {
            stage: "distill".into(),
            prompts: Vec::new(),
            more_prompts: 0,
            items: vec![item(1, &["a", "b"]), item(2, &["a", "b"]), item(3, &["c"])],
        };
        hoist_shared_prompts(&mut g);
        assert_eq!(g.prompts, ["a", "b"]);
        let own: Vec<&Vec<String>> = g.items.iter().map(|i| &i.prompts).collect();
        assert_eq!(
            own,
            [&Vec::<String>::new(), &Vec::new(), &vec!["c".to_string()]]
        );
    }
}
