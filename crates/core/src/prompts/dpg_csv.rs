//! DPG-Bench's CSV (`dpg_bench.csv` of ELLA's DPG-Bench): one row per question, the rows of a
//! prompt contiguous and sharing `item_id` and `text`.
//!
//! Header (columns found by name, in any order; extra columns are ignored):
//! `item_id,text,keywords,proposition_id,dependency,category_broad,category_detailed,tuple,question_natural_language`.
//! `dependency` lists the parents' proposition ids, comma-separated, `0` meaning "none".
//!
//! `parse` is stricter than the official scorer, which reads the file with pandas and would
//! silently merge, overwrite or skip what this module reports as an error (an `item_id` that
//! comes back after another item, a parent that does not exist, a repeated proposition).
//! Line numbers are 1-based and point at the line where the record starts (a quoted field
//! may span several lines).

use super::{Prompt, PromptFileError, Question};
use std::collections::{BTreeMap, BTreeSet};

/// The official header, in the official order.
pub const HEADER: [&str; 9] = [
    "item_id",
    "text",
    "keywords",
    "proposition_id",
    "dependency",
    "category_broad",
    "category_detailed",
    "tuple",
    "question_natural_language",
];

/// Longest prompt id accepted (it becomes a file-name stem).
pub const MAX_ID_LEN: usize = 128;

/// Column indices of the fields `parse` reads (`keywords` is not read).
struct Columns {
    item_id: usize,
    text: usize,
    proposition_id: usize,
    dependency: usize,
    category_broad: usize,
    category_detailed: usize,
    tuple: usize,
    question: usize,
}

/// One prompt being read: its questions with the line of each.
struct Pending {
    prompt: Prompt,
    first_line: usize,
    lines: Vec<usize>,
}

/// Reads a DPG-Bench CSV into prompts (in file order), each with its questions in row order.
pub fn parse(text: &str) -> Result<Vec<Prompt>, PromptFileError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header = reader.headers().map_err(csv_error)?.clone();
    let cols = columns(&header)?;

    let mut prompts: Vec<Prompt> = Vec::new();
    // item_id → first line of its rows, for items already finished.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut current: Option<Pending> = None;
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let field = |i: usize| record.get(i).unwrap_or("");

        let item_id = field(cols.item_id);
        if item_id.is_empty() {
            return Err(PromptFileError::new(line, "item_id is empty"));
        }
        check_id(item_id).map_err(|m| PromptFileError::new(line, m))?;
        let prompt_text = field(cols.text);
        if prompt_text.trim().is_empty() {
            return Err(PromptFileError::new(line, "text is empty"));
        }
        let id = parse_positive(field(cols.proposition_id)).ok_or_else(|| {
            PromptFileError::new(
                line,
                format!(
                    "proposition_id {:?} is not a positive integer",
                    field(cols.proposition_id)
                ),
            )
        })?;
        let parents = parse_dependency(field(cols.dependency)).ok_or_else(|| {
            PromptFileError::new(
                line,
                format!(
                    "dependency {:?} is not a comma-separated list of proposition ids (0 for none)",
                    field(cols.dependency)
                ),
            )
        })?;
        let category = field(cols.category_broad);
        if category.trim().is_empty() {
            return Err(PromptFileError::new(line, "category_broad is empty"));
        }
        let question_text = field(cols.question);
        if question_text.trim().is_empty() {
            return Err(PromptFileError::new(
                line,
                "question_natural_language is empty",
            ));
        }

        let same_item = current.as_ref().is_some_and(|p| p.prompt.id == item_id);
        if !same_item {
            if let Some(done) = current.take() {
                let (id, first) = (done.prompt.id.clone(), done.first_line);
                prompts.push(finish(done)?);
                seen.insert(id, first);
            }
            if let Some(&first) = seen.get(item_id) {
                let previous = prompts.last().map_or("", |p| p.id.as_str());
                return Err(PromptFileError::new(
                    line,
                    format!(
                        "item_id {item_id:?} on line {line} comes back after item {previous:?}; \
                         its rows began on line {first} (the rows of one prompt must be contiguous)"
                    ),
                ));
            }
            current = Some(Pending {
                prompt: Prompt {
                    id: item_id.to_string(),
                    text: prompt_text.to_string(),
                    questions: Vec::new(),
                },
                first_line: line,
                lines: Vec::new(),
            });
        }
        let Some(pending) = current.as_mut() else {
            continue; // unreachable: set just above
        };
        if pending.prompt.text != prompt_text {
            return Err(PromptFileError::new(
                line,
                format!(
                    "text differs from the text of item {item_id:?} on line {}",
                    pending.first_line
                ),
            ));
        }
        if let Some(k) = pending.prompt.questions.iter().position(|q| q.id == id) {
            return Err(PromptFileError::new(
                line,
                format!(
                    "proposition_id {id} appears twice in item {item_id:?} (lines {} and {line})",
                    pending.lines[k]
                ),
            ));
        }
        pending.prompt.questions.push(Question {
            id,
            parents,
            category: category.to_string(),
            detail: field(cols.category_detailed).to_string(),
            tuple: field(cols.tuple).to_string(),
            text: question_text.to_string(),
        });
        pending.lines.push(line);
    }
    if let Some(done) = current.take() {
        prompts.push(finish(done)?);
    }
    Ok(prompts)
}

/// Checks the parents of a prompt's questions once all its rows are read.
fn finish(pending: Pending) -> Result<Prompt, PromptFileError> {
    let ids: BTreeSet<u32> = pending.prompt.questions.iter().map(|q| q.id).collect();
    for (q, &line) in pending.prompt.questions.iter().zip(&pending.lines) {
        for &p in &q.parents {
            if p == q.id {
                return Err(PromptFileError::new(
                    line,
                    format!(
                        "proposition {} of item {:?} depends on itself",
                        q.id, pending.prompt.id
                    ),
                ));
            }
            if !ids.contains(&p) {
                return Err(PromptFileError::new(
                    line,
                    format!(
                        "proposition {} of item {:?} depends on proposition {p}, which the item does not have",
                        q.id, pending.prompt.id
                    ),
                ));
            }
        }
    }
    Ok(pending.prompt)
}

fn columns(header: &csv::StringRecord) -> Result<Columns, PromptFileError> {
    let expected = HEADER.join(",");
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(PromptFileError::new(
            1,
            format!("no header; expected {expected}"),
        ));
    }
    let find = |name: &str| -> Result<usize, PromptFileError> {
        let mut at = header
            .iter()
            .enumerate()
            .filter(|(_, h)| h.trim() == name)
            .map(|(i, _)| i);
        match (at.next(), at.next()) {
            (Some(i), None) => Ok(i),
            (Some(_), Some(_)) => Err(PromptFileError::new(
                1,
                format!("column {name:?} appears twice in the header"),
            )),
            (None, _) => Err(PromptFileError::new(
                1,
                format!("missing column {name:?}; expected header {expected}"),
            )),
        }
    };
    // Every official column must be there, `keywords` included, though it is not read.
    find("keywords")?;
    Ok(Columns {
        item_id: find("item_id")?,
        text: find("text")?,
        proposition_id: find("proposition_id")?,
        dependency: find("dependency")?,
        category_broad: find("category_broad")?,
        category_detailed: find("category_detailed")?,
        tuple: find("tuple")?,
        question: find("question_natural_language")?,
    })
}

/// A prompt id must be safe as a file-name stem.
fn check_id(id: &str) -> Result<(), String> {
    let ok = id.len() <= MAX_ID_LEN
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "item_id {id:?} is not safe as a file name (letters, digits, '.', '_' and '-' only, \
             not starting with '.', at most {MAX_ID_LEN} characters)"
        ))
    }
}

/// `1`, ` 2 `, `03` → Some; `0`, `-1`, `1.5`, `` → None.
fn parse_positive(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok().filter(|&v| v > 0)
}

/// `0` → [], `1` → [1], `1, 2` → [1, 2]; `0` entries are dropped, order kept.
fn parse_dependency(s: &str) -> Option<Vec<u32>> {
    let mut parents = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v = part.parse::<u32>().ok()?;
        if v != 0 {
            parents.push(v);
        }
    }
    Some(parents)
}

fn csv_error(e: csv::Error) -> PromptFileError {
    let line = e.position().map_or(1, |p| p.line() as usize);
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("the row has {len} fields, the header has {expected_len}"),
        _ => format!("not readable as CSV: {e}"),
    };
    PromptFileError::new(line, message)
}

/// Writes prompts as a DPG-Bench CSV: the official header, one row per question, `keywords`
/// empty, `dependency` `0` for a question without parents. `parse(&write(x)) == x` for every
/// `x` that `parse` can return; a prompt without questions writes no rows (and so is lost).
pub fn write(prompts: &[Prompt]) -> String {
    let mut out = HEADER.join(",");
    out.push('\n');
    for p in prompts {
        for q in &p.questions {
            let dependency = if q.parents.is_empty() {
                "0".to_string()
            } else {
                q.parents
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let row = [
                p.id.as_str(),
                p.text.as_str(),
                "",
                &q.id.to_string(),
                &dependency,
                &q.category,
                &q.detail,
                &q.tuple,
                &q.text,
            ];
            let fields: Vec<String> = row.iter().map(|f| quote(f)).collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        }
    }
    out
}

/// RFC 4180 quoting, only where needed (a comma, a quote or a line break).
fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "item_id,text,keywords,proposition_id,dependency,category_broad,category_detailed,tuple,question_natural_language";

    fn err(text: &str) -> (usize, String) {
        let e = parse(text).unwrap_err();
        (e.line, e.message)
    }

    fn csv(rows: &[&str]) -> String {
        let mut s = format!("{H}\n");
        for r in rows {
            s.push_str(r);
            s.push('\n');
        }
        s
    }

    #[test]
    fn parses_the_official_format_with_quoted_fields() {
        let text = csv(&[
            "p1,\"a red cat, on a mat\",cat|mat,1,0,entity,entity - whole,entity - whole (cat),Is there a cat?",
            "p1,\"a red cat, on a mat\",cat|mat,2,1,attribute,attribute - color,\"attribute - color (cat, red)\",Is the cat red?",
            "p1,\"a red cat, on a mat\",cat|mat,3,0,entity,entity - whole,entity - whole (mat),Is there a mat?",
            "p1,\"a red cat, on a mat\",cat|mat,4,\"1,3\",relation,relation - spatial,\"relation - spatial (cat, mat, on)\",Is the cat on the mat?",
            "p2,\"a sign that says \"\"hi\"\"\nin two lines\",,1,0,other,other - text,other - text (sign),\"Does the sign say \"\"hi\"\"?\"",
        ]);
        let ps = parse(&text).unwrap();
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0].id, "p1");
        assert_eq!(ps[0].text, "a red cat, on a mat");
        assert_eq!(ps[0].questions.len(), 4);
        assert_eq!(ps[0].questions[0].parents, Vec::<u32>::new());
        assert_eq!(ps[0].questions[1].parents, vec![1]);
        assert_eq!(ps[0].questions[3].parents, vec![1, 3]);
        assert_eq!(ps[0].questions[3].category, "relation");
        assert_eq!(ps[0].questions[3].detail, "relation - spatial");
        assert_eq!(
            ps[0].questions[3].tuple,
            "relation - spatial (cat, mat, on)"
        );
        assert_eq!(ps[0].questions[3].text, "Is the cat on the mat?");
        assert_eq!(ps[1].text, "a sign that says \"hi\"\nin two lines");
        assert_eq!(ps[1].questions[0].text, "Does the sign say \"hi\"?");
        // round trip
        assert_eq!(parse(&write(&ps)).unwrap(), ps);
        // header only: no prompts
        assert_eq!(parse(&format!("{H}\n")).unwrap(), vec![]);
    }

    #[test]
    fn columns_in_any_order_extra_columns_bom_and_crlf() {
        let text = "\u{feff}question_natural_language,extra,tuple,category_detailed,category_broad,dependency,proposition_id,keywords,text,item_id\r\n\
                    Is there a cat?,x,entity - whole (cat),entity - whole,entity,0,1,,a cat,c1\r\n\
                    Is it black?,y,attribute - color (cat),attribute - color,attribute, 0 , 2 ,,a cat,c1\r\n";
        let ps = parse(text).unwrap();
        assert_eq!(ps.len(), 1);
        assert_eq!(ps[0].id, "c1");
        assert_eq!(ps[0].questions[1].id, 2);
        assert_eq!(ps[0].questions[1].text, "Is it black?");
        assert_eq!(ps[0].questions[1].category, "attribute");
        assert_eq!(ps[0].questions[1].parents, Vec::<u32>::new());
    }

    #[test]
    fn round_trip_of_written_prompts() {
        let ps = vec![
            Prompt {
                id: "a.b-c_1".into(),
                text: " spaces kept , \"quoted\"\r\nand lines ".into(),
                questions: vec![
                    Question {
                        id: 2,
                        parents: vec![],
                        category: "entity".into(),
                        detail: "".into(),
                        tuple: "".into(),
                        text: "q2?".into(),
                    },
                    Question {
                        id: 1,
                        parents: vec![2, 2],
                        category: "attribute, odd".into(),
                        detail: "attribute - color".into(),
                        tuple: "attribute - color (x, \"y\")".into(),
                        text: "q1,\nmore?".into(),
                    },
                ],
            },
            Prompt {
                id: "Z".into(),
                text: "t".into(),
                questions: vec![Question {
                    id: 7,
                    parents: vec![],
                    category: "global".into(),
                    detail: "global".into(),
                    tuple: "global (t)".into(),
                    text: "t?".into(),
                }],
            },
        ];
        let written = write(&ps);
        assert!(written.starts_with(&format!("{H}\n")));
        assert_eq!(parse(&written).unwrap(), ps);
        assert_eq!(write(&[]), format!("{H}\n"));
    }

    const OK: &str = ",t,,1,0,entity,d,tu,q?";

    #[test]
    fn header_errors() {
        let expected = format!("expected header {H}");
        assert_eq!(
            err("item_id,text,proposition_id,dependency,category_broad,category_detailed,tuple,question_natural_language\n"),
            (1, format!("missing column \"keywords\"; {expected}"))
        );
        assert_eq!(
            err("item_id,text,keywords,proposition_id,category_broad,category_detailed,tuple,question_natural_language\n"),
            (1, format!("missing column \"dependency\"; {expected}"))
        );
        assert_eq!(
            err(&format!("{H},text\n")),
            (1, "column \"text\" appears twice in the header".into())
        );
        assert_eq!(err(""), (1, format!("no header; expected {H}")));
        assert_eq!(err("\n\n"), (1, format!("no header; expected {H}")));
    }

    #[test]
    fn row_errors() {
        assert_eq!(
            err(&csv(&[&format!("p{OK}"), "p,t,,2,0,entity,d,tu"])),
            (3, "the row has 8 fields, the header has 9".into())
        );
        assert_eq!(err(&csv(&[OK])), (2, "item_id is empty".into()));
        assert_eq!(
            err(&csv(&[&format!("a b{OK}")])),
            (2, "item_id \"a b\" is not safe as a file name (letters, digits, '.', '_' and '-' only, not starting with '.', at most 128 characters)".into())
        );
        assert!(err(&csv(&[&format!(".hidden{OK}")]))
            .1
            .starts_with("item_id \".hidden\" is not safe"));
        assert!(err(&csv(&[&format!("../x{OK}")]))
            .1
            .starts_with("item_id \"../x\" is not safe"));
        let long = "x".repeat(129);
        assert!(err(&csv(&[&format!("{long}{OK}")]))
            .1
            .starts_with(&format!("item_id \"{long}\" is not safe")));
        let max = "x".repeat(128);
        assert_eq!(parse(&csv(&[&format!("{max}{OK}")])).unwrap()[0].id, max);
        assert_eq!(
            err(&csv(&[&format!("p{OK}"), "p, ,,2,0,entity,d,tu,q?"])),
            (3, "text is empty".into())
        );
        for bad in ["0", "-1", "1.5", "x", "", "99999999999"] {
            assert_eq!(
                err(&csv(&[&format!("p,t,,{bad},0,entity,d,tu,q?")])),
                (
                    2,
                    format!("proposition_id {bad:?} is not a positive integer")
                )
            );
        }
        for bad in ["", "1,", "a", "-1", "1;2", "1 2"] {
            assert_eq!(
                err(&csv(&[&format!("p,t,,1,\"{bad}\",entity,d,tu,q?")])),
                (2, format!("dependency {bad:?} is not a comma-separated list of proposition ids (0 for none)"))
            );
        }
        assert_eq!(
            err(&csv(&["p,t,,1,0, ,d,tu,q?"])),
            (2, "category_broad is empty".into())
        );
        assert_eq!(
            err(&csv(&["p,t,,1,0,entity,d,tu,"])),
            (2, "question_natural_language is empty".into())
        );
    }

    #[test]
    fn prompt_errors() {
        // a repeated proposition, the line of the first named
        assert_eq!(
            err(&csv(&[
                "p,t,,1,0,entity,d,tu,q?",
                "p,t,,2,0,entity,d,tu,q?",
                "p,t,,1,0,entity,d,tu,q?",
            ])),
            (
                4,
                "proposition_id 1 appears twice in item \"p\" (lines 2 and 4)".into()
            )
        );
        // the same id in another prompt is fine
        assert_eq!(
            parse(&csv(&[
                "p,t,,1,0,entity,d,tu,q?",
                "r,t,,1,0,entity,d,tu,q?"
            ]))
            .unwrap()
            .len(),
            2
        );
        // an item that comes back; the line numbers count the lines of a quoted field
        assert_eq!(
            err(&csv(&[
                "p,t,,1,0,entity,d,tu,q?",
                "r,\"two\nlines\",,1,0,entity,d,tu,q?",
                "p,t,,2,0,entity,d,tu,q?",
            ])),
            (
                5,
                "item_id \"p\" on line 5 comes back after item \"r\"; its rows began on line 2 (the rows of one prompt must be contiguous)".into()
            )
        );
        assert_eq!(
            err(&csv(&[
                "p,t,,1,0,entity,d,tu,q?",
                "p,t2,,2,0,entity,d,tu,q?"
            ])),
            (
                3,
                "text differs from the text of item \"p\" on line 2".into()
            )
        );
        // parents are checked once the item's rows are read: a parent on a later row is fine
        let ps = parse(&csv(&[
            "p,t,,1,2,entity,d,tu,q?",
            "p,t,,2,0,entity,d,tu,q?",
        ]))
        .unwrap();
        assert_eq!(ps[0].questions[0].parents, vec![2]);
        assert_eq!(
            err(&csv(&[
                "p,t,,1,0,entity,d,tu,q?",
                "p,t,,2,\"1,2\",entity,d,tu,q?",
            ])),
            (3, "proposition 2 of item \"p\" depends on itself".into())
        );
        // the missing parent is reported on its child's line, also for the last item
        assert_eq!(
            err(&csv(&[
                "p,t,,1,0,entity,d,tu,q?",
                "p,t,,2,3,entity,d,tu,q?",
                "r,t,,1,0,entity,d,tu,q?",
            ])),
            (
                3,
                "proposition 2 of item \"p\" depends on proposition 3, which the item does not have"
                    .into()
            )
        );
        assert_eq!(
            err(&csv(&["p,t,,1,0,entity,d,tu,q?", "r,t,,1,2,entity,d,tu,q?"])),
            (
                3,
                "proposition 1 of item \"r\" depends on proposition 2, which the item does not have"
                    .into()
            )
        );
    }

    #[test]
    fn unreadable_csv() {
        // an unclosed quote is read to the end of input by the csv crate, so the row comes
        // out one field short
        let (line, message) = err(&csv(&["p,\"t,,1,0,entity,d,tu,q?"]));
        assert_eq!(line, 2);
        assert_eq!(message, "the row has 2 fields, the header has 9");
    }
}
