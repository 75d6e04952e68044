//! Image encoding and decoding: PNG of one CHW image, PNG grids of a batch, PNG decoding
//! and bilinear resizing for image folders. Pixel convention: f32 in [-1, 1] ↔ u8 0..=255.

use super::error::DataError;
use std::path::Path;

fn to_u8(v: f32) -> u8 {
    (((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round()) as u8
}

fn encode_png(width: usize, height: usize, rgb: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width as u32, height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| e.to_string())?;
        w.write_image_data(rgb).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// PNG bytes of one CHW image in [-1, 1] of side `res`. A buffer shorter than 3·res² is
/// zero-padded (mid-grey) rather than panicking.
pub fn image_to_png(chw: &[f32], res: usize) -> Vec<u8> {
    let plane = res * res;
    let mut rgb = vec![0u8; plane * 3];
    for i in 0..plane {
        for c in 0..3 {
            rgb[i * 3 + c] = to_u8(chw.get(c * plane + i).copied().unwrap_or(0.0));
        }
    }
    // Encoding into memory fails only for zero-sized images; those give an empty buffer.
    encode_png(res, res, &rgb).unwrap_or_default()
}

/// The images of an [n, 3, H, W] tensor (any device, any float kind) as CHW f32 vectors.
pub fn tensor_to_chw_images(
    images: &tch::Tensor,
) -> Result<(Vec<Vec<f32>>, usize, usize), DataError> {
    let size = images.size();
    if size.len() != 4 || size[1] != 3 {
        return Err(DataError::Tensor(format!(
            "expected [n, 3, H, W], got {size:?}"
        )));
    }
    let (n, h, w) = (size[0] as usize, size[2] as usize, size[3] as usize);
    let flat = images
        .to_device(tch::Device::Cpu)
        .to_kind(tch::Kind::Float)
        .contiguous()
        .view([-1]);
    let all = Vec::<f32>::try_from(&flat).map_err(|e| DataError::Tensor(e.to_string()))?;
    let per = 3 * h * w;
    Ok((
        (0..n)
            .map(|i| all[i * per..(i + 1) * per].to_vec())
            .collect(),
        h,
        w,
    ))
}

/// Writes a grid PNG of [n, 3, R, R] images in [-1, 1]: `cols` per row, each pixel repeated
/// `upscale`×`upscale`, one (upscaled) dark grey pixel between tiles.
pub fn write_grid_png(
    path: &Path,
    images: &tch::Tensor,
    cols: usize,
    upscale: usize,
) -> Result<(), DataError> {
    let (imgs, h, w) = tensor_to_chw_images(images)?;
    if imgs.is_empty() {
        return Err(DataError::Tensor("no images to write".into()));
    }
    let cols = cols.clamp(1, imgs.len());
    let rows = imgs.len().div_ceil(cols);
    let up = upscale.max(1);
    let (th, tw) = (h * up, w * up);
    let gap = up;
    let gw = cols * tw + (cols + 1) * gap;
    let gh = rows * th + (rows + 1) * gap;
    // Dark grey gaps, distinct from the three background colours.
    let mut rgb = vec![80u8; gw * gh * 3];
    let plane = h * w;
    for (k, img) in imgs.iter().enumerate() {
        let (r, c) = (k / cols, k % cols);
        let (oy, ox) = (gap + r * (th + gap), gap + c * (tw + gap));
        for y in 0..th {
            for x in 0..tw {
                let src = (y / up) * w + x / up;
                let dst = ((oy + y) * gw + ox + x) * 3;
                for ch in 0..3 {
                    rgb[dst + ch] = to_u8(img[ch * plane + src]);
                }
            }
        }
    }
    let bytes = encode_png(gw, gh, &rgb).map_err(|e| DataError::io(path, e))?;
    std::fs::write(path, bytes).map_err(|e| DataError::io(path, e))
}

/// Decodes a PNG file to (width, height, RGB u8 HWC); grey, palette and alpha are converted.
pub fn decode_png_rgb(path: &Path) -> Result<(usize, usize, Vec<u8>), DataError> {
    let dec_err = |m: String| DataError::Decode {
        path: path.to_path_buf(),
        message: m,
    };
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut dec = png::Decoder::new(std::io::BufReader::new(file));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec.read_info().map_err(|e| dec_err(e.to_string()))?;
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| dec_err(e.to_string()))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err(dec_err("palette image was not expanded".into())),
    };
    let mut rgb = Vec::with_capacity(w * h * 3);
    for px in buf[..w * h * channels].chunks_exact(channels) {
        match channels {
            1 | 2 => rgb.extend([px[0]; 3]),
            _ => rgb.extend(&px[..3]),
        }
    }
    Ok((w, h, rgb))
}

/// Bilinear resize (half-pixel centres, like `align_corners=False`) of an RGB u8 HWC image
/// to a square `res`×`res` CHW f32 image in [-1, 1].
pub fn resize_bilinear(w: usize, h: usize, rgb: &[u8], res: usize) -> Vec<f32> {
    let plane = res * res;
    let mut out = vec![0f32; 3 * plane];
    let sx = w as f32 / res as f32;
    let sy = h as f32 / res as f32;
    for y in 0..res {
        let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, (h - 1) as f32);
        let (y0, ty) = (fy.floor() as usize, fy - fy.floor());
        let y1 = (y0 + 1).min(h - 1);
        for x in 0..res {
            let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, (w - 1) as f32);
            let (x0, tx) = (fx.floor() as usize, fx - fx.floor());
            let x1 = (x0 + 1).min(w - 1);
            for c in 0..3 {
                let p = |yy: usize, xx: usize| rgb[(yy * w + xx) * 3 + c] as f32;
                let v = (1.0 - ty) * ((1.0 - tx) * p(y0, x0) + tx * p(y0, x1))
                    + ty * ((1.0 - tx) * p(y1, x0) + tx * p(y1, x1));
                out[c * plane + y * res + x] = v / 127.5 - 1.0;
            }
        }
    }
    out
}
