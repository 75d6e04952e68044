//! The worker event protocol (DESIGN §7): one JSON object per line in `events.jsonl`.
//!
//! `{"seq":17,"t":1732550000.1,"type":"metric","key":"train/loss_dm","step":120,"value":0.031}`
//!
//! `seq` is unique per run and is the idempotency key of ingestion: re-reading a file after a
//! crash inserts nothing twice. Non-finite metric values are written as the strings `"NaN"`,
//! `"Infinity"`, `"-Infinity"` ([`crate::nonfinite`]; JSON has no NaN); Python's bare `NaN`
//! tokens are accepted too. What an event may hold (key sizes, artifact paths, …) is in
//! [`crate::contract`].

use crate::nonfinite;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    /// Seconds since the Unix epoch, as the worker saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<f64>,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum EventKind {
    Metric {
        key: String,
        #[serde(default)]
        step: i64,
        #[serde(serialize_with = "ser_f64", deserialize_with = "de_f64")]
        value: f64,
    },
    /// A file or folder the job produced; `path` is relative to the job's artifact directory
    /// and stays inside it ([`crate::contract::artifact_path`]).
    Artifact { name: String, path: String },
    Log {
        #[serde(default = "default_level")]
        level: String,
        message: String,
    },
    Progress {
        done: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Free-form state changes; `state: "unavailable"` with `key` marks a metric that could not
    /// be computed (reports show the reason), `state: "diverged"` marks a training run.
    Status {
        state: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

fn default_level() -> String {
    "info".into()
}

fn ser_f64<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    match nonfinite::encode(*v) {
        None => s.serialize_f64(*v),
        Some(text) => s.serialize_str(text),
    }
}

/// A number, `null` (NaN) or a string: the codec's spellings read leniently, and anything else
/// Rust reads as a float (`"1.5"`, `"+inf"`), as this reader always accepted.
fn de_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        F(f64),
        S(String),
        Null(()),
    }
    match Num::deserialize(d)? {
        Num::F(v) => Ok(v),
        Num::Null(()) => Ok(f64::NAN),
        Num::S(s) => match nonfinite::decode_lenient(&s) {
            Some(v) => Ok(v),
            None => s
                .trim()
                .parse::<f64>()
                .map_err(|_| serde::de::Error::custom(format!("expected a number, got {s:?}"))),
        },
    }
}

/// What one read of an events file gave: its events and its malformed lines, each with its
/// line number (1-based). The store keys the warnings it records by line number, so reading
/// the file again after a crash records each of them once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventLines {
    pub events: Vec<(u64, Event)>,
    /// Line number and parse error of each line that is not an event.
    pub malformed: Vec<(u64, String)>,
}

impl EventLines {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.malformed.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ParseEventError {
    pub message: String,
}

impl Event {
    /// Parses one line of an events file. The caller adds file and line number to errors.
    pub fn parse_line(line: &str) -> Result<Event, ParseEventError> {
        match serde_json::from_str::<Event>(line) {
            Ok(e) => Ok(e),
            Err(first) => {
                // Python's json.dumps writes bare NaN / Infinity tokens; quote them and retry.
                if line.contains(nonfinite::NAN) || line.contains(nonfinite::INFINITY) {
                    let fixed = quote_bare_nonfinite(line);
                    if let Ok(e) = serde_json::from_str::<Event>(&fixed) {
                        return Ok(e);
                    }
                }
                Err(ParseEventError {
                    message: first.to_string(),
                })
            }
        }
    }

    pub fn to_line(&self) -> String {
        // Serialising our own enum cannot fail (no maps with non-string keys).
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Rewrites `NaN`, `Infinity`, `-Infinity` outside of JSON strings as quoted strings.
fn quote_bare_nonfinite(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut in_str = false;
    let mut escaped = false;
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '"' {
            in_str = true;
            out.push(c);
            rest = &rest[1..];
            continue;
        }
        let mut matched = false;
        // The longest first: `Infinity` is a suffix of `-Infinity`.
        for tok in [nonfinite::NEG_INFINITY, nonfinite::INFINITY, nonfinite::NAN] {
            if rest.starts_with(tok) {
                out.push('"');
                out.push_str(tok);
                out.push('"');
                rest = &rest[tok.len()..];
                matched = true;
                break;
            }
        }
        if !matched {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Appends events to a job's events file. Buffered; flushed every 100 ms, on artifact and
/// status events, and on drop, so a crashed worker loses at most the last fraction of a second
/// of metrics and never leaves a torn line that the reader would take as complete.
pub struct EventSink {
    out: BufWriter<File>,
    seq: u64,
    last_flush: Instant,
}

impl EventSink {
    /// Opens `path` for appending. `first_seq` lets a resumed writer continue a sequence.
    pub fn open(path: &Path, first_seq: u64) -> io::Result<EventSink> {
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(EventSink {
            out: BufWriter::with_capacity(1 << 16, f),
            seq: first_seq,
            last_flush: Instant::now(),
        })
    }

    pub fn emit(&mut self, kind: EventKind) -> io::Result<()> {
        let urgent = matches!(kind, EventKind::Artifact { .. } | EventKind::Status { .. });
        let ev = Event {
            seq: self.seq,
            t: Some(now_secs()),
            kind,
        };
        self.seq += 1;
        let mut line = ev.to_line();
        line.push('\n');
        self.out.write_all(line.as_bytes())?;
        if urgent || self.last_flush.elapsed().as_millis() >= 100 {
            self.out.flush()?;
            self.last_flush = Instant::now();
        }
        Ok(())
    }

    pub fn metric(&mut self, key: &str, step: i64, value: f64) -> io::Result<()> {
        self.emit(EventKind::Metric {
            key: key.to_string(),
            step,
            value,
        })
    }

    pub fn artifact(&mut self, name: &str, path: &str) -> io::Result<()> {
        self.emit(EventKind::Artifact {
            name: name.to_string(),
            path: path.to_string(),
        })
    }

    pub fn log(&mut self, message: impl Into<String>) -> io::Result<()> {
        self.emit(EventKind::Log {
            level: "info".into(),
            message: message.into(),
        })
    }

    pub fn progress(&mut self, done: f64, total: Option<f64>) -> io::Result<()> {
        self.emit(EventKind::Progress {
            done,
            total,
            message: None,
        })
    }

    pub fn status(
        &mut self,
        state: &str,
        key: Option<&str>,
        message: Option<&str>,
    ) -> io::Result<()> {
        self.emit(EventKind::Status {
            state: state.to_string(),
            key: key.map(str::to_string),
            message: message.map(str::to_string),
        })
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.last_flush = Instant::now();
        Ok(())
    }
}

impl Drop for EventSink {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_roundtrip_and_nonfinite() {
        let e = Event {
            seq: 3,
            t: None,
            kind: EventKind::Metric {
                key: "train/loss".into(),
                step: 7,
                value: f64::NAN,
            },
        };
        let line = e.to_line();
        assert!(line.contains("\"NaN\""), "{line}");
        let back = Event::parse_line(&line).unwrap();
        match back.kind {
            EventKind::Metric { value, step, .. } => {
                assert!(value.is_nan());
                assert_eq!(step, 7);
            }
            other => panic!("wrong kind {other:?}"),
        }
    }

    #[test]
    fn python_bare_nan_is_accepted() {
        let e = Event::parse_line(
            r#"{"seq": 1, "type": "metric", "key": "a NaN key", "step": 2, "value": NaN}"#,
        )
        .unwrap();
        match e.kind {
            EventKind::Metric { key, value, .. } => {
                assert_eq!(key, "a NaN key");
                assert!(value.is_nan());
            }
            other => panic!("wrong kind {other:?}"),
        }
        let e =
            Event::parse_line(r#"{"seq": 1, "type": "metric", "key": "k", "value": -Infinity}"#)
                .unwrap();
        assert!(matches!(e.kind, EventKind::Metric { value, .. } if value == f64::NEG_INFINITY));
    }

    #[test]
    fn string_values_are_read_leniently() {
        let value = |v: &str| match Event::parse_line(&format!(
            r#"{{"seq": 1, "type": "metric", "key": "k", "value": {v}}}"#
        ))
        .map(|e| e.kind)
        {
            Ok(EventKind::Metric { value, .. }) => Some(value),
            _ => None,
        };
        assert!(value(r#"" nan ""#).is_some_and(f64::is_nan));
        assert!(value("null").is_some_and(f64::is_nan));
        assert_eq!(value(r#""INF""#), Some(f64::INFINITY));
        // Not in the codec's lenient list; read as a number, as it always was.
        assert_eq!(value(r#""+inf""#), Some(f64::INFINITY));
        assert_eq!(value(r#""+INFINITY""#), Some(f64::INFINITY));
        assert_eq!(value(r#""-Infinity""#), Some(f64::NEG_INFINITY));
        assert_eq!(value(r#"" 1.5 ""#), Some(1.5));
        assert_eq!(value(r#""abc""#), None);
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert!(Event::parse_line("{").is_err());
        assert!(Event::parse_line(r#"{"seq":1,"type":"bogus"}"#).is_err());
        assert!(Event::parse_line(r#"{"type":"metric","key":"k","value":1}"#).is_err());
        assert!(Event::parse_line(r#"{"seq":1,"type":"metric","key":"k","value":"abc"}"#).is_err());
    }
}
