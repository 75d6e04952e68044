//! Image folders for users' own data: `name.png` with the caption in `name.txt` beside it.
//! Images are resized (bilinear) to R×R; captions are tokenised with the shapes vocabulary
//! (unknown words become UNK). Only PNG is decoded: no JPEG decoder is among the project's
//! dependencies, so `.jpg` files are reported as unsupported rather than silently skipped.

use super::error::DataError;
use super::image_io::{decode_png_rgb, resize_bilinear};
use super::scene::Scene;
use super::vocab::Vocab;
use super::world::Batch;
use super::MAX_TOKENS;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct ImageFolder {
    root: PathBuf,
    resolution: usize,
    /// (image path, caption), sorted by path so indices are stable.
    items: Vec<(PathBuf, String)>,
    vocab: Vocab,
}

impl ImageFolder {
    /// Lists `root` (not recursive). Images without a caption file get the empty caption.
    pub fn open(root: &Path, resolution: usize) -> Result<ImageFolder, DataError> {
        let rd = std::fs::read_dir(root).map_err(|e| DataError::io(root, e))?;
        let mut items = Vec::new();
        for entry in rd {
            let path = entry.map_err(|e| DataError::io(root, e))?.path();
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .unwrap_or_default();
            match ext.as_str() {
                "png" => {}
                "jpg" | "jpeg" => {
                    return Err(DataError::Decode {
                        path,
                        message: "JPEG is not supported; convert the folder to PNG".into(),
                    })
                }
                _ => continue,
            }
            let cap_path = path.with_extension("txt");
            let caption = match std::fs::read_to_string(&cap_path) {
                Ok(s) => s.trim().to_string(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(DataError::io(&cap_path, e)),
            };
            items.push((path, caption));
        }
        if items.is_empty() {
            return Err(DataError::EmptyFolder(root.to_path_buf()));
        }
        items.sort();
        Ok(ImageFolder {
            root: root.to_path_buf(),
            resolution,
            items,
            vocab: Vocab::new(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn captions(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|(_, c)| c.as_str())
    }

    /// Image `i` as CHW [-1, 1] at the folder's resolution.
    pub fn image(&self, i: usize) -> Result<Vec<f32>, DataError> {
        let (path, _) = self.items.get(i).ok_or_else(|| {
            DataError::Config(format!(
                "image index {i} out of range 0..{}",
                self.items.len()
            ))
        })?;
        let (w, h, rgb) = decode_png_rgb(path)?;
        if w == 0 || h == 0 {
            return Err(DataError::Decode {
                path: path.clone(),
                message: "empty image".into(),
            });
        }
        Ok(resize_bilinear(w, h, &rgb, self.resolution))
    }

    /// Items `start..start+n`, wrapping around the folder. `scenes` is empty: a user's image
    /// has no scene.
    pub fn batch(&self, start: usize, n: usize) -> Result<Batch, DataError> {
        let r = self.resolution;
        let mut pixels = Vec::with_capacity(n * 3 * r * r);
        let mut tokens = Vec::with_capacity(n * MAX_TOKENS);
        for k in 0..n {
            let i = (start + k) % self.items.len();
            pixels.extend(self.image(i)?);
            tokens.extend(self.vocab.encode_truncated(&self.items[i].1));
        }
        Ok(Batch {
            images: tch::Tensor::from_slice(&pixels).view([n as i64, 3, r as i64, r as i64]),
            tokens: tch::Tensor::from_slice(&tokens).view([n as i64, MAX_TOKENS as i64]),
            scenes: Vec::<Scene>::new(),
        })
    }
}
