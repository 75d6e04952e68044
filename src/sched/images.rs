//! The end of a generating job (a command stage with `prompts:`): its images folder must hold
//! exactly one decodable PNG or JPEG per manifest line, named `<id>.png|.jpg|.jpeg`, regular
//! files only. Anything else fails the job with the names at fault, and nothing is published.
//! On success the set and the file index are written beside the images for `evaluate`.

use ddmd_core::prompts::manifest::{
    ImageFile, IMAGES_DIR, IMAGES_INDEX_FILE, IMAGE_EXTENSIONS, PROMPT_SET_FILE,
};
use ddmd_core::PromptSet;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// How many names a message lists per kind of problem before "and N more".
const SHOWN: usize = 5;

/// Checks `work_dir/images` against the set; on success writes `prompt_set.json` and
/// `images.json` into `work_dir`. The error is the message the failed run records.
pub fn check_and_index(set: &PromptSet, work_dir: &Path) -> Result<usize, String> {
    let dir = work_dir.join(IMAGES_DIR);
    let rd = std::fs::read_dir(&dir).map_err(|e| {
        format!(
            "the job wrote no images folder ($DDMD_IMAGES = {}): {e}",
            dir.display()
        )
    })?;
    let entries = set.entries();
    let wanted: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    let prompt_of: HashMap<&str, usize> = set
        .prompts
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let mut found: BTreeMap<usize, String> = BTreeMap::new();
    let mut extra: Vec<String> = Vec::new();
    let mut duplicate: Vec<String> = Vec::new();
    let mut not_regular: Vec<String> = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| format!("reading {}: {e}", dir.display()))?;
        let name = ent.file_name().to_string_lossy().to_string();
        let ft = ent
            .file_type()
            .map_err(|e| format!("reading {}: {e}", ent.path().display()))?;
        if !ft.is_file() {
            // A link could point anywhere (outside the folder, at another image); a folder
            // is not an image.
            not_regular.push(if ft.is_symlink() {
                format!("{name} (a symbolic link)")
            } else {
                format!("{name} (not a regular file)")
            });
            continue;
        }
        let matched = name.rsplit_once('.').and_then(|(stem, ext)| {
            let ext_ok = IMAGE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str());
            ext_ok.then(|| wanted.get(stem).copied()).flatten()
        });
        match matched {
            Some(i) => {
                if let Some(prev) = found.insert(i, name.clone()) {
                    duplicate.push(format!("{prev} and {name}"));
                }
            }
            None => extra.push(name),
        }
    }
    let missing: Vec<String> = entries
        .iter()
        .enumerate()
        .filter(|(i, _)| !found.contains_key(i))
        .map(|(_, e)| format!("{}.png", e.id))
        .collect();
    let mut unreadable = Vec::new();
    for name in found.values() {
        if let Err(e) = decodes(&dir.join(name)) {
            unreadable.push(format!("{name} ({e})"));
        }
    }
    let mut problems = Vec::new();
    for (what, list) in [
        ("missing", &missing),
        ("unreadable", &unreadable),
        ("extra (not in the manifest)", &extra),
        ("written twice", &duplicate),
        ("not plain files", &not_regular),
    ] {
        if !list.is_empty() {
            problems.push(format!("{} {what}: {}", list.len(), listed(list)));
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "the images in $DDMD_IMAGES do not match the {} prompts × {} images of $DDMD_PROMPTS ({}): {}",
            set.prompts.len(),
            set.images_per_prompt,
            set.source,
            problems.join("; ")
        ));
    }
    let index: Vec<ImageFile> = found
        .into_iter()
        .map(|(i, file)| ImageFile {
            id: entries[i].id.clone(),
            prompt: prompt_of
                .get(entries[i].prompt_id.as_str())
                .copied()
                .unwrap_or(0),
            file,
        })
        .collect();
    let n = index.len();
    write_json(&work_dir.join(PROMPT_SET_FILE), set)?;
    write_json(&work_dir.join(IMAGES_INDEX_FILE), &index)?;
    Ok(n)
}

fn listed(v: &[String]) -> String {
    let mut s = v.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > SHOWN {
        s.push_str(&format!(" and {} more", v.len() - SHOWN));
    }
    s
}

/// Decodes the whole image (a valid header over a truncated body is still unreadable).
fn decodes(path: &Path) -> Result<(), String> {
    let reader = image::ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    reader.decode().map(|_| ()).map_err(|e| e.to_string())
}

fn write_json<T: serde::Serialize>(path: &Path, v: &T) -> Result<(), String> {
    let text = serde_json::to_vec(v).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
