//! Small pieces both training stages share: per-iteration seeding (what makes resume exact),
//! the learning-rate schedule, the fault-injection hook used by the resume test, event helpers.

use ddmd_core::EventSink;

/// The torch generator is re-seeded from (seed, iteration) at the start of every iteration, so
/// the random draws of iteration i do not depend on whether the run was resumed.
pub fn seed_iteration(seed: u64, iteration: usize) {
    tch::manual_seed(mix(seed, iteration as u64) as i64);
}

/// SplitMix64 finaliser of (seed, i): well-spread, non-negative as i64.
pub fn mix(seed: u64, i: u64) -> u64 {
    let mut z = seed
        ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) >> 1
}

/// Linear warm-up, then cosine decay to 10% of the peak at the last iteration.
pub fn lr_at(peak: f64, warmup: usize, total: usize, it: usize) -> f64 {
    if it < warmup {
        return peak * (it + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let frac = ((it - warmup) as f64 / span).min(1.0);
    peak * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos()))
}

/// Fault injection for the resume test: `DDMD_ABORT_AFTER_ITER=n` aborts the process (SIGABRT,
/// no clean-up, like a crash) once `n` iterations are complete.
pub fn maybe_abort(done: usize) {
    if let Ok(v) = std::env::var("DDMD_ABORT_AFTER_ITER") {
        if v.trim().parse::<usize>().ok() == Some(done) {
            std::process::abort();
        }
    }
}

/// Emits a metric; an events file that cannot be written is an error with context.
pub fn metric(sink: &mut EventSink, key: &str, step: usize, value: f64) -> anyhow::Result<()> {
    sink.metric(key, step as i64, value)
        .map_err(|e| anyhow::anyhow!("writing metric {key} to the events file: {e}"))
}

/// Handles to the same tensors (no copy), for passing named parameters around.
pub fn shallow(v: &[(String, tch::Tensor)]) -> Vec<(String, tch::Tensor)> {
    v.iter()
        .map(|(n, t)| (n.clone(), t.shallow_clone()))
        .collect()
}
