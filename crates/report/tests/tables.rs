//! Ablation tables built from a real run database: aggregation over seeds, best marks,
//! unavailable vs missing vs failed, diverged flags, cached rows, pivots, CSV and Markdown.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;

use ddmd_report::table::{
    build_table, to_csv, to_markdown, CellState, RowKind, TableModel, Verdict,
};
use ddmd_report::{load_invocation, parse_report_params};
use serde_json::json;

fn tables(params: serde_json::Value) -> Vec<TableModel> {
    let dir = tempfile::tempdir().expect("tempdir");
    let fx = common::ablation(dir.path());
    let data = load_invocation(&fx.db.path, fx.invocation).expect("load");
    let spec = parse_report_params(params.as_object().expect("object")).expect("params");
    spec.tables
        .iter()
        .enumerate()
        .map(|(i, t)| build_table(i, t, &data.runs))
        .collect()
}

fn row<'a>(t: &'a TableModel, label: &str) -> &'a ddmd_report::table::RowModel {
    t.rows
        .iter()
        .find(|r| r.labels == [label])
        .unwrap_or_else(|| panic!("no row {label}"))
}

#[test]
fn loss_terms_preset_aggregates_seeds_and_marks_best() {
    let t =
        &tables(json!({"tables": [{"preset": "loss_terms", "filter": {"schedule": "hybrid"}}]}))[0];
    assert_eq!(
        t.rows
            .iter()
            .map(|r| r.labels[0].as_str())
            .collect::<Vec<_>>(),
        ["CA + DM", "CA only", "DM only"]
    );
    assert_eq!(
        t.columns
            .iter()
            .map(|c| c.metric.as_str())
            .collect::<Vec<_>>(),
        [
            "fid@1",
            "fid@4",
            "stability",
            "sharpness@4",
            "color_shift@4"
        ]
    );
    assert_eq!(t.columns[0].arrow, "↓");
    assert_eq!(t.columns[2].arrow, "↑");
    assert_eq!(t.columns[1].setting.as_deref(), Some("judge, N=2000"));
    assert!(!t.columns[1].setting_mixed);

    // CA + DM: seed 0 from this invocation, seed 1 through a cached row's source run.
    let ca_dm = row(t, "CA + DM");
    let c = &ca_dm.cells[0];
    assert_eq!(c.state, CellState::Value);
    assert_eq!(c.n, 2);
    assert!((c.mean.unwrap() - 17.9).abs() < 1e-9);
    assert!((c.std.unwrap() - (0.02f64).sqrt()).abs() < 1e-9);
    // ± the 95 % half-width: t_{0.975,1} · s / √2 = 12.706 · 0.1.
    assert!((c.ci95.unwrap() - 1.2706204736174694).abs() < 1e-9);
    assert_eq!(c.text, "17.90 ± 1.27");
    assert!(c.best, "lowest FID is best");
    assert!(!row(t, "CA only").cells[0].best);
    // Two seeds each cannot tell CA only from CA + DM (scipy: p = 0.1987).
    let v = row(t, "CA only").cells[0].versus_best.as_ref().unwrap();
    assert_eq!(v.verdict, Verdict::Indistinguishable);
    assert!((v.p.unwrap() - 0.1987273889345277).abs() < 1e-9, "{v:?}");
    // The fixture's database predates the `@data` keys: no data row.
    assert!(t.rows.iter().all(|r| r.kind == RowKind::Variant));

    // Stability is logged by distill and by evaluate for the same point: counted once.
    let ca_only = row(t, "CA only");
    assert_eq!(ca_only.cells[2].n, 2);
    assert_eq!(ca_only.cells[2].mean, Some(625.0));
    assert!(
        ca_only
            .flags
            .iter()
            .any(|f| f.kind == "diverged" && f.text == "diverged ×2"),
        "{:?}",
        ca_only.flags
    );
    // A tie for best: both stable rows are marked.
    assert!(row(t, "CA + DM").cells[2].best && row(t, "DM only").cells[2].best);

    // DM only: seed 1's evaluation failed; the mean is over the one that did not.
    let dm = row(t, "DM only");
    assert_eq!(dm.cells[0].n, 1);
    assert_eq!(dm.cells[0].text, "35.10");
    assert_eq!(
        dm.cells[0].versus_best.as_ref().map(|v| v.verdict),
        Some(Verdict::Untested)
    );
    assert!(dm
        .flags
        .iter()
        .any(|f| f.kind == "failed" && f.title.contains("CUDA out of memory")));
    assert!(t
        .footnotes
        .iter()
        .any(|f| f.text.contains("CUDA out of memory")));
    assert!(t
        .notes
        .iter()
        .any(|n| n.contains("Filter: schedule = hybrid")));
    assert!(!t.notes.iter().any(|n| n.contains("pool")), "{:?}", t.notes);
}

#[test]
fn unavailable_missing_and_failed_are_distinct() {
    let t = &tables(
        json!({"tables": [{"title": "x", "rows": "terms", "columns": ["hps@4", "kid@4", "dpg@4"]}]}),
    )[0];
    let ca = row(t, "CA + DM");
    assert_eq!(ca.cells[0].state, CellState::Unavailable);
    assert_eq!(ca.cells[0].text, "n/a");
    let fnote = ca.cells[0].footnotes[0];
    let text = &t
        .footnotes
        .iter()
        .find(|f| f.n == fnote)
        .expect("footnote")
        .text;
    assert!(text.contains("no HPS v2.1 checkpoint configured"), "{text}");
    assert_eq!(ca.cells[1].state, CellState::Missing);
    assert_eq!(ca.cells[1].text, "—");
    assert_eq!(ca.cells[2].state, CellState::Value);
    assert!(ca.cells[2].best, "highest DPG is best");
}

#[test]
fn pivot_on_an_axis_and_pooling_note() {
    let t = &tables(
        json!({"tables": [{"title": "FID by seed", "rows": "terms", "columns": "seed", "metric": "fid@4"}]}),
    )[0];
    assert_eq!(
        t.columns
            .iter()
            .map(|c| c.label.as_str())
            .collect::<Vec<_>>(),
        ["seed=0", "seed=1"]
    );
    let ca = row(t, "CA + DM");
    assert_eq!(ca.cells[0].mean, Some(17.8));
    assert_eq!(ca.cells[1].mean, Some(17.6));
    assert_eq!(ca.cells[1].n, 1);
    let dm = row(t, "DM only");
    assert_eq!(dm.cells[1].state, CellState::Failed);
    assert!(ca.cells[1].best, "17.6 is the lowest of column seed=1");

    // Rows by seed pool the three loss-term variants: the table says so.
    let t =
        &tables(json!({"tables": [{"title": "by seed", "rows": "seed", "columns": ["fid@4"]}]}))[0];
    assert!(
        t.notes.iter().any(|n| n.contains("`terms`")),
        "{:?}",
        t.notes
    );
}

#[test]
fn csv_and_markdown() {
    let t = &tables(json!({"tables": [{"preset": "loss_terms"}]}))[0];
    let csv = to_csv(t);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("terms,fid@1,fid@1 ci95,fid@1 n,fid@1 p_vs_best,fid@4,fid@4 ci95,fid@4 n,fid@4 p_vs_best,stability,stability ci95,stability n,stability p_vs_best,sharpness@4,sharpness@4 ci95,sharpness@4 n,sharpness@4 p_vs_best,color_shift@4,color_shift@4 ci95,color_shift@4 n,color_shift@4 p_vs_best,flags"));
    let first = lines.next().expect("row");
    assert!(first.starts_with("CA + DM,17.9,1.27062047361"), "{first}");
    assert!(first.contains(",2,best,"), "{first}");
    let dm = csv
        .lines()
        .find(|l| l.starts_with("DM only"))
        .expect("DM only row");
    assert!(
        dm.starts_with("DM only,35.1,,1,untested,28.9,,1,untested,"),
        "{dm}"
    );
    assert!(dm.ends_with(",failed ×1"), "{dm}");
    let md = to_markdown(t);
    assert!(
        md.contains("| terms | 1-step FID ↓ (judge, N=2000) |"),
        "{md}"
    );
    assert!(md.contains("**17.90 ± 1.27** (n=2)"), "{md}");
    assert!(md.contains("≈ p = 0.199"), "{md}");
    assert!(md.contains("CA only (diverged ×2)"), "{md}");
}

#[test]
fn wildcard_columns_and_ambiguity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = common::Db::create(dir.path());
    let p = db.pipeline("deploy", "name: deploy");
    let inv = db.invocation(p);
    let a = db.run(
        inv,
        p,
        "evaluate",
        "evaluate",
        "evaluate[model=teacher]",
        json!({"model": "teacher 50-step"}),
        json!({}),
        "succeeded",
    );
    db.metric(a, 0, "throughput@50/bs16", 0, 0.28);
    let b = db.run(
        inv,
        p,
        "evaluate",
        "evaluate",
        "evaluate[model=student]",
        json!({"model": "decoupled 4-step"}),
        json!({}),
        "succeeded",
    );
    db.metric(b, 0, "throughput@4/bs16", 0, 3.1);
    let c = db.run(
        inv,
        p,
        "evaluate",
        "evaluate",
        "evaluate[model=both]",
        json!({"model": "both"}),
        json!({}),
        "succeeded",
    );
    db.metric(c, 0, "throughput@4/bs16", 0, 3.0);
    db.metric(c, 1, "throughput@8/bs16", 0, 1.6);
    let data = load_invocation(&db.path, inv).expect("load");
    let spec = parse_report_params(
        json!({"tables": [{"preset": "deployment"}]})
            .as_object()
            .expect("obj"),
    )
    .expect("spec");
    let t = build_table(0, &spec.tables[0], &data.runs);
    assert_eq!(row(&t, "teacher 50-step").cells[0].mean, Some(0.28));
    assert_eq!(row(&t, "decoupled 4-step").cells[0].mean, Some(3.1));
    assert!(row(&t, "decoupled 4-step").cells[0].best);
    assert_eq!(row(&t, "both").cells[0].state, CellState::Ambiguous);
    assert_eq!(
        row(&t, "teacher 50-step").cells[1].state,
        CellState::Missing
    );
}

#[test]
fn non_finite_final_values_are_not_averaged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = common::Db::create(dir.path());
    let p = db.pipeline("nan", "name: nan");
    let inv = db.invocation(p);
    for (seed, v) in [(0, 1.5), (1, f64::NAN)] {
        let r = db.run(
            inv,
            p,
            "distill",
            "distill",
            &format!("d[seed={seed}]"),
            json!({"terms": "CA only", "seed": seed}),
            json!({}),
            "succeeded",
        );
        db.metric(r, 0, "train/loss", 0, 1.0);
        db.metric(r, 1, "train/loss", 10, v);
    }
    let data = load_invocation(&db.path, inv).expect("load");
    let spec = parse_report_params(
        json!({"tables": [{"title": "t", "rows": "terms", "columns": ["train/loss"]}]})
            .as_object()
            .expect("obj"),
    )
    .expect("spec");
    let t = build_table(0, &spec.tables[0], &data.runs);
    let c = &t.rows[0].cells[0];
    assert_eq!((c.n, c.mean), (1, Some(1.5)));
    assert!(
        t.footnotes.iter().any(|f| f.text.contains("NaN")),
        "{:?}",
        t.footnotes
    );
}

#[test]
fn no_best_without_a_direction_or_where_the_column_ties() {
    // `direction: none` on every column: nothing bold, and the legend does not promise bold.
    let t = &tables(json!({"tables": [{
        "rows": "terms",
        "columns": ["fid@4", "stability"],
        "direction": {"fid@4": "none", "stability": "none"}
    }]}))[0];
    assert!(t.rows.iter().flat_map(|r| &r.cells).all(|c| !c.best));
    assert!(
        t.legend[0].starts_with("Mean ± half-width"),
        "{:?}",
        t.legend
    );
    assert!(
        !t.legend.iter().any(|l| l.contains("bold")),
        "{:?}",
        t.legend
    );

    // Stability is 2000 in both seeds of CA + DM: a tie is no "best".
    let t = &tables(json!({"tables": [{
        "rows": "seed",
        "columns": ["stability"],
        "filter": {"terms": "CA + DM"}
    }]}))[0];
    let texts: Vec<&str> = t.rows.iter().map(|r| r.cells[0].text.as_str()).collect();
    assert_eq!(texts, ["2000", "2000"]);
    assert!(t.rows.iter().all(|r| !r.cells[0].best));
    assert!(t.rows.iter().all(|r| r.cells[0].versus_best.is_none()));
}

#[test]
fn one_number_format_per_column() {
    // fid@1 means are 17.9, 18.4 and a single 35.1 (two decimals each); stability's 625 ± 190.6 sets one
    // decimal for the whole column, 2000 included.
    let t = &tables(json!({"tables": [{"rows": "terms", "columns": ["fid@1", "stability"]}]}))[0];
    let col = |ci: usize| -> Vec<String> {
        t.rows
            .iter()
            .filter(|r| r.kind == RowKind::Variant)
            .map(|r| r.cells[ci].text.clone())
            .collect()
    };
    assert_eq!(col(0), ["17.90 ± 1.27", "18.40 ± 2.54", "35.10"]);
    assert_eq!(col(1), ["2000.0 ± 0.0", "625.0 ± 190.6", "2000.0 ± 0.0"]);
}
