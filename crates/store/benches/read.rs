//! Read benchmark (issue 2): final metrics of many runs through the `final_metrics` and
//! `run_summary` views, against the 0001 formulation of the view (a correlated sub-query per
//! metric row) on the same file, in the same process.
//!
//! `cargo bench -p ddmd-store --bench read -- [RUNS] [STEPS]`
//! RUNS defaults to 1000 and STEPS (points per metric per run) to 200, with 8 metrics per run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_core::{Event, EventKind};
use ddmd_store::{NewRun, ReadStore, Store};
use std::time::Instant;

const KEYS: [&str; 8] = [
    "fid",
    "dpg",
    "loss_dm",
    "loss_ca",
    "pixel_var",
    "saturated",
    "cos",
    "lr",
];

/// The 0001 view body, kept here as the baseline.
const OLD_FINAL_METRICS: &str = "SELECT m.run_id, m.key, m.step, m.value, m.raw FROM metrics m \
     WHERE m.seq = (SELECT m2.seq FROM metrics m2 WHERE m2.run_id = m.run_id AND m2.key = m.key \
     ORDER BY m2.step DESC, m2.seq DESC LIMIT 1)";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runs: usize = args
        .first()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000);
    let steps: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(200);
    let tmp = tempfile::tempdir()?;
    let db = tmp.path().join("read.sqlite");

    let store = Store::open(&db).await?;
    let p = store
        .upsert_pipeline("bench", "", "h", "bench.yaml")
        .await?;
    let inv = store
        .begin_invocation(p, &[], "host", std::process::id(), None, "local")
        .await?;
    let t = Instant::now();
    for r in 0..runs {
        let id = store
            .insert_run(&NewRun {
                invocation_id: inv,
                pipeline_id: p,
                stage: "evaluate".into(),
                job_name: format!("evaluate[i={r}]"),
                kind: "evaluate".into(),
                point: serde_json::json!({"i": r}),
                params: serde_json::json!({"i": r, "samples": 2000}),
                cache_key: format!("k{r}"),
                command: None,
                key_inputs: None,
                status: ddmd_core::RunStatus::Succeeded,
                attempt: 1,
                queued_at: 0.0,
            })
            .await?;
        let evs: Vec<Event> = (0..steps * KEYS.len() as u64)
            .map(|i| Event {
                seq: i,
                t: None,
                kind: EventKind::Metric {
                    key: KEYS[(i % KEYS.len() as u64) as usize].into(),
                    step: (i / KEYS.len() as u64) as i64,
                    value: (i as f64 + r as f64).cos(),
                },
            })
            .collect();
        store.ingest(id, &evs).await?;
    }
    let fill_s = t.elapsed().as_secs_f64();
    store.close().await?;
    let points = runs as u64 * steps * KEYS.len() as u64;
    println!("read benchmark: {runs} runs x {} metrics x {steps} steps = {points} points (filled in {fill_s:.1} s)", KEYS.len());

    let r = ReadStore::open(&db).await?;
    let expect = runs * KEYS.len();
    let bench = |label: &'static str, sql: String| {
        let r = &r;
        async move {
            let t = Instant::now();
            let res = r.query(&sql).await?;
            let s = t.elapsed().as_secs_f64();
            println!("| {label} | {} rows | {:.1} ms |", res.rows.len(), s * 1e3);
            Ok::<_, Box<dyn std::error::Error>>((res.rows.len(), s))
        }
    };
    println!();
    println!("| query | rows | time |");
    println!("|---|---:|---:|");
    let (n_new, t_new) = bench(
        "final_metrics (metrics_final table)",
        "SELECT * FROM final_metrics".into(),
    )
    .await?;
    let (n_sum, _) = bench("run_summary, all runs", "SELECT * FROM run_summary".into()).await?;
    let (n_old, t_old) = bench("0001 view: correlated sub-query", OLD_FINAL_METRICS.into()).await?;
    assert_eq!(n_new, expect);
    assert_eq!(n_old, expect);
    assert_eq!(n_sum, runs);
    let t = Instant::now();
    for id in 1..=runs as i64 {
        r.run(ddmd_core::RunId(id)).await?;
    }
    println!(
        "| ReadStore::run for each run | {runs} calls | {:.1} ms |",
        t.elapsed().as_secs_f64() * 1e3
    );
    println!();
    println!(
        "speed-up of final_metrics over the 0001 view: {:.0}x",
        t_old / t_new
    );
    Ok(())
}
