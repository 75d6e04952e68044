//! Scatters: metric `y` against metric `x`, one labelled point per variant (seeds averaged),
//! coloured by series.

use super::data::{final_of, series_label};
use super::frame::{
    color, frame, range, shorten, svg, Chart, Frame, InChart, Key, LegendEntry, XAxis, FONT,
    TICK_SIZE,
};
use super::Drawn;
use crate::error::Result;
use crate::model::{RunRecord, RunRecordExt};
use crate::report_params::PlotSpec;
use crate::stats::mean_std;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One variant: its key (the point without seed), its series name, mean x and mean y.
struct Point {
    key: String,
    series: String,
    x: f64,
    y: f64,
}

pub(super) fn scatter_plot(title: &str, spec: &PlotSpec, runs: &[&RunRecord]) -> Result<Drawn> {
    let mut pts = variant_points(spec, runs);
    // On a log x axis a point sits at log10 of its x; one at x ≤ 0 has no place there.
    let before = pts.len();
    if spec.log_x {
        pts.retain(|p| p.x > 0.0);
        for p in &mut pts {
            p.x = p.x.log10();
        }
    }
    let not_positive = before - pts.len();
    if pts.is_empty() {
        return Ok((
            None,
            Some(format!("No run has both {} and {}.", spec.x, spec.metric)),
        ));
    }
    let mut names: Vec<String> = Vec::new();
    for p in &pts {
        if !names.contains(&p.series) {
            names.push(p.series.clone());
        }
    }
    let (x0, x1) = range(pts.iter().map(|p| p.x));
    let (y0, y1) = range(pts.iter().map(|p| p.y));
    let (x_desc, y_desc) = (super::axis_title(&spec.x), super::axis_title(&spec.metric));
    let legend = if spec.series.is_some() {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| LegendEntry {
                name: n.clone(),
                color: color(i),
                key: Key::Dot,
            })
            .collect()
    } else {
        Vec::new()
    };
    let svg = svg(title, (760, 380), |root| {
        let mut chart = frame(
            root,
            &Frame {
                title,
                x: x0..x1,
                y: y0..y1,
                x_axis: XAxis::Numeric(&x_desc),
                y_desc: &y_desc,
                log_x: spec.log_x,
                log_y: false,
                legend,
            },
        )?;
        for (i, name) in names.iter().enumerate() {
            let mine: Vec<&Point> = pts.iter().filter(|p| &p.series == name).collect();
            draw_points(&mut chart, title, &mine, color(i), (x0 + x1) / 2.0)?;
        }
        Ok(())
    })?;
    let note = (not_positive > 0).then(|| {
        format!(
            "{not_positive} variant(s) with {} ≤ 0 are not shown on the log axis.",
            spec.x
        )
    });
    Ok((Some(svg), note))
}

/// One point per variant, for the runs that have finite values of both metrics; repeats of a
/// variant (seeds) are averaged. Variants keep first-appearance order.
fn variant_points(spec: &PlotSpec, runs: &[&RunRecord]) -> Vec<Point> {
    let mut variants: Vec<(String, String, Vec<f64>, Vec<f64>)> = Vec::new();
    for r in runs {
        let (Some(x), Some(y)) = (final_of(r, &spec.x), final_of(r, &spec.metric)) else {
            continue;
        };
        if !(x.value.is_finite() && y.value.is_finite()) {
            continue;
        }
        let key = r.variant_key();
        let s = series_label(r, spec.series.as_deref());
        match variants.iter_mut().find(|v| v.0 == key) {
            Some(v) => {
                v.2.push(x.value);
                v.3.push(y.value);
            }
            None => variants.push((key, s, vec![x.value], vec![y.value])),
        }
    }
    variants
        .into_iter()
        .map(|(key, series, xs, ys)| Point {
            key,
            series,
            x: mean_std(&xs).0,
            y: mean_std(&ys).0,
        })
        .collect()
}

/// The points of one series, each labelled with its variant (the legend, drawn by the frame,
/// names the series).
fn draw_points(
    chart: &mut Chart,
    title: &str,
    pts: &[&Point],
    c: RGBColor,
    mid_x: f64,
) -> Result<()> {
    chart
        .draw_series(pts.iter().map(|p| Circle::new((p.x, p.y), 4, c.filled())))
        .in_chart(title)?;
    // Labels run away from the nearer side edge, so none is cut off by the frame.
    let font = TextStyle::from((FONT, TICK_SIZE).into_font());
    let left = font.pos(Pos::new(HPos::Left, VPos::Bottom));
    let right = font.pos(Pos::new(HPos::Right, VPos::Bottom));
    chart
        .draw_series(pts.iter().map(|p| {
            let style = if p.x > mid_x { &right } else { &left };
            Text::new(shorten(&p.key, 28), (p.x, p.y), style.clone())
        }))
        .in_chart(title)?;
    Ok(())
}
