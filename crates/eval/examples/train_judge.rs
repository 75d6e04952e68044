//! Trains a judge and prints its accuracy table and timing:
//! `cargo run --release -p ddmd-eval --example train_judge -- <iterations> <out dir>`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_core::EventSink;
use ddmd_eval::{judge_accuracy, train_judge};
use ddmd_science::data::ShapesConfig;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let iterations: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(2000);
    let out = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "target/judge-example".into());
    let cfg = ShapesConfig::default();
    let events = std::env::temp_dir().join(format!("judge-example-{}.jsonl", std::process::id()));
    let mut sink = EventSink::open(&events, 0)?;
    let device = ddmd_science::device_for_job();
    let t = std::time::Instant::now();
    let mut judge = train_judge(&cfg, iterations, 0, device, &mut sink)?;
    let train_s = t.elapsed().as_secs_f64();
    let acc = judge_accuracy(&judge, &cfg, 2000, 0)?;
    println!(
        "device {device:?}, {iterations} iterations, threads {}, trained in {train_s:.1} s",
        tch::get_num_threads()
    );
    print!("{}", acc.render());
    judge.config.accuracy = acc.per_category.clone();
    judge.save(std::path::Path::new(&out))?;
    println!(
        "saved to {out}; check(98%): {:?}",
        acc.check(0.98).map_err(|e| e.to_string())
    );
    Ok(())
}
