//! Stage-level tests: resume after a real crash (the process aborts right after a
//! checkpoint and is restarted) for the teacher and for distillation, noise-level ranges per
//! schedule, batched teacher calls.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_core::EventSink;
use ddmd_science::data::{ShapesConfig, ShapesWorld};
use ddmd_science::distill::levels::{NoiseDraw, Schedule, TauRange};
use ddmd_science::distill::loss::{generator_loss, LossConfig, RegInputs};
use ddmd_science::distill::{train_student, TeacherSource, STUDENT_FILE};
use ddmd_science::nets::Network;
use ddmd_science::params::{DistillParams, TeacherParams};
use ddmd_science::regularize::Regularizer;
use ddmd_science::teacher::{teacher_spec, train_teacher};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use tch::{Device, Kind, Tensor};

fn tiny_params() -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(
        r#"{"iterations": 6, "batch": 4, "widths": [8, 16], "emb_dim": 16, "token_dim": 16,
            "checkpoint_every": 3, "sample_steps": 2, "warmup": 2, "seed": 7}"#,
    )
    .unwrap()
}

fn run_tiny_teacher(dir: &Path) {
    let m = tiny_params();
    let p = TeacherParams::from_map(&m).unwrap();
    let mut sink = EventSink::open(&dir.join("events.jsonl"), 0).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    train_teacher(
        &p,
        &ShapesConfig::default(),
        None,
        dir,
        Device::Cpu,
        &mut sink,
    )
    .unwrap();
}

/// Entry point of the child process of `resume_after_crash_gives_identical_weights`.
#[test]
#[ignore]
fn child_teacher_run() {
    if let Some(dir) = std::env::var_os("DDMD_TEST_CHILD_DIR") {
        run_tiny_teacher(Path::new(&dir));
    }
}

fn weights(path: &Path) -> HashMap<String, Tensor> {
    Tensor::read_safetensors(path)
        .unwrap()
        .into_iter()
        .collect()
}

/// The iterations the `resumed_from` metrics of an events file name (step = value).
fn resumed_at(events: &str) -> Vec<i64> {
    events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["type"] == "metric" && e["key"] == ddmd_core::metrics::RESUMED_FROM)
        .map(|e| {
            let step = e["step"].as_i64().unwrap();
            assert_eq!(e["value"].as_f64(), Some(step as f64), "{e}");
            step
        })
        .collect()
}

#[test]
fn resume_after_crash_gives_identical_weights() {
    let root = tempfile::tempdir().unwrap();
    // Both runs in child processes: the test harness runs other tests on threads of this
    // process at the same time, and torch's reductions may then split work differently, which
    // moves results by an ulp; two fresh processes compute alike.
    let straight = root.path().join("straight");
    std::fs::create_dir_all(&straight).unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_teacher_run", "--nocapture"])
        .env("DDMD_TEST_CHILD_DIR", &straight)
        .status()
        .unwrap();
    assert!(status.success(), "the straight run failed");

    // A real process, aborted (SIGABRT) after iteration 4: the checkpoint of iteration 3 exists,
    // iteration 4's work is lost.
    let crashed = root.path().join("crashed");
    std::fs::create_dir_all(&crashed).unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_teacher_run", "--nocapture"])
        .env("DDMD_TEST_CHILD_DIR", &crashed)
        .env("DDMD_ABORT_AFTER_ITER", "4")
        .status()
        .unwrap();
    assert!(!status.success(), "the child should have crashed");
    assert!(
        crashed.join("ckpt/it-00000003").is_dir(),
        "checkpoint of iteration 3 missing"
    );
    assert!(
        !crashed.join("ema.safetensors").exists(),
        "the crashed run must not have finished"
    );
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_teacher_run", "--nocapture"])
        .env("DDMD_TEST_CHILD_DIR", &crashed)
        .status()
        .unwrap();
    assert!(status.success(), "the resumed run failed");
    let events = std::fs::read_to_string(crashed.join("events.jsonl")).unwrap();
    assert!(
        events.contains("resumed from"),
        "the restart did not resume"
    );
    assert_eq!(
        resumed_at(&events),
        vec![3],
        "the marker a report joins curves by"
    );

    let a = weights(&straight.join("ema.safetensors"));
    let b = weights(&crashed.join("ema.safetensors"));
    assert_eq!(a.len(), b.len());
    for (k, t) in &a {
        let d = (t - &b[k]).abs().max().double_value(&[]);
        assert!(d == 0.0, "{k} differs by {d} after resume");
    }
    // And training did move the weights (the comparison is not between two untouched inits).
    let init = Network::build(
        &teacher_spec(
            &TeacherParams::from_map(&tiny_params()).unwrap(),
            &ShapesConfig::default(),
            ShapesWorld::new(ShapesConfig::default()).vocab().len(),
        ),
        Device::Cpu,
    )
    .unwrap();
    let moved = init
        .named_parameters()
        .iter()
        .map(|(k, t)| (t - &a[k]).abs().max().double_value(&[]))
        .fold(0.0, f64::max);
    assert!(moved > 1e-4);
}

fn tiny_distill_params(regularizer: &str) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(&format!(
        r#"{{"iterations": 6, "batch": 3, "fake_updates": 2, "checkpoint_every": 3,
            "monitor_every": 2, "regularizer": "{regularizer}", "seed": 5}}"#
    ))
    .unwrap()
}

/// The tiny teacher every distill test uses, trained once per test into `dir/teacher`.
fn tiny_teacher(root: &Path) -> std::path::PathBuf {
    let dir = root.join("teacher");
    std::fs::create_dir_all(&dir).unwrap();
    run_tiny_teacher(&dir);
    dir
}

fn run_tiny_distill(teacher: &Path, regularizer: &str, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let m = tiny_distill_params(regularizer);
    let p = DistillParams::from_map(&m).unwrap();
    let mut sink = EventSink::open(&dir.join("events.jsonl"), 0).unwrap();
    train_student(
        &p,
        &TeacherSource::Artifact(teacher.to_path_buf()),
        &m,
        dir,
        Device::Cpu,
        &mut sink,
    )
    .unwrap();
}

/// Entry point of the child process of `distill_resume_after_crash_gives_identical_weights`.
#[test]
#[ignore]
fn child_distill_run() {
    if let (Some(t), Some(dir), Ok(reg)) = (
        std::env::var_os("DDMD_TEST_TEACHER_DIR"),
        std::env::var_os("DDMD_TEST_CHILD_DIR"),
        std::env::var("DDMD_TEST_REGULARIZER"),
    ) {
        if std::env::var_os("DDMD_TEST_DRAW_FIRST").is_some() {
            // Random draws before training, as a longer-lived process would have made: the
            // run must not depend on them (everything random follows the run's seed).
            let _ = Tensor::randn([1000], (Kind::Float, Device::Cpu));
        }
        run_tiny_distill(Path::new(&t), &reg, Path::new(&dir));
    }
}

/// A distill process killed after iteration 4 and restarted resumes from the checkpoint of
/// iteration 3 (student, fake score, both optimisers, the GAN discriminator, the monitor) and
/// ends with exactly the weights of an uninterrupted run — which made random draws of its own
/// before starting, so the GAN head's initialisation must come from the run's seed.
#[test]
fn distill_resume_after_crash_gives_identical_weights() {
    let root = tempfile::tempdir().unwrap();
    let teacher = tiny_teacher(root.path());
    for reg in ["dm", "gan"] {
        // Every run in a child process (see the teacher test for why).
        let child = |dir: &Path, abort: Option<&str>, draw_first: bool| {
            std::fs::create_dir_all(dir).unwrap();
            let mut c = Command::new(std::env::current_exe().unwrap());
            c.args(["--ignored", "--exact", "child_distill_run", "--nocapture"])
                .env("DDMD_TEST_TEACHER_DIR", &teacher)
                .env("DDMD_TEST_CHILD_DIR", dir)
                .env("DDMD_TEST_REGULARIZER", reg);
            if let Some(n) = abort {
                c.env("DDMD_ABORT_AFTER_ITER", n);
            }
            if draw_first {
                c.env("DDMD_TEST_DRAW_FIRST", "1");
            }
            c.status().unwrap().success()
        };
        let straight = root.path().join(format!("straight-{reg}"));
        assert!(
            child(&straight, None, true),
            "{reg}: the straight run failed"
        );

        let crashed = root.path().join(format!("crashed-{reg}"));
        assert!(
            !child(&crashed, Some("4"), false),
            "{reg}: the child should have crashed"
        );
        assert!(
            crashed.join("ckpt/it-00000003").is_dir(),
            "{reg}: checkpoint of iteration 3 missing"
        );
        assert!(
            !crashed.join(STUDENT_FILE).exists(),
            "{reg}: finished early"
        );
        assert!(
            child(&crashed, None, false),
            "{reg}: the resumed run failed"
        );
        let events = std::fs::read_to_string(crashed.join("events.jsonl")).unwrap();
        assert!(events.contains("resumed from"), "{reg}: did not resume");
        assert_eq!(resumed_at(&events), vec![3], "{reg}: the resume marker");

        let a = weights(&straight.join(STUDENT_FILE));
        let b = weights(&crashed.join(STUDENT_FILE));
        assert_eq!(a.len(), b.len());
        for (k, t) in &a {
            let d = (t - &b[k]).abs().max().double_value(&[]);
            assert!(d == 0.0, "{reg}: {k} differs by {d} after resume");
        }
        let s1 = std::fs::read_to_string(straight.join("stability.json")).unwrap();
        let s2 = std::fs::read_to_string(crashed.join("stability.json")).unwrap();
        assert_eq!(s1, s2, "{reg}: monitor state differs after resume");
    }
}

#[test]
fn noise_levels_obey_their_ranges() {
    let range = TauRange::default();
    let shape = [4096i64, 3, 2, 2];
    for &t in &[0.0, 0.25, 0.5, 0.75, 0.875] {
        let lo_dm = |x: &Tensor| x.min().double_value(&[]);
        let hi = |x: &Tensor| x.max().double_value(&[]);
        let d = NoiseDraw::sample(Schedule::Coupled, t, &shape, range, Device::Cpu);
        assert_eq!(
            (&d.tau_ca - &d.tau_dm).abs().max().double_value(&[]),
            0.0,
            "coupled shares τ"
        );
        assert_eq!(
            (&d.eps_ca - &d.eps_dm).abs().max().double_value(&[]),
            0.0,
            "coupled shares ε"
        );
        assert!(lo_dm(&d.tau_ca) > 0.0 && hi(&d.tau_ca) < 1.0);
        assert!(
            lo_dm(&d.tau_ca) < 0.1,
            "coupled covers the noisy end even for t = {t}"
        );

        let d = NoiseDraw::sample(Schedule::Hybrid, t, &shape, range, Device::Cpu);
        assert!(
            lo_dm(&d.tau_ca) > t && hi(&d.tau_ca) <= 1.0,
            "hybrid τ_CA ∈ (t, 1] for t = {t}"
        );
        assert!(
            lo_dm(&d.tau_dm) > 0.0 && hi(&d.tau_dm) < 1.0 && lo_dm(&d.tau_dm) < 0.1,
            "hybrid τ_DM ∈ (0, 1)"
        );
        assert!(
            (&d.eps_ca - &d.eps_dm).abs().max().double_value(&[]) > 0.0,
            "independent noises"
        );

        let d = NoiseDraw::sample(Schedule::Constrained, t, &shape, range, Device::Cpu);
        assert!(lo_dm(&d.tau_ca) > t && hi(&d.tau_ca) <= 1.0);
        assert!(
            lo_dm(&d.tau_dm) > t && hi(&d.tau_dm) <= 1.0,
            "constrained τ_DM ∈ (t, 1]"
        );
        assert!(
            (&d.tau_ca - &d.tau_dm).abs().max().double_value(&[]) > 0.0,
            "independent levels"
        );
    }
}

#[test]
fn batched_teacher_calls_equal_unbatched() {
    tch::manual_seed(3);
    let world = ShapesWorld::new(ShapesConfig::default());
    let p = TeacherParams::from_map(&tiny_params()).unwrap();
    let mut teacher = Network::build(
        &teacher_spec(&p, &ShapesConfig::default(), world.vocab().len()),
        Device::Cpu,
    )
    .unwrap();
    // Zero-initialised output layers would make every call return 0: perturb all weights.
    tch::no_grad(|| {
        for (_, mut t) in teacher.named_parameters() {
            let _ = t.g_add_(&(t.randn_like() * 0.2));
        }
    });
    teacher.freeze();
    let fake = teacher.duplicate().unwrap();
    tch::no_grad(|| {
        for (_, mut t) in fake.named_parameters() {
            let _ = t.g_add_(&(t.randn_like() * 0.05));
        }
    });
    let batch = world.batch(1, 0, 6);
    let x = (batch.images.shallow_clone() * 0.9).set_requires_grad(true);
    let draw = NoiseDraw::sample(
        Schedule::Hybrid,
        0.25,
        &x.size(),
        TauRange::default(),
        Device::Cpu,
    );
    let mut cfg = LossConfig {
        alpha: 4.0,
        ca: 1.0,
        dm: 1.0,
        regularizer: Regularizer::Dm,
        norm_eps: 1e-4,
        batched: true,
        full: true,
    };
    let reg = RegInputs {
        data: None,
        gan: None,
    };
    let a = generator_loss(&x, &batch.tokens, &draw, &teacher, &fake, &reg, &cfg).unwrap();
    cfg.batched = false;
    let b = generator_loss(&x, &batch.tokens, &draw, &teacher, &fake, &reg, &cfg).unwrap();
    assert!(
        a.delta_ca > 1e-4 && a.delta_dm > 1e-4,
        "both Δ must be non-trivial: {} {}",
        a.delta_ca,
        a.delta_dm
    );
    for (u, v, what) in [
        (a.loss.double_value(&[]), b.loss.double_value(&[]), "loss"),
        (a.loss_ca, b.loss_ca, "loss_ca"),
        (a.loss_dm, b.loss_dm, "loss_dm"),
        (a.delta_ca, b.delta_ca, "delta_ca"),
        (a.delta_dm, b.delta_dm, "delta_dm"),
    ] {
        assert!(
            (u - v).abs() <= 1e-5 * u.abs().max(1.0),
            "{what}: batched {u} vs unbatched {v}"
        );
    }
    let ga = Tensor::run_backward(&[&a.loss], &[&x], true, false).remove(0);
    let gb = Tensor::run_backward(&[&b.loss], &[&x], true, false).remove(0);
    let scale = ga.abs().max().double_value(&[]);
    assert!(scale > 0.0);
    assert!(
        (ga - gb).abs().max().double_value(&[]) / scale <= 1e-5,
        "gradients differ"
    );
    let _ = Kind::Float;
}
