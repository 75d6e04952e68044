//! The table as files beside the report: CSV (the numbers, for further analysis) and Markdown
//! (the table as displayed, to paste elsewhere); the report names them by the table's slug.

use super::{CellModel, CellState, ColumnModel, RowKind, TableModel, Verdict};
use crate::stats::fmt_p;

/// The file stem of a table (and its HTML anchor): the title in lowercase words joined by
/// `-`, cut at a word boundary.
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

/// CSV: one row per table row; per column the mean, the 95 % half-width, n and the p-value
/// against the column's best (`best` on the best cell, `untested` where n = 1 on one side;
/// empty where there is no test). Cells without a value hold their state word in the mean's
/// place. The data row is the last, flagged `data row`.
pub fn to_csv(t: &TableModel) -> String {
    let mut out = String::new();
    let mut header: Vec<String> = t.row_axes.clone();
    for c in &t.columns {
        header.push(c.metric.clone());
        header.push(format!("{} ci95", c.metric));
        header.push(format!("{} n", c.metric));
        header.push(format!("{} p_vs_best", c.metric));
    }
    header.push("flags".into());
    push_csv_line(&mut out, &header);
    for r in &t.rows {
        let mut fields: Vec<String> = r.labels.clone();
        for c in &r.cells {
            fields.extend(csv_cell(c));
        }
        let mut flags: Vec<String> = r.flags.iter().map(|f| f.text.clone()).collect();
        if r.kind == RowKind::Data {
            flags.push("data row".into());
        }
        fields.push(flags.join("; "));
        push_csv_line(&mut out, &fields);
    }
    out
}

/// The four fields of one cell: mean (or state word), ci95, n, p against the best.
fn csv_cell(c: &CellModel) -> [String; 4] {
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    let p = if c.best {
        "best".to_string()
    } else {
        match &c.versus_best {
            Some(v) if v.verdict == Verdict::Untested => "untested".into(),
            Some(v) => opt(v.p),
            None => String::new(),
        }
    };
    match c.state {
        CellState::Value => [opt(c.mean), opt(c.ci95), c.n.to_string(), p],
        CellState::Missing => [String::new(), String::new(), "0".into(), String::new()],
        CellState::Blank => Default::default(),
        other => {
            let word = serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            [word, String::new(), "0".into(), String::new()]
        }
    }
}

fn push_csv_line(out: &mut String, fields: &[String]) {
    out.push_str(
        &fields
            .iter()
            .map(|f| csv_field(f))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push('\n');
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Markdown: the table as displayed (best in bold, `≈` and p against the best, the data row
/// in italics), its legend, notes and footnotes.
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
            fields.push(md_cell(c, r.kind));
        }
        if r.kind == RowKind::Data {
            // Italic labels; empty fields stay empty (`__` is not emphasis).
            fields = fields
                .into_iter()
                .map(|f| if f.is_empty() { f } else { format!("_{f}_") })
                .collect();
        }
        out.push_str(&format!("| {} |\n", fields.join(" | ")));
    }
    out.push('\n');
    for l in &t.legend {
        out.push_str(&format!("{}  \n", md_escape(l)));
    }
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

/// One cell as Markdown: `**17.90 ± 1.27** (n=2)`, `18.10 ± 1.27 (n=2) ≈ p = 0.11`,
/// `35.10 ? untested: n = 1`; the data row's mean alone.
fn md_cell(c: &CellModel, kind: RowKind) -> String {
    let mut s = md_escape(&c.text);
    if kind == RowKind::Data {
        return s;
    }
    if c.best {
        s = format!("**{s}**");
    }
    if c.n > 1 {
        s.push_str(&format!(" (n={})", c.n));
    }
    if let Some(v) = &c.versus_best {
        match (v.verdict, v.p) {
            (Verdict::Untested, _) => s.push_str(" ? untested: n = 1"),
            (Verdict::Indistinguishable, Some(p)) => s.push_str(&format!(" ≈ p {}", fmt_p(p))),
            (_, Some(p)) => s.push_str(&format!(" p {}", fmt_p(p))),
            (_, None) => {}
        }
    }
    for f in &c.footnotes {
        s.push_str(&format!(" [{f}]"));
    }
    s
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
    fn slugs() {
        assert_eq!(slugify("Loss terms (CA / DM)"), "loss-terms-ca-dm");
        assert_eq!(slugify("<<>>"), "table");
    }
}
