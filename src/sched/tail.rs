//! Follows a job's `events.jsonl` while it runs and hands complete lines to the store in
//! batches, with their line numbers. Only lines ending in '\n' are consumed, so a line being
//! written is never read half. A malformed line is handed on as such (the store records a
//! warning naming its line number); it never fails a run.

use ddmd_core::contract::{truncate_text, MAX_MESSAGE_BYTES};
use ddmd_core::{Event, EventKind, EventLines};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

/// What the run's display and outcome need from its events.
#[derive(Clone, Debug, Default)]
pub struct Latest {
    pub metric: Option<(String, i64, f64)>,
    pub progress: Option<(f64, Option<f64>)>,
    /// Message of the last `status: failed` event: the worker's own account of a failure.
    pub failure: Option<String>,
}

pub struct Tailer {
    path: PathBuf,
    offset: u64,
    line_no: u64,
    carry: Vec<u8>,
    pub latest: Latest,
}

/// Upper bound of bytes read per poll, so one huge burst is ingested in several transactions.
const MAX_READ: usize = 16 << 20;

impl Tailer {
    pub fn new(path: PathBuf) -> Tailer {
        Tailer {
            path,
            offset: 0,
            line_no: 0,
            carry: Vec::new(),
            latest: Latest::default(),
        }
    }

    /// Reads what was appended since the last call: the complete lines, parsed (possibly
    /// none).
    pub fn poll(&mut self) -> std::io::Result<EventLines> {
        let mut f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(EventLines::default()),
            Err(e) => return Err(e),
        };
        let len = f.metadata()?.len();
        if len <= self.offset {
            return Ok(EventLines::default());
        }
        f.seek(SeekFrom::Start(self.offset))?;
        let want = ((len - self.offset) as usize).min(MAX_READ);
        let mut buf = vec![0u8; want];
        f.read_exact(&mut buf)?;
        self.offset += want as u64;
        let mut data = std::mem::take(&mut self.carry);
        data.extend_from_slice(&buf);
        let end = match data.iter().rposition(|&b| b == b'\n') {
            Some(p) => p + 1,
            None => {
                self.carry = data;
                return Ok(EventLines::default());
            }
        };
        self.carry = data[end..].to_vec();
        let mut out = EventLines::default();
        // data[..end] ends with '\n': every piece of the split before it is one line.
        for raw in data[..end - 1].split(|&b| b == b'\n') {
            self.line_no += 1;
            let line = String::from_utf8_lossy(raw);
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            match Event::parse_line(line) {
                Ok(ev) => {
                    self.note(&ev);
                    out.events.push((self.line_no, ev));
                }
                Err(e) => out.malformed.push((self.line_no, e.message)),
            }
        }
        Ok(out)
    }

    fn note(&mut self, ev: &Event) {
        // What the store will refuse is not shown either: a 60 MB key or an escape sequence
        // has no place on the progress line.
        if ev.check().is_err() {
            return;
        }
        match &ev.kind {
            EventKind::Metric { key, step, value } => {
                self.latest.metric = Some((key.clone(), *step, *value));
            }
            EventKind::Progress { done, total, .. } => {
                self.latest.progress = Some((*done, *total));
            }
            EventKind::Status { state, message, .. } if state == "failed" => {
                // Becomes the run's error: cut like every message the store keeps.
                self.latest.failure = Some(match message {
                    Some(m) => truncate_text(m, MAX_MESSAGE_BYTES).into_owned(),
                    None => "failed".into(),
                });
            }
            _ => {}
        }
    }

    /// True when more data is already waiting (the caller polls again at once).
    pub fn behind(&self) -> bool {
        std::fs::metadata(&self.path)
            .map(|m| m.len() > self.offset)
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn partial_lines_wait_and_bad_lines_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("events.jsonl");
        let mut f = std::fs::File::create(&p).unwrap();
        write!(f, "{{\"seq\":0,\"type\":\"metric\",\"key\":\"a\",\"step\":1,\"value\":2}}\nnot json\n{{\"seq\":1,\"ty").unwrap();
        f.flush().unwrap();
        let mut t = Tailer::new(p.clone());
        let evs = t.poll().unwrap();
        assert_eq!(evs.events.len(), 1);
        assert_eq!(evs.events[0].0, 1);
        assert_eq!(evs.malformed.len(), 1);
        assert_eq!(evs.malformed[0].0, 2);
        writeln!(f, "pe\":\"log\",\"message\":\"hi\"}}").unwrap();
        f.flush().unwrap();
        let evs = t.poll().unwrap();
        assert_eq!(evs.events.len(), 1);
        assert_eq!(evs.events[0].1.seq, 1);
        assert_eq!(evs.events[0].0, 3, "line numbers go on across polls");
        assert!(evs.malformed.is_empty());
        assert!(t.poll().unwrap().is_empty());
    }
}
