//! Sweeps: a metric's final value against a numeric axis (the α sweep), one line per series,
//! mean over seeds at each x with ± std error bars.

use super::data::{finals, group};
use super::frame::{color, frame, range, svg, Chart, Frame, InChart, Key, LegendEntry, XAxis};
use super::Drawn;
use crate::error::Result;
use crate::model::{RunRecord, RunRecordExt};
use crate::report_params::PlotSpec;
use crate::stats::mean_std;
use plotters::prelude::*;
use std::collections::BTreeMap;

/// The runs at one x of a line: mean, std and how many.
struct SweepPoint {
    x: f64,
    mean: f64,
    std: f64,
    n: usize,
}

struct SweepLine {
    name: String,
    points: Vec<SweepPoint>,
}

/// A run with a numeric value of the swept axis: (run, x, metric value).
type Numeric<'a> = (&'a RunRecord, f64, f64);

pub(super) fn sweep_plot(title: &str, spec: &PlotSpec, runs: &[&RunRecord]) -> Result<Drawn> {
    let (numeric, skipped) = numeric_values(spec, runs);
    // On a log axis, x is placed at log10 of the value; a value ≤ 0 has no place there.
    let (numeric, not_positive): (Vec<Numeric>, Vec<Numeric>) =
        numeric.into_iter().partition(|n| !spec.log_x || n.1 > 0.0);
    let numeric: Vec<Numeric> = numeric
        .into_iter()
        .map(|(r, x, v)| (r, if spec.log_x { x.log10() } else { x }, v))
        .collect();
    if numeric.is_empty() {
        return Ok((
            None,
            Some(format!(
                "No run has a numeric `{}` and a value of {}.",
                spec.x, spec.metric
            )),
        ));
    }
    let lines = sweep_lines(spec, &numeric);
    let (x0, x1) = range(lines.iter().flat_map(|l| l.points.iter().map(|p| p.x)));
    let (y0, y1) = range(lines.iter().flat_map(|l| {
        l.points
            .iter()
            .flat_map(|p| [p.mean - p.std, p.mean + p.std])
    }));
    let y_desc = super::axis_title(&spec.metric);
    let legend = lines
        .iter()
        .enumerate()
        .map(|(i, l)| LegendEntry {
            name: l.name.clone(),
            color: color(i),
            key: Key::Line,
        })
        .collect();
    let svg = svg(title, (760, 380), |root| {
        let mut chart = frame(
            root,
            &Frame {
                title,
                x: x0..x1,
                y: y0..y1,
                x_axis: XAxis::Numeric(spec.x.as_str()),
                y_desc: &y_desc,
                log_x: spec.log_x,
                log_y: false,
                legend,
            },
        )?;
        for (i, line) in lines.iter().enumerate() {
            draw_line(&mut chart, title, line, color(i))?;
        }
        Ok(())
    })?;
    let mut notes = Vec::new();
    if skipped > 0 {
        notes.push(format!(
            "{skipped} run(s) with a non-numeric `{}` are not shown.",
            spec.x
        ));
    }
    if !not_positive.is_empty() {
        notes.push(format!(
            "{} run(s) with `{}` ≤ 0 are not shown on the log axis.",
            not_positive.len(),
            spec.x
        ));
    }
    let note = (!notes.is_empty()).then(|| notes.join(" "));
    Ok((Some(svg), note))
}

/// The runs whose label of the swept axis is a finite number, and how many runs have a label
/// that is not (they are left out, and the note says so).
fn numeric_values<'a>(spec: &PlotSpec, runs: &[&'a RunRecord]) -> (Vec<Numeric<'a>>, usize) {
    let mut skipped = 0;
    let mut numeric = Vec::new();
    for (r, v) in finals(runs, &spec.metric) {
        match r.label(&spec.x).map(|l| l.trim().parse::<f64>()) {
            Some(Ok(x)) if x.is_finite() => numeric.push((r, x, v)),
            Some(_) => skipped += 1,
            None => {}
        }
    }
    (numeric, skipped)
}

/// One line per series value, each the mean (± std) of its runs at each x, in order of x.
fn sweep_lines(spec: &PlotSpec, numeric: &[Numeric]) -> Vec<SweepLine> {
    let rs: Vec<&RunRecord> = numeric.iter().map(|n| n.0).collect();
    let groups = match spec.series.as_deref() {
        Some(axis) => group(&rs, Some(axis)),
        // Without a series axis the sweep is one line over all runs (not a run each).
        None => vec![(super::metric_name(&spec.metric), rs)],
    };
    groups
        .into_iter()
        .map(|(name, members)| {
            let mut by_x: BTreeMap<i64, (f64, Vec<f64>)> = BTreeMap::new();
            for (r, x, v) in numeric {
                if members.iter().any(|m| m.id == r.id) {
                    // Keyed by x in units of 1e-9 (an f64 is no map key), so that equal
                    // values group together and the map keeps them in order of x.
                    by_x.entry((x * 1e9).round() as i64)
                        .or_insert((*x, Vec::new()))
                        .1
                        .push(*v);
                }
            }
            let points = by_x
                .into_values()
                .map(|(x, vs)| {
                    let (mean, std) = mean_std(&vs);
                    SweepPoint {
                        x,
                        mean,
                        std,
                        n: vs.len(),
                    }
                })
                .collect();
            SweepLine { name, points }
        })
        .collect()
}

/// A sweep line: the means joined, a dot at each, and an error bar where seeds were averaged.
fn draw_line(chart: &mut Chart, title: &str, line: &SweepLine, c: RGBColor) -> Result<()> {
    let pts = &line.points;
    chart
        .draw_series(LineSeries::new(
            pts.iter().map(|p| (p.x, p.mean)),
            c.stroke_width(2),
        ))
        .in_chart(title)?;
    chart
        .draw_series(
            pts.iter()
                .map(|p| Circle::new((p.x, p.mean), 3, c.filled())),
        )
        .in_chart(title)?;
    chart
        .draw_series(pts.iter().filter(|p| p.n > 1).map(|p| {
            PathElement::new(
                vec![(p.x, p.mean - p.std), (p.x, p.mean + p.std)],
                c.stroke_width(1),
            )
        }))
        .in_chart(title)?;
    Ok(())
}
