//! `parse_report_params`: valid declarations parse as written in DESIGN §4; each invalid one
//! gets one message naming the field path and what was expected (table-driven, exact text).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_report::parse_report_params;
use ddmd_report::report_params::{Columns, PlotKind};
use serde_json::{json, Value};

fn parse(v: Value) -> Result<ddmd_report::ReportSpec, String> {
    parse_report_params(v.as_object().expect("object")).map_err(|e| e.to_string())
}

#[test]
fn design_example_parses() {
    let spec = parse(json!({
        "seed": 0,
        "data": {"kind": "shapes"},
        "tables": [{"title": "Loss terms", "rows": "terms", "filter": {"schedule": "hybrid"}, "columns": ["fid@1", "fid@4", "stability"]}],
        "plots": [{"kind": "line", "metric": "train/pixel_var", "x": "iteration", "series": "terms"}]
    }))
    .expect("valid");
    let t = &spec.tables[0];
    assert_eq!(t.rows, ["terms"]);
    assert_eq!(
        t.filter,
        vec![("schedule".to_string(), vec!["hybrid".to_string()])]
    );
    assert!(matches!(&t.columns, Columns::Metrics(c) if c.len() == 3 && c[1].metric == "fid@4"));
    assert_eq!(spec.plots[0].kind, PlotKind::Line);
    assert!(spec.samples.enabled);
    assert_eq!(spec.log_tail, 40);
    assert!(t.data_row, "the data row is on unless turned off");
}

#[test]
fn data_row_turned_off() {
    let spec =
        parse(json!({"tables": [{"preset": "loss_terms", "data_row": false}]})).expect("valid");
    assert!(!spec.tables[0].data_row);
}

#[test]
fn preset_with_overrides() {
    let spec = parse(json!({"tables": [{"preset": "cfg_scale", "rows": "guidance", "title": "α", "units": {"fid@4": "pts"}, "direction": {"dpg@4": "none"}}]})).expect("valid");
    let t = &spec.tables[0];
    assert_eq!(t.rows, ["guidance"]);
    assert_eq!(t.title, "α");
    assert_eq!(t.preset.as_deref(), Some("cfg_scale"));
    assert_eq!(t.units.get("fid@4").map(String::as_str), Some("pts"));
    assert_eq!(t.direction.get("dpg@4"), Some(&None));
    assert!(
        matches!(&t.columns, Columns::Metrics(c) if c[0].metric == "dpg@4" && c[0].label.as_deref() == Some("DPG"))
    );
}

#[test]
fn invalid_params_have_exact_messages() {
    // Unknown top-level keys (`tabels`) are rejected by the plan with their own location:
    // `ddmd_core::params` and tests/params_check.rs.
    let cases: Vec<(Value, &str)> = vec![
        (json!({"tables": {}}), "tables: expected a list, got mapping {}"),
        (json!({"tables": [{"rows": "terms"}]}), "tables[0].columns: missing; expected a list of metric keys (e.g. [fid@1, fid@4]) or an axis name"),
        (json!({"tables": [{"columns": ["fid@4"]}]}), "tables[0].rows: missing; expected the matrix axis (or axes) whose values make the rows"),
        (json!({"tables": [{"rows": 3, "columns": ["fid@4"]}]}), "tables[0].rows: expected an axis name or a non-empty list of axis names, got number 3"),
        (json!({"tables": [{"rows": "terms", "columns": ["fid@4", 7]}]}), "tables[0].columns[1]: expected a metric key or {metric, label}, got number 7"),
        (json!({"tables": [{"rows": "terms", "columns": "seed"}]}), "tables[0].metric: missing; `columns: seed` makes one column per value of axis `seed`, so the table needs the metric to show in them"),
        (json!({"tables": [{"rows": "terms", "columns": "terms", "metric": "fid@4"}]}), "tables[0].columns: axis `terms` is already used for the rows"),
        (json!({"tables": [{"rows": "terms", "columns": ["fid@4"], "filter": {"terms": "CA only"}}]}), "tables[0].filter.terms: this axis makes the rows; filter on another axis, or list the wanted rows' values here and remove it from `rows`"),
        (json!({"tables": [{"rows": "terms", "columns": ["fid@4"], "colour": 1}]}), "tables[0].colour: unknown key; expected one of: title, preset, rows, columns, metric, filter, units, direction, note, data_row"),
        (json!({"tables": [{"rows": "terms", "columns": ["fid@4"], "data_row": "no"}]}), "tables[0].data_row: expected true or false, got string \"no\""),
        (json!({"tables": [{"rows": "terms", "columns": ["fid@4"], "data_rows": false}]}), "tables[0].data_rows: unknown key; did you mean `data_row`?"),
        (json!({"tables": [{"rows": "terms", "colums": ["fid@4"]}]}), "tables[0].colums: unknown key; did you mean `columns`?"),
        (json!({"tables": [{"preset": "loss_term"}]}), "tables[0].preset: unknown preset \"loss_term\"; expected one of: loss_terms, renoise_schedules, regularizers, cfg_scale, deployment"),
        (json!({"tables": [{"rows": "terms", "columns": ["fid@4"], "direction": {"fid@4": "sideways"}}]}), "tables[0].direction.fid@4: expected up / down / none (or max / min), got \"sideways\""),
        (json!({"tables": [{"rows": "terms", "columns": ["fid@4"], "filter": {"schedule": [[1]]}}]}), "tables[0].filter.schedule[0]: expected a value (or a list of values), got list [1]"),
        (json!({"plots": [{"metric": "fid@4"}]}), "plots[0].kind: missing; expected line, bar, sweep or scatter"),
        (json!({"plots": [{"kind": "pie", "metric": "fid@4"}]}), "plots[0].kind: expected line, bar, sweep or scatter, got \"pie\""),
        (json!({"plots": [{"kind": "line", "metric": "x", "x": "alpha"}]}), "plots[0].x: line plots are drawn against the training step: expected `iteration`, got \"alpha\" (use kind: sweep for a metric against an axis)"),
        (json!({"plots": [{"kind": "bar", "metric": "fid@4"}]}), "plots[0].x: missing; expected the matrix axis on the x axis"),
        (json!({"plots": [{"kind": "scatter", "x": "fid@4", "metric": "dpg@4"}]}), "plots[0].metric: scatter plots take `x` and `y` metric keys"),
        (json!({"plots": [{"kind": "line", "metric": "x", "smooth": 1.5}]}), "plots[0].smooth: expected a weight in [0, 1), got 1.5"),
        (json!({"plots": [{"kind": "sweep", "metric": "x", "x": "alpha", "smooth": 0.3}]}), "plots[0].smooth: only line plots are smoothed"),
        (json!({"samples": "yes"}), "samples: expected true/false or {filter, stages, max_prompts}, got string \"yes\""),
        (json!({"samples": {"max_prompts": -1}}), "samples.max_prompts: expected a non-negative integer, got number -1"),
        (json!({"log_tail": "all"}), "log_tail: expected a non-negative integer, got string \"all\""),
    ];
    let mut failures = Vec::new();
    for (input, want) in &cases {
        match parse(input.clone()) {
            Ok(_) => failures.push(format!("{input}: accepted, wanted error {want:?}")),
            Err(got) if got != *want => {
                failures.push(format!("{input}:\n   got  {got:?}\n   want {want:?}"))
            }
            Err(_) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The examples of docs/PIPELINES.md's report section are valid report params, so the docs
/// cannot drift from the parser.
#[test]
fn pipelines_md_report_examples_parse() {
    let doc = include_str!("../../../docs/PIPELINES.md");
    let section = &doc[doc.find("**report** — ").expect("report section")..];
    let section = &section[..section.find("How to read a report table").expect("end")];
    let blocks: Vec<&str> = section
        .split("```yaml\n")
        .skip(1)
        .map(|b| &b[..b.find("```").expect("closed block")])
        .collect();
    assert_eq!(blocks.len(), 2, "the tables and the plots example");
    for b in blocks {
        let v = ddmd_pipeline::read_value(std::path::Path::new("PIPELINES.md"), b)
            .unwrap_or_else(|e| panic!("{e:?}\n{b}"));
        let spec = parse(v).unwrap_or_else(|e| panic!("{e}\n{b}"));
        assert!(!spec.tables.is_empty() || spec.plots.len() == 4, "{b}");
    }
    // The table's one-line examples, as params.
    let spec = parse(json!({
        "samples": {"stages": ["distill"], "filter": {"seed": 0}, "max_prompts": 8},
        "log_tail": 80, "output_dir": "reports", "title": "t", "description": "d"
    }))
    .expect("valid");
    assert_eq!(spec.samples.max_prompts, 8);
}
