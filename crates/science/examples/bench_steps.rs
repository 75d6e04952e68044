//! Step times at quickstart size on this machine: teacher step, distill step (decoupled and
//! coupled). `cargo run --release -p ddmd-science --example bench_steps -- [iters]`
//!
//! For the comparison with the PyTorch mirror (bench/lib/c_step.py, bench/peers/dmd_step.py):
//! `BENCH_KS=k,k,..` fixes the student step k of every student sample of the distill benches
//! (warm-up included, 1 + 5 fake updates per iteration), and `BENCH_SHARE=DIR` writes what the
//! mirror loads to run the same work on the same data: the distill benches' teacher weights
//! (`teacher.safetensors`), its spec (`spec.json`) and the prompts (`tokens.safetensors`).
//!
//! For profiles (docs/BENCHMARKS.md, row 1): `BENCH_SCHEDULES=hybrid` runs only the named
//! distill schedules (default `hybrid,coupled`) and `BENCH_TEACHER_ITERS=N` times N teacher
//! steps instead of `iters` (three untimed ones always run first), so that two runs differing
//! only in `iters` differ by distill iterations alone.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]
use anyhow::Context;
use ddmd_science::data::{ShapesConfig, ShapesWorld};
use ddmd_science::distill::{bench_distill_step, DistillBench};
use ddmd_science::nets::Network;
use ddmd_science::optim::{AdamW, AdamWConfig};
use ddmd_science::params::TeacherParams;
use ddmd_science::teacher::{flow_matching_loss, teacher_spec};
use std::time::Instant;
use tch::Tensor;

fn main() -> anyhow::Result<()> {
    let iters: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    // As the teacher and distill stages run (before the first tensor).
    ddmd_science::alloc::keep_freed_memory();
    let device = ddmd_science::device_for_job();
    // BENCH_PARAMS: teacher params as JSON (e.g. {"widths":[16,32],"batch":16}); DBATCH: distill batch.
    let overrides: serde_json::Map<String, serde_json::Value> = match std::env::var("BENCH_PARAMS")
    {
        Ok(s) => serde_json::from_str(&s)?,
        Err(_) => serde_json::Map::new(),
    };
    let dbatch: usize = std::env::var("DBATCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let ks: Option<Vec<usize>> = match std::env::var("BENCH_KS") {
        Ok(s) => Some(
            s.split(',')
                .map(|k| k.trim().parse::<usize>())
                .collect::<Result<_, _>>()
                .with_context(|| format!("BENCH_KS must be comma-separated integers, got {s:?}"))?,
        ),
        Err(_) => None,
    };
    let share = std::env::var_os("BENCH_SHARE").map(std::path::PathBuf::from);
    let schedules: Vec<String> = std::env::var("BENCH_SCHEDULES")
        .unwrap_or_else(|_| "hybrid,coupled".into())
        .split(',')
        .map(str::to_string)
        .collect();
    let teacher_iters: usize = match std::env::var("BENCH_TEACHER_ITERS") {
        Ok(s) => s
            .parse()
            .with_context(|| format!("BENCH_TEACHER_ITERS must be an integer, got {s:?}"))?,
        Err(_) => iters,
    };
    let p = TeacherParams::from_map(&overrides)?;
    let data = ShapesConfig::default();
    let world = ShapesWorld::new(data.clone());
    let spec = teacher_spec(&p, &data, world.vocab().len());
    let net = Network::build(&spec, device)?;
    println!(
        "device {device:?}, threads {}, params {}",
        tch::get_num_threads(),
        net.num_params()
    );
    let mut opt = AdamW::new(net.named_parameters(), AdamWConfig::default());
    let batch = world.batch(0, 0, p.batch);
    let x0 = batch.images.to_device(device);
    let tokens = batch.tokens.to_device(device);
    let mut times = Vec::new();
    for i in 0..teacher_iters + 3 {
        let t = Instant::now();
        let loss = flow_matching_loss(&net, &x0, &tokens)?;
        opt.zero_grad();
        loss.backward();
        opt.step(1e-4);
        let _ = loss.double_value(&[]);
        if i >= 3 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    if let Some(ms) = times.get(times.len() / 2) {
        println!("teacher step (batch {}): median {ms:.1} ms", p.batch);
    }
    let t = Instant::now();
    for i in 0..20 {
        let _ = world.batch(0, (i * p.batch) as u64, p.batch);
    }
    println!(
        "data batch (render {}): {:.1} ms",
        p.batch,
        t.elapsed().as_secs_f64() * 1e3 / 20.0
    );
    if let Some(dir) = &share {
        // The weights after the teacher steps above: what the distill benches start from.
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        net.save(&dir.join("teacher.safetensors"))?;
        let spec_path = dir.join("spec.json");
        std::fs::write(&spec_path, serde_json::to_string(&spec)?)
            .with_context(|| format!("writing {}", spec_path.display()))?;
        // bench_distill_step's prompts: the world's first batch.
        let tokens = world.batch(0, 0, dbatch).tokens;
        let tok_path = dir.join("tokens.safetensors");
        Tensor::write_safetensors(&[("tokens", &tokens)], &tok_path)
            .with_context(|| format!("writing {}", tok_path.display()))?;
    }
    for schedule in &schedules {
        let r = bench_distill_step(
            &net,
            &world,
            &DistillBench {
                schedule: schedule.clone(),
                iters,
                batch: dbatch,
                ks: ks.clone(),
            },
        )?;
        let mut sorted = r.times_ms.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let mean = r.times_ms.iter().sum::<f64>() / r.times_ms.len() as f64;
        println!(
            "distill step {schedule} (batch {dbatch}, 5 fake updates): median {:.1} ms, \
             mean {mean:.1} ms over {} iterations",
            sorted[sorted.len() / 2],
            r.times_ms.len()
        );
        let ks_used: Vec<String> = r.ks.iter().map(|k| k.to_string()).collect();
        println!("distill ks {schedule}: {}", ks_used.join(","));
    }
    Ok(())
}
