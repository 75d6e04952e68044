//! The statuses of runs and invocations, as stored in the run database (`runs.status`,
//! `invocations.status`) and shown to users. One enum each, so a misspelled status is a
//! compile error rather than a row no query finds.

use serde::{Deserialize, Serialize};

macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $v:ident => $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vdoc])* $v),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$v => $s),+
                }
            }

            /// The status stored as `text`; `None` for anything else.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($s => Some($name::$v),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                // `pad`, so `{:<9}` aligns status columns.
                f.pad(self.as_str())
            }
        }
    };
}

status_enum!(
    /// Where one run (one attempt of one job) stands.
    RunStatus {
        Queued => "queued",
        Running => "running",
        Succeeded => "succeeded",
        Failed => "failed",
        Cancelled => "cancelled",
        /// Ended by the cluster, not by itself: Slurm preempted it or lost its node. The job
        /// is submitted again as a new run with the same attempt number (not a retry).
        Requeued => "requeued",
        /// Not started: something it needs failed.
        Skipped => "skipped",
        /// Not started: the result of an earlier run with the same cache key is used.
        Cached => "cached",
    }
);

status_enum!(
    /// Where one `ddmd-pipe run` stands.
    InvocationStatus {
        Running => "running",
        Succeeded => "succeeded",
        Failed => "failed",
        Interrupted => "interrupted",
        /// Its orchestrator died; found and closed by a later run's recovery.
        Crashed => "crashed",
    }
);

impl RunStatus {
    /// Left behind when an orchestrator dies while they were pending.
    pub fn is_unfinished(self) -> bool {
        matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_matches_serde() {
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in InvocationStatus::ALL {
            assert_eq!(InvocationStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(RunStatus::parse("done"), None);
    }
}
