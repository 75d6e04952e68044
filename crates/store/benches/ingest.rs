//! Ingest benchmark (issue 2, DESIGN §13): N metric events from one job into a real database
//! file, in batches of a few thousand per transaction, through `Store::ingest`.
//!
//! `cargo bench -p ddmd-store --bench ingest -- [N] [BATCHES]`
//! N defaults to 1,000,000; BATCHES is a comma-separated list of batch sizes (default
//! 1000,5000,20000), each measured on a fresh file. Also prints the cost of parsing the same
//! events from JSON lines (what the orchestrator does before ingesting) and of a full re-ingest
//! (every row a duplicate, the crash-recovery path). Set DDMD_BENCH_DIR to put the files
//! somewhere other than a temporary folder.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_core::{Event, EventKind, RunId};
use ddmd_store::{NewRun, Store};
use std::time::Instant;

const KEYS: [&str; 10] = [
    "train/loss_dm",
    "train/loss_ca",
    "train/delta_dm",
    "train/delta_ca",
    "train/pixel_mean",
    "train/pixel_var",
    "train/saturated",
    "train/fake_cos",
    "train/lr",
    "train/grad_norm",
];

fn events(n: u64) -> Vec<Event> {
    (0..n)
        .map(|i| Event {
            seq: i,
            t: Some(1.8e9 + i as f64 * 1e-3),
            kind: EventKind::Metric {
                key: KEYS[(i % KEYS.len() as u64) as usize].to_string(),
                step: (i / KEYS.len() as u64) as i64,
                value: ((i as f64) * 1e-3).sin(),
            },
        })
        .collect()
}

async fn setup(
    dir: &std::path::Path,
    name: &str,
) -> Result<(Store, RunId), Box<dyn std::error::Error>> {
    let db = dir.join(name);
    let _ = std::fs::remove_file(&db);
    let store = Store::open(&db).await?;
    let p = store
        .upsert_pipeline("bench", "", "h", "bench.yaml")
        .await?;
    let inv = store
        .begin_invocation(
            p,
            &["bench".into()],
            "host",
            std::process::id(),
            None,
            "local",
        )
        .await?;
    let run = store
        .insert_run(&NewRun {
            invocation_id: inv,
            pipeline_id: p,
            stage: "distill".into(),
            job_name: "distill".into(),
            kind: "distill".into(),
            point: serde_json::json!({}),
            params: serde_json::json!({"iterations": 100000}),
            cache_key: "k".into(),
            command: None,
            key_inputs: None,
            status: ddmd_core::RunStatus::Running,
            attempt: 1,
            queued_at: 0.0,
        })
        .await?;
    Ok((store, run))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` appends `--bench`; take the first two non-flag arguments.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: u64 = match args.first() {
        Some(s) => s.replace('_', "").parse()?,
        None => 1_000_000,
    };
    let batches: Vec<usize> = match args.get(1) {
        Some(s) => s
            .split(',')
            .map(|b| b.trim().parse())
            .collect::<Result<_, _>>()?,
        None => vec![1_000, 5_000, 20_000],
    };
    let tmp = tempfile::tempdir()?;
    let dir = match std::env::var_os("DDMD_BENCH_DIR") {
        Some(d) => std::path::PathBuf::from(d),
        None => tmp.path().to_path_buf(),
    };
    std::fs::create_dir_all(&dir)?;

    let evs = events(n);
    let lines: Vec<String> = evs.iter().map(Event::to_line).collect();
    let t = Instant::now();
    let mut parsed = 0usize;
    for l in &lines {
        if Event::parse_line(l).is_ok() {
            parsed += 1;
        }
    }
    let parse_s = t.elapsed().as_secs_f64();
    assert_eq!(parsed, lines.len());
    drop(lines);

    println!(
        "ingest benchmark: {n} metric events, {} keys, one run",
        KEYS.len()
    );
    println!(
        "parse JSON lines (Event::parse_line): {:.3} s, {:.0} events/s",
        parse_s,
        n as f64 / parse_s
    );
    println!();
    println!("| batch | ingest s | points/s | re-ingest s | re-ingest events/s | file MiB |");
    println!("|------:|---------:|---------:|------------:|-------------------:|---------:|");
    for batch in batches {
        let name = format!("ingest-{batch}.sqlite");
        let (store, run) = setup(&dir, &name).await?;
        let t = Instant::now();
        let mut inserted = 0;
        for chunk in evs.chunks(batch) {
            inserted += store.ingest(run, chunk).await?.metrics;
        }
        let ingest_s = t.elapsed().as_secs_f64();
        assert_eq!(inserted, n);
        let t = Instant::now();
        let mut dups = 0;
        for chunk in evs.chunks(batch) {
            dups += store.ingest(run, chunk).await?.duplicates;
        }
        let re_s = t.elapsed().as_secs_f64();
        assert_eq!(dups, n);
        store.close().await?;
        let bytes = std::fs::metadata(dir.join(&name))?.len();
        println!(
            "| {batch} | {ingest_s:.3} | {:.0} | {re_s:.3} | {:.0} | {:.1} |",
            n as f64 / ingest_s,
            n as f64 / re_s,
            bytes as f64 / (1 << 20) as f64
        );
    }
    Ok(())
}
