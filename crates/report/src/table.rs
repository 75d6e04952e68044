//! Builds an ablation table from a [`TableSpec`] and the runs: rows from matrix axes, columns
//! from metric keys (or the values of an axis), repeats that differ only in `seed` aggregated
//! as mean ± std, the best cell per column marked, missing / unavailable / failed kept apart.
//! Also writes the table as CSV and Markdown. No HTML here: the template renders the model.

use crate::metrics_meta::{self, Direction};
use crate::model::{RunRecord, RunRecordExt};
use crate::report_params::{Columns, Filter, TableSpec};
use crate::stats::{fmt_num, fmt_std, labels_match, mean_std};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Serialize)]
pub struct TableModel {
    pub index: usize,
    /// File stem of the CSV / Markdown files and the HTML anchor.
    pub slug: String,
    pub title: String,
    pub preset: Option<String>,
    pub row_axes: Vec<String>,
    pub columns: Vec<ColumnModel>,
    pub rows: Vec<RowModel>,
    pub notes: Vec<String>,
    pub footnotes: Vec<Footnote>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ColumnModel {
    /// The metric key (pattern) shown in this column.
    pub metric: String,
    pub label: String,
    pub direction: Option<Direction>,
    pub arrow: String,
    pub units: Option<String>,
    /// The metric's setting as the runs reported it (FID extractor and N).
    pub setting: Option<String>,
    /// True when runs in this column reported different settings.
    pub setting_mixed: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct RowModel {
    pub labels: Vec<String>,
    pub cells: Vec<CellModel>,
    /// Markers such as `failed (1)` and `diverged (2)`, with their explanations.
    pub flags: Vec<Flag>,
    pub run_ids: Vec<i64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Flag {
    pub kind: String,
    pub text: String,
    pub title: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CellState {
    Value,
    Missing,
    Unavailable,
    Failed,
    NonFinite,
    Ambiguous,
}

#[derive(Clone, Debug, Serialize)]
pub struct CellModel {
    pub state: CellState,
    /// As displayed: `17.80 ± 0.12`, `n/a`, `—`, `failed`.
    pub text: String,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub n: usize,
    pub best: bool,
    /// Tooltip: per-run values or the reason a value is absent.
    pub title: String,
    pub footnotes: Vec<usize>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Footnote {
    pub n: usize,
    pub text: String,
}

/// Does the run pass the filter (every filtered axis present with an accepted value)?
pub fn passes(run: &RunRecord, filter: &Filter) -> bool {
    filter.iter().all(|(axis, accepted)| match run.label(axis) {
        Some(l) => accepted.iter().any(|a| labels_match(l, a)),
        None => false,
    })
}

/// `*` matches any run of characters within one `/`-separated part of the key; everything else
/// literally. So `dpg@*` is `dpg@4`, not also its breakdown `dpg@4/count`, and
/// `throughput@*/bs16` is `throughput@4/bs16`.
pub fn key_matches(pattern: &str, key: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == key;
    }
    let (pats, keys): (Vec<&str>, Vec<&str>) =
        (pattern.split('/').collect(), key.split('/').collect());
    pats.len() == keys.len() && pats.iter().zip(&keys).all(|(p, k)| part_matches(p, k))
}

/// [`key_matches`] within one part (no `/` in either).
fn part_matches(pattern: &str, key: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == key;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !key.starts_with(first) || key.len() < first.len() + last.len() || !key.ends_with(last) {
        return false;
    }
    let mut rest = &key[first.len()..key.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

struct Notes {
    footnotes: Vec<Footnote>,
}

impl Notes {
    fn add(&mut self, text: String) -> usize {
        if let Some(f) = self.footnotes.iter().find(|f| f.text == text) {
            return f.n;
        }
        let n = self.footnotes.len() + 1;
        self.footnotes.push(Footnote { n, text });
        n
    }
}

/// What one run contributes to one cell.
enum Contribution {
    Value(f64, String),
    Unavailable(String),
    Ambiguous(Vec<String>),
    None,
}

fn contribution(run: &RunRecord, pattern: &str) -> Contribution {
    let keys: Vec<&String> = run
        .finals
        .keys()
        .filter(|k| key_matches(pattern, k))
        .collect();
    match keys.len() {
        0 => match run
            .unavailable
            .iter()
            .find(|(k, _)| key_matches(pattern, k))
        {
            Some((_, reason)) => Contribution::Unavailable(reason.clone()),
            None => Contribution::None,
        },
        1 => Contribution::Value(run.finals[keys[0]].value, keys[0].clone()),
        _ => Contribution::Ambiguous(keys.into_iter().cloned().collect()),
    }
}

pub fn build_table(index: usize, spec: &TableSpec, runs: &[RunRecord]) -> TableModel {
    let col_axis = match &spec.columns {
        Columns::Axis { axis, .. } => Some(axis.as_str()),
        Columns::Metrics(_) => None,
    };
    let candidates: Vec<&RunRecord> = runs
        .iter()
        .filter(|r| passes(r, &spec.filter))
        .filter(|r| spec.rows.iter().all(|a| r.label(a).is_some()))
        .filter(|r| col_axis.is_none_or(|a| r.label(a).is_some()))
        .collect();

    let mut row_keys: Vec<Vec<String>> = Vec::new();
    for r in &candidates {
        let key: Vec<String> = spec
            .rows
            .iter()
            .map(|a| r.label(a).unwrap_or("").to_string())
            .collect();
        if !row_keys.contains(&key) {
            row_keys.push(key);
        }
    }

    // (column label, metric pattern, column-axis value)
    let mut col_defs: Vec<(String, String, Option<String>)> = Vec::new();
    match &spec.columns {
        Columns::Metrics(cols) => {
            for c in cols {
                col_defs.push((
                    c.label.clone().unwrap_or_else(|| c.metric.clone()),
                    c.metric.clone(),
                    None,
                ));
            }
        }
        Columns::Axis { axis, metric } => {
            for r in &candidates {
                let v = r.label(axis).unwrap_or("").to_string();
                if !col_defs.iter().any(|c| c.2.as_deref() == Some(v.as_str())) {
                    col_defs.push((format!("{axis}={v}"), metric.clone(), Some(v)));
                }
            }
        }
    }

    let mut notes = Notes {
        footnotes: Vec::new(),
    };
    let mut pooled: BTreeSet<String> = BTreeSet::new();
    let mut settings: Vec<BTreeSet<String>> = vec![BTreeSet::new(); col_defs.len()];
    let mut rows = Vec::with_capacity(row_keys.len());

    for key in &row_keys {
        let in_row: Vec<&RunRecord> = candidates
            .iter()
            .copied()
            .filter(|r| {
                spec.rows
                    .iter()
                    .zip(key)
                    .all(|(a, v)| r.label(a) == Some(v.as_str()))
            })
            .collect();
        let mut cells = Vec::with_capacity(col_defs.len());
        for (ci, (_, pattern, col_value)) in col_defs.iter().enumerate() {
            let in_cell: Vec<&RunRecord> = in_row
                .iter()
                .copied()
                .filter(|r| match (col_axis, col_value) {
                    (Some(a), Some(v)) => r.label(a) == Some(v.as_str()),
                    _ => true,
                })
                .collect();
            cells.push(build_cell(
                &in_cell,
                pattern,
                spec,
                col_axis,
                &mut notes,
                &mut pooled,
                &mut settings[ci],
            ));
        }
        let mut flags = Vec::new();
        let failed: Vec<&&RunRecord> = in_row.iter().filter(|r| r.failed()).collect();
        if !failed.is_empty() {
            let title = failed
                .iter()
                .map(|r| {
                    format!(
                        "{} ({}){}",
                        r.job_name,
                        r.status,
                        r.error
                            .as_deref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            flags.push(Flag {
                kind: "failed".into(),
                text: format!("failed ×{}", failed.len()),
                title,
            });
        }
        let diverged: Vec<&&RunRecord> = in_row.iter().filter(|r| r.diverged.is_some()).collect();
        if !diverged.is_empty() {
            let title = diverged
                .iter()
                .map(|r| {
                    format!(
                        "{}: {}",
                        r.job_name,
                        r.diverged.as_deref().unwrap_or("diverged")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            flags.push(Flag {
                kind: "diverged".into(),
                text: format!("diverged ×{}", diverged.len()),
                title,
            });
        }
        rows.push(RowModel {
            labels: key.clone(),
            cells,
            flags,
            run_ids: in_row.iter().map(|r| r.id).collect(),
        });
    }

    let mut columns = Vec::with_capacity(col_defs.len());
    for (ci, (label, pattern, _)) in col_defs.iter().enumerate() {
        let direction = match spec.direction.get(pattern) {
            Some(d) => *d,
            None => metrics_meta::known_direction(pattern),
        };
        let units = spec
            .units
            .get(pattern)
            .cloned()
            .or_else(|| metrics_meta::known_unit(pattern).map(str::to_string));
        let s = &settings[ci];
        columns.push(ColumnModel {
            metric: pattern.clone(),
            label: label.clone(),
            direction,
            arrow: direction.map(|d| d.arrow().to_string()).unwrap_or_default(),
            units,
            setting: if s.is_empty() {
                None
            } else {
                Some(
                    s.iter()
                        .map(|x| pretty_setting(x))
                        .collect::<Vec<_>>()
                        .join(" | "),
                )
            },
            setting_mixed: s.len() > 1,
        });
    }

    // Best per column: only cells with a value take part.
    for (ci, col) in columns.iter().enumerate() {
        let Some(dir) = col.direction else { continue };
        let best = rows
            .iter()
            .filter_map(|r| {
                r.cells[ci]
                    .mean
                    .filter(|m| m.is_finite() && r.cells[ci].state == CellState::Value)
            })
            .fold(None, |acc: Option<f64>, v| match (acc, dir) {
                (None, _) => Some(v),
                (Some(a), Direction::Up) => Some(a.max(v)),
                (Some(a), Direction::Down) => Some(a.min(v)),
            });
        if let Some(b) = best {
            let with_values = rows
                .iter()
                .filter(|r| r.cells[ci].state == CellState::Value)
                .count();
            if with_values < 2 {
                continue; // a single value is not "best" of anything
            }
            for r in rows.iter_mut() {
                if r.cells[ci].state == CellState::Value && r.cells[ci].mean == Some(b) {
                    r.cells[ci].best = true;
                }
            }
        }
    }

    let mut table_notes = Vec::new();
    if !spec.filter.is_empty() {
        let f = spec
            .filter
            .iter()
            .map(|(a, v)| format!("{a} = {}", v.join(" | ")))
            .collect::<Vec<_>>()
            .join(", ");
        table_notes.push(format!("Filter: {f}."));
    }
    if !pooled.is_empty() {
        table_notes.push(format!(
            "Cells pool runs that differ in {} (not only in seed); add a filter or a row axis to separate them.",
            pooled.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    if columns.iter().any(|c| c.setting_mixed) {
        table_notes.push(
            "⚠ A column mixes metric settings (extractor or N): its values are not comparable."
                .into(),
        );
    }
    if rows.is_empty() {
        table_notes.push(format!(
            "No run has all of the row axes ({}){}.",
            spec.rows.join(", "),
            if spec.filter.is_empty() {
                String::new()
            } else {
                " and passes the filter".into()
            }
        ));
    }
    if let Some(n) = &spec.note {
        table_notes.push(n.clone());
    }

    TableModel {
        index,
        slug: format!("{:02}-{}", index + 1, slugify(&spec.title)),
        title: spec.title.clone(),
        preset: spec.preset.clone(),
        row_axes: spec.rows.clone(),
        columns,
        rows,
        notes: table_notes,
        footnotes: notes.footnotes,
    }
}

fn build_cell(
    in_cell: &[&RunRecord],
    pattern: &str,
    spec: &TableSpec,
    col_axis: Option<&str>,
    notes: &mut Notes,
    pooled: &mut BTreeSet<String>,
    settings: &mut BTreeSet<String>,
) -> CellModel {
    // One contribution per full matrix point (seed included): the latest run that has the
    // metric wins, so a metric logged by two stages of the same point is not counted twice.
    let mut per_point: BTreeMap<String, (&RunRecord, Contribution)> = BTreeMap::new();
    for r in in_cell.iter().rev() {
        let point_key = format!("{:?}", r.point);
        let c = contribution(r, pattern);
        let has = !matches!(c, Contribution::None);
        match per_point.get(&point_key) {
            Some((_, existing)) if !matches!(existing, Contribution::None) => {}
            Some(_) if !has => {}
            _ => {
                per_point.insert(point_key, (r, c));
            }
        }
    }
    let mut values: Vec<(f64, &RunRecord)> = Vec::new();
    let mut unavailable: Vec<String> = Vec::new();
    let mut ambiguous: Vec<String> = Vec::new();
    let mut nonfinite = 0usize;
    for (r, c) in per_point.values() {
        match c {
            Contribution::Value(v, key) => {
                if let Some(s) = r.info.get(key) {
                    settings.insert(s.clone());
                }
                if v.is_finite() {
                    values.push((*v, r));
                } else {
                    nonfinite += 1;
                }
            }
            Contribution::Unavailable(reason) => {
                if !unavailable.contains(reason) {
                    unavailable.push(reason.clone());
                }
            }
            Contribution::Ambiguous(keys) => ambiguous.extend(keys.iter().cloned()),
            Contribution::None => {}
        }
    }
    let failed: Vec<&&RunRecord> = in_cell.iter().filter(|r| r.failed()).collect();

    // Axes other than seed, the rows and the column axis that vary among the values.
    if values.len() > 1 {
        let mut axes: BTreeSet<&str> = BTreeSet::new();
        for (_, r) in &values {
            axes.extend(r.point.keys().map(String::as_str));
        }
        for a in axes {
            if a == "seed" || spec.rows.iter().any(|x| x == a) || col_axis == Some(a) {
                continue;
            }
            let distinct: BTreeSet<Option<&str>> = values.iter().map(|(_, r)| r.label(a)).collect();
            if distinct.len() > 1 {
                pooled.insert(a.to_string());
            }
        }
    }

    let mut footnotes = Vec::new();
    for reason in &unavailable {
        footnotes.push(notes.add(format!("{pattern} unavailable: {reason}")));
    }
    if !ambiguous.is_empty() {
        footnotes.push(notes.add(format!(
                "{pattern} matches several keys of one run ({}); name the key in `columns`.",
                ambiguous
                    .iter()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
    }
    for r in &failed {
        let why = r.error.as_deref().unwrap_or("no error recorded");
        footnotes.push(notes.add(format!("{} {}: {why}", r.job_name, r.status)));
    }

    if !values.is_empty() {
        let vs: Vec<f64> = values.iter().map(|v| v.0).collect();
        let (mean, std) = mean_std(&vs);
        let n = vs.len();
        let text = if n > 1 {
            format!("{} ± {}", fmt_num(mean), fmt_std(std, mean))
        } else {
            fmt_num(mean)
        };
        let mut title = values
            .iter()
            .map(|(v, r)| format!("{}: {}", r.job_name, fmt_num(*v)))
            .collect::<Vec<_>>()
            .join("\n");
        if nonfinite > 0 {
            title.push_str(&format!(
                "\n{nonfinite} run(s) ended with a non-finite value (not averaged)"
            ));
            footnotes.push(notes.add(format!(
                "{pattern}: {nonfinite} run(s) ended with NaN/∞ and are left out of the mean."
            )));
        }
        return CellModel {
            state: CellState::Value,
            text,
            mean: Some(mean),
            std: if n > 1 { Some(std) } else { None },
            n,
            best: false,
            title,
            footnotes,
        };
    }
    let (state, text, title) = if !ambiguous.is_empty() {
        (
            CellState::Ambiguous,
            "ambiguous".to_string(),
            format!("several keys match {pattern}"),
        )
    } else if nonfinite > 0 {
        (
            CellState::NonFinite,
            "NaN".to_string(),
            "the run(s) ended with a non-finite value".to_string(),
        )
    } else if !unavailable.is_empty() {
        (
            CellState::Unavailable,
            "n/a".to_string(),
            format!("unavailable: {}", unavailable.join("; ")),
        )
    } else if !failed.is_empty() {
        (
            CellState::Failed,
            "failed".to_string(),
            failed
                .iter()
                .map(|r| {
                    format!(
                        "{}: {}",
                        r.job_name,
                        r.error.as_deref().unwrap_or(&r.status)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        )
    } else {
        (
            CellState::Missing,
            "—".to_string(),
            format!("no run reported {pattern}"),
        )
    };
    CellModel {
        state,
        text,
        mean: None,
        std: None,
        n: 0,
        best: false,
        title,
        footnotes,
    }
}

/// `extractor=judge N=2000` -> `judge, N=2000`; other messages unchanged.
fn pretty_setting(s: &str) -> String {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if !parts.is_empty() && parts.iter().all(|p| p.contains('=')) {
        parts
            .iter()
            .map(|p| match p.split_once('=') {
                Some(("extractor", v)) => v.to_string(),
                _ => p.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        s.to_string()
    }
}

pub fn slugify(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 48 {
            // Cut at a word boundary rather than mid-word.
            if let Some(i) = out.rfind('-') {
                out.truncate(i);
            }
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "table".into()
    } else {
        out
    }
}

/// Header text of a column: label, arrow, unit.
pub fn header_text(c: &ColumnModel) -> String {
    let mut h = c.label.clone();
    if !c.arrow.is_empty() {
        h.push(' ');
        h.push_str(&c.arrow);
    }
    if let Some(u) = &c.units {
        h.push_str(&format!(" [{u}]"));
    }
    if let Some(s) = &c.setting {
        h.push_str(&format!(" ({s})"));
    }
    h
}

/// CSV: one row per table row; per column the mean, std and n (empty when absent; the state
/// word for unavailable / failed cells).
pub fn to_csv(t: &TableModel) -> String {
    let mut out = String::new();
    let mut header: Vec<String> = t.row_axes.clone();
    for c in &t.columns {
        header.push(c.metric.clone());
        header.push(format!("{} std", c.metric));
        header.push(format!("{} n", c.metric));
    }
    header.push("flags".into());
    out.push_str(
        &header
            .iter()
            .map(|h| csv_field(h))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push('\n');
    for r in &t.rows {
        let mut fields: Vec<String> = r.labels.clone();
        for c in &r.cells {
            match c.state {
                CellState::Value => {
                    fields.push(c.mean.map(|m| m.to_string()).unwrap_or_default());
                    fields.push(c.std.map(|s| s.to_string()).unwrap_or_default());
                    fields.push(c.n.to_string());
                }
                CellState::Missing => fields.extend([String::new(), String::new(), "0".into()]),
                other => {
                    let word = serde_json::to_value(other)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    fields.extend([word, String::new(), "0".into()]);
                }
            }
        }
        fields.push(
            r.flags
                .iter()
                .map(|f| f.text.clone())
                .collect::<Vec<_>>()
                .join("; "),
        );
        out.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Markdown: the table as displayed (best in bold), its notes and footnotes.
pub fn to_markdown(t: &TableModel) -> String {
    let mut out = format!("## {}\n\n", md_escape(&t.title));
    let mut header: Vec<String> = t.row_axes.iter().map(|a| md_escape(a)).collect();
    header.extend(t.columns.iter().map(|c| md_escape(&header_text(c))));
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    out.push_str(&format!(
        "|{}\n",
        header
            .iter()
            .enumerate()
            .map(|(i, _)| if i < t.row_axes.len() {
                "---|"
            } else {
                "---:|"
            })
            .collect::<String>()
    ));
    for r in &t.rows {
        let mut fields: Vec<String> = r.labels.iter().map(|l| md_escape(l)).collect();
        if let (Some(first), false) = (fields.first_mut(), r.flags.is_empty()) {
            first.push_str(&format!(
                " ({})",
                r.flags
                    .iter()
                    .map(|f| f.text.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for c in &r.cells {
            let mut s = md_escape(&c.text);
            if c.best {
                s = format!("**{s}**");
            }
            if c.n > 1 {
                s.push_str(&format!(" (n={})", c.n));
            }
            for f in &c.footnotes {
                s.push_str(&format!(" [{f}]"));
            }
            fields.push(s);
        }
        out.push_str(&format!("| {} |\n", fields.join(" | ")));
    }
    out.push('\n');
    out.push_str("Best value per column in bold (↑ higher is better, ↓ lower is better); mean ± std over seeds, n runs.\n");
    for n in &t.notes {
        out.push_str(&format!("\n{}\n", md_escape(n)));
    }
    if !t.footnotes.is_empty() {
        out.push('\n');
        for f in &t.footnotes {
            out.push_str(&format!("[{}] {}  \n", f.n, md_escape(&f.text)));
        }
    }
    out
}

fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(key_matches("throughput@*/bs16", "throughput@4/bs16"));
        assert!(!key_matches("throughput@*/bs16", "throughput@4/bs1"));
        assert!(key_matches("fid@4", "fid@4"));
        assert!(!key_matches("fid@4", "fid@40"));
        assert!(key_matches("power_w@*", "power_w@8"));
        // `*` stays within one part: a breakdown key is not the headline key.
        assert!(key_matches("dpg@*", "dpg@4"));
        assert!(!key_matches("dpg@*", "dpg@4/count"));
        assert!(key_matches("dpg@*/count", "dpg@4/count"));
        assert!(key_matches("*/bs16", "throughput@4/bs16"));
        assert!(!key_matches("throughput@*", "throughput@4/bs16"));
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("Loss terms (CA / DM)"), "loss-terms-ca-dm");
        assert_eq!(slugify("<<>>"), "table");
    }
}
