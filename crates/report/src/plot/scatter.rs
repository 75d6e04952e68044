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

/// One variant (the point without seed): its label, its series name, mean x and mean y.
struct Point {
    label: String,
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
            chart
                .draw_series(
                    mine.iter()
                        .map(|p| Circle::new((p.x, p.y), 4, color(i).filled())),
                )
                .in_chart(title)?;
        }
        draw_labels(&mut chart, title, &pts)
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
    let mut axes: Vec<Vec<(String, String)>> = Vec::new();
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
            None => {
                variants.push((key, s, vec![x.value], vec![y.value]));
                axes.push(
                    r.point
                        .iter()
                        .filter(|(k, _)| k.as_str() != "seed")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                );
            }
        }
    }
    let labels = labels(&axes, spec.series.as_deref());
    variants
        .into_iter()
        .zip(labels)
        .map(|((_, series, xs, ys), label)| Point {
            label,
            series,
            x: mean_std(&xs).0,
            y: mean_std(&ys).0,
        })
        .collect()
}

/// A point's label says what tells it from the others: the axes whose value differs between
/// points, less the series axis (its colour and the legend say it). Axes with one value in the
/// whole plot (`schedule=hybrid` under every point) would only crowd the chart.
fn labels(points: &[Vec<(String, String)>], series: Option<&str>) -> Vec<String> {
    let value = |p: &[(String, String)], axis: &str| {
        p.iter().find(|(k, _)| k == axis).map(|(_, v)| v.clone())
    };
    let mut varying: Vec<String> = Vec::new();
    for p in points {
        for (axis, _) in p {
            if Some(axis.as_str()) == series || varying.contains(axis) {
                continue;
            }
            let first = value(&points[0], axis);
            if points.iter().any(|q| value(q, axis) != first) {
                varying.push(axis.clone());
            }
        }
    }
    points
        .iter()
        .map(|p| {
            varying
                .iter()
                .filter_map(|a| value(p, a).map(|v| format!("{a}={v}")))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect()
}

/// Every point's label (its variant), placed so that no two labels overlap where the chart
/// has room: each takes the first of eight places around its point whose box stays inside the
/// plotting area and overlaps no label placed before it nor another point's marker; where
/// every place is taken it takes the least covered one. (The legend, drawn by the frame,
/// names the series.)
fn draw_labels(chart: &mut Chart, title: &str, pts: &[Point]) -> Result<()> {
    let style = TextStyle::from((FONT, TICK_SIZE).into_font()).pos(Pos::new(HPos::Left, VPos::Top));
    let area = chart.plotting_area();
    let (xr, yr) = area.get_pixel_range();
    let bounds = Boxed {
        x0: xr.start,
        y0: yr.start,
        x1: xr.end,
        y1: yr.end,
    };
    let texts: Vec<String> = pts.iter().map(|p| shorten(&p.label, 28)).collect();
    let anchors: Vec<(i32, i32)> = pts
        .iter()
        .map(|p| chart.backend_coord(&(p.x, p.y)))
        .collect();
    let mut sizes = Vec::with_capacity(texts.len());
    for t in &texts {
        let (w, h) = area.estimate_text_size(t, &style).in_chart(title)?;
        sizes.push((w as i32, h as i32));
    }
    let offsets = place_labels(&anchors, &sizes, bounds);
    chart
        .draw_series(
            pts.iter()
                .zip(&texts)
                .zip(&offsets)
                .filter(|((_, t), _)| !t.is_empty())
                .map(|((p, t), &off)| {
                    EmptyElement::at((p.x, p.y)) + Text::new(t.clone(), off, style.clone())
                }),
        )
        .in_chart(title)?;
    Ok(())
}

/// A box in pixels (x1, y1 exclusive).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Boxed {
    x0: i32,
    y0: i32,
    x1: i32,
    y1: i32,
}

impl Boxed {
    fn overlap(&self, o: &Boxed) -> i64 {
        let w = (self.x1.min(o.x1) - self.x0.max(o.x0)).max(0) as i64;
        let h = (self.y1.min(o.y1) - self.y0.max(o.y0)).max(0) as i64;
        w * h
    }

    fn outside(&self, b: &Boxed) -> i64 {
        let area = ((self.x1 - self.x0) * (self.y1 - self.y0)) as i64;
        area - self.overlap(b)
    }
}

/// Marker radius plus a little air, in pixels.
const MARK: i32 = 6;

/// The top-left offset of each label from its point (see `draw_labels`): greedy, in point
/// order, over eight candidate places — right/left of the point above, below and level with
/// it, then centred above and below.
fn place_labels(anchors: &[(i32, i32)], sizes: &[(i32, i32)], bounds: Boxed) -> Vec<(i32, i32)> {
    let markers: Vec<Boxed> = anchors
        .iter()
        .map(|&(x, y)| Boxed {
            x0: x - MARK,
            y0: y - MARK,
            x1: x + MARK,
            y1: y + MARK,
        })
        .collect();
    let mut placed: Vec<Boxed> = Vec::new();
    let mut out = Vec::with_capacity(anchors.len());
    for (i, (&(x, y), &(w, h))) in anchors.iter().zip(sizes).enumerate() {
        let g = MARK;
        let candidates = [
            (g, -h - 2),
            (-w - g, -h - 2),
            (g, 2),
            (-w - g, 2),
            (g, -h / 2),
            (-w - g, -h / 2),
            (-w / 2, -h - g),
            (-w / 2, g),
        ];
        let cost = |&(dx, dy): &(i32, i32)| -> i64 {
            let b = Boxed {
                x0: x + dx,
                y0: y + dy,
                x1: x + dx + w,
                y1: y + dy + h,
            };
            let labels: i64 = placed.iter().map(|p| p.overlap(&b)).sum();
            let marks: i64 = markers
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, m)| m.overlap(&b))
                .sum();
            // Leaving the plotting area weighs most: a label cut by the frame is unreadable.
            4 * b.outside(&bounds) + labels + marks
        };
        let best = candidates
            .iter()
            .find(|c| cost(c) == 0)
            .or_else(|| candidates.iter().min_by_key(|c| cost(c)))
            .copied()
            .unwrap_or((g, -h - 2));
        placed.push(Boxed {
            x0: x + best.0,
            y0: y + best.1,
            x1: x + best.0 + w,
            y1: y + best.1 + h,
        });
        out.push(best);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const AREA: Boxed = Boxed {
        x0: 0,
        y0: 0,
        x1: 600,
        y1: 300,
    };

    fn boxes(anchors: &[(i32, i32)], sizes: &[(i32, i32)]) -> Vec<Boxed> {
        place_labels(anchors, sizes, AREA)
            .iter()
            .zip(anchors.iter().zip(sizes))
            .map(|(&(dx, dy), (&(x, y), &(w, h)))| Boxed {
                x0: x + dx,
                y0: y + dy,
                x1: x + dx + w,
                y1: y + dy + h,
            })
            .collect()
    }

    fn pt(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_label_names_only_what_differs_and_not_the_series() {
        let points = [
            pt(&[("schedule", "hybrid"), ("terms", "CA + DM"), ("alpha", "4")]),
            pt(&[("schedule", "hybrid"), ("terms", "CA only"), ("alpha", "4")]),
            pt(&[("schedule", "hybrid"), ("terms", "CA only"), ("alpha", "8")]),
        ];
        assert_eq!(
            labels(&points, Some("terms")),
            ["alpha=4", "alpha=4", "alpha=8"]
        );
        assert_eq!(
            labels(&points, None),
            [
                "terms=CA + DM, alpha=4",
                "terms=CA only, alpha=4",
                "terms=CA only, alpha=8"
            ]
        );
        assert_eq!(labels(&points[..1], None), [""]);
    }

    #[test]
    fn labels_of_points_on_top_of_each_other_do_not_overlap() {
        // Four variants within a few pixels of each other: the ablation tables' usual case.
        let anchors = [(300, 150), (302, 151), (299, 152), (301, 149)];
        let sizes = [(120, 16); 4];
        let b = boxes(&anchors, &sizes);
        for i in 0..b.len() {
            for j in i + 1..b.len() {
                assert_eq!(
                    b[i].overlap(&b[j]),
                    0,
                    "labels {i} and {j}: {:?} {:?}",
                    b[i],
                    b[j]
                );
            }
            assert_eq!(
                b[i].outside(&AREA),
                0,
                "label {i} leaves the area: {:?}",
                b[i]
            );
        }
    }

    #[test]
    fn a_label_at_the_right_edge_goes_left() {
        let b = boxes(&[(595, 150)], &[(120, 16)]);
        assert!(b[0].x1 <= 600 && b[0].x0 >= 0, "{:?}", b[0]);
    }

    #[test]
    fn with_no_room_left_every_label_is_still_placed() {
        let anchors: Vec<(i32, i32)> = (0..40).map(|_| (300, 150)).collect();
        let sizes = vec![(200, 16); 40];
        assert_eq!(place_labels(&anchors, &sizes, AREA).len(), 40);
    }
}
