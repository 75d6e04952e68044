//! What the user sees while a pipeline runs: on a terminal, an overall bar and one line per
//! running job (stage, job, GPUs, elapsed, last metric or progress); otherwise (or with
//! `--quiet`) one plain line per start and end, suitable for log files and CI.

use super::tail::Latest;
use ddmd_core::{JobId, RunStatus};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Progress {
    fancy: Option<Fancy>,
    start: Instant,
    names: Mutex<HashMap<usize, (JobId, Instant)>>,
}

struct Fancy {
    multi: MultiProgress,
    overall: ProgressBar,
    lines: Mutex<HashMap<usize, ProgressBar>>,
}

impl Progress {
    pub fn new(total: usize, quiet: bool) -> Progress {
        let fancy = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
            let overall = multi.add(ProgressBar::new(total as u64));
            overall.set_style(
                ProgressStyle::with_template(
                    "{bar:30.cyan/blue} {pos}/{len} jobs  {elapsed_precise}  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            overall.enable_steady_tick(Duration::from_millis(250));
            Fancy {
                multi,
                overall,
                lines: Mutex::new(HashMap::new()),
            }
        });
        Progress {
            fancy,
            start: Instant::now(),
            names: Mutex::new(HashMap::new()),
        }
    }

    fn stamp(&self) -> String {
        format!("[{:>7.1}s]", self.start.elapsed().as_secs_f64())
    }

    /// A line that must stay visible (also above the live display).
    pub fn println(&self, msg: &str) {
        match &self.fancy {
            Some(f) => {
                let _ = f.multi.println(msg);
            }
            None => stderr_line(msg),
        }
    }

    pub fn started(&self, ix: usize, job: &JobId, devices: &[u32]) {
        if let Ok(mut n) = self.names.lock() {
            n.insert(ix, (job.clone(), Instant::now()));
        }
        let gpus = if devices.is_empty() {
            "cpu".to_string()
        } else {
            format!(
                "gpu {}",
                devices
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        match &self.fancy {
            Some(f) => {
                let bar = f.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {spinner} {prefix} {elapsed:>4} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(format!("{job} [{gpus}]"));
                bar.enable_steady_tick(Duration::from_millis(200));
                if let Ok(mut l) = f.lines.lock() {
                    l.insert(ix, bar);
                }
            }
            None => stderr_line(&format!("{} start     {job} [{gpus}]", self.stamp())),
        }
    }

    pub fn update(&self, ix: usize, latest: &Latest) {
        let Some(f) = &self.fancy else { return };
        let mut msg = String::new();
        if let Some((done, total)) = latest.progress {
            match total {
                Some(t) if t > 0.0 => msg.push_str(&format!("{:.0}% ", 100.0 * done / t)),
                _ => msg.push_str(&format!("{done} ")),
            }
        }
        if let Some((k, step, v)) = &latest.metric {
            msg.push_str(&format!("{k}={v:.4} @ {step}"));
        }
        if let Ok(l) = f.lines.lock() {
            if let Some(bar) = l.get(&ix) {
                bar.set_message(msg);
            }
        }
    }

    pub fn finished(&self, ix: usize, job: &JobId, status: RunStatus, detail: Option<&str>) {
        let elapsed = self
            .names
            .lock()
            .ok()
            .and_then(|mut n| n.remove(&ix))
            .map(|(_, t)| format!(" in {:.1}s", t.elapsed().as_secs_f64()))
            .unwrap_or_default();
        let first_line = detail.and_then(|d| d.lines().next()).unwrap_or("");
        let line = if first_line.is_empty() {
            format!("{} {status:<9} {job}{elapsed}", self.stamp())
        } else {
            format!("{} {status:<9} {job}{elapsed}: {first_line}", self.stamp())
        };
        if let Some(f) = &self.fancy {
            if let Ok(mut l) = f.lines.lock() {
                if let Some(bar) = l.remove(&ix) {
                    bar.finish_and_clear();
                    f.multi.remove(&bar);
                }
            }
            f.overall.inc(1);
        }
        self.println(&line);
    }

    /// The lines of a job's error after the first (which `finished` printed), indented: the
    /// last lines of a failed job's log.
    pub fn detail(&self, error: &str) {
        let rest: Vec<String> = error.lines().skip(1).map(|l| format!("    {l}")).collect();
        if !rest.is_empty() {
            self.println(&rest.join("\n"));
        }
    }

    /// A job that is done without running (cached, skipped).
    pub fn settled(&self, job: &JobId, status: RunStatus, detail: Option<&str>) {
        if let Some(f) = &self.fancy {
            f.overall.inc(1);
        }
        let line = match detail {
            Some(d) => format!("{} {status:<9} {job}: {d}", self.stamp()),
            None => format!("{} {status:<9} {job}", self.stamp()),
        };
        self.println(&line);
    }

    pub fn done(&self) {
        if let Some(f) = &self.fancy {
            f.overall.finish_and_clear();
            let _ = f.multi.clear();
        }
    }
}

/// Writes one line to stderr, ignoring errors: `eprintln!` panics when stderr is a closed pipe
/// (`ddmd-pipe run x.yaml 2>&1 | head`), and a panic inside a job's task would leave the
/// dispatcher waiting forever for that job's end.
fn stderr_line(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{msg}");
}
