//! A page a person can check the judge with: the first images of a set, each with the prompt
//! it was drawn for, what the judge read, and every question of the prompt graph with the
//! judge's answer (gated as DPG scores it). Written beside the samples as `judged@S.html`
//! with its images in `judged@S/`.

use crate::dpg::gated_answers;
use crate::error::{EvalError, Result};
use ddmd_science::data::{image_to_png, tensor_to_chw_images, Scene};
use std::fmt::Write as _;
use std::path::Path;

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Writes `<dir>/<name>.html` and `<dir>/<name>/NNN.png` for the first `show` images.
/// `targets[i]` is image i's prompt scene, `read[i]` the judge's reading of it.
pub fn write_judged_page(
    dir: &Path,
    name: &str,
    title: &str,
    images: &tch::Tensor,
    targets: &[&Scene],
    read: &[Scene],
    show: usize,
) -> Result<()> {
    let (chw, h, w) = tensor_to_chw_images(images)?;
    if h != w {
        return Err(EvalError::Invalid(format!(
            "images are {h}×{w}, not square"
        )));
    }
    let img_dir = dir.join(name);
    std::fs::create_dir_all(&img_dir).map_err(|e| EvalError::io(&img_dir, e))?;
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><meta charset=utf-8><title>{t}</title>\
         <style>body{{font:14px sans-serif;margin:1.5em}}figure{{display:flex;gap:1em;margin:0 0 1.2em}}\
         img{{width:128px;height:128px;image-rendering:pixelated;border:1px solid #999}}\
         .ok{{color:#176b2c}}.no{{color:#a3161a}}ul{{margin:.3em 0;padding-left:1.2em}}</style>\
         <h1>{t}</h1><p>Each image with the prompt it was drawn for, what the judge read, and \
         the judge's answer to every question of the prompt graph (✓ passes, ✗ fails; a \
         question whose parent fails scores 0, as DPG-Bench scores it).</p>",
        t = esc(title)
    );
    let n = show.min(chw.len()).min(targets.len()).min(read.len());
    let mut passed = 0.0;
    for i in 0..n {
        let file = format!("{i:03}.png");
        let png = image_to_png(&chw[i], h);
        let path = img_dir.join(&file);
        std::fs::write(&path, png).map_err(|e| EvalError::io(&path, e))?;
        let answers = gated_answers(targets[i], &read[i]);
        let score = answers.iter().map(|a| a.1).sum::<f64>() / answers.len().max(1) as f64;
        passed += score;
        let _ = write!(
            html,
            "<figure><img src=\"{name}/{file}\" alt=\"image {i}\"><figcaption>\
             <b>prompt:</b> {p}<br><b>judge read:</b> {r}<br><b>score:</b> {s:.0} %<ul>",
            name = esc(name),
            p = esc(&targets[i].prompt()),
            r = esc(&read[i].prompt()),
            s = 100.0 * score
        );
        for (q, (_, ok)) in targets[i].questions().iter().zip(&answers) {
            let (class, mark) = if *ok > 0.0 {
                ("ok", "✓")
            } else {
                ("no", "✗")
            };
            let _ = write!(
                html,
                "<li class={class}>{mark} [{}] {}</li>",
                q.category.name(),
                esc(&q.text)
            );
        }
        html.push_str("</ul></figcaption></figure>");
    }
    let _ = write!(
        html,
        "<p>Mean score of these {n} images: {:.1} %.</p>",
        100.0 * passed / n.max(1) as f64
    );
    let page = dir.join(format!("{name}.html"));
    std::fs::write(&page, html).map_err(|e| EvalError::io(&page, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use ddmd_science::data::{ShapesConfig, ShapesWorld};

    #[test]
    fn page_lists_prompt_reading_and_answers() {
        let w = ShapesWorld::new(ShapesConfig::new(16, 1, 2).unwrap());
        let b = w.batch(1, 0, 3);
        let targets: Vec<&Scene> = b.scenes.iter().collect();
        let dir = tempfile::tempdir().unwrap();
        write_judged_page(
            dir.path(),
            "judged@4",
            "<x>",
            &b.images,
            &targets,
            &b.scenes,
            2,
        )
        .unwrap();
        let html = std::fs::read_to_string(dir.path().join("judged@4.html")).unwrap();
        assert!(html.contains("&lt;x&gt;"), "title escaped");
        assert!(html.contains(&esc(&b.scenes[0].prompt())));
        assert!(!html.contains(&format!("<b>prompt:</b> {}", esc(&b.scenes[2].prompt()))));
        assert!(html.contains("Mean score of these 2 images: 100.0 %"));
        assert!(dir.path().join("judged@4/001.png").is_file());
    }
}
