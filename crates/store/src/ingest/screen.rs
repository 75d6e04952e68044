//! Sorting one batch before anything is written: events that break the contract
//! ([`Event::check`]) and events that reuse a seq for something else become warnings; events
//! already recorded as they are (a re-read after a crash) are dropped silently; the rest is
//! fresh. No SQL here: what was recorded comes in as [`Recorded`] rows.

use ddmd_core::contract::{self, ContractViolation, MAX_MESSAGE_BYTES};
use ddmd_core::{Event, EventKind};
use std::borrow::Cow;
use std::collections::HashMap;

/// The file every line number refers to (the tailer reads no other).
const EVENTS_FILE: &str = "events.jsonl";

/// One event of a batch, with its line in the events file when the caller knows it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Input<'a> {
    pub line: Option<u64>,
    pub ev: &'a Event,
}

/// An event that passed [`Event::check`], messages cut to size; `seq` fits SQLite's INTEGER
/// (the contract keeps it below 2^40).
#[derive(Debug)]
pub(crate) struct Checked<'a> {
    pub line: Option<u64>,
    pub seq: i64,
    pub ev: Cow<'a, Event>,
}

/// What is recorded for a seq, as far as telling "the same event again" from "another event
/// with that seq" needs: the stored columns, not more (an artifact's `t` is not kept, so it
/// does not count).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Recorded {
    Metric {
        key: String,
        step: i64,
        value: f64,
        t: Option<f64>,
    },
    Artifact {
        name: String,
        path: String,
    },
    /// Log, progress and status events, kept as their JSON line.
    Other {
        payload: String,
    },
}

/// A `warn` log event for the run, in place of what could not be recorded.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Warning {
    pub seq: i64,
    pub payload: String,
}

/// `unavailable` status events are kept by metric key (the `unavailable` table), not by seq,
/// so they take no part in the seq checks: which batch they arrive in must not matter.
pub(crate) fn unavailable(ev: &Event) -> Option<(&str, &str)> {
    match &ev.kind {
        EventKind::Status {
            state,
            key: Some(key),
            message,
        } if state == "unavailable" => Some((
            key.as_str(),
            message
                .as_deref()
                .unwrap_or("unavailable (no reason given)"),
        )),
        _ => None,
    }
}

fn warning(line: Option<u64>, seq: u64, message: String) -> Warning {
    let ev = Event {
        // Below 2^42 (see `warning_seq`): fits i64.
        seq: contract::warning_seq(line, seq),
        t: None,
        kind: EventKind::Log {
            level: "warn".into(),
            message,
        },
    };
    Warning {
        seq: ev.seq as i64,
        payload: ev.to_line(),
    }
}

/// The warning recorded in place of an event that breaks a rule: where it was, its seq, why.
pub(crate) fn violation(line: Option<u64>, seq: u64, why: &ContractViolation) -> Warning {
    let message = match line {
        Some(line) => format!("{EVENTS_FILE} line {line}: event seq {seq} skipped: {why}"),
        None => format!("event seq {seq} skipped: {why}"),
    };
    warning(line, seq, message)
}

/// The warning recorded for a line that is not an event. Same seq and text as the
/// orchestrator recorded before the store made them, so old runs re-read the same.
pub(crate) fn malformed(line: u64, error: &str) -> Warning {
    let error = contract::truncate_text(error, MAX_MESSAGE_BYTES);
    warning(
        Some(line),
        0,
        format!("{EVENTS_FILE} line {line}: malformed event skipped: {error}"),
    )
}

/// Checks each event against the contract; those that fail become warnings.
pub(crate) fn check<'a>(inputs: &[Input<'a>], warnings: &mut Vec<Warning>) -> Vec<Checked<'a>> {
    let mut out = Vec::with_capacity(inputs.len());
    for input in inputs {
        match input.ev.check() {
            Ok(()) => out.push(Checked {
                line: input.line,
                seq: input.ev.seq as i64,
                ev: match input.ev.truncated() {
                    Some(cut) => Cow::Owned(cut),
                    None => Cow::Borrowed(input.ev),
                },
            }),
            Err(why) => warnings.push(violation(input.line, input.ev.seq, &why)),
        }
    }
    out
}

/// The span of seqs whose recorded rows [`dedupe`] needs; `None` when it needs none.
pub(crate) fn seq_span(checked: &[Checked<'_>]) -> Option<(i64, i64)> {
    let mut seqs = checked
        .iter()
        .filter(|c| unavailable(&c.ev).is_none())
        .map(|c| c.seq);
    let first = seqs.next()?;
    Some(seqs.fold((first, first), |(lo, hi), s| (lo.min(s), hi.max(s))))
}

/// What [`dedupe`] keeps: events to insert, in order, and how many were already recorded.
pub(crate) struct Fresh<'a> {
    pub events: Vec<Checked<'a>>,
    pub repeated: u64,
}

/// Drops events already recorded as they are, in `recorded` or earlier in the batch (the
/// at-least-once design: re-reading a file after a crash is normal), and turns an event whose
/// seq was used for something else into a warning: the first event with a seq wins, which is
/// the same whether the two came in one batch or two.
pub(crate) fn dedupe<'a>(
    checked: Vec<Checked<'a>>,
    recorded: &HashMap<i64, Recorded>,
    warnings: &mut Vec<Warning>,
) -> Fresh<'a> {
    let mut events: Vec<Checked<'a>> = Vec::with_capacity(checked.len());
    let mut first: HashMap<i64, usize> = HashMap::new();
    let mut repeated = 0;
    for c in checked {
        if unavailable(&c.ev).is_some() {
            events.push(c);
            continue;
        }
        let same = match (recorded.get(&c.seq), first.get(&c.seq)) {
            (Some(r), _) => Some(r.matches(&c.ev)),
            (None, Some(&i)) => Some(same_event(&events[i].ev, &c.ev)),
            (None, None) => None,
        };
        match same {
            None => {
                first.insert(c.seq, events.len());
                events.push(c);
            }
            Some(true) => repeated += 1,
            Some(false) => warnings.push(violation(
                c.line,
                c.ev.seq,
                &ContractViolation::SeqReused { seq: c.ev.seq },
            )),
        }
    }
    Fresh { events, repeated }
}

/// Equal, or both NaN: a NaN logged twice is the same point.
fn same_f64(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// SQLite keeps a NaN time as NULL, so NaN and "no time" are the same.
fn same_t(a: Option<f64>, b: Option<f64>) -> bool {
    let known = |t: Option<f64>| t.filter(|t| !t.is_nan());
    match (known(a), known(b)) {
        (Some(a), Some(b)) => a == b,
        (None, None) => true,
        _ => false,
    }
}

/// The comparison of [`Recorded::matches`], between two events of one batch.
fn same_event(a: &Event, b: &Event) -> bool {
    match (&a.kind, &b.kind) {
        (
            EventKind::Metric {
                key: k1,
                step: s1,
                value: v1,
            },
            EventKind::Metric {
                key: k2,
                step: s2,
                value: v2,
            },
        ) => k1 == k2 && s1 == s2 && same_f64(*v1, *v2) && same_t(a.t, b.t),
        (
            EventKind::Artifact { name: n1, path: p1 },
            EventKind::Artifact { name: n2, path: p2 },
        ) => n1 == n2 && p1 == p2,
        (EventKind::Metric { .. } | EventKind::Artifact { .. }, _)
        | (_, EventKind::Metric { .. } | EventKind::Artifact { .. }) => false,
        _ => a.to_line() == b.to_line(),
    }
}

impl Recorded {
    /// Whether `ev` is what this row records (the same event read again).
    pub(crate) fn matches(&self, ev: &Event) -> bool {
        match (self, &ev.kind) {
            (
                Recorded::Metric {
                    key,
                    step,
                    value,
                    t,
                },
                EventKind::Metric {
                    key: k,
                    step: s,
                    value: v,
                },
            ) => key == k && step == s && same_f64(*value, *v) && same_t(*t, ev.t),
            (Recorded::Artifact { name, path }, EventKind::Artifact { name: n, path: p }) => {
                name == n && path == p
            }
            (
                Recorded::Other { payload },
                EventKind::Log { .. } | EventKind::Progress { .. } | EventKind::Status { .. },
            ) => *payload == ev.to_line(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(seq: u64, key: &str, value: f64) -> Event {
        Event {
            seq,
            t: Some(1.0),
            kind: EventKind::Metric {
                key: key.into(),
                step: 0,
                value,
            },
        }
    }

    fn log(seq: u64, message: &str) -> Event {
        Event {
            seq,
            t: None,
            kind: EventKind::Log {
                level: "info".into(),
                message: message.into(),
            },
        }
    }

    fn inputs(events: &[Event]) -> Vec<Input<'_>> {
        events
            .iter()
            .enumerate()
            .map(|(i, ev)| Input {
                line: Some(i as u64 + 1),
                ev,
            })
            .collect()
    }

    fn message(w: &Warning) -> String {
        match Event::parse_line(&w.payload).map(|e| e.kind) {
            Ok(EventKind::Log { level, message }) if level == "warn" => message,
            other => panic!("not a warning: {other:?}"),
        }
    }

    #[test]
    fn broken_events_become_warnings_keyed_by_line() {
        let events = [
            metric(0, "ok", 1.0),
            metric(1, "bad\u{1b}key", 1.0),
            log(2, &"x".repeat(MAX_MESSAGE_BYTES + 1)),
        ];
        let mut warnings = Vec::new();
        let checked = check(&inputs(&events), &mut warnings);
        assert_eq!(checked.len(), 2);
        assert!(matches!(checked[0].ev, Cow::Borrowed(_)));
        assert!(
            matches!(checked[1].ev, Cow::Owned(_)),
            "the long message is cut"
        );
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].seq, (contract::WARNING_SEQ_BASE + 2) as i64);
        let text = message(&warnings[0]);
        assert!(
            text.starts_with("events.jsonl line 2: event seq 1 skipped: metric key holds the non-printable character U+001B at byte 3"),
            "{text}"
        );
        // Without a line: keyed by seq, and the text says so.
        let e = metric(9, "", 1.0);
        let w = violation(None, 9, &e.check().unwrap_err());
        assert_eq!(w.seq, (2 * contract::WARNING_SEQ_BASE + 9) as i64);
        assert_eq!(message(&w), "event seq 9 skipped: metric key is empty");
    }

    #[test]
    fn malformed_lines_keep_their_old_seq_and_text() {
        let w = malformed(3, "expected value at line 1 column 1");
        assert_eq!(w.seq, (1i64 << 40) + 3);
        assert_eq!(
            message(&w),
            "events.jsonl line 3: malformed event skipped: expected value at line 1 column 1"
        );
        let huge = malformed(4, &"e".repeat(10 * MAX_MESSAGE_BYTES));
        assert!(huge.payload.len() < MAX_MESSAGE_BYTES + 200);
    }

    #[test]
    fn repeats_are_silent_and_reuses_warn() {
        let events = [
            metric(0, "loss", f64::NAN),
            metric(0, "loss", f64::NAN),
            metric(0, "loss", 2.0),
            log(1, "hi"),
            log(1, "hi"),
            log(1, "bye"),
            metric(5, "loss", 1.0),
            metric(6, "acc", 0.5),
        ];
        let recorded = HashMap::from([
            (
                5,
                Recorded::Metric {
                    key: "loss".into(),
                    step: 0,
                    value: 1.0,
                    t: Some(1.0),
                },
            ),
            (
                6,
                Recorded::Other {
                    payload: log(6, "x").to_line(),
                },
            ),
        ]);
        let mut warnings = Vec::new();
        let checked = check(&inputs(&events), &mut warnings);
        assert_eq!(seq_span(&checked), Some((0, 6)));
        let fresh = dedupe(checked, &recorded, &mut warnings);
        let kept: Vec<(u64, Option<u64>)> =
            fresh.events.iter().map(|c| (c.ev.seq, c.line)).collect();
        assert_eq!(kept, [(0, Some(1)), (1, Some(4))]);
        assert_eq!(fresh.repeated, 3);
        let texts: Vec<String> = warnings.iter().map(message).collect();
        assert_eq!(
            texts,
            [
                "events.jsonl line 3: event seq 0 skipped: seq 0 was already used by a different event",
                "events.jsonl line 6: event seq 1 skipped: seq 1 was already used by a different event",
                "events.jsonl line 8: event seq 6 skipped: seq 6 was already used by a different event",
            ]
        );
    }

    #[test]
    fn unavailable_notes_take_no_part_in_seq_checks() {
        let note = Event {
            seq: 0,
            t: None,
            kind: EventKind::Status {
                state: "unavailable".into(),
                key: Some("hps".into()),
                message: None,
            },
        };
        let events = [note.clone(), metric(0, "loss", 1.0), note];
        let mut warnings = Vec::new();
        let checked = check(&inputs(&events), &mut warnings);
        assert_eq!(seq_span(&checked[..1]), None);
        let fresh = dedupe(checked, &HashMap::new(), &mut warnings);
        assert_eq!(fresh.events.len(), 3);
        assert!(warnings.is_empty());
        assert_eq!(
            unavailable(&fresh.events[0].ev),
            Some(("hps", "unavailable (no reason given)"))
        );
    }

    #[test]
    fn recorded_rows_match_what_they_record() {
        let m = Recorded::Metric {
            key: "k".into(),
            step: 0,
            value: 0.0,
            t: None,
        };
        let mut e = metric(0, "k", -0.0);
        e.t = None;
        assert!(m.matches(&e), "SQLite may read -0.0 back as 0.0");
        e.t = Some(f64::NAN);
        assert!(m.matches(&e), "a NaN time is stored as NULL");
        e.t = Some(2.0);
        assert!(!m.matches(&e));
        let a = Recorded::Artifact {
            name: "w".into(),
            path: "w.bin".into(),
        };
        let art = |name: &str, path: &str| Event {
            seq: 0,
            t: Some(5.0),
            kind: EventKind::Artifact {
                name: name.into(),
                path: path.into(),
            },
        };
        assert!(
            a.matches(&art("w", "w.bin")),
            "an artifact's time is not kept"
        );
        assert!(!a.matches(&art("w", "v.bin")));
        assert!(!a.matches(&log(0, "w.bin")));
        assert!(!m.matches(&log(0, "k")));
        let o = Recorded::Other {
            payload: log(0, "hi").to_line(),
        };
        assert!(o.matches(&log(0, "hi")));
        assert!(!o.matches(&log(0, "ho")));
        assert!(!o.matches(&metric(0, "k", 1.0)));
    }
}
