//! Render benchmark (issue 5 "Measured"): a pipeline of N runs (default 1,000) with two curves
//! of P points each (default 1,000) and final metrics, in a real SQLite file; prints the time to
//! load the invocation, the time to render the whole report folder (tables, plots, one page per
//! run), and the sizes. `cargo bench -p ddmd-report --bench render -- [N] [P]`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

#[path = "../tests/common/mod.rs"]
mod common;

use ddmd_report::{load_invocation, parse_report_params, render_report, RenderOptions};
use serde_json::json;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let n_runs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let points: i64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let dir = tempfile::tempdir().expect("tempdir");

    let t0 = Instant::now();
    let mut db = common::Db::create(dir.path());
    let p = db.pipeline("bench", "name: bench");
    let inv = db.invocation(p);
    db.exec("BEGIN", &[]);
    let terms = ["CA + DM", "CA only", "DM only"];
    let schedules = ["coupled", "hybrid", "constrained"];
    let mut made = 0;
    'outer: for a in 0.. {
        for t in terms {
            for s in schedules {
                for seed in 0..3 {
                    if made == n_runs {
                        break 'outer;
                    }
                    let alpha = 1.0 + a as f64 * 0.25;
                    let point = json!({"terms": t, "schedule": s, "alpha": alpha, "seed": seed});
                    let job = format!("distill[terms={t},schedule={s},alpha={alpha},seed={seed}]");
                    let r = db.run(
                        inv,
                        p,
                        "distill",
                        "distill",
                        &job,
                        point,
                        json!({"alpha": alpha, "seed": seed, "iterations": points * 10}),
                        "succeeded",
                    );
                    db.curve(r, 0, "train/pixel_var", points);
                    db.curve(r, points, "train/loss_ca", points);
                    let base = 2 * points;
                    let x = (made % 97) as f64;
                    db.metric(r, base, "fid@1", 0, 20.0 + x * 0.1);
                    db.metric(r, base + 1, "fid@4", 0, 18.0 + x * 0.05);
                    db.metric(r, base + 2, "dpg@4", 0, 80.0 + x * 0.02);
                    db.metric(r, base + 3, "stability", 0, 2000.0 - x);
                    made += 1;
                }
            }
        }
    }
    db.exec("COMMIT", &[]);
    let build_s = t0.elapsed().as_secs_f64();

    let spec = parse_report_params(
        json!({
            "tables": [
                {"preset": "loss_terms", "filter": {"schedule": "hybrid"}},
                {"preset": "renoise_schedules"},
                {"title": "α sweep", "rows": "alpha", "columns": "terms", "metric": "fid@4"}
            ],
            "plots": [
                {"kind": "line", "metric": "train/pixel_var", "series": "terms", "smooth": 0.6},
                {"kind": "line", "metric": "train/loss_ca", "series": "schedule"},
                {"kind": "bar", "metric": "fid@4", "x": "schedule", "series": "terms"},
                {"kind": "sweep", "metric": "fid@4", "x": "alpha", "series": "terms"},
                {"kind": "scatter", "x": "fid@4", "y": "dpg@4", "series": "terms"}
            ]
        })
        .as_object()
        .expect("object"),
    )
    .expect("spec");

    let t1 = Instant::now();
    let data = load_invocation(&db.path, inv).expect("load");
    let load_s = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let out = dir.path().join("report");
    let summary = render_report(&data, &spec, &out, &RenderOptions::default()).expect("render");
    let render_s = t2.elapsed().as_secs_f64();

    let total_points: usize = data
        .runs
        .iter()
        .map(|r| r.curves.values().map(Vec::len).sum::<usize>())
        .sum();
    println!("| runs | points/curve | curve points | DB build s | load s | render s | load+render s | index.html MB | folder MB | run pages |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {} | {:.2} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2} | {} |",
        data.runs.len(),
        points,
        total_points,
        build_s,
        load_s,
        render_s,
        load_s + render_s,
        summary.index_bytes as f64 / 1e6,
        summary.total_bytes as f64 / 1e6,
        summary.run_pages
    );
    let ok = render_s <= 2.0 && summary.index_bytes < 5_000_000;
    println!(
        "goal: render <= 2 s and index.html < 5 MB: {}",
        if ok { "met" } else { "NOT met" }
    );
}
