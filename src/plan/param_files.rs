//! Files a built-in job's parameters name — an evaluate job's `fid.reference` and TorchScript
//! `fid.features`, a distill job's `teacher.torchscript` — resolved against the pipeline
//! file's folder, like `inputs`, checked to exist before anything runs, and fingerprinted
//! into the cache key: a re-exported teacher or a changed reference re-runs the job instead
//! of reusing results computed from the old file. Also the evaluate checks that depend on
//! what the job reads (drawn images or a built-in generator).

use ddmd_core::prompts::manifest::DRAWN_IMAGE_METRICS as IMAGE_METRICS;
use ddmd_core::StageKind;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// (stage kind, mapping, key) of every parameter that names a file.
const FILE_PARAMS: &[(StageKind, &str, &str)] = &[
    (StageKind::Evaluate, "fid", "reference"),
    (StageKind::Evaluate, "fid", "features"),
    (StageKind::Distill, "teacher", "torchscript"),
];

/// Rewrites relative paths in `params` to absolute ones and returns the cache inputs
/// (parameter path, fingerprint). The error names the parameter and the file.
pub fn resolve(
    kind: StageKind,
    params: &mut Map<String, Value>,
    base_dir: &Path,
) -> Result<Vec<(String, String)>, (String, String)> {
    let mut out = Vec::new();
    for &(k, section, key) in FILE_PARAMS {
        if k != kind {
            continue;
        }
        let Some(Value::Object(m)) = params.get_mut(section) else {
            continue;
        };
        let Some(Value::String(s)) = m.get(key) else {
            continue;
        };
        // `features: inception | judge` are names, not files.
        if key == "features" && (s == "inception" || s == "judge") {
            continue;
        }
        let p = PathBuf::from(s);
        let full = if p.is_absolute() { p } else { base_dir.join(p) };
        // Absolute, so the job finds it from any working directory (or Slurm node).
        let full = std::path::absolute(&full).unwrap_or(full);
        let path = format!("{section}.{key}");
        let fp = fingerprint(&full).map_err(|e| (path.clone(), e))?;
        out.push((format!("{path} ({s})"), fp));
        m.insert(key.to_string(), Value::String(full.display().to_string()));
    }
    Ok(out)
}

/// A file's sha256; a folder's listing with sizes and modification times (hashing every image
/// of a large reference at each plan would cost more than the plan; the worker hashes the
/// content once when it caches the reference's features).
fn fingerprint(p: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    if meta.is_file() {
        return ddmd_core::text::sha256_file(p)
            .map(|(h, _)| h)
            .map_err(|e| format!("cannot read {}: {e}", p.display()));
    }
    let mut entries: Vec<String> = Vec::new();
    let rd = std::fs::read_dir(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    for e in rd {
        let e = e.map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        let m = e
            .metadata()
            .map_err(|err| format!("cannot read {}: {err}", e.path().display()))?;
        let mtime = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        entries.push(format!(
            "{}\t{}\t{mtime}",
            e.file_name().to_string_lossy(),
            m.len()
        ));
    }
    entries.sort();
    use sha2::Digest;
    Ok(hex::encode(sha2::Sha256::digest(
        entries.join("\n").as_bytes(),
    )))
}

/// What an evaluate job's parameters must say given what it reads: drawn images (a generating
/// command stage in `needs`) or a built-in generator. Problems as (parameter path, message),
/// found before anything runs; nothing meant for the other kind of upstream is ignored.
pub fn check_upstream(
    params: &Map<String, Value>,
    draws: bool,
    has_judge: bool,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let metrics: Vec<String> = match params.get("metrics") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        // The defaults: [fid, dpg] for drawn images, the built-in list otherwise.
        _ if draws => vec!["fid".into(), "dpg".into()],
        _ => Vec::new(),
    };
    let fid = params.get("fid").and_then(Value::as_object);
    let scorer = params
        .get("dpg")
        .and_then(Value::as_object)
        .and_then(|d| d.get("scorer"))
        .and_then(Value::as_str);
    if draws {
        let other: Vec<&str> = metrics
            .iter()
            .map(String::as_str)
            .filter(|m| !IMAGE_METRICS.contains(m))
            .collect();
        if !other.is_empty() {
            out.push((
                "metrics".into(),
                format!(
                    "{} need the built-in generator; drawn images are measured with {}",
                    other.join(", "),
                    IMAGE_METRICS.join(", ")
                ),
            ));
        }
        let wants = |m: &str| metrics.iter().any(|x| x == m);
        if (wants("fid") || wants("kid")) && fid.and_then(|f| f.get("reference")).is_none() {
            out.push((
                "fid".into(),
                "fid and kid of drawn images need a reference: fid: { reference: <image folder or pytorch-fid .npz> }".into(),
            ));
        }
        let judge_needed = wants("dpg") && matches!(scorer, None | Some("judge"))
            || fid.and_then(|f| f.get("features")).and_then(Value::as_str) == Some("judge");
        if judge_needed && !has_judge {
            out.push((
                "dpg".into(),
                "the shapes judge answers DPG (and gives judge features) here, and no judge stage is in needs: add one, or set dpg: { scorer: \"<your VQA command>\" }".into(),
            ));
        }
    } else {
        for key in ["setting", "fid", "dpg", "hps"] {
            if params.contains_key(key) {
                out.push((
                    key.into(),
                    format!("`{key}` applies to images a command stage draws (prompts:); this evaluate samples a built-in generator, so it would be ignored: remove it"),
                ));
            }
        }
    }
    out
}
