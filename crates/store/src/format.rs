//! Text output of `query` (table, CSV, JSON) and of `runs list|show`. Pure functions of the read
//! results: no database access here.

use crate::model::{RunDetail, RunRow};
use crate::query::QueryResult;
use ddmd_core::text::{duration, utc_time, DurationStyle};
use serde_json::Value;
use std::fmt::Write;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned columns with a header rule and a row count, like psql.
    Table,
    /// RFC 4180: CRLF line ends, fields with a comma, quote, CR or LF quoted, quotes doubled.
    Csv,
    /// An array of objects, one per row, keys in column order.
    Json,
}

impl FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(OutputFormat::Table),
            "csv" => Ok(OutputFormat::Csv),
            "json" => Ok(OutputFormat::Json),
            other => Err(format!(
                "unknown output format {other:?}; expected table, csv or json"
            )),
        }
    }
}

pub fn format_query(res: &QueryResult, fmt: OutputFormat) -> String {
    match fmt {
        OutputFormat::Table => {
            let rows: Vec<Vec<Cell>> = res
                .rows
                .iter()
                .map(|r| r.iter().map(Cell::from_json).collect())
                .collect();
            render_table(&res.columns, &rows, true)
        }
        OutputFormat::Csv => render_csv(res),
        OutputFormat::Json => render_json(res),
    }
}

/// One cell of a text table: its text and whether it is right-aligned (numbers).
struct Cell {
    text: String,
    right: bool,
}

impl Cell {
    fn left(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            right: false,
        }
    }
    fn right(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            right: true,
        }
    }
    fn from_json(v: &Value) -> Cell {
        match v {
            Value::Null => Cell::left(""),
            Value::Number(n) => Cell::right(n.to_string()),
            Value::String(s) => Cell::left(escape_controls(s)),
            other => Cell::left(escape_controls(&other.to_string())),
        }
    }
}

/// Keeps one row on one line: newlines and tabs inside a cell would break the alignment.
fn escape_controls(s: &str) -> String {
    if !s.contains(['\n', '\r', '\t']) {
        return s.to_string();
    }
    s.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
        .replace('\t', "\\t")
}

/// Every control character escaped, not only line breaks: a job's own warning could hold an
/// escape sequence that rewrites the reader's terminal.
fn escape_all_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(out: &mut String, text: &str, w: usize, right: bool) {
    let fill = w.saturating_sub(width(text));
    if right {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(text);
    } else {
        out.push_str(text);
        out.extend(std::iter::repeat_n(' ', fill));
    }
}

fn render_table(columns: &[String], rows: &[Vec<Cell>], count_footer: bool) -> String {
    let mut widths: Vec<usize> = columns.iter().map(|c| width(c)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(width(&cell.text));
            }
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = (&str, bool)>| {
        let mut s = String::new();
        for (i, (text, right)) in cells.enumerate() {
            s.push_str(if i == 0 { " " } else { " | " });
            pad(&mut s, text, widths[i], right);
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut out, &mut columns.iter().map(|c| (c.as_str(), false)));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
    out.push_str(&rule.join("+"));
    out.push('\n');
    for row in rows {
        line(
            &mut out,
            &mut row.iter().map(|c| (c.text.as_str(), c.right)),
        );
    }
    if count_footer {
        let n = rows.len();
        let _ = writeln!(out, "({n} row{})", if n == 1 { "" } else { "s" });
    }
    out
}

fn csv_field(out: &mut String, text: &str) {
    if text.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

fn plain_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render_csv(res: &QueryResult) -> String {
    let mut out = String::new();
    let mut record = |fields: &mut dyn Iterator<Item = String>| {
        for (i, f) in fields.enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(&mut out, &f);
        }
        out.push_str("\r\n");
    };
    record(&mut res.columns.iter().cloned());
    for row in &res.rows {
        record(&mut row.iter().map(plain_text));
    }
    out
}

/// Object keys: the column names, with `_2`, `_3`… added to repeats (`select 1 a, 2 a`) so
/// that no value is lost to a duplicate key.
fn unique_keys(columns: &[String]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::with_capacity(columns.len());
    for c in columns {
        let mut key = c.clone();
        let mut n = 2;
        while seen.contains(&key) {
            key = format!("{c}_{n}");
            n += 1;
        }
        seen.push(key);
    }
    seen
}

fn render_json(res: &QueryResult) -> String {
    let keys: Vec<String> = unique_keys(&res.columns)
        .iter()
        .map(|k| Value::String(k.clone()).to_string())
        .collect();
    if res.rows.is_empty() {
        return "[]\n".to_string();
    }
    let mut out = String::from("[\n");
    for (r, row) in res.rows.iter().enumerate() {
        out.push_str("  {");
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let key = keys.get(i).map(String::as_str).unwrap_or("\"?\"");
            let _ = write!(out, "{key}: {v}");
        }
        out.push('}');
        if r + 1 < res.rows.len() {
            out.push(',');
        }
        out.push('\n');
    }
    out.push_str("]\n");
    out
}

fn devices_text(d: &[u32]) -> String {
    if d.is_empty() {
        "cpu".to_string()
    } else {
        d.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
    }
}

/// First line of an error, shortened for a table cell.
fn short_error(e: &str) -> String {
    let first = e.lines().next().unwrap_or("");
    if width(first) > 60 {
        let cut: String = first.chars().take(57).collect();
        format!("{cut}...")
    } else {
        first.to_string()
    }
}

/// `runs list`: one line per run.
pub fn format_runs_table(runs: &[RunRow]) -> String {
    let columns: Vec<String> = [
        "id", "stage", "job", "status", "try", "devices", "started", "time", "error",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows: Vec<Vec<Cell>> = runs
        .iter()
        .map(|r| {
            vec![
                Cell::right(r.id.to_string()),
                Cell::left(escape_controls(&r.stage)),
                Cell::left(escape_controls(&r.job_name)),
                Cell::left(match r.source_run_id {
                    Some(src) => format!("{} ({src})", r.status),
                    None => r.status.to_string(),
                }),
                Cell::right(r.attempt.to_string()),
                Cell::left(devices_text(&r.devices)),
                Cell::left(r.started_at.map(utc_time).unwrap_or_default()),
                Cell::right(
                    r.duration_s()
                        .map(|d| duration(d, DurationStyle::Compact))
                        .unwrap_or_default(),
                ),
                Cell::left(escape_controls(&short_error(
                    r.error.as_deref().unwrap_or_default(),
                ))),
            ]
        })
        .collect();
    render_table(&columns, &rows, true)
}

fn opt_time(t: Option<f64>) -> String {
    t.map(utc_time).unwrap_or_else(|| "-".to_string())
}

/// `runs show`: everything about one run.
pub fn format_run_detail(d: &RunDetail) -> String {
    let r = &d.run;
    let mut out = String::new();
    let _ = writeln!(out, "run {}  {}  [{}]", r.id, r.job_name, r.status);
    let mut field = |name: &str, value: String| {
        let _ = writeln!(out, "  {name:<13}{value}");
    };
    field("stage", format!("{} (kind {})", r.stage, r.kind));
    field(
        "pipeline",
        format!("#{}  invocation #{}", r.pipeline_id, r.invocation_id),
    );
    field("attempt", r.attempt.to_string());
    field("cache key", r.cache_key.to_string());
    if let Some(src) = r.source_run_id {
        field("cached from", format!("run {src}"));
    }
    field("devices", devices_text(&r.devices));
    field("queued", utc_time(r.queued_at));
    field("started", opt_time(r.started_at));
    field(
        "ended",
        match (r.ended_at, r.duration_s()) {
            (Some(e), Some(dur)) => format!(
                "{}  ({})",
                utc_time(e),
                duration(dur, DurationStyle::Compact)
            ),
            (e, _) => opt_time(e),
        },
    );
    if let Some(code) = r.exit_code {
        field("exit code", code.to_string());
    }
    if let Some(pgid) = r.pgid {
        field("pgid", pgid.to_string());
    }
    if let Some(e) = &r.executor_id {
        field("executor id", e.clone());
    }
    if let Some(n) = &r.node {
        field("node", n.clone());
    }
    if let Some(j) = &r.job_dir {
        field("job dir", j.clone());
    }
    if let Some(a) = &r.artifact_dir {
        field("artifacts in", a.clone());
    }
    if let Some(c) = &d.command {
        // As it ran (the template is `params.run`); one line per line of the command.
        let mut lines = c.lines();
        field("command", escape_all_controls(lines.next().unwrap_or("")));
        for l in lines {
            field("", escape_all_controls(l));
        }
    }
    if let Some(e) = &r.error {
        let mut lines = e.lines();
        field("error", lines.next().unwrap_or("").to_string());
        for l in lines {
            field("", l.to_string());
        }
    }

    if let Some(point) = r.point.as_object().filter(|p| !p.is_empty()) {
        out.push_str("\nmatrix point\n");
        for (k, v) in point {
            let _ = writeln!(out, "  {k} = {v}");
        }
    }
    if !d.params.is_empty() {
        out.push_str("\nparameters\n");
        let w = d.params.iter().map(|(k, _)| width(k)).max().unwrap_or(0);
        for (k, v) in &d.params {
            let _ = writeln!(out, "  {k:<w$}  {v}");
        }
    }
    if !d.metrics.is_empty() {
        out.push_str("\nfinal metrics\n");
        let columns: Vec<String> = ["metric", "step", "value"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let rows: Vec<Vec<Cell>> = d
            .metrics
            .iter()
            .map(|m| {
                vec![
                    Cell::left(escape_controls(&m.key)),
                    Cell::right(m.step.to_string()),
                    Cell::right(match (m.value, &m.raw) {
                        (Some(v), _) => format!("{v}"),
                        (None, Some(raw)) => raw.clone(),
                        (None, None) => String::new(),
                    }),
                ]
            })
            .collect();
        indent(&mut out, &render_table(&columns, &rows, false));
    }
    if !d.unavailable.is_empty() {
        out.push_str("\nunavailable metrics\n");
        for u in &d.unavailable {
            let _ = writeln!(out, "  {}: {}", u.key, u.reason);
        }
    }
    if !d.artifacts.is_empty() {
        out.push_str("\nartifacts\n");
        let columns: Vec<String> = ["name", "path", "bytes", "sha256"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let rows: Vec<Vec<Cell>> = d
            .artifacts
            .iter()
            .map(|a| {
                vec![
                    Cell::left(escape_controls(&a.name)),
                    Cell::left(escape_controls(&a.path)),
                    Cell::right(a.bytes.map(|b| b.to_string()).unwrap_or_default()),
                    Cell::left(
                        a.sha256
                            .as_deref()
                            .map(|s| s.chars().take(12).collect::<String>())
                            .unwrap_or_else(|| "(missing)".to_string()),
                    ),
                ]
            })
            .collect();
        indent(&mut out, &render_table(&columns, &rows, false));
    }
    if !d.warnings.is_empty() {
        out.push_str("\nwarnings\n");
        for w in &d.warnings {
            let _ = writeln!(out, "  {}", escape_all_controls(&w.message));
        }
        let more = d.warnings_total - d.warnings.len() as i64;
        if more > 0 {
            let _ = writeln!(
                out,
                "  … and {more} more (ddmd-pipe query \"select payload from events \
                 where run_id = {} and type = 'log'\")",
                r.source_run_id.unwrap_or(r.id)
            );
        }
    }
    out
}

fn indent(out: &mut String, block: &str) {
    for l in block.lines() {
        out.push_str("  ");
        out.push_str(l);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        assert_eq!(utc_time(0.0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(1_796_071_072.9), "2026-11-30 20:37:52");
        assert_eq!(utc_time(951_782_400.0), "2000-02-29 00:00:00");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(0.42, DurationStyle::Compact), "0.4s");
        assert_eq!(duration(245.0, DurationStyle::Compact), "4m05s");
        assert_eq!(duration(7380.0, DurationStyle::Compact), "2h03m");
    }

    #[test]
    fn format_names_parse() {
        assert_eq!("CSV".parse::<OutputFormat>(), Ok(OutputFormat::Csv));
        assert!("xml"
            .parse::<OutputFormat>()
            .unwrap_err()
            .contains("table, csv or json"));
    }
}
