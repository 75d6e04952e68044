//! Charts as SVG strings (plotters' SVG backend), to be inlined in the HTML: training curves,
//! bars with error bars over seeds, sweeps over a numeric axis, scatters of two metrics.
//! Curves are smoothed (optional) and downsampled to at most [`MAX_POINTS`] per series; the
//! database keeps every point. plotters escapes the text it writes into the SVG.

use crate::error::{ReportError, Result};
use crate::model::{FinalValue, RunRecord, RunRecordExt};
use crate::report_params::{PlotKind, PlotSpec};
use crate::stats::{downsample, fmt_num, mean_std, smooth};
use crate::table::{key_matches, passes};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Serialize;
use std::collections::BTreeMap;

/// Points per displayed series, at most.
pub const MAX_POINTS: usize = 500;
const FONT: &str = "sans-serif";

const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

#[derive(Clone, Debug, Serialize)]
pub struct PlotModel {
    pub index: usize,
    pub title: String,
    /// The chart; `None` when no run has data for it (then `note` says why).
    pub svg: Option<String>,
    pub note: Option<String>,
}

/// One named series of (x, y) points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

fn perr(title: &str, e: impl std::fmt::Display) -> ReportError {
    ReportError::Plot {
        title: title.to_string(),
        message: e.to_string(),
    }
}

/// Renders a declared plot.
pub fn render_plot(index: usize, spec: &PlotSpec, runs: &[RunRecord]) -> Result<PlotModel> {
    let runs: Vec<&RunRecord> = runs.iter().filter(|r| passes(r, &spec.filter)).collect();
    let title = spec.title.clone().unwrap_or_else(|| match spec.kind {
        PlotKind::Line => format!("{} vs iteration", spec.metric),
        PlotKind::Bar => format!("{} by {}", spec.metric, spec.x),
        PlotKind::Sweep => format!("{} against {}", spec.metric, spec.x),
        PlotKind::Scatter => format!("{} against {}", spec.metric, spec.x),
    });
    let (svg, note) = match spec.kind {
        PlotKind::Line => line_plot(&title, spec, &runs)?,
        PlotKind::Bar => bar_plot(&title, spec, &runs)?,
        PlotKind::Sweep => sweep_plot(&title, spec, &runs)?,
        PlotKind::Scatter => scatter_plot(&title, spec, &runs)?,
    };
    Ok(PlotModel {
        index,
        title,
        svg,
        note,
    })
}

fn series_label(r: &RunRecord, series: Option<&str>) -> String {
    match series {
        Some(axis) => format!("{axis}={}", r.label(axis).unwrap_or("?")),
        None => r.job_name.clone(),
    }
}

/// Groups runs by series label, keeping first-appearance order.
fn group<'a>(runs: &[&'a RunRecord], series: Option<&str>) -> Vec<(String, Vec<&'a RunRecord>)> {
    let mut groups: Vec<(String, Vec<&RunRecord>)> = Vec::new();
    for r in runs {
        let l = series_label(r, series);
        match groups.iter_mut().find(|g| g.0 == l) {
            Some(g) => g.1.push(r),
            None => groups.push((l, vec![r])),
        }
    }
    groups
}

fn line_plot(
    title: &str,
    spec: &PlotSpec,
    runs: &[&RunRecord],
) -> Result<(Option<String>, Option<String>)> {
    let with: Vec<&RunRecord> = runs
        .iter()
        .copied()
        .filter(|r| r.curves.get(&spec.metric).is_some_and(|c| !c.is_empty()))
        .collect();
    if with.is_empty() {
        return Ok((None, Some(format!("No run logged {}.", spec.metric))));
    }
    let mut out = Vec::new();
    for (name, members) in group(&with, spec.series.as_deref()) {
        // Several runs in one series (seeds): the mean at each step.
        let pts: Vec<(f64, f64)> = if members.len() == 1 {
            members[0].curves[&spec.metric].clone()
        } else {
            let mut acc: BTreeMap<i64, (f64, usize)> = BTreeMap::new();
            for r in &members {
                for &(x, y) in &r.curves[&spec.metric] {
                    let e = acc.entry(x as i64).or_insert((0.0, 0));
                    e.0 += y;
                    e.1 += 1;
                }
            }
            acc.into_iter()
                .map(|(x, (s, n))| (x as f64, s / n as f64))
                .collect()
        };
        let label = if members.len() > 1 {
            format!("{name} (mean of {})", members.len())
        } else {
            name
        };
        out.push(Series {
            name: label,
            points: downsample(&smooth(&pts, spec.smooth), MAX_POINTS),
        });
    }
    let y_desc = if spec.smooth > 0.0 {
        format!("{} (EMA {})", spec.metric, spec.smooth)
    } else {
        spec.metric.clone()
    };
    let svg = line_chart(
        title,
        "iteration",
        &y_desc,
        &out,
        (760, 380),
        spec.log_y,
        true,
    )?;
    Ok((Some(svg), None))
}

/// A line chart of already-prepared series (shared with the per-run pages).
pub fn line_chart(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    size: (u32, u32),
    log_y: bool,
    legend: bool,
) -> Result<String> {
    let tf = |v: f64| {
        if log_y {
            v.max(f64::MIN_POSITIVE).log10()
        } else {
            v
        }
    };
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|p| !log_y || p.1 > 0.0)
        .map(|(x, y)| (x, tf(y)))
        .collect();
    let (x0, x1) = range(all.iter().map(|p| p.0));
    let (y0, y1) = range(all.iter().map(|p| p.1));
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| perr(title, e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 15))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(58)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| perr(title, e))?;
        let yfmt = |v: &f64| {
            if log_y {
                fmt_num(10f64.powf(*v))
            } else {
                fmt_num(*v)
            }
        };
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style((FONT, 11))
            .axis_desc_style((FONT, 12))
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(&yfmt)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| perr(title, e))?;
        for (i, s) in series.iter().enumerate() {
            let c = color(i);
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter(|p| !log_y || p.1 > 0.0)
                .map(|&(x, y)| (x, tf(y)))
                .collect();
            let drawn = chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .map_err(|e| perr(title, e))?;
            if legend {
                drawn.label(s.name.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            }
        }
        if legend && !series.is_empty() {
            chart
                .configure_series_labels()
                .label_font((FONT, 11))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(|e| perr(title, e))?;
        }
        root.present().map_err(|e| perr(title, e))?;
    }
    Ok(buf)
}

fn range(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

/// Final value of a metric for each run that has a finite one.
/// A run's final value of `metric`, which may hold `*` as in table columns (`fid@*`: each run
/// at its own step count); a pattern that matches several keys of one run gives nothing.
fn final_of<'a>(r: &'a RunRecord, metric: &str) -> Option<&'a FinalValue> {
    if let Some(f) = r.finals.get(metric) {
        return Some(f);
    }
    if !metric.contains('*') {
        return None;
    }
    let mut hits = r.finals.iter().filter(|(k, _)| key_matches(metric, k));
    let (_, first) = hits.next()?;
    hits.next().is_none().then_some(first)
}

fn finals<'a>(runs: &[&'a RunRecord], metric: &str) -> Vec<(&'a RunRecord, f64)> {
    runs.iter()
        .filter_map(|r| final_of(r, metric).map(|f| (*r, f.value)))
        .filter(|(_, v)| v.is_finite())
        .collect()
}

fn bar_plot(
    title: &str,
    spec: &PlotSpec,
    runs: &[&RunRecord],
) -> Result<(Option<String>, Option<String>)> {
    let vals = finals(runs, &spec.metric);
    let vals: Vec<(&RunRecord, f64)> = vals
        .into_iter()
        .filter(|(r, _)| r.label(&spec.x).is_some())
        .collect();
    if vals.is_empty() {
        return Ok((
            None,
            Some(format!(
                "No run with axis `{}` has a value of {}.",
                spec.x, spec.metric
            )),
        ));
    }
    let mut xs: Vec<String> = Vec::new();
    let mut ss: Vec<String> = Vec::new();
    for (r, _) in &vals {
        let x = r.label(&spec.x).unwrap_or("?").to_string();
        if !xs.contains(&x) {
            xs.push(x);
        }
        let s = spec
            .series
            .as_deref()
            .and_then(|a| r.label(a))
            .unwrap_or("")
            .to_string();
        if !ss.contains(&s) {
            ss.push(s);
        }
    }
    // (x index, series index) -> mean, std, n
    let mut cells: Vec<(usize, usize, f64, f64, usize)> = Vec::new();
    for (xi, x) in xs.iter().enumerate() {
        for (si, s) in ss.iter().enumerate() {
            let v: Vec<f64> = vals
                .iter()
                .filter(|(r, _)| {
                    r.label(&spec.x) == Some(x.as_str())
                        && spec
                            .series
                            .as_deref()
                            .and_then(|a| r.label(a))
                            .unwrap_or("")
                            == s
                })
                .map(|p| p.1)
                .collect();
            if !v.is_empty() {
                let (m, sd) = mean_std(&v);
                cells.push((xi, si, m, sd, v.len()));
            }
        }
    }
    let lo = cells.iter().map(|c| c.2 - c.3).fold(0.0f64, f64::min);
    let hi = cells.iter().map(|c| c.2 + c.3).fold(0.0f64, f64::max);
    let (lo, hi) = if lo == hi {
        (0.0, 1.0)
    } else {
        (lo - (hi - lo) * 0.02, hi + (hi - lo) * 0.08)
    };
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (760, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| perr(title, e))?;
        let n = xs.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 15))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(58)
            .build_cartesian_2d(0.0..n, lo..hi)
            .map_err(|e| perr(title, e))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc(spec.metric.as_str())
            .label_style((FONT, 11))
            .axis_desc_style((FONT, 12))
            .y_label_formatter(&|v| fmt_num(*v))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| perr(title, e))?;
        let k = ss.len() as f64;
        let width = 0.8 / k;
        for &(xi, si, m, sd, cnt) in &cells {
            let left = xi as f64 + 0.1 + si as f64 * width;
            let c = color(si);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(left, 0.0), (left + width * 0.92, m)],
                    c.mix(0.85).filled(),
                )))
                .map_err(|e| perr(title, e))?;
            if cnt > 1 {
                let mid = left + width * 0.46;
                let cap = width * 0.15;
                let stroke = BLACK.stroke_width(1);
                chart
                    .draw_series([
                        PathElement::new(vec![(mid, m - sd), (mid, m + sd)], stroke),
                        PathElement::new(vec![(mid - cap, m - sd), (mid + cap, m - sd)], stroke),
                        PathElement::new(vec![(mid - cap, m + sd), (mid + cap, m + sd)], stroke),
                    ])
                    .map_err(|e| perr(title, e))?;
            }
        }
        let style = TextStyle::from((FONT, 11).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for (xi, x) in xs.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(xi as f64 + 0.5, lo));
            root.draw(&Text::new(shorten(x, 24), (px, py + 6), style.clone()))
                .map_err(|e| perr(title, e))?;
        }
        if let Some(axis) = spec.series.as_deref() {
            legend_boxes(&root, axis, &ss).map_err(|e| perr(title, e))?;
        }
        let desc =
            TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
        root.draw(&Text::new(
            format!("{} (error bars: ± std over seeds)", spec.x),
            (380, 378),
            desc,
        ))
        .map_err(|e| perr(title, e))?;
        root.present().map_err(|e| perr(title, e))?;
    }
    Ok((Some(buf), None))
}

fn legend_boxes<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    axis: &str,
    names: &[String],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let style = TextStyle::from((FONT, 11).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let mut y = 36;
    for (i, n) in names.iter().enumerate() {
        root.draw(&Rectangle::new(
            [(660, y - 5), (670, y + 5)],
            color(i).filled(),
        ))?;
        root.draw(&Text::new(
            shorten(&format!("{axis}={n}"), 14),
            (674, y),
            style.clone(),
        ))?;
        y += 16;
    }
    Ok(())
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

fn sweep_plot(
    title: &str,
    spec: &PlotSpec,
    runs: &[&RunRecord],
) -> Result<(Option<String>, Option<String>)> {
    let vals = finals(runs, &spec.metric);
    let mut skipped = 0;
    let mut numeric: Vec<(&RunRecord, f64, f64)> = Vec::new();
    for (r, v) in vals {
        match r.label(&spec.x).map(|l| l.trim().parse::<f64>()) {
            Some(Ok(x)) if x.is_finite() => numeric.push((r, x, v)),
            Some(_) => skipped += 1,
            None => {}
        }
    }
    if numeric.is_empty() {
        return Ok((
            None,
            Some(format!(
                "No run has a numeric `{}` and a value of {}.",
                spec.x, spec.metric
            )),
        ));
    }
    let groups = {
        let rs: Vec<&RunRecord> = numeric.iter().map(|n| n.0).collect();
        match spec.series.as_deref() {
            Some(axis) => group(&rs, Some(axis)),
            // Without a series axis the sweep is one line over all runs (not a run each).
            None => vec![(spec.metric.clone(), rs)],
        }
    };
    let mut all_y = Vec::new();
    // Per series: (x, mean, std, n) at each x.
    type SweepLine = (String, Vec<(f64, f64, f64, usize)>);
    let mut lines: Vec<SweepLine> = Vec::new();
    for (name, members) in groups {
        let mut by_x: BTreeMap<i64, (f64, Vec<f64>)> = BTreeMap::new();
        for (r, x, v) in &numeric {
            if members.iter().any(|m| m.id == r.id) {
                // Keyed by the bits of x so that equal values group exactly.
                by_x.entry((x * 1e9).round() as i64)
                    .or_insert((*x, Vec::new()))
                    .1
                    .push(*v);
            }
        }
        let pts: Vec<(f64, f64, f64, usize)> = by_x
            .into_values()
            .map(|(x, vs)| {
                let (m, s) = mean_std(&vs);
                (x, m, s, vs.len())
            })
            .collect();
        for p in &pts {
            all_y.push(p.1 - p.2);
            all_y.push(p.1 + p.2);
        }
        lines.push((
            if spec.series.is_some() {
                name
            } else {
                spec.metric.clone()
            },
            pts,
        ));
    }
    let (x0, x1) = range(lines.iter().flat_map(|l| l.1.iter().map(|p| p.0)));
    let (y0, y1) = range(all_y.into_iter());
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (760, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| perr(title, e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 15))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(58)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| perr(title, e))?;
        chart
            .configure_mesh()
            .x_desc(spec.x.as_str())
            .y_desc(spec.metric.as_str())
            .label_style((FONT, 11))
            .axis_desc_style((FONT, 12))
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(&|v| fmt_num(*v))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| perr(title, e))?;
        for (i, (name, pts)) in lines.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|p| (p.0, p.1)),
                    c.stroke_width(2),
                ))
                .map_err(|e| perr(title, e))?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|p| Circle::new((p.0, p.1), 3, c.filled())))
                .map_err(|e| perr(title, e))?;
            chart
                .draw_series(pts.iter().filter(|p| p.3 > 1).map(|p| {
                    PathElement::new(vec![(p.0, p.1 - p.2), (p.0, p.1 + p.2)], c.stroke_width(1))
                }))
                .map_err(|e| perr(title, e))?;
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 11))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(|e| perr(title, e))?;
        root.present().map_err(|e| perr(title, e))?;
    }
    let note = (skipped > 0).then(|| {
        format!(
            "{skipped} run(s) with a non-numeric `{}` are not shown.",
            spec.x
        )
    });
    Ok((Some(buf), note))
}

fn scatter_plot(
    title: &str,
    spec: &PlotSpec,
    runs: &[&RunRecord],
) -> Result<(Option<String>, Option<String>)> {
    // One point per variant (seeds averaged), for runs that have both metrics.
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
    if variants.is_empty() {
        return Ok((
            None,
            Some(format!("No run has both {} and {}.", spec.x, spec.metric)),
        ));
    }
    let pts: Vec<(String, String, f64, f64)> = variants
        .into_iter()
        .map(|(k, s, xs, ys)| (k, s, mean_std(&xs).0, mean_std(&ys).0))
        .collect();
    let mut names: Vec<String> = Vec::new();
    for p in &pts {
        if !names.contains(&p.1) {
            names.push(p.1.clone());
        }
    }
    let (x0, x1) = range(pts.iter().map(|p| p.2));
    let (y0, y1) = range(pts.iter().map(|p| p.3));
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (760, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| perr(title, e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 15))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(58)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| perr(title, e))?;
        chart
            .configure_mesh()
            .x_desc(spec.x.as_str())
            .y_desc(spec.metric.as_str())
            .label_style((FONT, 11))
            .axis_desc_style((FONT, 12))
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(&|v| fmt_num(*v))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| perr(title, e))?;
        for (i, name) in names.iter().enumerate() {
            let c = color(i);
            let mine: Vec<&(String, String, f64, f64)> =
                pts.iter().filter(|p| &p.1 == name).collect();
            let drawn = chart
                .draw_series(mine.iter().map(|p| Circle::new((p.2, p.3), 4, c.filled())))
                .map_err(|e| perr(title, e))?;
            if spec.series.is_some() {
                drawn
                    .label(name.clone())
                    .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
            }
            // Labels run away from the nearer side edge, so none is cut off by the frame.
            let font = TextStyle::from((FONT, 10).into_font());
            let left = font.pos(Pos::new(HPos::Left, VPos::Bottom));
            let right = font.pos(Pos::new(HPos::Right, VPos::Bottom));
            let mid = (x0 + x1) / 2.0;
            chart
                .draw_series(mine.iter().map(|p| {
                    let style = if p.2 > mid { &right } else { &left };
                    Text::new(shorten(&p.0, 28), (p.2, p.3), style.clone())
                }))
                .map_err(|e| perr(title, e))?;
        }
        if spec.series.is_some() {
            chart
                .configure_series_labels()
                .label_font((FONT, 11))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .draw()
                .map_err(|e| perr(title, e))?;
        }
        root.present().map_err(|e| perr(title, e))?;
    }
    Ok((Some(buf), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: i64, point: &[(&str, &str)], finals: &[(&str, f64)]) -> RunRecord {
        RunRecord {
            id,
            job_name: format!("evaluate[{id}]"),
            point: point
                .iter()
                .map(|(a, v)| (a.to_string(), v.to_string()))
                .collect(),
            finals: finals
                .iter()
                .map(|(k, v)| (k.to_string(), FinalValue { step: 0, value: *v }))
                .collect(),
            ..Default::default()
        }
    }

    fn spec(kind: PlotKind, metric: &str, x: &str) -> PlotSpec {
        PlotSpec {
            kind,
            title: None,
            metric: metric.into(),
            x: x.into(),
            series: None,
            smooth: 0.0,
            filter: Default::default(),
            log_y: false,
        }
    }

    #[test]
    fn a_sweep_without_series_is_one_line_over_all_runs() {
        let runs: Vec<RunRecord> = [(1.5, 29.4), (4.0, 30.2), (8.0, 29.2)]
            .iter()
            .enumerate()
            .map(|(i, (a, d))| run(i as i64, &[("alpha", &a.to_string())], &[("dpg@4", *d)]))
            .collect();
        let p = render_plot(0, &spec(PlotKind::Sweep, "dpg@4", "alpha"), &runs).unwrap();
        let svg = p.svg.expect("a chart");
        // The legend names the one line once (a line per run would name it three times).
        assert_eq!(
            svg.matches("\ndpg@4\n").count(),
            2,
            "axis title + one legend entry"
        );
    }

    #[test]
    fn plots_take_the_table_patterns() {
        let runs = vec![
            run(
                1,
                &[("model", "4-step")],
                &[("fid@4", 53.0), ("throughput@4/bs16", 300.0)],
            ),
            run(
                2,
                &[("model", "8-step")],
                &[("fid@8", 49.0), ("throughput@8/bs16", 180.0)],
            ),
        ];
        let p = render_plot(
            0,
            &spec(PlotKind::Scatter, "fid@*", "throughput@*/bs16"),
            &runs,
        )
        .unwrap();
        assert!(p.svg.is_some(), "{:?}", p.note);
        // Several matches in one run are no value, as in tables.
        let both = vec![run(3, &[], &[("fid@4", 1.0), ("fid@8", 2.0), ("t", 1.0)])];
        let p = render_plot(0, &spec(PlotKind::Scatter, "fid@*", "t"), &both).unwrap();
        assert!(p.svg.is_none());
    }
}
