//! The data a report is made of. The plain types are the store's (`ddmd_store::report`, which
//! fills them from the run database) and are re-exported here; what only a report needs to know
//! about a run — which statuses count as failed, how an axis is labelled, which runs are
//! repeats of one variant — is [`RunRecordExt`]. Tables, plots and pages read these.

pub use ddmd_store::report::{Artifact, FinalValue, InvocationInfo, ReportData, RunRecord};

/// How reports look at a [`RunRecord`].
pub trait RunRecordExt {
    /// Failed, cancelled or skipped: shown as a failure, never averaged.
    fn failed(&self) -> bool;
    /// Label of an axis or pseudo-axis: `job` is the job name, `stage` the stage name.
    fn label(&self, axis: &str) -> Option<&str>;
    /// The point without `seed`, as `a=x, b=y`: runs with equal variant keys are repeats.
    fn variant_key(&self) -> String;
    /// Wall time from start to end, when both are known and in order.
    fn duration_s(&self) -> Option<f64>;
}

impl RunRecordExt for RunRecord {
    fn failed(&self) -> bool {
        matches!(self.status.as_str(), "failed" | "cancelled" | "skipped")
    }

    fn label(&self, axis: &str) -> Option<&str> {
        match self.point.get(axis) {
            Some(v) => Some(v.as_str()),
            None => match axis {
                "job" => Some(self.job_name.as_str()),
                "stage" => Some(self.stage.as_str()),
                _ => None,
            },
        }
    }

    fn variant_key(&self) -> String {
        let mut parts: Vec<String> = self
            .point
            .iter()
            .filter(|(k, _)| k.as_str() != "seed")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if parts.is_empty() {
            parts.push(self.stage.clone());
        }
        parts.join(", ")
    }

    fn duration_s(&self) -> Option<f64> {
        match (self.started_at, self.ended_at) {
            (Some(a), Some(b)) if b >= a => Some(b - a),
            _ => None,
        }
    }
}
