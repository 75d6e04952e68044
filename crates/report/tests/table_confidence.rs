//! How sure a table is: mean ± the 95 % interval of the mean with n, the test of every row
//! against the best (Welch; `≈` where the seeds cannot tell them apart, untested where a side
//! has one run), and the data row (each metric on renders of the data: FID's floor, DPG's
//! ceiling) — present, absent on databases older than the `@data` keys, turned off by
//! `data_row: false`, never ranked. Reference p-values are scipy's
//! (`scipy.stats.ttest_ind(x, best, equal_var=False)`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;

use ddmd_report::table::{
    build_table, to_csv, to_markdown, CellState, RowKind, RowModel, TableModel, Verdict,
    DATA_ROW_LABEL,
};
use ddmd_report::{load_invocation, parse_report_params};
use serde_json::{json, Value};
use std::path::Path;

/// fid@4 per seed of each variant: A is best; B overlaps it; C is far worse; D has one run.
const SWEEP: &[(&str, &[f64])] = &[
    ("A", &[10.0, 10.2, 10.1]),
    ("B", &[10.3, 10.0, 10.4]),
    ("C", &[14.0, 14.3, 14.1]),
    ("D", &[12.5]),
];

/// One evaluate run per (variant, seed) with `fid@4`, `dpg@4`, `dpg@4/entity` and
/// `stability`; with `with_data`, also the measures of the data that evaluate now emits.
fn build(tmp: &Path, sweep: &[(&str, &[f64])], with_data: bool, table: Value) -> TableModel {
    let mut db = common::Db::create(tmp);
    let p = db.pipeline("sweep", "name: sweep");
    let inv = db.invocation(p);
    for (vi, (variant, fids)) in sweep.iter().enumerate() {
        for (seed, fid) in fids.iter().enumerate() {
            let r = db.run(
                inv,
                p,
                "evaluate",
                "evaluate",
                &format!("evaluate[variant={variant},seed={seed}]"),
                json!({"variant": variant, "seed": seed}),
                json!({}),
                "succeeded",
            );
            db.metric(r, 0, "fid@4", 0, *fid);
            db.metric(r, 1, "dpg@4", 0, 80.0 + vi as f64 + 0.5 * seed as f64);
            db.metric(r, 2, "dpg@4/entity", 0, 85.0 + vi as f64);
            db.metric(r, 3, "stability", 0, 1000.0);
            if with_data {
                db.metric(r, 4, "fid@data", 0, 2.0 + 0.2 * seed as f64);
                db.metric(r, 5, "dpg@data", 0, 95.0);
                db.metric(r, 6, "dpg@data/entity", 0, 97.5);
            }
        }
    }
    let data = load_invocation(&db.path, inv).expect("load");
    let spec = parse_report_params(json!({ "tables": [table] }).as_object().expect("object"))
        .expect("params");
    build_table(0, &spec.tables[0], &data.runs)
}

fn fid_table(tmp: &Path, sweep: &[(&str, &[f64])]) -> TableModel {
    build(
        tmp,
        sweep,
        false,
        json!({"title": "FID", "rows": "variant", "columns": ["fid@4"]}),
    )
}

fn row<'a>(t: &'a TableModel, label: &str) -> &'a RowModel {
    t.rows
        .iter()
        .find(|r| r.labels == [label])
        .unwrap_or_else(|| panic!("no row {label}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs()
}

#[test]
fn cells_show_the_95_percent_interval_and_n() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = fid_table(dir.path(), SWEEP);
    let a = &row(&t, "A").cells[0];
    assert_eq!(a.n, 3);
    // t_{0.975,2} · s / √3 with s = 0.1 (scipy: 0.24841377117503213).
    assert!(close(a.ci95.expect("n = 3"), 0.24841377117503213), "{a:?}");
    assert!(close(a.std.expect("n = 3"), 0.1), "{a:?}");
    assert_eq!(a.text, "10.10 ± 0.25");
    assert!(
        a.title.contains("95 % interval of the mean, n = 3"),
        "{}",
        a.title
    );
    // One run: the value alone, no interval.
    let d = &row(&t, "D").cells[0];
    assert_eq!((d.n, d.text.as_str(), d.ci95), (1, "12.50", None));

    let md = to_markdown(&t);
    assert!(md.contains("| A | **10.10 ± 0.25** (n=3) |"), "{md}");
    assert!(
        md.contains("Mean ± half-width of the 95 % confidence interval of the mean"),
        "{md}"
    );
    let csv = to_csv(&t);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("variant,fid@4,fid@4 ci95,fid@4 n,fid@4 p_vs_best,flags")
    );
    let a: Vec<&str> = lines.next().expect("row A").split(',').collect();
    assert_eq!((a[0], a[3], a[4], a[5]), ("A", "3", "best", ""));
    assert!(close(a[1].parse().expect("mean"), 10.1));
    assert!(close(a[2].parse().expect("ci95"), 0.24841377117503213));
}

#[test]
fn rows_the_seeds_cannot_tell_from_the_best_are_marked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = fid_table(dir.path(), SWEEP);
    let a = &row(&t, "A").cells[0];
    assert!(
        a.best && a.versus_best.is_none(),
        "the best keeps its bold, untested"
    );
    assert!(
        a.title
            .contains("not distinguishable at p < 0.05 from: B (p = 0.394)"),
        "{}",
        a.title
    );

    // B overlaps A: p ≥ 0.05, marked ≈ with p in the tooltip.
    let b = row(&t, "B").cells[0].versus_best.as_ref().expect("tested");
    assert_eq!(b.verdict, Verdict::Indistinguishable);
    assert!(close(b.p.expect("p"), 0.39385390667215187), "{b:?}");
    assert_eq!(b.marker, "≈");
    assert!(b.title.contains("p = 0.394 ≥ 0.05"), "{}", b.title);
    assert!(!row(&t, "B").cells[0].best);

    // C is worse beyond the seeds' noise: no marker, p given.
    let c = row(&t, "C").cells[0].versus_best.as_ref().expect("tested");
    assert_eq!(c.verdict, Verdict::Worse);
    assert!(
        (c.p.expect("p") - 1.1739206749973347e-05).abs() < 1e-12,
        "{c:?}"
    );
    assert_eq!(c.marker, "");
    assert!(row(&t, "C").cells[0].title.contains("p < 0.001"));

    // D has one run: untested, not ranked.
    let d = row(&t, "D").cells[0].versus_best.as_ref().expect("marked");
    assert_eq!(
        (d.verdict, d.p, d.marker.as_str()),
        (Verdict::Untested, None, "?")
    );
    assert!(
        d.title
            .starts_with("untested: n = 1 — this row has one run"),
        "{}",
        d.title
    );

    assert!(t.legend.iter().any(|l| l
        == "≈: not distinguishable from the best at p < 0.05 (Welch's t-test over seeds); p in the tooltip and the CSV."));
    assert!(t.legend.iter().any(|l| l.starts_with("?: untested: n = 1")));

    let md = to_markdown(&t);
    assert!(
        md.contains("| B | 10.23 ± 0.52 (n=3) ≈ p = 0.394 |"),
        "{md}"
    );
    assert!(md.contains("| C | 14.13 ± 0.38 (n=3) p < 0.001 |"), "{md}");
    assert!(md.contains("| D | 12.50 ? untested: n = 1 |"), "{md}");
    let csv = to_csv(&t);
    assert!(
        csv.contains("\nB,10.233333333333334,0.517114501254226"),
        "{csv}"
    );
    assert!(csv.contains(",3,0.39385390667"), "{csv}");
    assert!(csv.contains("\nD,12.5,,1,untested,\n"), "{csv}");
}

#[test]
fn a_best_that_stands_out_leaves_no_mark() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = fid_table(dir.path(), &[SWEEP[0], SWEEP[2]]);
    assert!(row(&t, "A").cells[0].best);
    let c = row(&t, "C").cells[0].versus_best.as_ref().expect("tested");
    assert_eq!(c.verdict, Verdict::Worse);
    assert!(
        !t.legend
            .iter()
            .any(|l| l.starts_with('≈') || l.starts_with('?')),
        "{:?}",
        t.legend
    );
}

#[test]
fn a_best_with_one_run_is_tested_against_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = fid_table(dir.path(), &[("E", &[9.0]), SWEEP[0], SWEEP[1]]);
    assert!(row(&t, "E").cells[0].best);
    for label in ["A", "B"] {
        let v = row(&t, label).cells[0]
            .versus_best
            .as_ref()
            .expect("marked");
        assert_eq!(v.verdict, Verdict::Untested, "{label}");
        assert!(v.title.contains("the best (E) has one run"), "{}", v.title);
    }
}

#[test]
fn the_data_row_shows_each_metric_on_the_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = build(
        dir.path(),
        SWEEP,
        true,
        json!({"title": "Q", "rows": "variant",
               "columns": ["fid@*", "dpg@4", {"metric": "dpg@4/entity", "label": "DPG entity"}, "stability"]}),
    );
    // `fid@*` is fid@4 in the variants' rows: fid@data is not a second match.
    assert_eq!(row(&t, "A").cells[0].state, CellState::Value);
    assert_eq!(row(&t, "A").cells[0].text, "10.10 ± 0.25");

    let last = t.rows.last().expect("rows");
    assert_eq!(last.kind, RowKind::Data);
    assert_eq!(last.labels, [DATA_ROW_LABEL]);
    assert_eq!(t.rows.iter().filter(|r| r.kind == RowKind::Data).count(), 1);
    // fid@data over the table's 10 runs: 2.0 + 0.2·seed, seeds 0..3, 0..3, 0..3, 0.
    let fid = &last.cells[0];
    assert!(close(fid.mean.expect("fid@data"), 2.18), "{fid:?}");
    assert_eq!((fid.text.as_str(), fid.n), ("2.18", 10));
    assert!(
        fid.title
            .starts_with("FID on renders of the data (fid@data)"),
        "{}",
        fid.title
    );
    assert_eq!(last.cells[1].mean, Some(95.0));
    assert_eq!(
        last.cells[2].mean,
        Some(97.5),
        "dpg@4/entity reads dpg@data/entity"
    );
    assert_eq!(
        last.cells[3].state,
        CellState::Blank,
        "stability has no data counterpart"
    );
    // Better than every variant, and still neither best nor tested.
    for c in &last.cells {
        assert!(!c.best && c.versus_best.is_none(), "{c:?}");
    }
    assert!(row(&t, "A").cells[0].best);
    assert!(row(&t, "D").cells[1].best, "highest DPG among the variants");
    assert!(t
        .legend
        .iter()
        .any(|l| l.starts_with("Data (floor · ceiling)")));

    let md = to_markdown(&t);
    assert!(
        md.contains("| _Data (floor · ceiling)_ | _2.18_ | _95.00_ | _97.50_ |  |"),
        "{md}"
    );
    let csv = to_csv(&t);
    let data_line = csv.lines().last().expect("csv rows");
    let fields: Vec<&str> = data_line.split(',').collect();
    assert_eq!(fields[0], DATA_ROW_LABEL);
    assert!(
        close(fields[1].parse().expect("fid@data"), 2.18),
        "{data_line}"
    );
    assert_eq!(
        (fields[3], fields[4]),
        ("10", ""),
        "n, and no p: never tested"
    );
    assert!(data_line.ends_with(",,,,,data row"), "{data_line}");
}

#[test]
fn no_data_row_without_data_metrics_or_when_turned_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A database from before evaluate emitted `@data` keys.
    let t = build(
        dir.path(),
        SWEEP,
        false,
        json!({"title": "Q", "rows": "variant", "columns": ["fid@4", "dpg@4"]}),
    );
    assert!(t.rows.iter().all(|r| r.kind == RowKind::Variant));
    assert!(!t.legend.iter().any(|l| l.starts_with("Data")));

    let dir = tempfile::tempdir().expect("tempdir");
    let t = build(
        dir.path(),
        SWEEP,
        true,
        json!({"title": "Q", "rows": "variant", "columns": ["fid@4", "dpg@4"], "data_row": false}),
    );
    assert_eq!(t.rows.len(), 4);
    assert!(t.rows.iter().all(|r| r.kind == RowKind::Variant));
    assert!(!to_markdown(&t).contains(DATA_ROW_LABEL));

    // Metrics without a step setting have nothing to measure on the data.
    let dir = tempfile::tempdir().expect("tempdir");
    let t = build(
        dir.path(),
        SWEEP,
        true,
        json!({"title": "Q", "rows": "variant", "columns": ["stability"]}),
    );
    assert!(t.rows.iter().all(|r| r.kind == RowKind::Variant));
}

#[test]
fn a_pivot_takes_the_data_row_per_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = build(
        dir.path(),
        SWEEP,
        true,
        json!({"title": "by seed", "rows": "variant", "columns": "seed", "metric": "fid@4"}),
    );
    let last = t.rows.last().expect("rows");
    assert_eq!(last.kind, RowKind::Data);
    // seed=0: fid@data 2.0 in every run; seed=2: 2.4.
    assert_eq!(last.cells[0].mean, Some(2.0));
    assert!(close(last.cells[2].mean.expect("seed=2"), 2.4));
}
