//! One controller call per cycle for every Slurm job an invocation follows. Polling each job
//! on its own (`scontrol show job` per job, each every few seconds) costs a cluster's
//! controller hundreds of calls a second at a thousand jobs in flight, which administrators
//! forbid; here one background task asks `squeue` about all of them at once, and each
//! attempt reads the latest answer for its own job. Only a job missing from the answer (it
//! left the queue) costs a call of its own, once.
//!
//! The cycle starts at [`CYCLE_MIN`] and grows by half while nothing changes, up to the
//! executor's `poll_max`; whatever the number of jobs, the controller sees at most one
//! `squeue` per [`CYCLE_MIN`].

use super::ctl::{self, JobInfo};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Shortest time between two `squeue` calls.
pub const CYCLE_MIN: Duration = Duration::from_secs(1);

/// What the last cycle learnt about one job.
#[derive(Clone, Debug, PartialEq)]
pub enum Seen {
    /// Not asked about yet (submitted after the last cycle began).
    Unknown,
    Info(JobInfo),
    /// Slurm no longer knows the job: it ended and was purged, or never existed.
    Gone,
}

/// Consecutive cycles whose `squeue` failed, and the last error.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Failures {
    pub count: u32,
    pub last: Option<String>,
}

#[derive(Default)]
struct State {
    jobs: HashMap<String, Seen>,
    failures: Failures,
    /// Whether the polling task runs (it ends when no job is left to follow).
    task: bool,
}

pub struct Poller {
    state: Mutex<State>,
    wake: Notify,
    poll_max: Duration,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("Poller")
            .field("jobs", &st.jobs.len())
            .field("failures", &st.failures)
            .finish()
    }
}

impl Poller {
    pub fn new(poll_max: Duration) -> Arc<Poller> {
        Arc::new(Poller {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            poll_max: poll_max.max(CYCLE_MIN),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; go on with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Follows `id` from the next cycle on (the polling task starts when it is not running).
    pub fn watch(self: &Arc<Self>, id: &str) {
        let mut st = self.lock();
        st.jobs.entry(id.to_string()).or_insert(Seen::Unknown);
        if !st.task {
            st.task = true;
            let me = self.clone();
            tokio::spawn(async move { me.run().await });
        }
    }

    /// The latest answer about `id`, and the failures since the last good cycle.
    pub fn seen(&self, id: &str) -> (Seen, Failures) {
        let st = self.lock();
        (
            st.jobs.get(id).cloned().unwrap_or(Seen::Unknown),
            st.failures.clone(),
        )
    }

    /// Stops following `id` (its attempt is over).
    pub fn forget(&self, id: &str) {
        self.lock().jobs.remove(id);
    }

    /// Starts the next cycle now (after a cancellation, whose end should be seen soon).
    /// Several calls before that cycle make one.
    pub fn poll_soon(&self) {
        self.wake.notify_one();
    }

    async fn run(self: Arc<Self>) {
        let mut delay = CYCLE_MIN;
        let mut last_call: Option<Instant> = None;
        loop {
            // Never more than one call per CYCLE_MIN, however often we are woken.
            if let Some(t) = last_call {
                tokio::time::sleep(CYCLE_MIN.saturating_sub(t.elapsed())).await;
            }
            let ids: Vec<String> = {
                let mut st = self.lock();
                if st.jobs.is_empty() {
                    st.task = false;
                    return;
                }
                st.jobs.keys().cloned().collect()
            };
            last_call = Some(Instant::now());
            let changed = match ctl::squeue_jobs(&ids).await {
                Ok(found) => {
                    let mut changed = false;
                    for id in &ids {
                        let seen = match found.get(id) {
                            Some(info) => Seen::Info(info.clone()),
                            // Left the queue: the one case that costs a call of its own.
                            None => match ctl::show_job(id).await {
                                Ok(Some(info)) => Seen::Info(info),
                                Ok(None) => Seen::Gone,
                                Err(e) => {
                                    tracing::warn!("asking Slurm about job {id}: {e}");
                                    continue;
                                }
                            },
                        };
                        changed |= self.record(id, seen);
                    }
                    self.lock().failures = Failures::default();
                    changed
                }
                Err(e) => {
                    tracing::warn!("polling {} Slurm jobs: {e}", ids.len());
                    let mut st = self.lock();
                    st.failures.count += 1;
                    st.failures.last = Some(e.to_string());
                    false
                }
            };
            delay = if changed {
                CYCLE_MIN
            } else {
                delay.mul_f64(1.5).min(self.poll_max)
            };
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.wake.notified() => delay = CYCLE_MIN,
            }
        }
    }

    /// Stores what a cycle saw; whether it differs from before. A job forgotten meanwhile
    /// stays forgotten.
    fn record(&self, id: &str, seen: Seen) -> bool {
        let mut st = self.lock();
        match st.jobs.get_mut(id) {
            Some(old) if *old != seen => {
                *old = seen;
                true
            }
            _ => false,
        }
    }
}
