//! Charts as SVG strings (plotters' SVG backend), to be inlined in the HTML: training curves,
//! bars with error bars over seeds, sweeps over a numeric axis, scatters of two metrics.
//! Curves are smoothed (optional) and downsampled to at most [`MAX_POINTS`] per series; the
//! database keeps every point. plotters escapes the text it writes into the SVG.
//!
//! One file per chart kind, each keeping only what is its own; the canvas, frame, palette
//! and legend they share are in `frame`, the choice of runs and values in `data`.

mod bar;
mod caption;
mod data;
mod frame;
mod line;
mod scatter;
mod sweep;

use crate::error::Result;
use crate::metrics_meta;
use crate::model::RunRecord;
use crate::report_params::{PlotKind, PlotSpec};
use crate::table::passes;
use serde::Serialize;

pub use line::line_chart;

/// Points per displayed series, at most.
pub const MAX_POINTS: usize = 500;

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
    /// The std of the runs averaged at each point (drawn as a band of ± it); empty for a
    /// single run.
    pub spread: Vec<f64>,
}

/// What a chart kind gives back: the SVG, or none when no run has its data; and a note for
/// the page (why there is no chart, or what it leaves out).
type Drawn = (Option<String>, Option<String>);

/// Renders a declared plot.
pub fn render_plot(index: usize, spec: &PlotSpec, runs: &[RunRecord]) -> Result<PlotModel> {
    let runs: Vec<&RunRecord> = runs.iter().filter(|r| passes(r, &spec.filter)).collect();
    let title = spec.title.clone().unwrap_or_else(|| default_title(spec));
    let (svg, note) = match spec.kind {
        PlotKind::Line => line::line_plot(&title, spec, &runs)?,
        PlotKind::Bar => bar::bar_plot(&title, spec, &runs)?,
        PlotKind::Sweep => sweep::sweep_plot(&title, spec, &runs)?,
        PlotKind::Scatter => scatter::scatter_plot(&title, spec, &runs)?,
    };
    let mut notes = caption::lines(spec, &runs);
    notes.extend(note);
    Ok(PlotModel {
        index,
        title,
        svg,
        note: (!notes.is_empty()).then(|| notes.join(" ")),
    })
}

/// A title from the metrics' names, not their keys: `FID against Throughput, bs16`.
fn default_title(spec: &PlotSpec) -> String {
    let y = metric_name(&spec.metric);
    let filtered = if spec.filter.is_empty() {
        String::new()
    } else {
        format!(
            " ({})",
            spec.filter
                .iter()
                .map(|(a, v)| format!("{a} = {}", v.join(" | ")))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let body = match spec.kind {
        PlotKind::Line => format!("{y} over training"),
        PlotKind::Bar => format!("{y} by {}", spec.x),
        PlotKind::Sweep => format!("{y} against {}", spec.x),
        PlotKind::Scatter => format!("{y} against {}", metric_name(&spec.x)),
    };
    format!("{body}{filtered}")
}

/// The metric's readable name and setting: `fid@4` → `FID, 4 steps`, `fid@*` → `FID`,
/// `throughput@*/bs16` → `Throughput, bs16`; an unknown metric is its key.
pub(crate) fn metric_name(key: &str) -> String {
    let Some(label) = metrics_meta::known_label(key) else {
        return key.to_string();
    };
    let mut parts = vec![label.to_string()];
    if let Some(steps) = metrics_meta::setting(key).filter(|s| s.parse::<u32>().is_ok()) {
        let unit = if steps == "1" { "step" } else { "steps" };
        parts.push(format!("{steps} {unit}"));
    }
    if let Some((_, rest)) = key.split_once('@').and_then(|(_, a)| a.split_once('/')) {
        parts.push(rest.to_string());
    }
    parts.join(", ")
}

/// An axis title: the metric's name, its unit and which way is better (`FID ↓`,
/// `Throughput, bs16 [img/s] ↑`).
pub(crate) fn axis_title(key: &str) -> String {
    let mut t = metric_name(key);
    if let Some(u) = metrics_meta::known_unit(key) {
        t.push_str(&format!(" [{u}]"));
    }
    if let Some(d) = metrics_meta::known_direction(key) {
        t.push(' ');
        t.push_str(d.arrow());
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FinalValue;

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
            log_x: false,
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
            svg.matches("\nDPG, 4 steps\n").count(),
            1,
            "one legend entry: {svg}"
        );
        // Titles from the metric's metadata, not its key.
        assert_eq!(
            svg.matches("\nDPG, 4 steps ↑\n").count(),
            1,
            "the y axis title"
        );
        assert_eq!(p.title, "DPG, 4 steps against alpha");
        // Every text at least 11 px (plotters writes a size as size / 1.24).
        for size in svg.split("font-size=\"").skip(1) {
            let px: f64 = size[..size.find('"').unwrap()].parse().unwrap();
            assert!(px >= 11.0, "{px} px");
        }
    }

    #[test]
    fn captions_say_what_is_pooled_and_filtered() {
        let mut runs: Vec<RunRecord> = (0..4)
            .map(|i| {
                run(
                    i,
                    &[
                        ("lr", if i < 2 { "1e-4" } else { "3e-3" }),
                        ("batch", if i % 2 == 0 { "8" } else { "16" }),
                    ],
                    &[("fid@4", 20.0 + i as f64)],
                )
            })
            .collect();
        runs.push(run(9, &[("lr", "0")], &[("fid@4", 30.0)]));
        let mut s = spec(PlotKind::Sweep, "fid@4", "lr");
        s.log_x = true;
        let p = render_plot(0, &s, &runs).unwrap();
        assert_eq!(
            p.note.as_deref(),
            Some(
                "Each point: the mean of 1–2 runs, error bars ± 1 std. \
                 ⚠ Pools runs that differ in `batch` (not only in seed): add a filter or a series to separate them. \
                 1 run(s) with `lr` ≤ 0 are not shown on the log axis."
            )
        );
        // Log ticks at round values of the data.
        let svg = p.svg.unwrap();
        assert!(
            svg.contains("\n1e-4\n") && svg.contains("\n0.001\n"),
            "{svg}"
        );
        s.filter = vec![("batch".into(), vec!["8".into()])];
        let p = render_plot(0, &s, &runs).unwrap();
        assert_eq!(p.title, "FID, 4 steps against lr (batch = 8)");
        assert!(p.note.unwrap().starts_with("Filter: batch = 8."));
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
