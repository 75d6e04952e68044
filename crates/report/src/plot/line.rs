//! Training curves: a metric against the step, one line per series (seeds averaged, with a
//! band of ± the std of the runs), and the line chart itself, which the per-run pages use too.

use super::data::group;
use super::frame::{color, frame, range, svg, Frame, InChart, Key, LegendEntry, XAxis};
use super::{Drawn, Series, MAX_POINTS};
use crate::error::Result;
use crate::model::RunRecord;
use crate::report_params::PlotSpec;
use crate::stats::{downsample, smooth};
use plotters::prelude::*;
use std::collections::BTreeMap;

pub(super) fn line_plot(title: &str, spec: &PlotSpec, runs: &[&RunRecord]) -> Result<Drawn> {
    let with: Vec<&RunRecord> = runs
        .iter()
        .copied()
        .filter(|r| r.curves.get(&spec.metric).is_some_and(|c| !c.is_empty()))
        .collect();
    if with.is_empty() {
        return Ok((None, Some(format!("No run logged {}.", spec.metric))));
    }
    let series = curve_series(spec, &with);
    let y_desc = if spec.smooth > 0.0 {
        format!("{} (EMA {})", super::axis_title(&spec.metric), spec.smooth)
    } else {
        super::axis_title(&spec.metric)
    };
    let svg = line_chart(
        title,
        "iteration",
        &y_desc,
        &series,
        (760, 380),
        spec.log_y,
        true,
    )?;
    Ok((Some(svg), None))
}

/// One series per group of runs, smoothed and downsampled for display; a group of several
/// runs (seeds) shows their mean at each step and says so in its name.
fn curve_series(spec: &PlotSpec, runs: &[&RunRecord]) -> Vec<Series> {
    group(runs, spec.series.as_deref())
        .into_iter()
        .map(|(name, members)| {
            let (pts, spread) = if members.len() == 1 {
                (members[0].curves[&spec.metric].clone(), Vec::new())
            } else {
                mean_curve(&members, &spec.metric)
            };
            let label = if members.len() > 1 {
                format!("{name} (mean of {})", members.len())
            } else {
                name
            };
            let points = downsample(&smooth(&pts, spec.smooth), MAX_POINTS);
            // The band follows the shown (smoothed, downsampled) mean: ± the std of the
            // runs at the nearest step.
            let spread = if spread.is_empty() {
                Vec::new()
            } else {
                points.iter().map(|&(x, _)| nearest(&spread, x)).collect()
            };
            Series {
                name: label,
                points,
                spread,
            }
        })
        .collect()
}

/// (step, value) pairs.
type Points = Vec<(f64, f64)>;

/// The mean of the runs' curves at each (integer) step any of them logged, and the std of
/// the runs there (0 where one run logged the step).
fn mean_curve(runs: &[&RunRecord], metric: &str) -> (Points, Points) {
    let mut acc: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for r in runs {
        for &(x, y) in &r.curves[metric] {
            acc.entry(x as i64).or_default().push(y);
        }
    }
    acc.into_iter()
        .map(|(x, ys)| {
            let (m, sd) = crate::stats::mean_std(&ys);
            (
                (x as f64, m),
                (x as f64, if sd.is_finite() { sd } else { 0.0 }),
            )
        })
        .unzip()
}

/// The std at the step nearest to `x` (`spread` is sorted by step).
fn nearest(spread: &[(f64, f64)], x: f64) -> f64 {
    let i = spread.partition_point(|p| p.0 < x);
    let cands = [i.checked_sub(1), Some(i)];
    cands
        .into_iter()
        .flatten()
        .filter_map(|j| spread.get(j))
        .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()))
        .map_or(0.0, |p| p.1)
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
    let shown: Vec<Vec<(f64, f64)>> = series.iter().map(|s| on_axis(&s.points, log_y)).collect();
    let bands: Vec<Vec<(f64, f64)>> = series.iter().map(|s| band(s, log_y)).collect();
    let (x0, x1) = range(shown.iter().flatten().map(|p| p.0));
    let (y0, y1) = range(shown.iter().chain(&bands).flatten().map(|p| p.1));
    let entries = if legend {
        series
            .iter()
            .enumerate()
            .map(|(i, s)| LegendEntry {
                name: s.name.clone(),
                color: color(i),
                key: Key::Line,
            })
            .collect()
    } else {
        Vec::new()
    };
    svg(title, size, |root| {
        let mut chart = frame(
            root,
            &Frame {
                title,
                x: x0..x1,
                y: y0..y1,
                x_axis: XAxis::Numeric(x_desc),
                y_desc,
                log_x: false,
                log_y,
                legend: entries,
            },
        )?;
        // Bands under every line, so no band hides another series' line.
        for (i, b) in bands.into_iter().enumerate() {
            if !b.is_empty() {
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        b,
                        color(i).mix(0.18).filled(),
                    )))
                    .in_chart(title)?;
            }
        }
        for (i, pts) in shown.into_iter().enumerate() {
            chart
                .draw_series(LineSeries::new(pts, color(i).stroke_width(2)))
                .in_chart(title)?;
        }
        Ok(())
    })
}

/// The outline of a series' band (mean ± std), upper edge then lower edge back, as the y axis
/// places it; empty for a series without a spread.
fn band(s: &Series, log_y: bool) -> Vec<(f64, f64)> {
    if s.spread.len() != s.points.len() || s.spread.is_empty() {
        return Vec::new();
    }
    let upper: Vec<(f64, f64)> = s
        .points
        .iter()
        .zip(&s.spread)
        .map(|(&(x, y), sd)| (x, y + sd))
        .collect();
    let lower: Vec<(f64, f64)> = s
        .points
        .iter()
        .zip(&s.spread)
        .rev()
        .map(|(&(x, y), sd)| (x, y - sd))
        .collect();
    let mut outline = on_axis(&upper, log_y);
    outline.extend(on_axis(&lower, log_y));
    outline
}

/// The points as the y axis places them: on a log axis, log10 of y, and points at or below
/// zero left out (they have no place on it).
fn on_axis(points: &[(f64, f64)], log_y: bool) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter(|p| !log_y || p.1 > 0.0)
        .map(|&(x, y)| {
            if log_y {
                (x, y.max(f64::MIN_POSITIVE).log10())
            } else {
                (x, y)
            }
        })
        .collect()
}
