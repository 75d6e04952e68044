//! The report's header line: the invocation's status and what its runs amount to.
//!
//! A report written by `run` is rendered by one of the invocation's own jobs, so the stored
//! invocation status is still `running` while it renders, and the report's own run is one of
//! the runs. The header therefore states the status of what the report covers: every other
//! run finished, none failed → `succeeded`; some failed → `failed`; some still queued or
//! running → `running`, saying how many. The counts leave the report's own run out (the store
//! leaves every report run out already) and name cache hits as results taken from the cache,
//! not as runs.

use crate::model::{InvocationInfo, RunRecord, RunRecordExt};
use ddmd_core::status::{InvocationStatus, RunStatus};
use serde::Serialize;

/// The status badge of the header.
#[derive(Clone, Debug, Serialize)]
pub struct HeaderStatus {
    pub text: String,
    /// CSS class of the badge: `ok`, `bad` or `other`.
    pub class: String,
    /// Tooltip: where the status comes from.
    pub title: String,
}

/// One part of the counts line (`60 from cache`), with its badge class.
#[derive(Clone, Debug, Serialize)]
pub struct CountPart {
    pub class: String,
    pub text: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Counts {
    /// Results shown (every run but the report's own).
    pub total: usize,
    pub succeeded: usize,
    pub cached: usize,
    pub failed: usize,
    pub diverged: usize,
    pub unfinished: usize,
    /// `75 results, all from cache` or `75 results:` followed by `parts`.
    pub headline: String,
    pub parts: Vec<CountPart>,
}

/// The runs the report covers: all but the report's own run.
fn covered(runs: &[RunRecord], own_run: Option<i64>) -> impl Iterator<Item = &RunRecord> {
    runs.iter().filter(move |r| Some(r.id) != own_run)
}

fn unfinished(r: &RunRecord) -> bool {
    RunStatus::parse(&r.status).is_some_and(RunStatus::is_unfinished)
}

pub fn counts(runs: &[RunRecord], own_run: Option<i64>) -> Counts {
    let of = |f: &dyn Fn(&RunRecord) -> bool| covered(runs, own_run).filter(|r| f(r)).count();
    let total = covered(runs, own_run).count();
    let succeeded = of(&|r| r.status == RunStatus::Succeeded.as_str());
    let cached = of(&|r| r.status == RunStatus::Cached.as_str());
    let failed = of(&|r| r.failed());
    // Trained runs, not every flagged run: an evaluation repeats its student's verdict, so
    // six diverged students evaluated at ten checkpoints each would read "66 diverged".
    let flagged: Vec<&RunRecord> = covered(runs, own_run)
        .filter(|r| r.diverged.is_some())
        .collect();
    let diverged = crate::table::diverged_students(&flagged);
    let trained_flagged = flagged.iter().any(|r| crate::table::is_trained(r));
    let unfinished = of(&unfinished);
    let results = plural(total, "result", "results");
    let (headline, mut parts) = if total > 0 && cached == total {
        (format!("{results}, all from cache"), Vec::new())
    } else if total > 0 && succeeded == total {
        (format!("{results}, all run now and succeeded"), Vec::new())
    } else {
        let mut parts = Vec::new();
        let mut push = |n: usize, class: &str, text: String| {
            if n > 0 {
                parts.push(CountPart {
                    class: class.into(),
                    text,
                });
            }
        };
        push(
            succeeded,
            "ok",
            format!("{succeeded} run now and succeeded"),
        );
        push(cached, "cached", format!("{cached} from cache"));
        push(
            failed,
            "bad",
            format!("{failed} failed / cancelled / skipped"),
        );
        push(
            unfinished,
            "other",
            format!("{unfinished} still queued or running"),
        );
        (format!("{results}:"), parts)
    };
    if diverged > 0 {
        parts.push(CountPart {
            class: "diverged".into(),
            text: if trained_flagged {
                format!(
                    "{} diverged",
                    plural(diverged, "trained run", "trained runs")
                )
            } else {
                format!("{diverged} diverged")
            },
        });
    }
    Counts {
        total,
        succeeded,
        cached,
        failed,
        diverged,
        unfinished,
        headline,
        parts,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The status the header shows (see the module comment).
pub fn status(inv: &InvocationInfo, runs: &[RunRecord], own_run: Option<i64>) -> HeaderStatus {
    let stored = InvocationStatus::parse(&inv.status);
    if stored != Some(InvocationStatus::Running) {
        let class = match stored {
            Some(InvocationStatus::Succeeded) => "ok",
            Some(_) => "bad",
            None => "other",
        };
        return HeaderStatus {
            text: inv.status.clone(),
            class: class.into(),
            title: "the invocation's final status".into(),
        };
    }
    let c = counts(runs, own_run);
    let during = if own_run.is_some() {
        "written by the invocation's own report stage"
    } else {
        "rendered while the invocation was running"
    };
    let (text, class, why) = if c.unfinished > 0 {
        (
            "running",
            "other",
            format!(
                "{} still queued or running",
                plural(c.unfinished, "run", "runs")
            ),
        )
    } else if c.failed > 0 {
        (
            "failed",
            "bad",
            format!(
                "every run had finished; failed, cancelled or skipped: {}",
                c.failed
            ),
        )
    } else {
        (
            "succeeded",
            "ok",
            "every run had finished and none failed".into(),
        )
    };
    HeaderStatus {
        text: text.into(),
        class: class.into(),
        title: format!("{during}: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: i64, status: &str) -> RunRecord {
        RunRecord {
            id,
            status: status.into(),
            ..Default::default()
        }
    }

    fn running() -> InvocationInfo {
        InvocationInfo {
            status: "running".into(),
            ..Default::default()
        }
    }

    #[test]
    fn all_cached_reads_as_results_from_cache() {
        let mut runs: Vec<RunRecord> = (1..=75).map(|i| run(i, "cached")).collect();
        runs.push(run(76, "running"));
        let c = counts(&runs, Some(76));
        assert_eq!(c.headline, "75 results, all from cache");
        assert!(c.parts.is_empty());
        let s = status(&running(), &runs, Some(76));
        assert_eq!((s.text.as_str(), s.class.as_str()), ("succeeded", "ok"));
        assert_eq!(
            s.title,
            "written by the invocation's own report stage: every run had finished and none failed"
        );
    }

    #[test]
    fn mixed_counts_and_failures() {
        let runs = vec![
            run(1, "succeeded"),
            run(2, "cached"),
            run(3, "failed"),
            run(4, "running"),
        ];
        let c = counts(&runs, Some(4));
        assert_eq!(c.headline, "3 results:");
        let parts: Vec<&str> = c.parts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(
            parts,
            [
                "1 run now and succeeded",
                "1 from cache",
                "1 failed / cancelled / skipped"
            ]
        );
        assert_eq!(status(&running(), &runs, Some(4)).text, "failed");
        // Without knowing which run is the report's own, an unfinished run is just that.
        let s = status(&running(), &runs, None);
        assert_eq!(s.text, "running");
        assert_eq!(
            s.title,
            "rendered while the invocation was running: 1 run still queued or running"
        );
    }

    #[test]
    fn a_finished_invocation_shows_its_own_status() {
        let inv = InvocationInfo {
            status: "interrupted".into(),
            ..Default::default()
        };
        let s = status(&inv, &[run(1, "succeeded")], None);
        assert_eq!((s.text.as_str(), s.class.as_str()), ("interrupted", "bad"));
        assert_eq!(
            counts(&[run(1, "succeeded")], None).headline,
            "1 result, all run now and succeeded"
        );
    }
}
