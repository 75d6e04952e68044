//! The `evaluate` stage end to end on real artifacts: a (barely trained) teacher from the
//! science crate's own stage, a (barely trained) judge, then every metric of the stage with
//! the stand-in HPS scorer. Checks metric keys with their settings, the data row, the FID
//! status events, the judge's page, the agreement of two judges, PSNR against the teacher and
//! the sample grid; values are not judged here (the unit tests of each metric do that).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_core::{
    CacheKey, Event, EventKind, EventSink, JobFile, JobId, RunId, StageKind, StageName, UpstreamJob,
};
use std::path::Path;

fn job(
    dir: &Path,
    name: &str,
    kind: StageKind,
    params: serde_json::Value,
    upstream: Vec<UpstreamJob>,
) -> JobFile {
    JobFile {
        pipeline: "t".into(),
        run_id: RunId(1),
        job: JobId(name.into()),
        stage: StageName(name.into()),
        kind,
        cache_key: CacheKey(format!("{name}-0123456789abcdef")),
        point: Default::default(),
        params: params.as_object().cloned().unwrap_or_default(),
        work_dir: dir.join(name).join("work"),
        job_dir: dir.join(name),
        events: dir.join(name).join("events.jsonl"),
        home: dir.join("home"),
        devices: vec![],
        upstream,
    }
}

fn upstream(j: &JobFile) -> UpstreamJob {
    UpstreamJob {
        job: j.job.clone(),
        stage: j.stage.clone(),
        kind: j.kind,
        cache_key: j.cache_key.clone(),
        point: Default::default(),
        params: j.params.clone(),
        artifact_dir: j.work_dir.clone(),
    }
}

fn run(
    j: &JobFile,
    f: fn(&JobFile, &mut EventSink) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<Event>> {
    std::fs::create_dir_all(&j.job_dir)?;
    {
        let mut sink = EventSink::open(&j.events, 0)?;
        f(j, &mut sink)?;
    }
    std::fs::read_to_string(&j.events)?
        .lines()
        .map(|l| Event::parse_line(l).map_err(|e| anyhow::anyhow!("{e}")))
        .collect::<anyhow::Result<Vec<_>>>()
}

/// A stage job made and run to success (the upstream of the evaluate jobs under test).
fn ran(
    dir: &Path,
    name: &str,
    kind: StageKind,
    params: serde_json::Value,
    upstream: Vec<UpstreamJob>,
    f: fn(&JobFile, &mut EventSink) -> anyhow::Result<()>,
) -> JobFile {
    let j = job(dir, name, kind, params, upstream);
    run(&j, f).unwrap_or_else(|e| panic!("{name} stage: {e:#}"));
    j
}

fn metric(evs: &[Event], k: &str) -> Option<f64> {
    evs.iter().rev().find_map(|e| match &e.kind {
        EventKind::Metric { key, value, .. } if key == k => Some(*value),
        _ => None,
    })
}

fn status<'a>(evs: &'a [Event], k: &str) -> Option<(&'a str, &'a str)> {
    evs.iter().find_map(|e| match &e.kind {
        EventKind::Status {
            state,
            key: Some(key),
            message,
        } if key == k => Some((state.as_str(), message.as_deref().unwrap_or(""))),
        _ => None,
    })
}

#[test]
fn evaluate_a_teacher_with_every_metric() {
    let dir = tempfile::tempdir().unwrap();
    let teacher = ran(
        dir.path(),
        "teacher",
        StageKind::Teacher,
        serde_json::json!({"iterations": 2, "batch": 8}),
        vec![],
        ddmd_science::run_teacher_stage,
    );
    let judge = ran(
        dir.path(),
        "judge",
        StageKind::Judge,
        serde_json::json!({"iterations": 10, "batch": 16, "held_out": 50, "min_accuracy": 0.0}),
        vec![],
        ddmd_eval::run_judge_stage,
    );

    std::env::set_var(
        "DDMD_HPS_SCORER",
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/stand_in_hps.py"),
    );
    let params = serde_json::json!({
        "sample_steps": [1, 2], "samples": 16, "batch": 8,
        "metrics": ["fid", "kid", "dpg", "pixels", "stability", "hps", "throughput"],
        "throughput_batches": [1, 2], "throughput_calls": 2
    });
    let ev = job(
        dir.path(),
        "evaluate",
        StageKind::Evaluate,
        params.clone(),
        vec![upstream(&teacher), upstream(&judge)],
    );
    let evs = run(&ev, ddmd_eval::run_evaluate_stage).expect("evaluate stage");
    for steps in [1, 2] {
        for k in [
            "fid",
            "kid",
            "dpg",
            "dpg@S/entity",
            "pixel_mean",
            "pixel_var",
            "pixel_saturated",
            "color_shift_r",
            "hps",
        ] {
            let key = if k.contains("@S") {
                k.replace("@S", &format!("@{steps}"))
            } else {
                format!("{k}@{steps}")
            };
            let v = metric(&evs, &key).unwrap_or_else(|| panic!("no metric {key}"));
            assert!(v.is_finite(), "{key} = {v}");
        }
        for bs in [1, 2] {
            for k in ["throughput", "median_ms", "p95_ms"] {
                assert!(
                    metric(&evs, &format!("{k}@{steps}/bs{bs}")).is_some_and(|v| v > 0.0),
                    "{k}@{steps}/bs{bs}"
                );
            }
        }
        assert_eq!(
            status(&evs, &format!("fid@{steps}")),
            Some(("info", "extractor=judge N=16 reference=same-prompt renders"))
        );
        assert!(ev.work_dir.join(format!("samples@{steps}.png")).is_file());
        let dpg = metric(&evs, &format!("dpg@{steps}")).unwrap();
        assert!((0.0..=100.0).contains(&dpg));
    }
    // stand-in HPS: all 16 files present, prompts are shapes prompts (≥ 9 words)
    assert!(metric(&evs, "hps@1").unwrap() >= 0.09);
    // a teacher has no stability.json: stated, not invented
    assert_eq!(status(&evs, "stability").map(|s| s.0), Some("unavailable"));
    assert!(ev.work_dir.join("ref_stats_16.npz").is_file());
    // The data row: every metric also measured on independent renders of the same prompts.
    for k in [
        "fid@data",
        "kid@data",
        "dpg@data",
        "dpg@data/entity",
        "sharpness@data",
        "saturation@data",
        "color_shift@data",
        "pixel_var_ratio@data",
    ] {
        let v = metric(&evs, k).unwrap_or_else(|| panic!("no metric {k}"));
        assert!(v.is_finite(), "{k} = {v}");
    }
    for k in ["sharpness@1", "saturation@2", "pixel_var_ratio@1"] {
        assert!(metric(&evs, k).is_some_and(|v| v > 0.0), "{k}");
    }
    let page = std::fs::read_to_string(ev.work_dir.join("judged@1.html")).unwrap();
    assert!(page.contains("judge read:"));
    assert!(ev.work_dir.join("judged@data.html").is_file());

    // a second evaluate with the same seed gives the same FID
    let ev2 = job(
        dir.path(),
        "evaluate2",
        StageKind::Evaluate,
        params,
        vec![upstream(&teacher), upstream(&judge)],
    );
    let evs2 = run(&ev2, ddmd_eval::run_evaluate_stage).unwrap();
    let (a, b) = (
        metric(&evs, "fid@1").unwrap(),
        metric(&evs2, "fid@1").unwrap(),
    );
    assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0), "{a} vs {b}");

    // Two judges: the agreement of the second with the first, per category; three: an error.
    let judge2 = ran(
        dir.path(),
        "judge2",
        StageKind::Judge,
        serde_json::json!({"iterations": 10, "batch": 16, "held_out": 50, "min_accuracy": 0.0,
                           "seed": 1, "width": 16}),
        vec![],
        ddmd_eval::run_judge_stage,
    );
    let both = serde_json::json!({"sample_steps": 1, "samples": 8, "batch": 8,
                                  "metrics": ["dpg"], "alpha": 2.0});
    let ev3 = job(
        dir.path(),
        "evaluate3",
        StageKind::Evaluate,
        both.clone(),
        vec![upstream(&teacher), upstream(&judge), upstream(&judge2)],
    );
    let evs3 = run(&ev3, ddmd_eval::run_evaluate_stage).unwrap();
    for k in [
        "judge_agreement@1",
        "judge_agreement@1/entity",
        "judge_agreement@data",
    ] {
        assert!(
            metric(&evs3, k).is_some_and(|v| (0.0..=100.0).contains(&v)),
            "{k}"
        );
    }
    let three = job(
        dir.path(),
        "evaluate4",
        StageKind::Evaluate,
        both,
        vec![
            upstream(&teacher),
            upstream(&judge),
            upstream(&judge2),
            upstream(&judge),
        ],
    );
    let err = format!(
        "{:#}",
        run(&three, ddmd_eval::run_evaluate_stage).unwrap_err()
    );
    assert!(err.contains("one judge, or two"), "{err}");

    // missing upstream judge, unknown metric: errors with a message
    let bad = job(
        dir.path(),
        "bad",
        StageKind::Evaluate,
        serde_json::json!({}),
        vec![upstream(&teacher)],
    );
    let err = format!(
        "{:#}",
        run(&bad, ddmd_eval::run_evaluate_stage).unwrap_err()
    );
    assert!(err.contains("upstream judge"), "{err}");
    let bad = job(
        dir.path(),
        "bad2",
        StageKind::Evaluate,
        serde_json::json!({"metrics": ["fdi"]}),
        vec![upstream(&teacher), upstream(&judge)],
    );
    let err = format!(
        "{:#}",
        run(&bad, ddmd_eval::run_evaluate_stage).unwrap_err()
    );
    assert!(
        err.contains("parameter `metrics`: item 1: unknown value `fdi`; expected one of fid, kid"),
        "{err}"
    );
}

/// PSNR of a student against its teacher from the same noise; `alpha` is refused for a student
/// and `psnr` without the teacher among the needs is an error, not a missing column.
#[test]
fn psnr_against_the_teacher_needs_the_teacher() {
    let dir = tempfile::tempdir().unwrap();
    let teacher = ran(
        dir.path(),
        "teacher",
        StageKind::Teacher,
        serde_json::json!({"iterations": 2, "batch": 8, "sample_steps": 4}),
        vec![],
        ddmd_science::run_teacher_stage,
    );
    let judge = ran(
        dir.path(),
        "judge",
        StageKind::Judge,
        serde_json::json!({"iterations": 5, "batch": 16, "held_out": 20, "min_accuracy": 0.0}),
        vec![],
        ddmd_eval::run_judge_stage,
    );
    let student = ran(
        dir.path(),
        "distill",
        StageKind::Distill,
        serde_json::json!({"iterations": 2, "batch": 4, "student_steps": 2, "fake_updates": 2}),
        vec![upstream(&teacher)],
        ddmd_science::run_distill_stage,
    );
    let params = serde_json::json!({"sample_steps": [1, 2], "samples": 8, "batch": 8,
                                    "metrics": ["psnr"], "psnr_samples": 4});
    let ev = job(
        dir.path(),
        "evaluate",
        StageKind::Evaluate,
        params.clone(),
        vec![upstream(&student), upstream(&judge), upstream(&teacher)],
    );
    let evs = run(&ev, ddmd_eval::run_evaluate_stage).unwrap();
    for k in ["psnr_teacher@1", "psnr_teacher@2"] {
        let v = metric(&evs, k).unwrap_or_else(|| panic!("no {k}"));
        assert!(v.is_finite() && v > 0.0, "{k} = {v}");
    }
    let no_teacher = job(
        dir.path(),
        "evaluate2",
        StageKind::Evaluate,
        params,
        vec![upstream(&student), upstream(&judge)],
    );
    let err = format!(
        "{:#}",
        run(&no_teacher, ddmd_eval::run_evaluate_stage).unwrap_err()
    );
    assert!(err.contains("add the teacher stage to needs"), "{err}");
    let alpha = job(
        dir.path(),
        "evaluate3",
        StageKind::Evaluate,
        serde_json::json!({"samples": 8, "metrics": ["pixels"], "alpha": 3.0}),
        vec![upstream(&student), upstream(&judge)],
    );
    let err = format!(
        "{:#}",
        run(&alpha, ddmd_eval::run_evaluate_stage).unwrap_err()
    );
    assert!(err.contains("samples without CFG"), "{err}");
}
