//! The `judge` stage: train the judge on the job's shapes world, record its accuracy per
//! question category, save it into the work dir, and fail (with the table) when it is not
//! good enough to be trusted.

use crate::judge_train::{judge_accuracy, train_judge_with, JudgeTrainParams};
use anyhow::Context;
use ddmd_core::params::JudgeParams;
use ddmd_core::{EventSink, JobFile};
use ddmd_science::data::ShapesConfig;

pub fn run_judge_stage(job: &JobFile, sink: &mut EventSink) -> anyhow::Result<()> {
    let p = &job.params;
    let cfg = ShapesConfig::from_params(p)?;
    let jp: JudgeParams = ddmd_core::params::parse(p)?;
    let tp = JudgeTrainParams::from(&jp);
    let held_out = jp.held_out;
    let threshold = jp.min_accuracy;
    let device = ddmd_science::device_for_job();
    sink.log(format!(
        "judge: at most {} iterations (stop at {:.1}% per category), batch {}, resolution {}, objects {}..={}, device {device:?}, threads {}",
        tp.iterations, tp.target * 100.0, tp.batch, cfg.resolution, cfg.min_objects, cfg.max_objects, tch::get_num_threads()
    ))?;
    let t = std::time::Instant::now();
    let mut judge = train_judge_with(&cfg, &tp, device, sink)?;
    let acc = judge_accuracy(&judge, &cfg, held_out, tp.seed)?;
    let ran = judge.config.iterations as i64;
    for (cat, v) in &acc.per_category {
        sink.metric(&format!("judge/acc/{cat}"), ran, *v)?;
    }
    sink.metric("judge/train_s", ran, t.elapsed().as_secs_f64())?;
    sink.log(format!(
        "judge accuracy on held-out scenes:\n{}",
        acc.render()
    ))?;
    judge.config.accuracy = acc.per_category.clone();
    std::fs::create_dir_all(&job.work_dir)
        .with_context(|| format!("creating {}", job.work_dir.display()))?;
    judge.save(&job.work_dir)?;
    sink.artifact("judge", crate::judge::WEIGHTS_FILE)?;
    sink.artifact("judge_config", crate::judge::CONFIG_FILE)?;
    acc.check(threshold)?;
    Ok(())
}
