//! Checkpoints under `<work_dir>/ckpt/it-<iteration>/`: one safetensors file per part (weights,
//! EMA, optimiser moments) and `state.json` (iteration, counters, controller state). A
//! checkpoint is written into a temporary folder and renamed into place, so a crash while
//! saving never leaves a half checkpoint that resume would pick up. The last two are kept.

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::Tensor;

#[derive(Debug, thiserror::Error)]
pub enum CkptError {
    #[error("checkpoint I/O at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("checkpoint tensors at {path}: {source}")]
    Tensors {
        path: PathBuf,
        source: tch::TchError,
    },
    #[error("checkpoint {path} is corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CkptError + '_ {
    move |source| CkptError::Io {
        path: path.to_path_buf(),
        source,
    }
}

const KEEP: usize = 2;

#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub dir: PathBuf,
    pub iteration: usize,
}

/// A named group of tensors saved as `<part>.safetensors`.
pub struct Part<'a> {
    pub name: &'a str,
    pub tensors: Vec<(String, Tensor)>,
}

/// Completed checkpoints under `root`, oldest first.
pub fn list(root: &Path) -> Result<Vec<Checkpoint>, CkptError> {
    if !root.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).map_err(io(root))? {
        let entry = entry.map_err(io(root))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(n) = name
            .strip_prefix("it-")
            .and_then(|s| s.parse::<usize>().ok())
        {
            out.push(Checkpoint {
                dir: entry.path(),
                iteration: n,
            });
        }
    }
    out.sort_by_key(|c| c.iteration);
    Ok(out)
}

pub fn latest(root: &Path) -> Result<Option<Checkpoint>, CkptError> {
    Ok(list(root)?.pop())
}

/// The newest checkpoint whose `parts` and state all read back. A damaged one (a disk that
/// filled up, a file truncated by hand) is renamed `<dir>.corrupt` and reported through
/// `warn`, and the previous one is tried, down to none (start from iteration 0). Nothing is
/// restored before a checkpoint is known to be whole, so a fallback never mixes weights.
pub fn latest_valid(
    root: &Path,
    parts: &[&str],
    mut warn: impl FnMut(String),
) -> Result<Option<Checkpoint>, CkptError> {
    let mut all = list(root)?;
    while let Some(c) = all.pop() {
        let check = parts
            .iter()
            .try_for_each(|p| c.tensors(p).map(|_| ()))
            .and_then(|_| c.state().map(|_| ()));
        match check {
            Ok(()) => return Ok(Some(c)),
            Err(e) => {
                let aside = c.dir.with_extension("corrupt");
                let _ = std::fs::remove_dir_all(&aside);
                std::fs::rename(&c.dir, &aside).map_err(io(&c.dir))?;
                warn(format!(
                    "ignoring damaged checkpoint (moved to {}): {e}",
                    aside.display()
                ));
            }
        }
    }
    Ok(None)
}

/// Writes a checkpoint atomically and prunes old ones.
pub fn save(
    root: &Path,
    iteration: usize,
    parts: &[Part],
    state: &Value,
) -> Result<Checkpoint, CkptError> {
    std::fs::create_dir_all(root).map_err(io(root))?;
    let tmp = root.join(format!(".tmp-it-{iteration:08}"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    for part in parts {
        let path = tmp.join(format!("{}.safetensors", part.name));
        // Tensors must be on CPU and contiguous for the writer; detached so no graph is kept.
        let cpu: Vec<(String, Tensor)> = part
            .tensors
            .iter()
            .map(|(n, t)| {
                (
                    n.clone(),
                    t.detach().to_device(tch::Device::Cpu).contiguous(),
                )
            })
            .collect();
        Tensor::write_safetensors(&cpu, &path).map_err(|source| CkptError::Tensors {
            path: path.clone(),
            source,
        })?;
    }
    let state_path = tmp.join("state.json");
    let text = serde_json::to_string_pretty(state).unwrap_or_else(|_| "{}".into());
    std::fs::write(&state_path, text).map_err(io(&state_path))?;
    let dir = root.join(format!("it-{iteration:08}"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    std::fs::rename(&tmp, &dir).map_err(io(&dir))?;
    let all = list(root)?;
    if all.len() > KEEP {
        for old in &all[..all.len() - KEEP] {
            std::fs::remove_dir_all(&old.dir).map_err(io(&old.dir))?;
        }
    }
    Ok(Checkpoint { dir, iteration })
}

impl Checkpoint {
    pub fn tensors(&self, part: &str) -> Result<HashMap<String, Tensor>, CkptError> {
        let path = self.dir.join(format!("{part}.safetensors"));
        if !path.exists() {
            return Err(CkptError::Corrupt {
                path,
                message: "missing file".into(),
            });
        }
        let v = Tensor::read_safetensors(&path).map_err(|source| CkptError::Tensors {
            path: path.clone(),
            source,
        })?;
        Ok(v.into_iter().collect())
    }

    pub fn state(&self) -> Result<Value, CkptError> {
        let path = self.dir.join("state.json");
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        serde_json::from_str(&text).map_err(|e| CkptError::Corrupt {
            path,
            message: e.to_string(),
        })
    }
}

/// Copies saved tensors into live ones (same names and shapes required).
pub fn restore_into(
    saved: &HashMap<String, Tensor>,
    live: &[(String, Tensor)],
    what: &Path,
) -> Result<(), CkptError> {
    let _g = tch::no_grad_guard();
    for (name, t) in live {
        let src = saved.get(name).ok_or_else(|| CkptError::Corrupt {
            path: what.to_path_buf(),
            message: format!("missing tensor {name}"),
        })?;
        if src.size() != t.size() {
            return Err(CkptError::Corrupt {
                path: what.to_path_buf(),
                message: format!(
                    "tensor {name} has shape {:?}, expected {:?}",
                    src.size(),
                    t.size()
                ),
            });
        }
        let mut t = t.shallow_clone();
        t.copy_(&src.to_device(t.device()));
    }
    Ok(())
}
