//! Scatters: metric `y` against metric `x`, one labelled point per variant (seeds averaged),
//! coloured by series.

use super::data::{final_of, series_label};
use super::frame::{
    color, frame, range, series_legend, shorten, svg, Chart, Frame, InChart, XAxis, FONT,
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
    let pts = variant_points(spec, runs);
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
    let svg = svg(title, (760, 380), |root| {
        let mut chart = frame(
            root,
            &Frame {
                title,
                x: x0..x1,
                y: y0..y1,
                x_axis: XAxis::Numeric(spec.x.as_str()),
                y_desc: spec.metric.as_str(),
                log_y: false,
            },
        )?;
        for (i, name) in names.iter().enumerate() {
            let mine: Vec<&Point> = pts.iter().filter(|p| &p.series == name).collect();
            let keyed = spec.series.is_some().then_some(name.as_str());
            draw_points(&mut chart, title, &mine, color(i), keyed, (x0 + x1) / 2.0)?;
        }
        if spec.series.is_some() {
            series_legend(&mut chart, title, SeriesLabelPosition::MiddleRight)?;
        }
        Ok(())
    })?;
    Ok((Some(svg), None))
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

/// The points of one series, each labelled with its variant; `legend` names the series in
/// the legend when the plot has a series axis.
fn draw_points(
    chart: &mut Chart,
    title: &str,
    pts: &[&Point],
    c: RGBColor,
    legend: Option<&str>,
    mid_x: f64,
) -> Result<()> {
    let drawn = chart
        .draw_series(pts.iter().map(|p| Circle::new((p.x, p.y), 4, c.filled())))
        .in_chart(title)?;
    if let Some(name) = legend {
        drawn
            .label(name)
            .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
    }
    // Labels run away from the nearer side edge, so none is cut off by the frame.
    let font = TextStyle::from((FONT, 10).into_font());
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
