//! The default judge recipe on the default (quickstart) world, one thread as the worker gives
//! the stage: every question category must reach the stage's 98% on held-out scenes, within
//! the time the quickstart can afford. Prints the table and the seconds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_core::EventSink;
use ddmd_eval::{judge_accuracy, train_judge_with, JudgeTrainParams};
use ddmd_science::data::ShapesConfig;
use tch::Device;

#[test]
fn default_judge_passes_every_category_fast() {
    tch::set_num_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let mut sink = EventSink::open(&dir.path().join("events.jsonl"), 0).unwrap();
    let cfg = ShapesConfig::default();
    let p = JudgeTrainParams::default();
    let t = std::time::Instant::now();
    let judge = train_judge_with(&cfg, &p, Device::Cpu, &mut sink).unwrap();
    let train_s = t.elapsed().as_secs_f64();
    let acc = judge_accuracy(&judge, &cfg, 2000, p.seed).unwrap();
    eprintln!(
        "judge: {} iterations in {train_s:.1} s (1 thread)\n{}",
        judge.config.iterations,
        acc.render()
    );
    acc.check(0.98).unwrap();
    // Early stopping must have fired well before the cap (it is what keeps this fast).
    assert!(judge.config.iterations < p.iterations, "{:?}", judge.config);
    // Generous against a loaded shared machine; about 20–30 s when the core is free.
    assert!(train_s < 240.0, "judge training took {train_s:.1} s");
}

#[test]
fn judge_of_an_older_architecture_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    ddmd_eval::Judge::new(ddmd_eval::JudgeConfig::default(), Device::Cpu)
        .save(dir.path())
        .unwrap();
    let path = dir.path().join("judge.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // version 1 files had no version field
    cfg.as_object_mut().unwrap().remove("version");
    std::fs::write(&path, cfg.to_string()).unwrap();
    let err = ddmd_eval::Judge::load(dir.path(), Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("retrain"), "{err}");
    // too small a feature vector cannot hold nine cell embeddings and the background
    let cfg = ddmd_eval::JudgeConfig {
        feature_dim: 9,
        ..Default::default()
    };
    assert!(cfg.validate().is_err());
}
