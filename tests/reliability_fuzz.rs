//! CLI-level fuzzing (issue 9, item 2), bounded for CI: random mutations of valid pipelines go
//! through the real binary (`validate`, and `plan` for one case in four, which also opens the
//! database). Every case must end within 30 s, exit 0 (still valid) or 2 (bad input), and print
//! no panic. Exit 1 fails the test too: with a healthy home, `validate` and `plan` have no job
//! that could fail, so a 1 would be bad input reported as something else (no file and line).
//!
//! The parser's own proptest lives in `crates/pipeline/tests/fuzz.rs`; this one covers what lies
//! between the file and the exit code (spec loading, `--set`, planning, command rendering).
//! `DDMD_FUZZ_CASES` (default 240) and `DDMD_FUZZ_SEED` scale and replay it; a failing input
//! is saved under `target/reliability-fuzz/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{repo, Env};
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INLINE_SEED: &str = r#"name: fuzz
description: seed pipeline for mutations
defaults: { seed: 0, lr: 0.1, data: { res: 16, objects: [1, 3] } }
stages:
  prep:
    kind: command
    inputs: []
    params: { run: "echo {{ seed }}" }
  train:
    kind: command
    needs: [prep]
    resources: { gpus: 1, cpus: 1 }
    matrix:
      width: [1, 2]
      terms:
        - { name: "CA + DM", ca: 1.0, dm: 1.0 }
        - { name: "CA only", ca: 1.0, dm: 0.0 }
    exclude: [ { width: 2, terms: "CA only" } ]
    include: [ { width: 3, terms: "CA + DM" } ]
    retries: 1
    timeout: 10m
    params: { run: "echo {{ width }} {{ ca }} {{ lr }}" }
  summary:
    kind: command
    needs: [train]
    fan_in: true
    params: { run: "echo {{ needs.train | length }}" }
  report:
    kind: report
    needs: [train]
    params:
      tables:
        - { title: T, rows: terms, columns: [loss] }
"#;

/// YAML-significant fragments that make mutations reach deeper than random bytes.
const TOKENS: &[&str] = &[
    ":",
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "<<: *a",
    "\t",
    "---\n",
    "!!str ",
    "!!binary ",
    "'",
    "\"",
    "#",
    "|\n",
    ">-\n",
    "~",
    "null",
    "-1",
    "1e400",
    "99999999999999999999",
    ".nan",
    "0x1F",
    "true",
    "needs: [train]",
    "kind: ",
    "matrix: {}",
    "{{ ",
    " }}",
    "{% for %}",
    "\u{0}",
    "\u{feff}",
    "é",
    "\u{202e}",
    "\n  ",
    "\n    ",
    "? ",
    "%YAML 1.2\n",
];

fn mutate(rng: &mut Rng, seed: &str) -> Vec<u8> {
    let mut b = seed.as_bytes().to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let at = rng.below(b.len() + 1);
        match rng.below(9) {
            0 => {
                let n = rng.below(16).min(b.len() - at.min(b.len()));
                b.drain(at..at + n);
            }
            1 => b.insert(at, rng.next() as u8),
            2 | 3 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                b.splice(at..at, t.iter().copied());
            }
            4 => {
                // Duplicate a line (duplicate keys, repeated stages).
                let text = String::from_utf8_lossy(&b).into_owned();
                let lines: Vec<&str> = text.lines().collect();
                let i = rng.below(lines.len());
                let mut v: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
                v.insert(i, lines.get(i).unwrap_or(&"").to_string());
                b = (v.join("\n") + "\n").into_bytes();
            }
            5 => {
                // Re-indent a line.
                let text = String::from_utf8_lossy(&b).into_owned();
                let mut v: Vec<String> = text.lines().map(str::to_string).collect();
                let i = rng.below(v.len());
                if let Some(l) = v.get_mut(i) {
                    if rng.below(2) == 0 {
                        l.insert_str(0, "  ");
                    } else {
                        *l = l.trim_start().to_string();
                    }
                }
                b = (v.join("\n") + "\n").into_bytes();
            }
            6 => {
                // Swap two lines.
                let text = String::from_utf8_lossy(&b).into_owned();
                let mut v: Vec<String> = text.lines().map(str::to_string).collect();
                let (i, j) = (rng.below(v.len()), rng.below(v.len()));
                if i < v.len() && j < v.len() {
                    v.swap(i, j);
                }
                b = (v.join("\n") + "\n").into_bytes();
            }
            7 => b.truncate(at),
            _ => {
                // Replace a number with an extreme one.
                let text = String::from_utf8_lossy(&b).into_owned();
                let digits: Vec<usize> = text
                    .char_indices()
                    .filter(|(_, c)| c.is_ascii_digit())
                    .map(|(i, _)| i)
                    .collect();
                if !digits.is_empty() {
                    let i = digits[rng.below(digits.len())];
                    let rep =
                        ["-7", "0", "1e308", "18446744073709551616", "3.5", ".inf"][rng.below(6)];
                    let mut t = text.clone();
                    t.replace_range(i..i + 1, rep);
                    b = t.into_bytes();
                }
            }
        }
    }
    b
}

struct Outcome {
    code: Option<i32>,
    stderr: String,
    wall: Duration,
}

fn run_case(env: &Env, args: &[&str]) -> Outcome {
    let t = Instant::now();
    let mut child = env
        .cmd()
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut se = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = se.read_to_end(&mut s);
        s
    });
    let code = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break st.code();
        }
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            break Some(-1);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        code,
        stderr: String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned(),
        wall: t.elapsed(),
    }
}

#[test]
fn mutated_pipelines_never_panic_or_hang() {
    let cases: usize = std::env::var("DDMD_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(240);
    let seed: u64 = std::env::var("DDMD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00dd_0d0d);
    let seeds = [
        INLINE_SEED.to_string(),
        std::fs::read_to_string(repo().join("pipelines/sweep.yaml")).expect("sweep.yaml"),
        std::fs::read_to_string(repo().join("tests/bad_pipelines/args/base.yml")).expect("base"),
    ];
    // Two workers: the binary's start-up (libtorch) dominates, and the machine has 2 cores.
    let workers = 2;
    let results: Vec<(usize, [usize; 3], Duration)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let seeds = &seeds;
                s.spawn(move || {
                    let env = Env::new();
                    let mut rng =
                        Rng((seed ^ (w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
                    let mut counts = [0usize; 3];
                    let mut max_wall = Duration::ZERO;
                    let mut n = 0;
                    for case in (w..cases).step_by(workers) {
                        let base = &seeds[rng.below(seeds.len())];
                        let input = mutate(&mut rng, base);
                        let file = env.path().join(format!("case{case}.yaml"));
                        std::fs::write(&file, &input).expect("write case");
                        let f = file.to_str().unwrap_or_default();
                        let args: Vec<&str> = if case % 4 == 3 {
                            vec!["plan", f, "--set", "lr=0.5,0.05"]
                        } else {
                            vec!["validate", f]
                        };
                        let o = run_case(&env, &args);
                        let bad = !matches!(o.code, Some(0 | 2))
                            || o.stderr.contains("panicked")
                            || o.stderr.contains("stack backtrace");
                        if bad {
                            let dir = repo().join("target").join("reliability-fuzz");
                            let _ = std::fs::create_dir_all(&dir);
                            let keep = dir.join(format!("case{case}.yaml"));
                            let _ = std::fs::write(&keep, &input);
                            panic!(
                                "case {case} ({args:?}, input saved to {}): exit {:?}\n{}",
                                keep.display(),
                                o.code,
                                o.stderr
                            );
                        }
                        if let Some(c) = o.code {
                            counts[c as usize] += 1;
                        }
                        max_wall = max_wall.max(o.wall);
                        n += 1;
                    }
                    (n, counts, max_wall)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("fuzz worker"))
            .collect()
    });
    let total: usize = results.iter().map(|r| r.0).sum();
    let mut counts = [0usize; 3];
    for r in &results {
        for (c, n) in counts.iter_mut().zip(r.1) {
            *c += n;
        }
    }
    let max_wall = results.iter().map(|r| r.2).max().unwrap_or_default();
    assert_eq!(total, cases);
    // The mutations must reach both sides: some still valid, most rejected as bad input.
    assert!(counts[2] > cases / 4, "too few rejected: {counts:?}");
    assert!(counts[0] > 0, "no mutation stayed valid: {counts:?}");
    eprintln!(
        "fuzz: {total} mutated pipelines (seed {seed}): exit 0: {}, exit 1: {}, exit 2: {}; max wall {max_wall:?}",
        counts[0], counts[1], counts[2]
    );
}
