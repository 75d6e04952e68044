//! `tables[i]`: one ablation table each, written out or started from a preset. Rows are
//! matrix axes; columns are metric keys, or the values of one more axis showing one metric.

use super::filter::{opt_filter, Filter};
use super::values::{check_keys, object, opt_bool, opt_string, show, string};
use crate::error::{ReportError, Result};
use crate::metrics_meta::Direction;
use crate::presets;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

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
    /// Show the last row of each metric measured on the data (`fid@data` under `fid@4`);
    /// `data_row: false` turns it off.
    pub data_row: bool,
    /// The columns are the preset's, not written in the entry: a metric among them that no
    /// run has is a gap to note (the pipeline may not measure it), not a misspelling to reject.
    pub columns_from_preset: bool,
    /// Note the holes of a partial grid. Off for the automatic table (every metric by job),
    /// where a job of one stage lacking another stage's metric is no hole.
    pub note_gaps: bool,
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

pub(super) const TABLE_KEYS: &[&str] = &[
    "title",
    "preset",
    "rows",
    "columns",
    "metric",
    "filter",
    "units",
    "direction",
    "note",
    "data_row",
];

pub(super) fn parse_table(item: &Value, path: &str) -> Result<TableSpec> {
    let given = object(item, path)?;
    check_keys(given, TABLE_KEYS, path)?;
    let (m, preset) = with_preset(given, path)?;
    let rows = parse_rows(&m, path)?;
    let columns = parse_columns(&m, &rows, path)?;
    let title = match opt_string(&m, "title", path)? {
        Some(t) => t,
        None => match &preset {
            Some(p) => p.clone(),
            None => format!("Table by {}", rows.join(" × ")),
        },
    };
    let filter = parse_table_filter(&m, &rows, path)?;
    let units = parse_units(&m, path)?;
    let direction = parse_directions(&m, path)?;
    let note = opt_string(&m, "note", path)?;
    let data_row = opt_bool(&m, "data_row", path)?.unwrap_or(true);
    let columns_from_preset = preset.is_some() && !given.contains_key("columns");
    Ok(TableSpec {
        title,
        preset,
        rows,
        columns,
        filter,
        units,
        direction,
        note,
        data_row,
        columns_from_preset,
        note_gaps: true,
    })
}

/// The entry's keys over its preset's: a preset supplies defaults and the entry's own keys
/// override them one by one. Also returns the preset's name, which the table keeps.
fn with_preset(
    given: &Map<String, Value>,
    path: &str,
) -> Result<(Map<String, Value>, Option<String>)> {
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
    Ok((merged, preset))
}

/// `rows`: one axis name or a non-empty list of them.
fn parse_rows(m: &Map<String, Value>, path: &str) -> Result<Vec<String>> {
    match m.get("rows") {
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .enumerate()
            .map(|(i, v)| string(v, &format!("{path}.rows[{i}]")))
            .collect(),
        Some(other) => Err(ReportError::param(
            format!("{path}.rows"),
            format!(
                "expected an axis name or a non-empty list of axis names, got {}",
                show(other)
            ),
        )),
        None => Err(ReportError::param(
            format!("{path}.rows"),
            "missing; expected the matrix axis (or axes) whose values make the rows",
        )),
    }
}

/// `columns`: a list of metric columns, or an axis whose values make the columns (then
/// `metric` says what they show). `metric` belongs to the axis form only.
fn parse_columns(m: &Map<String, Value>, rows: &[String], path: &str) -> Result<Columns> {
    match m.get("columns") {
        Some(Value::Array(a)) if !a.is_empty() => metric_columns(a, m, path),
        Some(Value::String(axis)) => axis_columns(axis, m, rows, path),
        Some(other) => Err(ReportError::param(
            format!("{path}.columns"),
            format!(
                "expected a non-empty list of metric keys, or an axis name, got {}",
                show(other)
            ),
        )),
        None => Err(ReportError::param(
            format!("{path}.columns"),
            "missing; expected a list of metric keys (e.g. [fid@1, fid@4]) or an axis name",
        )),
    }
}

fn metric_columns(list: &[Value], m: &Map<String, Value>, path: &str) -> Result<Columns> {
    if m.contains_key("metric") {
        return Err(ReportError::param(
            format!("{path}.metric"),
            "only used when `columns` names an axis; with a list of metric columns, remove it",
        ));
    }
    let cols = list
        .iter()
        .enumerate()
        .map(|(i, v)| parse_column(v, &format!("{path}.columns[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    Ok(Columns::Metrics(cols))
}

fn axis_columns(
    axis: &str,
    m: &Map<String, Value>,
    rows: &[String],
    path: &str,
) -> Result<Columns> {
    let metric = match m.get("metric") {
        Some(v) => string(v, &format!("{path}.metric"))?,
        None => {
            return Err(ReportError::param(
                format!("{path}.metric"),
                format!("missing; `columns: {axis}` makes one column per value of axis `{axis}`, so the table needs the metric to show in them"),
            ))
        }
    };
    if rows.iter().any(|r| r == axis) {
        return Err(ReportError::param(
            format!("{path}.columns"),
            format!("axis `{axis}` is already used for the rows"),
        ));
    }
    Ok(Columns::Axis {
        axis: axis.to_string(),
        metric,
    })
}

/// One metric column: a key, or `{metric, label}` to show another header.
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
            let label = opt_string(o, "label", path)?;
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

/// A filter on a row axis would leave one row per accepted value, which the rows already
/// give: refused with the way to say it instead.
fn parse_table_filter(m: &Map<String, Value>, rows: &[String], path: &str) -> Result<Filter> {
    let filter = opt_filter(m, path)?;
    for (axis, _) in &filter {
        if rows.contains(axis) {
            return Err(ReportError::param(
                format!("{path}.filter.{axis}"),
                "this axis makes the rows; filter on another axis, or list the wanted rows' values here and remove it from `rows`",
            ));
        }
    }
    Ok(filter)
}

/// `units`: metric -> unit shown in the header.
fn parse_units(m: &Map<String, Value>, path: &str) -> Result<BTreeMap<String, String>> {
    let mut units = BTreeMap::new();
    if let Some(v) = m.get("units") {
        for (k, u) in object(v, &format!("{path}.units"))? {
            units.insert(k.clone(), string(u, &format!("{path}.units.{k}"))?);
        }
    }
    Ok(units)
}

/// `direction`: metric -> which way is better, overriding what the report knows of the
/// metric; `none` turns best-marking off.
fn parse_directions(
    m: &Map<String, Value>,
    path: &str,
) -> Result<BTreeMap<String, Option<Direction>>> {
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
    Ok(direction)
}
