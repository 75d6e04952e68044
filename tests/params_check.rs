//! Every parameter of every built-in stage kind is checked before anything runs (issue 12):
//! an unknown key, a misspelled one (with the suggestion), a wrong type, an out-of-range value
//! and a bad enum value — written in the stage's `params`, in `defaults`, as a matrix axis and
//! with `--set` — each exits 2 at `validate` and at `run`, names the file, line and column (or
//! `--set`), the parameter's path and what was expected, and leaves the home untouched.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{snapshot, text, Env};

/// A valid pipeline of every built-in kind; `#<stage>` and `#defaults` mark where a case
/// inserts its lines.
const BASE: &str = "name: params-check
defaults:
  seed: 0
  data: { kind: shapes, resolution: 16, objects: [1, 2] }
#defaults
stages:
  teacher:
    kind: teacher
    params:
      iterations: 10
#teacher
  judge:
    kind: judge
    params:
      iterations: 10
#judge
  distill:
    kind: distill
    needs: [teacher]
    params:
      iterations: 10
#distill
  evaluate:
    kind: evaluate
    needs: [distill, judge]
    params:
      images_per_prompt: 2
#evaluate
  report:
    kind: report
    needs: [evaluate]
    params:
      title: t
#report
";

#[derive(Clone, Copy, Debug)]
enum Route {
    Params,
    Defaults,
    Matrix,
    Set,
}

struct Case {
    stage: &'static str,
    key: &'static str,
    /// As written in YAML (and after `=` in `--set`).
    value: &'static str,
    /// The message after the path.
    message: &'static str,
}

const fn case(
    stage: &'static str,
    key: &'static str,
    value: &'static str,
    message: &'static str,
) -> Case {
    Case {
        stage,
        key,
        value,
        message,
    }
}

/// For each built-in kind: unknown, misspelled, wrong type, out of range, bad enum value.
const CASES: &[Case] = &[
    case("teacher", "favourite_colour", "1", "unknown parameter; expected one of alpha, attn_res, batch, blocks"),
    case("teacher", "iteratons", "10", "unknown parameter (did you mean 'iterations'?)"),
    case("teacher", "batch", "big", "invalid type: string \"big\", expected a non-negative integer"),
    case("teacher", "ema", "1.5", "must be in [0, 1), got 1.5"),
    case("teacher", "solver", "rk4", "unknown value `rk4`; expected one of euler, heun"),
    case("judge", "favourite_colour", "1", "unknown parameter; expected one of batch, check_every, data, feature_dim"),
    case("judge", "min_acuracy", "0.9", "unknown parameter (did you mean 'min_accuracy'?)"),
    case("judge", "lr", "fast", "invalid type: string \"fast\", expected a number"),
    case("judge", "min_accuracy", "2", "must be in [0, 1], got 2"),
    case("judge", "held_out", "-5", "invalid value: integer `-5`, expected a non-negative integer"),
    case("distill", "favourite_colour", "1", "unknown parameter; expected one of alpha, batch, ca, checkpoint_every"),
    case("distill", "iteratons", "160", "unknown parameter (did you mean 'iterations'?)"),
    case("distill", "alpha", "strong", "invalid type: string \"strong\", expected a number"),
    case("distill", "student_steps", "9", "must be in 1..=8, got 9"),
    case("distill", "schedule", "hybird", "unknown value `hybird`; expected one of coupled, hybrid, constrained (did you mean 'hybrid'?)"),
    case("evaluate", "favourite_colour", "1", "unknown parameter; expected one of alpha, batch, checkpoint, dpg, fid, hps, images_per_prompt"),
    case("evaluate", "sample_step", "4", "unknown parameter (did you mean 'sample_steps'?)"),
    case("evaluate", "samples", "many", "invalid type: string \"many\", expected a non-negative integer"),
    case("evaluate", "samples", "1", "must be at least 2, got 1"),
    case("evaluate", "metrics", "fdi", "unknown value `fdi`; expected one of fid, kid, dpg, pixels, stability, hps, throughput, psnr (did you mean 'fid'?)"),
    case("report", "favourite_colour", "1", "unknown report parameter; expected one of title, description, output_dir"),
    case("report", "tittle", "t", "unknown report parameter (did you mean 'title'?)"),
];

/// The pipeline text of one case and the line and column of the bad value in it.
fn pipeline_of(c: &Case, route: Route) -> (String, Option<(usize, usize)>) {
    let (marker, line) = match route {
        Route::Params => (
            format!("#{}", c.stage),
            format!("      {}: {}", c.key, c.value),
        ),
        Route::Defaults => ("#defaults".to_string(), format!("  {}: {}", c.key, c.value)),
        Route::Matrix => (
            format!("#{}", c.stage),
            format!("    matrix:\n      {}: [{}]", c.key, c.value),
        ),
        Route::Set => return (BASE.to_string(), None),
    };
    let text = BASE.replace(&marker, &line);
    let last = line.lines().last().unwrap_or_default();
    let lineno = text
        .lines()
        .position(|l| l == last)
        .map(|i| i + 1)
        .expect("inserted line");
    let col = last.find(": ").map(|i| i + 3).expect("key: value");
    (text, Some((lineno, col)))
}

fn expected_path(c: &Case, route: Route) -> String {
    match route {
        Route::Params | Route::Set => format!("stages.{}.params.{}", c.stage, c.key),
        Route::Defaults => format!("defaults.{}", c.key),
        Route::Matrix => format!("stages.{}.matrix.{}", c.stage, c.key),
    }
}

/// The message for a route: an unknown key in `defaults` is one that no stage reads.
fn expected_message(c: &Case, route: Route) -> String {
    match (route, c.message.starts_with("unknown parameter")) {
        (Route::Defaults, true) => "unknown parameter".to_string(),
        _ => c.message.to_string(),
    }
}

#[test]
fn every_bad_parameter_is_named_where_it_was_written_and_nothing_runs() {
    let env = Env::new();
    // A home with a real database, so "untouched" means something.
    let seed = env.pipeline(
        "seed.yaml",
        "name: seed\nstages:\n  a: { kind: command, params: { run: \"true\" } }\n",
    );
    let out = env.run(&["run", seed.to_str().unwrap_or_default(), "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let before = snapshot(&env.home());

    let mut checked = 0;
    for c in CASES {
        for route in [Route::Params, Route::Defaults, Route::Matrix, Route::Set] {
            // Report keys are never inherited from defaults or swept.
            if c.stage == "report" && matches!(route, Route::Defaults | Route::Matrix) {
                continue;
            }
            let (text_of, at) = pipeline_of(c, route);
            let file = env.pipeline("p.yaml", &text_of);
            let file = file.to_str().unwrap_or_default();
            let set = format!("{}.{}={}", c.stage, c.key, c.value);
            for cmd in ["validate", "run"] {
                let mut args = vec![cmd, file];
                if matches!(route, Route::Set) {
                    args.extend(["--set", set.as_str()]);
                }
                let out = env.run(&args);
                let err = String::from_utf8_lossy(&out.stderr).to_string();
                let what = format!(
                    "{route:?} {} {}={}: {}",
                    c.stage,
                    c.key,
                    c.value,
                    text(&out)
                );
                assert_eq!(out.status.code(), Some(2), "{what}");
                let place = match at {
                    Some((l, col)) => format!("{file}:{l}:{col}: "),
                    None => "--set: ".to_string(),
                };
                let want = format!(
                    "{place}{}: {}",
                    expected_path(c, route),
                    expected_message(c, route)
                );
                assert!(err.contains(&want), "expected `{want}` in\n{what}");
                assert!(!err.contains("panicked"), "{what}");
                checked += 1;
            }
        }
    }
    assert_eq!(
        before,
        snapshot(&env.home()),
        "a bad parameter changed the home"
    );
    assert!(checked >= 150, "only {checked} checks");
}

/// The quickstart's mistakes of issue 12, exactly as a user sees them.
#[test]
fn the_quickstart_with_a_misspelled_parameter_is_refused() {
    let env = Env::new();
    let qs = std::fs::read_to_string(common::repo().join("pipelines/quickstart.yaml"))
        .expect("quickstart");
    for (from, to, want) in [
        (
            "iterations: 160",
            "iteratons: 160",
            "stages.distill.params.iteratons: unknown parameter (did you mean 'iterations'?)",
        ),
        (
            "schedule: hybrid",
            "schedule: hybird",
            "stages.distill.params.schedule: unknown value `hybird`; expected one of coupled, hybrid, constrained (did you mean 'hybrid'?)",
        ),
    ] {
        assert!(qs.contains(from));
        let p = env.pipeline("quickstart.yaml", &qs.replace(from, to));
        let out = env.run(&["validate", p.to_str().unwrap_or_default()]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("quickstart.yaml:") && err.contains(want), "{}", text(&out));
    }
}

/// Every pipeline we ship passes the check (a stricter check must not reject them).
#[test]
fn the_shipped_pipelines_are_valid() {
    let env = Env::new();
    let dir = common::repo().join("pipelines");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("pipelines").flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("yaml") {
            continue;
        }
        let out = env.run(&["validate", p.to_str().unwrap_or_default()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            p.display(),
            text(&out)
        );
        n += 1;
    }
    assert!(n >= 3);
}

/// A bad value given with `--set` for a key the file also sets is named as `--set`, not by the
/// line of the file whose value it replaced.
#[test]
fn a_bad_override_of_a_key_in_the_file_is_named_as_set() {
    let env = Env::new();
    let qs = common::repo().join("pipelines/quickstart.yaml");
    let out = env.run(&[
        "validate",
        qs.to_str().unwrap_or_default(),
        "--set",
        "distill.schedule=hybird",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--set: stages.distill.params.schedule: unknown value `hybird`"),
        "{}",
        text(&out)
    );
    assert!(!err.contains("quickstart.yaml:"), "{}", text(&out));
    // Unscoped: the value lands in defaults and in the stages that hold the key.
    let out = env.run(&[
        "validate",
        qs.to_str().unwrap_or_default(),
        "--set",
        "seed=-1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--set: defaults.seed: invalid value: integer `-1`"),
        "{}",
        text(&out)
    );
}
