//! What every chart shares: an SVG canvas on white, the frame (caption, margins, axes, grid,
//! fonts), the palette and the series legend. Chart kinds say only what differs — the ranges,
//! the axis titles, whether the x axis holds numbers or categories — so all charts look alike.

use crate::error::{ReportError, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
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

/// Font sizes as plotters takes them. Its SVG backend writes `font-size` as the size / 1.24,
/// so these are 14.5, 12.1 and 11.3 px in the file, and so at 100 % zoom on a chart shown at
/// its own width: nothing under 11 px (the old 11 / 12 were 8.9 / 9.7 px).
pub(super) const CAPTION_SIZE: u32 = 18;
pub(super) const AXIS_SIZE: u32 = 15;
pub(super) const TICK_SIZE: u32 = 14;

/// How the x axis is drawn.
pub(super) enum XAxis<'a> {
    /// Numbers with ticks and grid lines, titled with the given text.
    Numeric(&'a str),
    /// Categories at 0.5, 1.5, …: no ticks or vertical grid, and a taller label area, since
    /// the chart writes the category names (and the axis title) itself.
    Categories,
}

/// The mark beside a legend entry, as the series is drawn.
#[derive(Clone, Copy)]
pub(super) enum Key {
    Line,
    Dot,
    Box,
}

/// One entry of a chart's legend.
pub(super) struct LegendEntry {
    pub name: String,
    pub color: RGBColor,
    pub key: Key,
}

/// What differs between the frames of the chart kinds.
pub(super) struct Frame<'a> {
    pub title: &'a str,
    pub x: Range<f64>,
    pub y: Range<f64>,
    pub x_axis: XAxis<'a>,
    pub y_desc: &'a str,
    /// The plotted x values are log10 of the data: ticks at 1, 3, 10, … of the data.
    pub log_x: bool,
    /// The plotted y values are log10 of the data, so tick labels show 10^y.
    pub log_y: bool,
    /// Drawn to the right of the data area, never over it; empty for no legend.
    pub legend: Vec<LegendEntry>,
}

/// Characters of a legend name kept; the legend column is as wide as its longest name. Room
/// for an axis and a label of about 24 characters and the ` (mean of 3)` a seed average adds.
const LEGEND_CHARS: usize = 40;

/// Builds the chart on `root`: caption, label areas, coordinates, the mesh with its axis
/// titles and tick labels (drawn by us on a log axis), and the legend beside the data area.
pub(super) fn frame<'a, 'b>(root: &'a Canvas<'b>, f: &Frame) -> Result<Chart<'a, 'b>> {
    let x_label_area = match f.x_axis {
        XAxis::Numeric(_) => 46,
        XAxis::Categories => 50,
    };
    let legend_width = legend_width(&f.legend);
    let mut chart = ChartBuilder::on(root)
        .caption(f.title, (FONT, CAPTION_SIZE))
        .margin(8)
        .margin_right(8 + legend_width)
        .x_label_area_size(x_label_area)
        .y_label_area_size(76)
        .build_cartesian_2d(f.x.clone(), f.y.clone())
        .in_chart(f.title)?;
    let x_fmt = tick_formatter(&f.x);
    let y_fmt = tick_formatter(&f.y);
    {
        let mut mesh = chart.configure_mesh();
        match f.x_axis {
            XAxis::Numeric(desc) => {
                mesh.x_desc(desc).x_label_formatter(&x_fmt);
                if f.log_x {
                    mesh.disable_x_mesh().x_labels(0);
                }
            }
            XAxis::Categories => {
                mesh.disable_x_mesh().x_labels(0);
            }
        }
        if f.log_y {
            mesh.disable_y_mesh().y_labels(0);
        }
        mesh.y_desc(f.y_desc)
            .label_style((FONT, TICK_SIZE))
            .axis_desc_style((FONT, AXIS_SIZE))
            .y_label_formatter(&y_fmt)
            .light_line_style(RGBColor(235, 235, 235))
            // One light line between tick lines: plotters' default (ten) drew ~170 grid lines a
            // chart, most of a run page's bytes (a student's page was 340 KB, 70 % of it mesh).
            .max_light_lines(1)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .in_chart(f.title)?;
    }
    if f.log_x {
        log_ticks(root, &chart, f, Side::X)?;
    }
    if f.log_y {
        log_ticks(root, &chart, f, Side::Y)?;
    }
    draw_legend(root, &chart, f)?;
    Ok(chart)
}

fn legend_width(entries: &[LegendEntry]) -> i32 {
    match entries.iter().map(|e| e.name.chars().count()).max() {
        // About 7 px a character at the tick size, and the key before the name.
        Some(n) => 36 + 7 * n.min(LEGEND_CHARS) as i32,
        None => 0,
    }
}

/// The legend in the column right of the data area, from its top.
fn draw_legend(root: &Canvas, chart: &Chart, f: &Frame) -> Result<()> {
    if f.legend.is_empty() {
        return Ok(());
    }
    let (right, top) = chart.backend_coord(&(f.x.end, f.y.end));
    let style =
        TextStyle::from((FONT, TICK_SIZE).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let x = right + 14;
    for (i, e) in f.legend.iter().enumerate() {
        let y = top + 8 + 20 * i as i32;
        let c = e.color;
        match e.key {
            Key::Line => root.draw(&PathElement::new(
                vec![(x, y), (x + 18, y)],
                c.stroke_width(2),
            )),
            Key::Dot => root.draw(&Circle::new((x + 9, y), 4, c.filled())),
            Key::Box => root.draw(&Rectangle::new(
                [(x + 4, y - 5), (x + 14, y + 5)],
                c.filled(),
            )),
        }
        .in_chart(f.title)?;
        root.draw(&Text::new(
            shorten(&e.name, LEGEND_CHARS),
            (x + 24, y),
            style.clone(),
        ))
        .in_chart(f.title)?;
    }
    Ok(())
}

/// Tick labels of a linear axis: the decimals the tick spacing needs, one format for the
/// whole axis, and a zero that floating point left as `-5.551e-17` written `0`.
fn tick_formatter(range: &Range<f64>) -> impl Fn(&f64) -> String {
    let span = (range.end - range.start).abs();
    let biggest = range.start.abs().max(range.end.abs());
    // plotters puts about ten ticks on an axis, at 1, 2 or 5 × a power of ten.
    let step = span / 10.0;
    let scientific = biggest >= 1e6 || (biggest > 0.0 && biggest < 1e-3);
    let decimals = if step > 0.0 {
        (-step.log10().floor()).max(0.0) as usize
    } else {
        0
    };
    move |v: &f64| {
        let v = if v.abs() <= span * 1e-9 { 0.0 } else { *v };
        if scientific && v != 0.0 {
            format!("{v:.1e}")
        } else {
            format!("{v:.decimals$}")
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    X,
    Y,
}

/// Grid lines and labels of a log axis at round values of the data — 1, 3, 10, 30, … (1, 2,
/// 5 over less than a decade; powers of ten alone over many) — instead of plotters' even
/// steps of log10, which read `3.16, 1, 0.316`.
fn log_ticks(root: &Canvas, chart: &Chart, f: &Frame, side: Side) -> Result<()> {
    let range = match side {
        Side::X => &f.x,
        Side::Y => &f.y,
    };
    let light = RGBColor(235, 235, 235);
    let font = TextStyle::from((FONT, TICK_SIZE).into_font());
    let label_style = match side {
        Side::X => font.pos(Pos::new(HPos::Center, VPos::Top)),
        Side::Y => font.pos(Pos::new(HPos::Right, VPos::Center)),
    };
    for (at, label) in log_tick_values(range.start, range.end) {
        let line = match side {
            Side::X => vec![(at, f.y.start), (at, f.y.end)],
            Side::Y => vec![(f.x.start, at), (f.x.end, at)],
        };
        chart
            .plotting_area()
            .draw(&PathElement::new(line, light.stroke_width(1)))
            .in_chart(f.title)?;
        let (px, py) = match side {
            Side::X => chart.backend_coord(&(at, f.y.start)),
            Side::Y => chart.backend_coord(&(f.x.start, at)),
        };
        let pos = match side {
            Side::X => (px, py + 6),
            Side::Y => (px - 6, py),
        };
        root.draw(&Text::new(label, pos, label_style.clone()))
            .in_chart(f.title)?;
    }
    Ok(())
}

/// The round values within `lo..hi` (log10 of the data) and their labels.
pub(super) fn log_tick_values(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let decades = hi - lo;
    let mantissas: &[f64] = if decades < 1.0 {
        &[1.0, 2.0, 5.0]
    } else if decades <= 4.0 {
        &[1.0, 3.0]
    } else {
        &[1.0]
    };
    let mut out = Vec::new();
    for k in (lo.floor() as i32)..=(hi.ceil() as i32) {
        for m in mantissas {
            let at = m.log10() + k as f64;
            if at >= lo && at <= hi {
                out.push((at, log_label(*m, k)));
            }
        }
    }
    out
}

/// `m × 10^k` written as a person would: `0.3`, `30`, `3e-4`.
fn log_label(m: f64, k: i32) -> String {
    if !(-3..=5).contains(&k) {
        format!("{m}e{k}")
    } else if k < 0 {
        format!("{:.*}", (-k) as usize, m * 10f64.powi(k))
    } else {
        format!("{}", (m * 10f64.powi(k)).round() as i64)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_averaged_legend_name_is_kept_whole() {
        let name = "terms=CA + mean-variance (mean of 3)";
        assert_eq!(shorten(name, LEGEND_CHARS), name);
        let long = "a label far too long for the legend column";
        assert_eq!(shorten(long, LEGEND_CHARS).chars().count(), LEGEND_CHARS);
    }

    #[test]
    fn ticks_read_cleanly() {
        let f = tick_formatter(&(-0.5..0.5));
        assert_eq!(f(&-5.551e-17), "0.0");
        assert_eq!(f(&0.2), "0.2");
        let f = tick_formatter(&(0.0..300.0));
        assert_eq!(f(&150.0), "150");
        let labels: Vec<String> = log_tick_values((0.032f64).log10(), (3.5f64).log10())
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(labels, ["0.1", "0.3", "1", "3"]);
        let lr: Vec<String> = log_tick_values((1e-4f64).log10(), (1e-3f64).log10())
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(lr, ["1e-4", "3e-4", "0.001"]);
    }
}
