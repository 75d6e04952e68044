//! `plots[i]`: one chart each. The kind decides which keys name the plotted values (`metric`
//! and an axis `x`, or two metrics `x` and `y` for a scatter), so the checks that a key
//! belongs to the kind come before the values are read.

use super::filter::{opt_filter, Filter};
use super::values::{check_keys, object, opt_string, show, string};
use crate::error::{ReportError, Result};
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PlotKind {
    /// A metric against the training step, one line per value of `series`.
    Line,
    /// A metric per value of axis `x`, mean with error bars over seeds.
    Bar,
    /// A metric against a numeric axis `x` (the α sweep), error bars over seeds.
    Sweep,
    /// Metric `y` against metric `x`, one point per variant.
    Scatter,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlotSpec {
    pub kind: PlotKind,
    pub title: Option<String>,
    /// The plotted metric (line, bar, sweep); for scatter, the y metric.
    pub metric: String,
    /// `iteration` for line plots, an axis for bar / sweep, a metric for scatter.
    pub x: String,
    pub series: Option<String>,
    /// EMA weight in [0, 1) for line plots.
    pub smooth: f64,
    pub filter: Filter,
    pub log_y: bool,
    /// A log x axis: sweeps over a numeric axis (a learning rate) and scatters.
    pub log_x: bool,
}

pub(super) const PLOT_KEYS: &[&str] = &[
    "kind", "title", "metric", "x", "y", "series", "smooth", "filter", "log_y", "log_x",
];

/// The weight `smooth: true` stands for.
const DEFAULT_SMOOTH: f64 = 0.6;

pub(super) fn parse_plot(item: &Value, path: &str) -> Result<PlotSpec> {
    let m = object(item, path)?;
    check_keys(m, PLOT_KEYS, path)?;
    let kind = parse_kind(m, path)?;
    let (metric, x) = plotted_values(kind, m, path)?;
    let smooth = parse_smooth(m, kind, path)?;
    let log_y = parse_flag(m, "log_y", path)?;
    let log_x = parse_flag(m, "log_x", path)?;
    if log_x && !matches!(kind, PlotKind::Sweep | PlotKind::Scatter) {
        return Err(ReportError::param(
            format!("{path}.log_x"),
            "only sweep and scatter plots have a numeric x axis to put on a log scale",
        ));
    }
    let filter = opt_filter(m, path)?;
    Ok(PlotSpec {
        kind,
        title: opt_string(m, "title", path)?,
        metric,
        x,
        series: opt_string(m, "series", path)?,
        smooth,
        filter,
        log_y,
        log_x,
    })
}

/// `kind` first: every other key is checked against it.
fn parse_kind(m: &Map<String, Value>, path: &str) -> Result<PlotKind> {
    let Some(v) = m.get("kind") else {
        return Err(ReportError::param(
            format!("{path}.kind"),
            "missing; expected line, bar, sweep or scatter",
        ));
    };
    match string(v, &format!("{path}.kind"))?.as_str() {
        "line" => Ok(PlotKind::Line),
        "bar" => Ok(PlotKind::Bar),
        "sweep" => Ok(PlotKind::Sweep),
        "scatter" => Ok(PlotKind::Scatter),
        other => Err(ReportError::param(
            format!("{path}.kind"),
            format!("expected line, bar, sweep or scatter, got {other:?}"),
        )),
    }
}

/// The plotted metric and what goes on the x axis, read from the keys the kind uses; a key
/// of another kind (`y` outside scatters, `metric` in one) is named as the mistake.
fn plotted_values(kind: PlotKind, m: &Map<String, Value>, path: &str) -> Result<(String, String)> {
    match kind {
        PlotKind::Line => {
            reject_y(m, path)?;
            let x = opt_string(m, "x", path)?.unwrap_or_else(|| "iteration".into());
            if x != "iteration" && x != "step" {
                return Err(ReportError::param(
                    format!("{path}.x"),
                    format!("line plots are drawn against the training step: expected `iteration`, got {x:?} (use kind: sweep for a metric against an axis)"),
                ));
            }
            let metric = required(
                m,
                "metric",
                path,
                "the metric key of the curve (e.g. train/pixel_var)",
            )?;
            Ok((metric, x))
        }
        PlotKind::Bar | PlotKind::Sweep => {
            reject_y(m, path)?;
            Ok((
                required(m, "metric", path, "a metric key")?,
                required(m, "x", path, "the matrix axis on the x axis")?,
            ))
        }
        PlotKind::Scatter => {
            if m.contains_key("metric") {
                return Err(ReportError::param(
                    format!("{path}.metric"),
                    "scatter plots take `x` and `y` metric keys",
                ));
            }
            Ok((
                required(m, "y", path, "the metric key on the y axis")?,
                required(m, "x", path, "the metric key on the x axis")?,
            ))
        }
    }
}

fn reject_y(m: &Map<String, Value>, path: &str) -> Result<()> {
    if m.contains_key("y") {
        return Err(ReportError::param(
            format!("{path}.y"),
            "only scatter plots take `y`; use `metric`",
        ));
    }
    Ok(())
}

fn required(m: &Map<String, Value>, key: &str, path: &str, what: &str) -> Result<String> {
    opt_string(m, key, path)?.ok_or_else(|| {
        ReportError::param(format!("{path}.{key}"), format!("missing; expected {what}"))
    })
}

/// `smooth`: off, on (a default weight) or an EMA weight. Only line plots are smoothed: a
/// positive weight elsewhere is refused, while `false`, `0` and `true` pass for any kind
/// (the other kinds never read the weight).
fn parse_smooth(m: &Map<String, Value>, kind: PlotKind, path: &str) -> Result<f64> {
    match m.get("smooth") {
        None => Ok(0.0),
        Some(Value::Bool(false)) => Ok(0.0),
        Some(Value::Bool(true)) => Ok(DEFAULT_SMOOTH),
        Some(Value::Number(n)) => {
            let w = n.as_f64().unwrap_or(-1.0);
            if !(0.0..1.0).contains(&w) {
                return Err(ReportError::param(
                    format!("{path}.smooth"),
                    format!("expected a weight in [0, 1), got {n}"),
                ));
            }
            if kind != PlotKind::Line && w > 0.0 {
                return Err(ReportError::param(
                    format!("{path}.smooth"),
                    "only line plots are smoothed",
                ));
            }
            Ok(w)
        }
        Some(other) => Err(ReportError::param(
            format!("{path}.smooth"),
            format!(
                "expected true/false or a weight in [0, 1), got {}",
                show(other)
            ),
        )),
    }
}

/// `log_y`, `log_x`: true or false.
fn parse_flag(m: &Map<String, Value>, key: &str, path: &str) -> Result<bool> {
    match m.get(key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(ReportError::param(
            format!("{path}.{key}"),
            format!("expected true or false, got {}", show(other)),
        )),
    }
}
