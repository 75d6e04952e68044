//! What every chart shares: an SVG canvas on white, the frame (caption, margins, axes, grid,
//! fonts), the palette and the series legend. Chart kinds say only what differs — the ranges,
//! the axis titles, whether the x axis holds numbers or categories — so all charts look alike.

use crate::error::{ReportError, Result};
use crate::stats::fmt_num;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::ops::Range;

pub(super) const FONT: &str = "sans-serif";

/// The canvas a chart draws on (the whole SVG).
pub(super) type Canvas<'b> = DrawingArea<SVGBackend<'b>, Shift>;
/// A framed chart with numeric coordinates on both axes.
pub(super) type Chart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

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

/// The colour of the `i`-th series (cycling through the palette).
pub(super) fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// plotters' drawing errors as the report's, naming the chart they happened in.
pub(super) trait InChart<T> {
    fn in_chart(self, title: &str) -> Result<T>;
}

impl<T, E: std::fmt::Display> InChart<T> for std::result::Result<T, E> {
    fn in_chart(self, title: &str) -> Result<T> {
        self.map_err(|e| ReportError::Plot {
            title: title.to_string(),
            message: e.to_string(),
        })
    }
}

/// Draws a chart of `size` pixels and returns its SVG text: the canvas is filled white before
/// `draw` and presented after it, and the backend's borrow of the text ends here.
pub(super) fn svg(
    title: &str,
    size: (u32, u32),
    draw: impl FnOnce(&Canvas<'_>) -> Result<()>,
) -> Result<String> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        root.fill(&WHITE).in_chart(title)?;
        draw(&root)?;
        root.present().in_chart(title)?;
    }
    Ok(buf)
}

/// How the x axis is drawn.
pub(super) enum XAxis<'a> {
    /// Numbers with ticks and grid lines, titled with the given text.
    Numeric(&'a str),
    /// Categories at 0.5, 1.5, …: no ticks or vertical grid, and a taller label area, since
    /// the chart writes the category names (and the axis title) itself.
    Categories,
}

/// What differs between the frames of the chart kinds.
pub(super) struct Frame<'a> {
    pub title: &'a str,
    pub x: Range<f64>,
    pub y: Range<f64>,
    pub x_axis: XAxis<'a>,
    pub y_desc: &'a str,
    /// The plotted y values are log10 of the data, so tick labels show 10^y.
    pub log_y: bool,
}

/// Builds the chart on `root`: caption, label areas, coordinates, and the mesh with its axis
/// titles and tick labels.
pub(super) fn frame<'a, 'b>(root: &'a Canvas<'b>, f: &Frame) -> Result<Chart<'a, 'b>> {
    let x_label_area = match f.x_axis {
        XAxis::Numeric(_) => 34,
        XAxis::Categories => 40,
    };
    let mut chart = ChartBuilder::on(root)
        .caption(f.title, (FONT, 15))
        .margin(8)
        .x_label_area_size(x_label_area)
        .y_label_area_size(58)
        .build_cartesian_2d(f.x.clone(), f.y.clone())
        .in_chart(f.title)?;
    let x_fmt = |v: &f64| fmt_num(*v);
    let y_fmt = |v: &f64| {
        if f.log_y {
            fmt_num(10f64.powf(*v))
        } else {
            fmt_num(*v)
        }
    };
    {
        let mut mesh = chart.configure_mesh();
        match f.x_axis {
            XAxis::Numeric(desc) => {
                mesh.x_desc(desc).x_label_formatter(&x_fmt);
            }
            XAxis::Categories => {
                mesh.disable_x_mesh().x_labels(0);
            }
        }
        mesh.y_desc(f.y_desc)
            .label_style((FONT, 11))
            .axis_desc_style((FONT, 12))
            .y_label_formatter(&y_fmt)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .in_chart(f.title)?;
    }
    Ok(chart)
}

/// The legend of the labelled series, framed alike in every chart; `at` is where it sits.
pub(super) fn series_legend<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
    title: &str,
    at: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .label_font((FONT, 11))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .position(at)
        .draw()
        .in_chart(title)
}

/// The legend key of a line series: a short stroke in its colour.
pub(super) fn line_key(c: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
}

/// The span of the finite values with a 5 % margin (±10 % around a single value, ±1 around a
/// single zero), so that no point sits on the frame; `0..1` when there is none.
pub(super) fn range(vals: impl Iterator<Item = f64>) -> (f64, f64) {
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

/// Text cut to `max` characters with an ellipsis, for labels drawn in a fixed space.
pub(super) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}
