//! Charts as SVG strings (plotters' SVG backend), to be inlined in the HTML: training curves,
//! bars with error bars over seeds, sweeps over a numeric axis, scatters of two metrics.
//! Curves are smoothed (optional) and downsampled to at most [`MAX_POINTS`] per series; the
//! database keeps every point. plotters escapes the text it writes into the SVG.
//!
//! One file per chart kind, each keeping only what is its own; the canvas, frame, palette
//! and legend they share are in `frame`, the choice of runs and values in `data`.

mod bar;
mod data;
mod frame;
mod line;
mod scatter;
mod sweep;

use crate::error::Result;
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
}

/// What a chart kind gives back: the SVG, or none when no run has its data; and a note for
/// the page (why there is no chart, or what it leaves out).
type Drawn = (Option<String>, Option<String>);

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
        PlotKind::Line => line::line_plot(&title, spec, &runs)?,
        PlotKind::Bar => bar::bar_plot(&title, spec, &runs)?,
        PlotKind::Sweep => sweep::sweep_plot(&title, spec, &runs)?,
        PlotKind::Scatter => scatter::scatter_plot(&title, spec, &runs)?,
    };
    Ok(PlotModel {
        index,
        title,
        svg,
        note,
    })
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
