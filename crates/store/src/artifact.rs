//! Size and content hash of artifact files and folders, for the `artifacts` table.
//!
//! A folder's hash covers its tree: sha256 over the sorted lines `relative/path\0<sha256>\n` of
//! every regular file below it, so renaming or changing any file changes it. Symbolic links are
//! not followed (a link out of the artifact folder is not part of the artifact).

use sha2::{Digest, Sha256};
use std::io;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Measured {
    pub bytes: i64,
    pub sha256: String,
}

/// Where a reported artifact path points: relative ones, normalised lexically
/// ([`ddmd_core::contract::artifact_path`]), against each base in order (the run's artifact
/// folder, then its job folder); the first that exists wins. A relative path that leads out of
/// the folder points nowhere. Absolute paths are as they are: ingest refuses them, but rows
/// recorded before it did may hold one.
pub(crate) fn resolve(path: &str, bases: &[&str]) -> Option<PathBuf> {
    let p = Path::new(path);
    if p.is_absolute() {
        return p.symlink_metadata().is_ok().then(|| p.to_path_buf());
    }
    let inside = ddmd_core::contract::artifact_path(path).ok()?;
    bases
        .iter()
        .map(|b| Path::new(b).join(&inside))
        .find(|c| c.symlink_metadata().is_ok())
}

/// How a recorded artifact compares with what is on disk now (`run --verify`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArtifactCheck {
    /// Same content hash as recorded.
    Same,
    /// The file or folder is there with another hash.
    Changed { recorded: String, now: String },
    /// Nothing (readable) at its path any more.
    Missing,
    /// Recorded without a hash (it was missing or unreadable when the job reported it).
    NotRecorded,
}

/// Measures the artifact at `path` (as recorded: relative to the artifact folder) with the
/// hash ingest used, and compares it with the recorded one.
pub fn check_artifact(path: &str, recorded: Option<&str>, artifact_dir: &Path) -> ArtifactCheck {
    let Some(recorded) = recorded else {
        return ArtifactCheck::NotRecorded;
    };
    let base = artifact_dir.display().to_string();
    match resolve(path, &[base.as_str()]).and_then(|p| measure(&p)) {
        None => ArtifactCheck::Missing,
        Some(m) if m.sha256 == recorded => ArtifactCheck::Same,
        Some(m) => ArtifactCheck::Changed {
            recorded: recorded.to_string(),
            now: m.sha256,
        },
    }
}

/// Measures a file or folder; `None` for a path that is missing or unreadable (the artifact is
/// still recorded, without size and hash).
pub(crate) fn measure(path: &Path) -> Option<Measured> {
    let meta = path.symlink_metadata().ok()?;
    if meta.is_file() {
        hash_file(path).ok()
    } else if meta.is_dir() {
        hash_dir(path).ok()
    } else {
        None
    }
}

fn hash_file(path: &Path) -> io::Result<Measured> {
    let (sha256, size) = ddmd_core::text::sha256_file(path)?;
    Ok(Measured {
        bytes: i64::try_from(size).unwrap_or(i64::MAX),
        sha256,
    })
}

fn hash_dir(root: &Path) -> io::Result<Measured> {
    let mut files = Vec::new();
    collect_files(root, root, &mut files)?;
    files.sort();
    let mut h = Sha256::new();
    let mut bytes = 0;
    for rel in files {
        let m = hash_file(&root.join(&rel))?;
        bytes += m.bytes;
        h.update(rel.to_string_lossy().as_bytes());
        h.update([0u8]);
        h.update(m.sha256.as_bytes());
        h.update(b"\n");
    }
    Ok(Measured {
        bytes,
        sha256: hex::encode(h.finalize()),
    })
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ty = entry.file_type()?;
        let path = entry.path();
        if ty.is_dir() {
            collect_files(root, &path, out)?;
        } else if ty.is_file() {
            if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_path_buf());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_folder_hashes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), b"abc").unwrap();
        let m = measure(&dir.path().join("a.txt")).unwrap();
        assert_eq!(m.bytes, 3);
        // sha256("abc")
        assert_eq!(
            m.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b.bin"), [0u8; 10]).unwrap();
        let before = measure(dir.path()).unwrap();
        assert_eq!(before.bytes, 13);
        std::fs::write(dir.path().join("sub/b.bin"), [1u8; 10]).unwrap();
        let after = measure(dir.path()).unwrap();
        assert_eq!(after.bytes, 13);
        assert_ne!(before.sha256, after.sha256);
        assert!(measure(&dir.path().join("missing")).is_none());
    }

    #[test]
    fn relative_paths_try_each_base() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::write(b.path().join("x"), b"1").unwrap();
        let bases = [a.path().to_str().unwrap(), b.path().to_str().unwrap()];
        assert_eq!(resolve("x", &bases), Some(b.path().join("x")));
        assert_eq!(resolve("y", &bases), None);
        // Normalised before it is joined: `a` need not exist; `..` may not leave the base.
        assert_eq!(resolve("a/../x", &bases), Some(b.path().join("x")));
        std::fs::create_dir(b.path().join("in")).unwrap();
        let inner = b.path().join("in");
        assert_eq!(resolve("../x", &[inner.to_str().unwrap()]), None);
        let abs = b.path().join("x");
        assert_eq!(resolve(abs.to_str().unwrap(), &[]), Some(abs.clone()));
    }
}
