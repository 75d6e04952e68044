//! Fuzzing the reader with proptest: random bytes, random text, and mutations of valid
//! pipelines must never panic and must finish quickly. Bounded by default (a few seconds);
//! `SPEC_FUZZ_CASES=N` raises the number of cases per property.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_pipeline::{apply_overrides, expand, parse_override, parse_str};
use proptest::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};

const VALID: &[&str] = &[
    include_str!("../../../pipelines/sweep.yaml"),
    "name: n\ndefaults: &d { lr: 0.1, data: { res: 16 } }\nstages:\n  a:\n    kind: teacher\n    resources: { gpus: 1, cpus: 2 }\n    params: *d\n  b:\n    kind: distill\n    needs: [a]\n    matrix:\n      terms:\n        - { name: \"CA + DM\", ca: 1.0, dm: 1.0 }\n        - { name: \"CA only\", ca: 1.0, dm: 0.0 }\n      schedule: [coupled, hybrid]\n    exclude: [ { terms: \"CA only\", schedule: coupled } ]\n    include: [ { terms: x, schedule: y } ]\n    timeout: 1h30m\n  c:\n    kind: report\n    needs: b\n",
];

/// Pieces a mutation may splice in: YAML syntax and the format's own words.
const PIECES: &[&str] = &[
    "\n",
    " ",
    "  ",
    "\t",
    ":",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "!!str ",
    "---\n",
    "'",
    "\"",
    "#",
    "|\n",
    ">\n",
    "? ",
    "<<: ",
    "~",
    "-1",
    "99999999999999999999",
    ".nan",
    "needs: ",
    "kind: ",
    "matrix: ",
    "include: ",
    "exclude: ",
    "stages",
    "name",
    "command",
    "report",
    "gpus: ",
    "timeout: 0",
    "\u{0}",
    "é",
];

fn cases() -> u32 {
    std::env::var("SPEC_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000)
}

/// Parses, and when it parses, expands every stage and applies a sweep: all of it must
/// return (Ok or Err) without panicking, well within a second.
fn exercise(text: &str) {
    let t0 = Instant::now();
    match parse_str(Path::new("f.yaml"), text) {
        Err(e) => assert!(!e.0.is_empty()),
        Ok(mut spec) => {
            for st in spec.stages.values() {
                let _ = expand(st);
            }
            if let Ok(o) = parse_override("lr=1,2") {
                let _ = apply_overrides(&mut spec, &[o]);
            }
            for st in spec.stages.values() {
                let _ = expand(st);
            }
        }
    }
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t0.elapsed()
    );
}

#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, piece: usize },
    Duplicate { at: usize, len: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1usize..20).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), 0..PIECES.len()).prop_map(|(at, piece)| Edit::Insert { at, piece }),
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Edit::Duplicate { at, len }),
    ]
}

/// Applies edits on char boundaries.
fn mutate(base: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = base.chars().collect();
    for e in edits {
        let n = chars.len().max(1);
        match e {
            Edit::Delete { at, len } => {
                let at = at % n;
                let end = (at + len).min(chars.len());
                if at < end {
                    chars.drain(at..end);
                }
            }
            Edit::Insert { at, piece } => {
                let at = at % (chars.len() + 1);
                let ins: Vec<char> = PIECES[*piece].chars().collect();
                chars.splice(at..at, ins);
            }
            Edit::Duplicate { at, len } => {
                let at = at % n;
                let end = (at + len).min(chars.len());
                let copy: Vec<char> = chars.get(at..end).map(|s| s.to_vec()).unwrap_or_default();
                chars.splice(at..at, copy);
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        exercise(&text);
    }

    #[test]
    fn random_yaml_like_text_never_panics(parts in proptest::collection::vec(0..PIECES.len(), 0..80)) {
        let text: String = parts.iter().map(|i| PIECES[*i]).collect();
        exercise(&text);
    }

    #[test]
    fn mutated_valid_pipelines_never_panic(which in 0..VALID.len(), edits in proptest::collection::vec(edit(), 1..6)) {
        exercise(&mutate(VALID[which], &edits));
    }

    #[test]
    fn random_set_arguments_never_panic(arg in "[a-z.=,\\[\\]{}'\" 0-9:-]{0,30}") {
        if let Ok(o) = parse_override(&arg) {
            if let Ok(mut spec) = parse_str(Path::new("f.yaml"), VALID[1]) {
                let _ = apply_overrides(&mut spec, &[o]);
            }
        }
    }
}

#[test]
fn the_valid_bases_are_valid() {
    for v in VALID {
        if let Err(e) = parse_str(Path::new("f.yaml"), v) {
            panic!("{e}");
        }
    }
}
