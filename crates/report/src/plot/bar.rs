//! Bars: a metric's final value per value of axis `x` (and of the series axis, side by side),
//! mean over seeds with ± std error bars.

use super::data::finals;
use super::frame::{
    color, frame, shorten, svg, Canvas, Chart, Frame, InChart, Key, LegendEntry, XAxis, AXIS_SIZE,
    FONT, TICK_SIZE,
};
use super::Drawn;
use crate::error::Result;
use crate::model::{RunRecord, RunRecordExt};
use crate::report_params::PlotSpec;
use crate::stats::mean_std;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One bar: the runs at one x value and one series value.
struct Bar {
    x: usize,
    series: usize,
    mean: f64,
    std: f64,
    n: usize,
}

/// The bars and the names of their x values and series, in first-appearance order.
struct Bars {
    xs: Vec<String>,
    series: Vec<String>,
    bars: Vec<Bar>,
}

pub(super) fn bar_plot(title: &str, spec: &PlotSpec, runs: &[&RunRecord]) -> Result<Drawn> {
    let vals: Vec<(&RunRecord, f64)> = finals(runs, &spec.metric)
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
    let bars = collect_bars(spec, &vals);
    let (lo, hi) = value_range(&bars.bars);
    let y_desc = super::axis_title(&spec.metric);
    // The bars are drawn one at a time, so the legend is built here, one box per series.
    let legend = match spec.series.as_deref() {
        Some(axis) => bars
            .series
            .iter()
            .enumerate()
            .map(|(i, n)| LegendEntry {
                name: format!("{axis}={n}"),
                color: color(i),
                key: Key::Box,
            })
            .collect(),
        None => Vec::new(),
    };
    let svg = svg(title, (760, 380), |root| {
        let mut chart = frame(
            root,
            &Frame {
                title,
                x: 0.0..bars.xs.len() as f64,
                y: lo..hi,
                x_axis: XAxis::Categories,
                y_desc: &y_desc,
                log_x: false,
                log_y: false,
                legend,
            },
        )?;
        draw_bars(&mut chart, title, &bars)?;
        draw_categories(root, &chart, title, &bars.xs, lo)?;
        // The x axis title, centred under the data area.
        let (left, _) = chart.backend_coord(&(0.0, lo));
        let (right, _) = chart.backend_coord(&(bars.xs.len() as f64, lo));
        let desc = TextStyle::from((FONT, AXIS_SIZE).into_font())
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        root.draw(&Text::new(spec.x.clone(), ((left + right) / 2, 377), desc))
            .in_chart(title)
    })?;
    Ok((Some(svg), None))
}

/// The run's value of the series axis; `""` when the plot has none (one bar per x).
fn series_of<'a>(r: &'a RunRecord, spec: &PlotSpec) -> &'a str {
    spec.series
        .as_deref()
        .and_then(|a| r.label(a))
        .unwrap_or("")
}

/// Groups the values by (x, series) and averages each group.
fn collect_bars(spec: &PlotSpec, vals: &[(&RunRecord, f64)]) -> Bars {
    let mut xs: Vec<String> = Vec::new();
    let mut series: Vec<String> = Vec::new();
    for (r, _) in vals {
        let x = r.label(&spec.x).unwrap_or("?").to_string();
        if !xs.contains(&x) {
            xs.push(x);
        }
        let s = series_of(r, spec).to_string();
        if !series.contains(&s) {
            series.push(s);
        }
    }
    let mut bars = Vec::new();
    for (xi, x) in xs.iter().enumerate() {
        for (si, s) in series.iter().enumerate() {
            let v: Vec<f64> = vals
                .iter()
                .filter(|(r, _)| r.label(&spec.x) == Some(x.as_str()) && series_of(r, spec) == s)
                .map(|p| p.1)
                .collect();
            if !v.is_empty() {
                let (mean, std) = mean_std(&v);
                bars.push(Bar {
                    x: xi,
                    series: si,
                    mean,
                    std,
                    n: v.len(),
                });
            }
        }
    }
    Bars { xs, series, bars }
}

/// The y range: from zero (bars stand on it) to the ends of the error bars, with a little
/// room below and more above.
fn value_range(bars: &[Bar]) -> (f64, f64) {
    let lo = bars.iter().map(|b| b.mean - b.std).fold(0.0f64, f64::min);
    let hi = bars.iter().map(|b| b.mean + b.std).fold(0.0f64, f64::max);
    if lo == hi {
        (0.0, 1.0)
    } else {
        (lo - (hi - lo) * 0.02, hi + (hi - lo) * 0.08)
    }
}

/// The bars of each x value side by side in its slot, with error bars where several runs
/// (seeds) were averaged.
fn draw_bars(chart: &mut Chart, title: &str, bars: &Bars) -> Result<()> {
    let width = 0.8 / bars.series.len() as f64;
    for b in &bars.bars {
        let left = b.x as f64 + 0.1 + b.series as f64 * width;
        let c = color(b.series);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(left, 0.0), (left + width * 0.92, b.mean)],
                c.mix(0.85).filled(),
            )))
            .in_chart(title)?;
        if b.n > 1 {
            let (m, sd) = (b.mean, b.std);
            let mid = left + width * 0.46;
            let cap = width * 0.15;
            let stroke = BLACK.stroke_width(1);
            chart
                .draw_series([
                    PathElement::new(vec![(mid, m - sd), (mid, m + sd)], stroke),
                    PathElement::new(vec![(mid - cap, m - sd), (mid + cap, m - sd)], stroke),
                    PathElement::new(vec![(mid - cap, m + sd), (mid + cap, m + sd)], stroke),
                ])
                .in_chart(title)?;
        }
    }
    Ok(())
}

/// The x values' names under their slots; the frame has no ticks to hang them on.
fn draw_categories(
    root: &Canvas,
    chart: &Chart,
    title: &str,
    xs: &[String],
    lo: f64,
) -> Result<()> {
    let style =
        TextStyle::from((FONT, TICK_SIZE).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (xi, x) in xs.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(xi as f64 + 0.5, lo));
        root.draw(&Text::new(shorten(x, 24), (px, py + 6), style.clone()))
            .in_chart(title)?;
    }
    Ok(())
}
