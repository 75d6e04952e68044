//! The table as files beside the report: CSV (the numbers, for further analysis) and Markdown
//! (the table as displayed, to paste elsewhere); the report names them by the table's slug.

use super::{CellState, ColumnModel, TableModel};

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
    fn slugs() {
        assert_eq!(slugify("Loss terms (CA / DM)"), "loss-terms-ca-dm");
        assert_eq!(slugify("<<>>"), "table");
    }
}
