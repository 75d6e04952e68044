//! Step times at quickstart size on this machine: teacher step, distill step (decoupled and
//! coupled). `cargo run --release -p ddmd-science --example bench_steps -- [iters]`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]
use ddmd_science::data::{ShapesConfig, ShapesWorld};
use ddmd_science::distill::{bench_distill_step, DistillBench};
use ddmd_science::nets::Network;
use ddmd_science::optim::{AdamW, AdamWConfig};
use ddmd_science::params::TeacherParams;
use ddmd_science::teacher::{flow_matching_loss, teacher_spec};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let iters: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
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
    for i in 0..iters + 3 {
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
    println!(
        "teacher step (batch {}): median {:.1} ms",
        p.batch,
        times[times.len() / 2]
    );
    let t = Instant::now();
    for i in 0..20 {
        let _ = world.batch(0, (i * p.batch) as u64, p.batch);
    }
    println!(
        "data batch (render {}): {:.1} ms",
        p.batch,
        t.elapsed().as_secs_f64() * 1e3 / 20.0
    );
    for schedule in ["hybrid", "coupled"] {
        let ms = bench_distill_step(
            &net,
            &world,
            &DistillBench {
                schedule: schedule.into(),
                iters,
                batch: dbatch,
            },
        )?;
        println!("distill step {schedule} (batch {dbatch}, 5 fake updates): median {ms:.1} ms");
    }
    Ok(())
}
