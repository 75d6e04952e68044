//! The `params` of a report stage, parsed and validated into a [`ReportSpec`]. Errors name the
//! field path (`tables[0].columns[2]`) and what was expected.
//!
//! The top level of a stage's params also holds parameters inherited from the pipeline's
//! `defaults` (`seed`, `data`, …), so unknown top-level keys are ignored unless they look like a
//! misspelt report key; inside `tables`, `plots` and `samples` every key is ours and unknown
//! keys are errors.

use crate::error::{ReportError, Result};
use crate::metrics_meta::Direction;
use crate::presets;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Clone, Debug, Default, Serialize)]
pub struct ReportSpec {
    pub title: Option<String>,
    pub description: Option<String>,
    /// Copy the finished report to `<output_dir>/<pipeline>/` (and refresh its index).
    pub output_dir: Option<PathBuf>,
    pub tables: Vec<TableSpec>,
    pub plots: Vec<PlotSpec>,
    pub samples: SamplesSpec,
    /// Lines of each job's log shown on its run page.
    pub log_tail: usize,
}

/// Axis filter: axis -> accepted value labels.
pub type Filter = Vec<(String, Vec<String>)>;

#[derive(Clone, Debug, Serialize)]
pub struct TableSpec {
    pub title: String,
    pub preset: Option<String>,
    /// Matrix axes (or `job` / `stage`) whose values make the rows.
    pub rows: Vec<String>,
    pub columns: Columns,
    pub filter: Filter,
    /// Metric -> unit shown in the header.
    pub units: BTreeMap<String, String>,
    /// Metric -> better direction; `None` turns best-marking off for that metric.
    pub direction: BTreeMap<String, Option<Direction>>,
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub enum Columns {
    /// One column per metric key.
    Metrics(Vec<ColumnSpec>),
    /// One column per value of an axis, all showing one metric.
    Axis { axis: String, metric: String },
}

#[derive(Clone, Debug, Serialize)]
pub struct ColumnSpec {
    pub metric: String,
    pub label: Option<String>,
}

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
}

#[derive(Clone, Debug, Serialize)]
pub struct SamplesSpec {
    pub enabled: bool,
    pub filter: Filter,
    /// Only runs of these stages (all when empty).
    pub stages: Vec<String>,
    /// Prompts listed under each grid.
    pub max_prompts: usize,
}

impl Default for SamplesSpec {
    fn default() -> Self {
        SamplesSpec {
            enabled: true,
            filter: Vec::new(),
            stages: Vec::new(),
            max_prompts: 16,
        }
    }
}

const TABLE_KEYS: &[&str] = &[
    "title",
    "preset",
    "rows",
    "columns",
    "metric",
    "filter",
    "units",
    "direction",
    "note",
];
const PLOT_KEYS: &[&str] = &[
    "kind", "title", "metric", "x", "y", "series", "smooth", "filter", "log_y",
];
const SAMPLES_KEYS: &[&str] = &["filter", "stages", "max_prompts", "enabled"];

/// Parses and validates the `params` of a report stage.
pub fn parse_report_params(params: &Map<String, Value>) -> Result<ReportSpec> {
    let mut spec = ReportSpec {
        log_tail: 40,
        ..ReportSpec::default()
    };
    // Unknown top-level keys are the plan's to reject (`ddmd_core::params::check`, with the
    // key's own location); inherited defaults land here too and are ignored.
    if let Some(v) = params.get("title") {
        spec.title = Some(string(v, "title")?);
    }
    if let Some(v) = params.get("description") {
        spec.description = Some(string(v, "description")?);
    }
    if let Some(v) = params.get("output_dir") {
        spec.output_dir = Some(PathBuf::from(string(v, "output_dir")?));
    }
    if let Some(v) = params.get("log_tail") {
        spec.log_tail = uint(v, "log_tail")?;
    }
    if let Some(v) = params.get("tables") {
        let items = array(v, "tables")?;
        for (i, item) in items.iter().enumerate() {
            spec.tables
                .push(parse_table(item, &format!("tables[{i}]"))?);
        }
    }
    if let Some(v) = params.get("plots") {
        let items = array(v, "plots")?;
        for (i, item) in items.iter().enumerate() {
            spec.plots.push(parse_plot(item, &format!("plots[{i}]"))?);
        }
    }
    if let Some(v) = params.get("samples") {
        spec.samples = parse_samples(v, "samples")?;
    }
    Ok(spec)
}

fn parse_table(item: &Value, path: &str) -> Result<TableSpec> {
    let given = object(item, path)?;
    check_keys(given, TABLE_KEYS, path)?;
    // A preset supplies defaults; the entry's own keys override them one by one.
    let mut merged = Map::new();
    let preset = match given.get("preset") {
        Some(p) => {
            let name = string(p, &format!("{path}.preset"))?;
            let base = presets::load(&name)
                .map_err(|m| ReportError::param(format!("{path}.preset"), m))?;
            merged.extend(base);
            Some(name)
        }
        None => None,
    };
    for (k, v) in given {
        merged.insert(k.clone(), v.clone());
    }
    let m = &merged;
    let rows = match m.get("rows") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .enumerate()
            .map(|(i, v)| string(v, &format!("{path}.rows[{i}]")))
            .collect::<Result<_>>()?,
        Some(other) => {
            return Err(ReportError::param(
                format!("{path}.rows"),
                format!(
                    "expected an axis name or a non-empty list of axis names, got {}",
                    show(other)
                ),
            ))
        }
        None => {
            return Err(ReportError::param(
                format!("{path}.rows"),
                "missing; expected the matrix axis (or axes) whose values make the rows",
            ))
        }
    };
    let columns = match m.get("columns") {
        Some(Value::Array(a)) if !a.is_empty() => {
            if m.contains_key("metric") {
                return Err(ReportError::param(
                    format!("{path}.metric"),
                    "only used when `columns` names an axis; with a list of metric columns, remove it",
                ));
            }
            let cols = a
                .iter()
                .enumerate()
                .map(|(i, v)| parse_column(v, &format!("{path}.columns[{i}]")))
                .collect::<Result<Vec<_>>>()?;
            Columns::Metrics(cols)
        }
        Some(Value::String(axis)) => {
            let metric = match m.get("metric") {
                Some(v) => string(v, &format!("{path}.metric"))?,
                None => {
                    return Err(ReportError::param(
                        format!("{path}.metric"),
                        format!("missing; `columns: {axis}` makes one column per value of axis `{axis}`, so the table needs the metric to show in them"),
                    ))
                }
            };
            if rows.contains(axis) {
                return Err(ReportError::param(
                    format!("{path}.columns"),
                    format!("axis `{axis}` is already used for the rows"),
                ));
            }
            Columns::Axis {
                axis: axis.clone(),
                metric,
            }
        }
        Some(other) => {
            return Err(ReportError::param(
                format!("{path}.columns"),
                format!(
                    "expected a non-empty list of metric keys, or an axis name, got {}",
                    show(other)
                ),
            ))
        }
        None => {
            return Err(ReportError::param(
                format!("{path}.columns"),
                "missing; expected a list of metric keys (e.g. [fid@1, fid@4]) or an axis name",
            ))
        }
    };
    let title = match m.get("title") {
        Some(v) => string(v, &format!("{path}.title"))?,
        None => match &preset {
            Some(p) => p.clone(),
            None => format!("Table by {}", rows.join(" × ")),
        },
    };
    let filter = match m.get("filter") {
        Some(v) => parse_filter(v, &format!("{path}.filter"))?,
        None => Vec::new(),
    };
    for (axis, _) in &filter {
        if rows.contains(axis) {
            return Err(ReportError::param(
                format!("{path}.filter.{axis}"),
                "this axis makes the rows; filter on another axis, or list the wanted rows' values here and remove it from `rows`",
            ));
        }
    }
    let mut units = BTreeMap::new();
    if let Some(v) = m.get("units") {
        for (k, u) in object(v, &format!("{path}.units"))? {
            units.insert(k.clone(), string(u, &format!("{path}.units.{k}"))?);
        }
    }
    let mut direction = BTreeMap::new();
    if let Some(v) = m.get("direction") {
        for (k, d) in object(v, &format!("{path}.direction"))? {
            let p = format!("{path}.direction.{k}");
            let s = string(d, &p)?;
            let parsed = Direction::parse(&s).ok_or_else(|| {
                ReportError::param(
                    &p,
                    format!("expected up / down / none (or max / min), got {s:?}"),
                )
            })?;
            direction.insert(k.clone(), parsed);
        }
    }
    let note = match m.get("note") {
        Some(v) => Some(string(v, &format!("{path}.note"))?),
        None => None,
    };
    Ok(TableSpec {
        title,
        preset,
        rows,
        columns,
        filter,
        units,
        direction,
        note,
    })
}

fn parse_column(v: &Value, path: &str) -> Result<ColumnSpec> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(ColumnSpec {
            metric: s.clone(),
            label: None,
        }),
        Value::Object(o) => {
            check_keys(o, &["metric", "label"], path)?;
            let metric = match o.get("metric") {
                Some(m) => string(m, &format!("{path}.metric"))?,
                None => {
                    return Err(ReportError::param(
                        format!("{path}.metric"),
                        "missing; expected a metric key",
                    ))
                }
            };
            let label = match o.get("label") {
                Some(l) => Some(string(l, &format!("{path}.label"))?),
                None => None,
            };
            Ok(ColumnSpec { metric, label })
        }
        other => Err(ReportError::param(
            path,
            format!(
                "expected a metric key or {{metric, label}}, got {}",
                show(other)
            ),
        )),
    }
}

fn parse_plot(item: &Value, path: &str) -> Result<PlotSpec> {
    let m = object(item, path)?;
    check_keys(m, PLOT_KEYS, path)?;
    let kind_s = match m.get("kind") {
        Some(v) => string(v, &format!("{path}.kind"))?,
        None => {
            return Err(ReportError::param(
                format!("{path}.kind"),
                "missing; expected line, bar, sweep or scatter",
            ))
        }
    };
    let kind = match kind_s.as_str() {
        "line" => PlotKind::Line,
        "bar" => PlotKind::Bar,
        "sweep" => PlotKind::Sweep,
        "scatter" => PlotKind::Scatter,
        other => {
            return Err(ReportError::param(
                format!("{path}.kind"),
                format!("expected line, bar, sweep or scatter, got {other:?}"),
            ))
        }
    };
    let get_str = |key: &str| -> Result<Option<String>> {
        match m.get(key) {
            Some(v) => Ok(Some(string(v, &format!("{path}.{key}"))?)),
            None => Ok(None),
        }
    };
    let need = |key: &str, what: &str| -> Result<String> {
        get_str(key)?.ok_or_else(|| {
            ReportError::param(format!("{path}.{key}"), format!("missing; expected {what}"))
        })
    };
    let (metric, x) = match kind {
        PlotKind::Line => {
            if m.contains_key("y") {
                return Err(ReportError::param(
                    format!("{path}.y"),
                    "only scatter plots take `y`; use `metric`",
                ));
            }
            let x = get_str("x")?.unwrap_or_else(|| "iteration".into());
            if x != "iteration" && x != "step" {
                return Err(ReportError::param(
                    format!("{path}.x"),
                    format!("line plots are drawn against the training step: expected `iteration`, got {x:?} (use kind: sweep for a metric against an axis)"),
                ));
            }
            (
                need(
                    "metric",
                    "the metric key of the curve (e.g. train/pixel_var)",
                )?,
                x,
            )
        }
        PlotKind::Bar | PlotKind::Sweep => {
            if m.contains_key("y") {
                return Err(ReportError::param(
                    format!("{path}.y"),
                    "only scatter plots take `y`; use `metric`",
                ));
            }
            (
                need("metric", "a metric key")?,
                need("x", "the matrix axis on the x axis")?,
            )
        }
        PlotKind::Scatter => {
            if m.contains_key("metric") {
                return Err(ReportError::param(
                    format!("{path}.metric"),
                    "scatter plots take `x` and `y` metric keys",
                ));
            }
            (
                need("y", "the metric key on the y axis")?,
                need("x", "the metric key on the x axis")?,
            )
        }
    };
    let smooth = match m.get("smooth") {
        None => 0.0,
        Some(Value::Bool(false)) => 0.0,
        Some(Value::Bool(true)) => 0.6,
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
            w
        }
        Some(other) => {
            return Err(ReportError::param(
                format!("{path}.smooth"),
                format!(
                    "expected true/false or a weight in [0, 1), got {}",
                    show(other)
                ),
            ))
        }
    };
    let log_y = match m.get("log_y") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(ReportError::param(
                format!("{path}.log_y"),
                format!("expected true or false, got {}", show(other)),
            ))
        }
    };
    let filter = match m.get("filter") {
        Some(v) => parse_filter(v, &format!("{path}.filter"))?,
        None => Vec::new(),
    };
    Ok(PlotSpec {
        kind,
        title: get_str("title")?,
        metric,
        x,
        series: get_str("series")?,
        smooth,
        filter,
        log_y,
    })
}

fn parse_samples(v: &Value, path: &str) -> Result<SamplesSpec> {
    match v {
        Value::Bool(b) => Ok(SamplesSpec {
            enabled: *b,
            ..SamplesSpec::default()
        }),
        Value::Object(m) => {
            check_keys(m, SAMPLES_KEYS, path)?;
            let mut s = SamplesSpec::default();
            if let Some(e) = m.get("enabled") {
                s.enabled = match e {
                    Value::Bool(b) => *b,
                    other => {
                        return Err(ReportError::param(
                            format!("{path}.enabled"),
                            format!("expected true or false, got {}", show(other)),
                        ))
                    }
                };
            }
            if let Some(f) = m.get("filter") {
                s.filter = parse_filter(f, &format!("{path}.filter"))?;
            }
            if let Some(st) = m.get("stages") {
                s.stages = match st {
                    Value::String(one) => vec![one.clone()],
                    Value::Array(a) => a
                        .iter()
                        .enumerate()
                        .map(|(i, v)| string(v, &format!("{path}.stages[{i}]")))
                        .collect::<Result<_>>()?,
                    other => {
                        return Err(ReportError::param(
                            format!("{path}.stages"),
                            format!(
                                "expected a stage name or a list of them, got {}",
                                show(other)
                            ),
                        ))
                    }
                };
            }
            if let Some(n) = m.get("max_prompts") {
                s.max_prompts = uint(n, &format!("{path}.max_prompts"))?;
            }
            Ok(s)
        }
        other => Err(ReportError::param(
            path,
            format!(
                "expected true/false or {{filter, stages, max_prompts}}, got {}",
                show(other)
            ),
        )),
    }
}

fn parse_filter(v: &Value, path: &str) -> Result<Filter> {
    let m = object(v, path)?;
    let mut out = Vec::new();
    for (axis, want) in m {
        let p = format!("{path}.{axis}");
        let values = match want {
            Value::Array(a) if !a.is_empty() => a
                .iter()
                .enumerate()
                .map(|(i, v)| scalar_label(v, &format!("{p}[{i}]")))
                .collect::<Result<Vec<_>>>()?,
            other => vec![scalar_label(other, &p)?],
        };
        out.push((axis.clone(), values));
    }
    Ok(out)
}

/// A filter value as the label a matrix point stores: strings as they are, numbers and
/// booleans in their JSON form, a mapping by its `name`.
fn scalar_label(v: &Value, path: &str) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Object(o) => match o.get("name") {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(ReportError::param(
                path,
                "expected a value label; a mapping needs a `name`",
            )),
        },
        other => Err(ReportError::param(
            path,
            format!(
                "expected a value (or a list of values), got {}",
                show(other)
            ),
        )),
    }
}

fn check_keys(m: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<()> {
    for k in m.keys() {
        if !allowed.contains(&k.as_str()) {
            let hint = allowed
                .iter()
                .find(|a| edit_distance(a, k) <= 2)
                .map(|a| format!("; did you mean `{a}`?"))
                .unwrap_or_else(|| format!("; expected one of: {}", allowed.join(", ")));
            return Err(ReportError::param(
                format!("{path}.{k}"),
                format!("unknown key{hint}"),
            ));
        }
    }
    Ok(())
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| ReportError::param(path, format!("expected a mapping, got {}", show(v))))
}

fn array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>> {
    v.as_array()
        .ok_or_else(|| ReportError::param(path, format!("expected a list, got {}", show(v))))
}

fn string(v: &Value, path: &str) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(ReportError::param(
            path,
            format!("expected a string, got {}", show(other)),
        )),
    }
}

fn uint(v: &Value, path: &str) -> Result<usize> {
    v.as_u64().map(|n| n as usize).ok_or_else(|| {
        ReportError::param(
            path,
            format!("expected a non-negative integer, got {}", show(v)),
        )
    })
}

/// A value as an error message shows it: its type and a short rendering.
fn show(v: &Value) -> String {
    let kind = match v {
        Value::Null => return "null".into(),
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    };
    let mut text = v.to_string();
    if text.len() > 40 {
        let cut = (0..=40)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    format!("{kind} {text}")
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
