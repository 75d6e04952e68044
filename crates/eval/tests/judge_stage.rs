//! The judge end to end on real files: an untrained judge fails its accuracy check with the
//! table; save/load round-trips; the `judge` stage writes its artifacts and events and fails
//! below the threshold; `fid_command` works on image folders and `.npz` files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_core::{
    CacheKey, Event, EventKind, EventSink, JobFile, JobId, RunId, StageKind, StageName,
};
use ddmd_eval::{fid_command, judge_accuracy, run_judge_stage, FidArgs, Judge, JudgeConfig};
use ddmd_science::data::{image_to_png, ShapesConfig, ShapesWorld};
use std::path::Path;
use tch::Device;

fn job(dir: &Path, params: serde_json::Value) -> JobFile {
    JobFile {
        pipeline: "t".into(),
        run_id: RunId(1),
        job: JobId("judge".into()),
        stage: StageName("judge".into()),
        kind: StageKind::Judge,
        cache_key: CacheKey("0123456789abcdef".into()),
        point: Default::default(),
        params: params.as_object().cloned().unwrap_or_default(),
        work_dir: dir.join("work"),
        job_dir: dir.to_path_buf(),
        events: dir.join("events.jsonl"),
        home: dir.join("home"),
        devices: vec![],
        upstream: vec![],
    }
}

fn events(p: &Path) -> Vec<Event> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| Event::parse_line(l).unwrap())
        .collect()
}

#[test]
fn untrained_judge_fails_check_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    tch::manual_seed(0);
    let j = Judge::new(JudgeConfig::default(), Device::Cpu);
    let cfg = ShapesConfig::default();
    let acc = judge_accuracy(&j, &cfg, 200, 0).unwrap();
    assert_eq!(acc.per_category.len(), 5, "{acc:?}");
    let err = acc.check(0.98).unwrap_err().to_string();
    assert!(
        err.contains("judge accuracy below 98%") && err.contains("entity"),
        "{err}"
    );
    j.save(dir.path()).unwrap();
    let back = Judge::load(dir.path(), Device::Cpu).unwrap();
    let imgs = ShapesWorld::new(cfg).batch(1, 0, 8).images;
    let (a, b) = (j.features(&imgs).unwrap(), back.features(&imgs).unwrap());
    assert_eq!(a.size(), vec![8, 256]);
    assert!(a.allclose(&b, 0.0, 0.0, false));
    assert_eq!(back.predict(&imgs).unwrap().len(), 8);
    assert!(Judge::load(&dir.path().join("nope"), Device::Cpu).is_err());
    assert!(j
        .features(&tch::Tensor::zeros([2, 3], (tch::Kind::Float, Device::Cpu)))
        .is_err());
}

#[test]
fn judge_stage_writes_artifacts_and_enforces_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let j = job(
        dir.path(),
        serde_json::json!({"iterations": 20, "batch": 16, "held_out": 100, "min_accuracy": 0.0, "log_every": 5}),
    );
    {
        let mut sink = EventSink::open(&j.events, 0).unwrap();
        run_judge_stage(&j, &mut sink).unwrap();
    }
    assert!(j.work_dir.join("judge.safetensors").is_file());
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(j.work_dir.join("judge.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["accuracy"].as_object().unwrap().len(), 5);
    let evs = events(&j.events);
    let keys: Vec<String> = evs
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Metric { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect();
    for k in [
        "judge/loss",
        "judge/acc/entity",
        "judge/acc/attribute",
        "judge/acc/relation",
        "judge/acc/count",
        "judge/acc/global",
    ] {
        assert!(keys.iter().any(|x| x == k), "missing {k} in {keys:?}");
    }
    assert!(evs
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Artifact { name, .. } if name == "judge")));

    // 3 iterations cannot reach 99%: the stage fails, with the table in the error
    let dir2 = tempfile::tempdir().unwrap();
    let j2 = job(
        dir2.path(),
        serde_json::json!({"iterations": 3, "batch": 8, "held_out": 50, "min_accuracy": 0.99}),
    );
    let mut sink = EventSink::open(&j2.events, 0).unwrap();
    let err = format!("{:#}", run_judge_stage(&j2, &mut sink).unwrap_err());
    assert!(
        err.contains("judge accuracy below 99%") && err.contains("held-out scenes"),
        "{err}"
    );
    // bad parameters are errors, not panics
    let j3 = job(dir2.path(), serde_json::json!({"iterations": "many"}));
    assert!(run_judge_stage(&j3, &mut sink).is_err());
}

#[test]
fn fid_command_on_folders_and_npz() {
    let dir = tempfile::tempdir().unwrap();
    let jdir = dir.path().join("judge");
    tch::manual_seed(1);
    Judge::new(JudgeConfig::default(), Device::Cpu)
        .save(&jdir)
        .unwrap();
    let world = ShapesWorld::new(ShapesConfig::default());
    for (name, seed) in [("a", 1u64), ("b", 2)] {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..40 {
            let s = world.scene(seed, i);
            std::fs::write(
                d.join(format!("{i}.png")),
                image_to_png(&world.render(&s), 16),
            )
            .unwrap();
        }
    }
    let args = |a: &str, b: &str| FidArgs {
        a: dir.path().join(a),
        b: dir.path().join(b),
        features: "judge".into(),
        judge: Some(jdir.clone()),
        dims: None,
        batch: 16,
        device: "cpu".into(),
        save_stats: Some(dir.path().join("stats")),
    };
    // 40 images < 256 dims: singular covariances, so the self-distance is zero only up to
    // the square roots of round-off eigenvalues (pytorch-fid behaves the same).
    let same = fid_command(args("a", "a")).unwrap();
    assert!(same.abs() < 1e-3, "{same}");
    let ab = fid_command(args("a", "b")).unwrap();
    assert!(ab > 100.0 * same.abs(), "{ab} vs {same}");
    // the saved statistics give the same value
    let from_npz = fid_command(args("stats/a.npz", "stats/b.npz")).unwrap();
    assert!(
        (from_npz - ab).abs() < 1e-9 * ab.max(1.0),
        "{from_npz} vs {ab}"
    );
    let mut bad = args("a", "b");
    bad.dims = Some(2048);
    assert!(fid_command(bad).unwrap_err().to_string().contains("--dims"));
    let mut bad = args("a", "missing");
    bad.save_stats = None;
    assert!(fid_command(bad).is_err());
    let mut bad = args("a", "b");
    bad.judge = None;
    assert!(fid_command(bad).is_err());
    let mut bad = args("a", "b");
    bad.device = "tpu".into();
    assert!(fid_command(bad).is_err());
}
