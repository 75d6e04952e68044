//! Training curves: a metric against the step, one line per series (seeds averaged), and the
//! line chart itself, which the per-run pages use too.

use super::data::group;
use super::frame::{color, frame, line_key, range, series_legend, svg, Frame, InChart, XAxis};
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
        format!("{} (EMA {})", spec.metric, spec.smooth)
    } else {
        spec.metric.clone()
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
            let pts = if members.len() == 1 {
                members[0].curves[&spec.metric].clone()
            } else {
                mean_curve(&members, &spec.metric)
            };
            let label = if members.len() > 1 {
                format!("{name} (mean of {})", members.len())
            } else {
                name
            };
            Series {
                name: label,
                points: downsample(&smooth(&pts, spec.smooth), MAX_POINTS),
            }
        })
        .collect()
}

/// The mean of the runs' curves at each (integer) step any of them logged.
fn mean_curve(runs: &[&RunRecord], metric: &str) -> Vec<(f64, f64)> {
    let mut acc: BTreeMap<i64, (f64, usize)> = BTreeMap::new();
    for r in runs {
        for &(x, y) in &r.curves[metric] {
            let e = acc.entry(x as i64).or_insert((0.0, 0));
            e.0 += y;
            e.1 += 1;
        }
    }
    acc.into_iter()
        .map(|(x, (s, n))| (x as f64, s / n as f64))
        .collect()
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
    let (x0, x1) = range(shown.iter().flatten().map(|p| p.0));
    let (y0, y1) = range(shown.iter().flatten().map(|p| p.1));
    svg(title, size, |root| {
        let mut chart = frame(
            root,
            &Frame {
                title,
                x: x0..x1,
                y: y0..y1,
                x_axis: XAxis::Numeric(x_desc),
                y_desc,
                log_y,
            },
        )?;
        for (i, (s, pts)) in series.iter().zip(shown).enumerate() {
            let c = color(i);
            let drawn = chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .in_chart(title)?;
            if legend {
                drawn.label(s.name.clone()).legend(line_key(c));
            }
        }
        if legend && !series.is_empty() {
            series_legend(&mut chart, title, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    })
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
