//! HPS v2.1 through the command protocol: images and prompts are written to a folder, a
//! scorer process (`python/hps_scorer.py`, or any command that speaks the same protocol) is
//! run with `DDMD_EVENTS` pointing at an events file, and its `hps` metric or its
//! `unavailable` status is read back. A score is never invented: without the scorer's
//! package or checkpoint the outcome is `Unavailable` with the scorer's reason.

use crate::error::{EvalError, Result};
use ddmd_core::{Event, EventKind};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq)]
pub enum HpsOutcome {
    Score(f64),
    Unavailable(String),
}

/// How to run a scorer: `program args... --images DIR --prompts FILE [extra...]`.
#[derive(Clone, Debug)]
pub struct ScorerCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl ScorerCommand {
    /// The repository's HPS v2.1 scorer run by the project's venv python.
    pub fn hps_default(repo_root: &Path) -> ScorerCommand {
        let python = std::env::var("DDMD_VENV_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_root.join(".venv/bin/python"));
        ScorerCommand {
            program: python,
            args: vec![repo_root
                .join("python/hps_scorer.py")
                .to_string_lossy()
                .to_string()],
        }
    }
}

#[derive(Serialize)]
struct Item<'a> {
    file: String,
    prompt: &'a str,
}

/// Scores images [n, 3, R, R] in [-1, 1] with their prompts; `work` is a scratch folder.
pub fn score_hps(
    cmd: &ScorerCommand,
    images: &tch::Tensor,
    prompts: &[String],
    work: &Path,
) -> Result<HpsOutcome> {
    let (imgs, h, w) = ddmd_science::data::tensor_to_chw_images(images)?;
    if imgs.len() != prompts.len() {
        return Err(EvalError::Invalid(format!(
            "{} images but {} prompts",
            imgs.len(),
            prompts.len()
        )));
    }
    if h != w {
        return Err(EvalError::Invalid(format!(
            "HPS adapter needs square images, got {h}x{w}"
        )));
    }
    let img_dir = work.join("images");
    std::fs::create_dir_all(&img_dir).map_err(|e| EvalError::io(&img_dir, e))?;
    let mut items = Vec::with_capacity(imgs.len());
    for (i, (img, p)) in imgs.iter().zip(prompts).enumerate() {
        let file = format!("{i:05}.png");
        let path = img_dir.join(&file);
        std::fs::write(&path, ddmd_science::data::image_to_png(img, h))
            .map_err(|e| EvalError::io(&path, e))?;
        items.push(Item { file, prompt: p });
    }
    score_files(cmd, &img_dir, &items, work)
}

/// Scores image files already on disk (`items`: file name inside `img_dir`, prompt), such as
/// the images a command stage drew; `work` is a scratch folder.
pub fn score_hps_files(
    cmd: &ScorerCommand,
    img_dir: &Path,
    items: &[(String, String)],
    work: &Path,
) -> Result<HpsOutcome> {
    std::fs::create_dir_all(work).map_err(|e| EvalError::io(work, e))?;
    let items: Vec<Item> = items
        .iter()
        .map(|(file, prompt)| Item {
            file: file.clone(),
            prompt,
        })
        .collect();
    score_files(cmd, img_dir, &items, work)
}

fn score_files(
    cmd: &ScorerCommand,
    img_dir: &Path,
    items: &[Item],
    work: &Path,
) -> Result<HpsOutcome> {
    let prompts_path = work.join("prompts.json");
    let text = serde_json::to_string(&items).map_err(|e| EvalError::io(&prompts_path, e))?;
    std::fs::write(&prompts_path, text).map_err(|e| EvalError::io(&prompts_path, e))?;
    let events = work.join("hps_events.jsonl");
    let _ = std::fs::remove_file(&events);
    let out = std::process::Command::new(&cmd.program)
        .args(&cmd.args)
        .arg("--images")
        .arg(img_dir)
        .arg("--prompts")
        .arg(&prompts_path)
        .env("DDMD_EVENTS", &events)
        .output()
        .map_err(|e| EvalError::Scorer(format!("{}: {e}", cmd.program.display())))?;
    if !out.status.success() {
        return Err(EvalError::Scorer(format!(
            "{} exited with {}: {}",
            cmd.program.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    read_outcome(&events)
}

/// Records a scoring's outcome under `key`: the score, or "unavailable" with the scorer's
/// reason (or its failure) — never a number it did not report.
pub fn record_outcome(
    sink: &mut ddmd_core::EventSink,
    key: &str,
    step: i64,
    outcome: Result<HpsOutcome>,
) -> std::io::Result<()> {
    match outcome {
        Ok(HpsOutcome::Score(v)) => sink.metric(key, step, v),
        Ok(HpsOutcome::Unavailable(why)) => sink.status("unavailable", Some(key), Some(&why)),
        Err(e) => sink.status(
            "unavailable",
            Some(key),
            Some(&format!("scorer failed: {e}")),
        ),
    }
}

/// The last `hps` metric or `unavailable` status in a scorer's events file.
pub fn read_outcome(events: &Path) -> Result<HpsOutcome> {
    let text = std::fs::read_to_string(events).map_err(|e| EvalError::io(events, e))?;
    let mut outcome = None;
    for (no, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let ev = Event::parse_line(line)
            .map_err(|e| EvalError::io(events, format!("line {}: {e}", no + 1)))?;
        match ev.kind {
            EventKind::Metric { key, value, .. } if key == "hps" => {
                outcome = Some(HpsOutcome::Score(value))
            }
            EventKind::Status {
                state,
                key,
                message,
            } if state == "unavailable" && key.as_deref() == Some("hps") => {
                outcome = Some(HpsOutcome::Unavailable(
                    message.unwrap_or_else(|| "no reason given".into()),
                ))
            }
            _ => {}
        }
    }
    outcome.ok_or_else(|| {
        EvalError::Scorer(format!(
            "{}: scorer reported neither a score nor unavailability",
            events.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn python() -> PathBuf {
        repo_root().join(".venv/bin/python")
    }

    #[test]
    fn stand_in_scorer_plumbing() {
        let dir = tempfile::tempdir().unwrap();
        let imgs = tch::Tensor::zeros([3, 3, 16, 16], (tch::Kind::Float, tch::Device::Cpu));
        let prompts: Vec<String> = ["a b", "a b c d", "a b c"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let cmd = ScorerCommand {
            program: python(),
            args: vec![repo_root()
                .join("python/stand_in_hps.py")
                .to_string_lossy()
                .to_string()],
        };
        // all files present, mean prompt length 3 words → 0.03
        match score_hps(&cmd, &imgs, &prompts, dir.path()).unwrap() {
            HpsOutcome::Score(v) => assert!((v - 0.03).abs() < 1e-12, "{v}"),
            other => panic!("{other:?}"),
        }
        let mut cmd2 = cmd.clone();
        cmd2.args.extend([
            "--unavailable".to_string(),
            "no checkpoint here".to_string(),
        ]);
        assert_eq!(
            score_hps(&cmd2, &imgs, &prompts, dir.path()).unwrap(),
            HpsOutcome::Unavailable("no checkpoint here".into())
        );
        assert!(score_hps(&cmd, &imgs, &prompts[..2], dir.path()).is_err());
        let bad = ScorerCommand {
            program: "/bin/false".into(),
            args: vec![],
        };
        assert!(score_hps(&bad, &imgs, &prompts, dir.path()).is_err());
    }

    #[test]
    fn real_scorer_reports_unavailable_without_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let imgs = tch::Tensor::zeros([1, 3, 16, 16], (tch::Kind::Float, tch::Device::Cpu));
        let mut cmd = ScorerCommand::hps_default(&repo_root());
        cmd.program = python();
        cmd.args.extend([
            "--checkpoint".to_string(),
            dir.path().join("missing.pt").to_string_lossy().to_string(),
        ]);
        match score_hps(&cmd, &imgs, &["a red circle".to_string()], dir.path()).unwrap() {
            HpsOutcome::Unavailable(reason) => {
                assert!(
                    reason.contains("missing") || reason.contains("not found"),
                    "{reason}"
                )
            }
            other => panic!("expected unavailable, got {other:?}"),
        }
    }
}
