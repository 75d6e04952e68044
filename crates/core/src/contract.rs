//! The contract of an event (DESIGN §7), checked by the store before anything is recorded.
//!
//! Events come from our worker and from users' own scripts, so the store cannot trust them:
//! a key becomes a column value that every report and `runs show` prints, an artifact path is
//! opened and hashed by the store and copied by reports. An event that breaks a rule is not
//! recorded; the store records a warning in its place (see `ddmd-store`'s ingest). Messages
//! are the exception: they are only read by people, so a long one is cut, not refused.

use crate::events::{Event, EventKind};
use std::borrow::Cow;
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// Metric keys, artifact names, status keys and states, log levels: names that tables, plot
/// legends and SQL filters show in full. 256 bytes holds any sensible `eval/fid@4/bs16`-style
/// key many times over; anything longer is a bug in the job (a value logged as a key).
pub const MAX_KEY_BYTES: usize = 256;

/// Artifact paths: Linux's `PATH_MAX`; a longer path could not be opened anyway.
pub const MAX_PATH_BYTES: usize = 4096;

/// Log, progress and status messages are cut to this, with [`TRUNCATION_MARKER`]: enough for
/// a Python traceback, while a job that logs a whole file does not bloat the database (the
/// file belongs in the job's artifacts).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Ends a cut message, followed by the original size: `… [truncated, 123456 bytes in all]`.
pub const TRUNCATION_MARKER: &str = "… [truncated, ";

/// Sequence numbers of a job's events are below this. The orchestrator records its own
/// warnings about an events file (malformed lines, broken rules) in the same run with seqs
/// from here up, keyed by line number (see [`warning_seq`]), so they never collide with a
/// job's own events and a re-read of the file records each warning once.
pub const WARNING_SEQ_BASE: u64 = 1 << 40;

/// The seq of the warning about line `line` of an events file, or, where the line is not known
/// (events handed to the store directly), about the event with seq `seq`. Line-keyed warnings
/// are in `[2^40, 2^41)`, seq-keyed ones in `[2^41, 2^42)`; both fit SQLite's INTEGER.
pub fn warning_seq(line: Option<u64>, seq: u64) -> u64 {
    match line {
        Some(line) => WARNING_SEQ_BASE + line % WARNING_SEQ_BASE,
        // A seq in the reserved range itself (the one case where `seq % BASE` can collide
        // with another event's) only comes from a job that breaks that rule.
        None => 2 * WARNING_SEQ_BASE + seq % WARNING_SEQ_BASE,
    }
}

/// Which field of an event a rule is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    MetricKey,
    ArtifactName,
    ArtifactPath,
    LogLevel,
    StatusState,
    StatusKey,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::MetricKey => "metric key",
            Field::ArtifactName => "artifact name",
            Field::ArtifactPath => "artifact path",
            Field::LogLevel => "log level",
            Field::StatusState => "status state",
            Field::StatusKey => "status key",
        })
    }
}

/// Why an event is not recorded. `Display` is the text of the warning the store records, so
/// it quotes the offending text only as a short, escaped [`excerpt`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContractViolation {
    #[error("{field} is empty")]
    Empty { field: Field },
    #[error("{field} is {bytes} bytes long (at most {max}): {excerpt}")]
    TooLong {
        field: Field,
        bytes: usize,
        max: usize,
        excerpt: String,
    },
    #[error(
        "{field} holds the non-printable character U+{code:04X} at byte {at}: {excerpt}",
        code = u32::from(*.ch)
    )]
    NotPrintable {
        field: Field,
        ch: char,
        at: usize,
        excerpt: String,
    },
    #[error(
        "artifact path {excerpt} is absolute; it must be relative to the job's artifact folder"
    )]
    AbsolutePath { excerpt: String },
    #[error("artifact path {excerpt} leads out of the job's artifact folder")]
    EscapingPath { excerpt: String },
    #[error(
        "seq {seq} is reserved for the orchestrator's warnings (a job's seqs are below {base})",
        base = WARNING_SEQ_BASE
    )]
    ReservedSeq { seq: u64 },
    /// Found by the store, which knows what was recorded: [`Event::check`] never returns it.
    #[error("seq {seq} was already used by a different event")]
    SeqReused { seq: u64 },
}

/// At most this many characters of an offending text go into a warning.
const EXCERPT_CHARS: usize = 48;

/// A short, quoted, escaped prefix of `text` for a message: a 60 MB key must not make a 60 MB
/// warning, and a control character must not reach the terminal of whoever reads it.
pub fn excerpt(text: &str) -> String {
    let mut out = String::from("\"");
    for (i, c) in text.chars().enumerate() {
        if i == EXCERPT_CHARS {
            out.push('…');
            break;
        }
        if c == '"' || c == '\\' || !is_printable(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// Control characters (C0, DEL, C1) and the invisible ones that reorder or break the text
/// around them when shown (bidirectional overrides and isolates, line and paragraph
/// separators): a key holding one displays as something it is not.
fn is_printable(c: char) -> bool {
    !c.is_control()
        && !matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

fn check_printable(field: Field, text: &str) -> Result<(), ContractViolation> {
    match text.char_indices().find(|&(_, c)| !is_printable(c)) {
        Some((at, ch)) => Err(ContractViolation::NotPrintable {
            field,
            ch,
            at,
            excerpt: excerpt(text),
        }),
        None => Ok(()),
    }
}

fn check_len(field: Field, text: &str, max: usize) -> Result<(), ContractViolation> {
    if text.len() > max {
        return Err(ContractViolation::TooLong {
            field,
            bytes: text.len(),
            max,
            excerpt: excerpt(text),
        });
    }
    Ok(())
}

/// A name: not empty, at most [`MAX_KEY_BYTES`], printable.
fn check_key(field: Field, key: &str) -> Result<(), ContractViolation> {
    if key.is_empty() {
        return Err(ContractViolation::Empty { field });
    }
    check_len(field, key, MAX_KEY_BYTES)?;
    check_printable(field, key)
}

/// Where an artifact path leads inside the folder it is relative to, normalised lexically
/// (`a/./b/../c` is `a/c`; the empty path is the folder itself). Absolute paths, and paths
/// whose `..` climb above the folder at any point, are refused. Lexical only: a symbolic link
/// inside the folder is not followed (the store hashes links as what they are, not targets).
pub fn artifact_path(path: &str) -> Result<PathBuf, ContractViolation> {
    check_len(Field::ArtifactPath, path, MAX_PATH_BYTES)?;
    // Also refuses NUL, which no file name can hold.
    check_printable(Field::ArtifactPath, path)?;
    let mut out = PathBuf::new();
    for part in Path::new(path).components() {
        match part {
            Component::Prefix(_) | Component::RootDir => {
                return Err(ContractViolation::AbsolutePath {
                    excerpt: excerpt(path),
                })
            }
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return Err(ContractViolation::EscapingPath {
                        excerpt: excerpt(path),
                    });
                }
            }
            Component::Normal(name) => out.push(name),
        }
    }
    Ok(out)
}

/// `text` cut to at most `max` bytes (at a character boundary) with [`TRUNCATION_MARKER`] and
/// the original size at the end; as is when it fits.
pub fn truncate_text(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let tail = format!("{TRUNCATION_MARKER}{} bytes in all]", text.len());
    let mut cut = max.saturating_sub(tail.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!("{}{tail}", &text[..cut]))
}

fn truncate_opt(text: &Option<String>) -> Option<Option<String>> {
    match text.as_deref().map(|t| truncate_text(t, MAX_MESSAGE_BYTES)) {
        Some(Cow::Owned(cut)) => Some(Some(cut)),
        _ => None,
    }
}

impl Event {
    /// Whether this event may be recorded as it is (apart from messages, which
    /// [`Event::truncated`] cuts). Whether its seq is new is for the store to say.
    pub fn check(&self) -> Result<(), ContractViolation> {
        if self.seq >= WARNING_SEQ_BASE {
            return Err(ContractViolation::ReservedSeq { seq: self.seq });
        }
        match &self.kind {
            EventKind::Metric { key, .. } => check_key(Field::MetricKey, key),
            EventKind::Artifact { name, path } => {
                check_key(Field::ArtifactName, name)?;
                artifact_path(path).map(drop)
            }
            EventKind::Log { level, .. } => check_key(Field::LogLevel, level),
            EventKind::Progress { .. } => Ok(()),
            EventKind::Status { state, key, .. } => {
                check_key(Field::StatusState, state)?;
                match key {
                    Some(k) => check_key(Field::StatusKey, k),
                    None => Ok(()),
                }
            }
        }
    }

    /// The event with its messages cut to [`MAX_MESSAGE_BYTES`]; `None` when none was longer
    /// (the usual case: no copy).
    pub fn truncated(&self) -> Option<Event> {
        let kind = match &self.kind {
            EventKind::Log { level, message } => match truncate_text(message, MAX_MESSAGE_BYTES) {
                Cow::Borrowed(_) => return None,
                Cow::Owned(message) => EventKind::Log {
                    level: level.clone(),
                    message,
                },
            },
            EventKind::Progress {
                done,
                total,
                message,
            } => EventKind::Progress {
                done: *done,
                total: *total,
                message: truncate_opt(message)?,
            },
            EventKind::Status {
                state,
                key,
                message,
            } => EventKind::Status {
                state: state.clone(),
                key: key.clone(),
                message: truncate_opt(message)?,
            },
            EventKind::Metric { .. } | EventKind::Artifact { .. } => return None,
        };
        Some(Event {
            seq: self.seq,
            t: self.t,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind) -> Event {
        Event {
            seq: 1,
            t: None,
            kind,
        }
    }

    fn metric(key: &str) -> Event {
        ev(EventKind::Metric {
            key: key.into(),
            step: 0,
            value: 1.0,
        })
    }

    fn artifact(name: &str, path: &str) -> Event {
        ev(EventKind::Artifact {
            name: name.into(),
            path: path.into(),
        })
    }

    fn status(state: &str, key: Option<&str>) -> Event {
        ev(EventKind::Status {
            state: state.into(),
            key: key.map(str::to_string),
            message: None,
        })
    }

    #[test]
    fn ordinary_events_pass() {
        for e in [
            metric("train/loss_dm"),
            metric("fid@4/bs16 (N=2000) ∆ é"),
            metric(&"k".repeat(MAX_KEY_BYTES)),
            artifact("samples", "samples@4.png"),
            artifact("weights", "ckpt/./a/../weights.safetensors"),
            artifact("folder", ""),
            status("unavailable", Some("hps@4")),
            status("diverged", None),
            ev(EventKind::Log {
                level: "warn".into(),
                message: "a\nmulti-line\tmessage \u{1b}[31m is fine".into(),
            }),
            ev(EventKind::Progress {
                done: 1.0,
                total: None,
                message: None,
            }),
        ] {
            assert_eq!(e.check(), Ok(()), "{e:?}");
        }
    }

    #[test]
    fn empty_names_are_refused() {
        for (e, field) in [
            (metric(""), Field::MetricKey),
            (artifact("", "a.png"), Field::ArtifactName),
            (status("", None), Field::StatusState),
            (status("info", Some("")), Field::StatusKey),
            (
                ev(EventKind::Log {
                    level: String::new(),
                    message: "m".into(),
                }),
                Field::LogLevel,
            ),
        ] {
            assert_eq!(e.check(), Err(ContractViolation::Empty { field }), "{e:?}");
        }
    }

    #[test]
    fn long_keys_are_refused_with_a_short_excerpt() {
        let key = "k".repeat(60 << 20);
        let err = metric(&key).check().unwrap_err();
        assert!(
            matches!(
                err,
                ContractViolation::TooLong { field: Field::MetricKey, bytes, max: MAX_KEY_BYTES, .. }
                    if bytes == 60 << 20
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.len() < 200, "{text}");
        assert!(text.starts_with("metric key is 62914560 bytes long (at most 256): \"kkk"));
        assert!(text.ends_with("…\""), "{text}");
        for e in [
            artifact(&"n".repeat(MAX_KEY_BYTES + 1), "a"),
            status(&"s".repeat(MAX_KEY_BYTES + 1), None),
            status("info", Some(&"s".repeat(MAX_KEY_BYTES + 1))),
            artifact("a", &"p".repeat(MAX_PATH_BYTES + 1)),
        ] {
            assert!(
                matches!(e.check(), Err(ContractViolation::TooLong { .. })),
                "{e:?}"
            );
        }
        // Bytes, not characters: 129 two-byte characters are 258 bytes.
        assert!(metric(&"é".repeat(129)).check().is_err());
        assert!(metric(&"é".repeat(128)).check().is_ok());
    }

    #[test]
    fn non_printable_characters_are_refused() {
        for (key, ch, at) in [
            ("a\u{1b}[2Jb", '\u{1b}', 1),
            ("line\nbreak", '\n', 4),
            ("nul\0", '\0', 3),
            ("del\u{7f}", '\u{7f}', 3),
            ("c1\u{85}", '\u{85}', 2),
            ("é\u{202E}gnp.exe", '\u{202E}', 2),
            ("iso\u{2066}late", '\u{2066}', 3),
        ] {
            let err = metric(key).check().unwrap_err();
            assert_eq!(
                err,
                ContractViolation::NotPrintable {
                    field: Field::MetricKey,
                    ch,
                    at,
                    excerpt: excerpt(key)
                },
                "{key:?}"
            );
            // The warning text itself holds no control character.
            assert!(err.to_string().chars().all(|c| !c.is_control()), "{err}");
        }
        let err = artifact("a\tb", "x").check().unwrap_err();
        assert!(err
            .to_string()
            .starts_with("artifact name holds the non-printable character U+0009 at byte 1"));
        assert!(matches!(
            artifact("a", "x\0y").check(),
            Err(ContractViolation::NotPrintable {
                field: Field::ArtifactPath,
                ..
            })
        ));
        assert!(matches!(
            ev(EventKind::Log {
                level: "warn\r".into(),
                message: String::new()
            })
            .check(),
            Err(ContractViolation::NotPrintable {
                field: Field::LogLevel,
                ..
            })
        ));
    }

    #[test]
    fn artifact_paths_are_normalised_lexically() {
        for (path, want) in [
            ("model.bin", "model.bin"),
            ("a/b/c.png", "a/b/c.png"),
            ("./a//b/", "a/b"),
            ("a/../b", "b"),
            ("a/b/../../c", "c"),
            ("a/..", ""),
            ("", ""),
            (".", ""),
            ("..a/b..", "..a/b.."),
            ("a\\..\\..\\x", "a\\..\\..\\x"),
        ] {
            assert_eq!(artifact_path(path), Ok(PathBuf::from(want)), "{path:?}");
        }
    }

    #[test]
    fn artifact_paths_may_not_leave_the_folder() {
        for path in [
            "..",
            "../x",
            "../../../../etc/passwd",
            "a/../../x",
            "a/b/../../../x",
            // Back inside at the end, but it left on the way: refused, since the folder
            // above is none of the job's business.
            "../folder/x",
        ] {
            let err = artifact("a", path).check().unwrap_err();
            assert_eq!(
                err,
                ContractViolation::EscapingPath {
                    excerpt: excerpt(path)
                },
                "{path:?}"
            );
            assert!(err.to_string().contains("leads out of"), "{err}");
        }
        for path in ["/etc/passwd", "/", "//x", "/tmp/../tmp/x"] {
            assert_eq!(
                artifact("a", path).check(),
                Err(ContractViolation::AbsolutePath {
                    excerpt: excerpt(path)
                }),
                "{path:?}"
            );
        }
    }

    #[test]
    fn seqs_of_warnings_are_reserved() {
        let mut e = metric("k");
        e.seq = WARNING_SEQ_BASE - 1;
        assert_eq!(e.check(), Ok(()));
        e.seq = WARNING_SEQ_BASE;
        assert_eq!(
            e.check(),
            Err(ContractViolation::ReservedSeq {
                seq: WARNING_SEQ_BASE
            })
        );
        assert_eq!(warning_seq(Some(7), 3), WARNING_SEQ_BASE + 7);
        assert_eq!(warning_seq(None, 3), 2 * WARNING_SEQ_BASE + 3);
        assert!(warning_seq(None, u64::MAX) < 3 * WARNING_SEQ_BASE);
        assert!(warning_seq(Some(u64::MAX), 0) < 2 * WARNING_SEQ_BASE);
        assert_eq!(
            ContractViolation::SeqReused { seq: 4 }.to_string(),
            "seq 4 was already used by a different event"
        );
    }

    #[test]
    fn long_messages_are_cut_with_a_marker() {
        assert_eq!(truncate_text("short", 10), Cow::Borrowed("short"));
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        let cut = truncate_text(&long, MAX_MESSAGE_BYTES).into_owned();
        assert!(cut.len() <= MAX_MESSAGE_BYTES);
        assert!(cut.len() > MAX_MESSAGE_BYTES - 64);
        assert!(cut.ends_with(&format!(
            "{TRUNCATION_MARKER}{} bytes in all]",
            2 * MAX_MESSAGE_BYTES
        )));

        let log = ev(EventKind::Log {
            level: "info".into(),
            message: long.clone(),
        });
        assert_eq!(log.check(), Ok(()), "long messages are not refused");
        let Some(Event {
            kind: EventKind::Log { message, .. },
            ..
        }) = log.truncated()
        else {
            panic!("not cut")
        };
        assert_eq!(message, cut);
        let failed = ev(EventKind::Status {
            state: "failed".into(),
            key: None,
            message: Some(long.clone()),
        });
        assert!(matches!(
            failed.truncated(),
            Some(Event { kind: EventKind::Status { message: Some(m), .. }, .. }) if m == cut
        ));
        let progress = ev(EventKind::Progress {
            done: 1.0,
            total: Some(2.0),
            message: Some(long),
        });
        assert!(matches!(
            progress.truncated(),
            Some(Event { kind: EventKind::Progress { message: Some(m), total: Some(_), .. }, .. }) if m == cut
        ));
        for e in [
            metric("k"),
            status("info", None),
            ev(EventKind::Log {
                level: "info".into(),
                message: "x".repeat(MAX_MESSAGE_BYTES),
            }),
        ] {
            assert_eq!(e.truncated(), None);
        }
    }
}
