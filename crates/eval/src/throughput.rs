//! Sampling throughput (the seed's deployment table): images/s, median and p95 latency of
//! one call at a given batch size, and mean GPU power while sampling when `nvidia-smi` (NVML)
//! answers. Timings synchronise CUDA so that they measure the work, not the launch.

use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Throughput {
    pub batch: usize,
    pub calls: usize,
    pub images_per_s: f64,
    pub median_ms: f64,
    pub p95_ms: f64,
    /// Mean board power in watts over the timed calls, when measurable.
    pub power_w: Option<f64>,
}

/// Nearest-rank percentile of sorted values (p in [0, 100]).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Samples GPU power with `nvidia-smi` every 100 ms on a thread until dropped.
struct PowerSampler {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<f64>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

fn read_power(gpu: u32) -> Option<f64> {
    let out = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=power.draw",
            "--format=csv,noheader,nounits",
            "-i",
            &gpu.to_string(),
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse::<f64>()
        .ok()
}

impl PowerSampler {
    fn start(gpu: u32) -> Option<PowerSampler> {
        read_power(gpu)?;
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (s2, v2) = (stop.clone(), samples.clone());
        let handle = std::thread::spawn(move || {
            while !s2.load(Ordering::Relaxed) {
                if let Some(p) = read_power(gpu) {
                    if let Ok(mut v) = v2.lock() {
                        v.push(p);
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Some(PowerSampler {
            stop,
            samples,
            handle: Some(handle),
        })
    }

    fn finish(mut self) -> Option<f64> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let v = self.samples.lock().ok()?;
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }
}

/// Times `calls` runs of `sample` (which produces `batch` images) after `warmup` untimed runs.
/// `gpu` is the physical device index for power readings (None on CPU).
pub fn measure<F: FnMut() -> anyhow::Result<()>>(
    batch: usize,
    warmup: usize,
    calls: usize,
    gpu: Option<u32>,
    mut sample: F,
) -> anyhow::Result<Throughput> {
    let sync = || {
        if tch::Cuda::is_available() {
            tch::Cuda::synchronize(0);
        }
    };
    for _ in 0..warmup {
        sample()?;
    }
    sync();
    let power = gpu.and_then(PowerSampler::start);
    let mut lat = Vec::with_capacity(calls.max(1));
    let total = Instant::now();
    for _ in 0..calls.max(1) {
        let t = Instant::now();
        sample()?;
        sync();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let secs = total.elapsed().as_secs_f64();
    let power_w = power.and_then(PowerSampler::finish);
    lat.sort_by(f64::total_cmp);
    Ok(Throughput {
        batch,
        calls: lat.len(),
        images_per_s: (batch * lat.len()) as f64 / secs.max(1e-12),
        median_ms: percentile(&lat, 50.0),
        p95_ms: percentile(&lat, 95.0),
        power_w,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_timing() {
        let v: Vec<f64> = (1..=100).map(|i| i as f64).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 95.0), 95.0);
        assert_eq!(percentile(&[3.0], 95.0), 3.0);
        let mut n = 0;
        let t = measure(4, 1, 5, None, || {
            n += 1;
            std::thread::sleep(Duration::from_millis(10));
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 6);
        assert_eq!(t.calls, 5);
        assert!(t.median_ms >= 10.0 && t.median_ms < 100.0, "{t:?}");
        assert!(
            t.images_per_s > 4.0 / 0.1 && t.images_per_s <= 4.0 / 0.01,
            "{t:?}"
        );
        assert!(measure(1, 0, 1, None, || anyhow::bail!("boom")).is_err());
    }
}
