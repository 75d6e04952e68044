//! Runs a science stage by hand, outside the orchestrator (for measurements and sample grids):
//!   run_stage teacher <work_dir> '<params json>'
//!   run_stage distill <work_dir> <teacher_artifact_dir> '<params json>'
//! Events go to <work_dir>/events.jsonl.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]
use ddmd_core::EventSink;
use ddmd_science::distill::{train_student, TeacherSource};
use ddmd_science::params::{DistillParams, TeacherParams};
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: run_stage teacher <work_dir> <params-json> | run_stage distill <work_dir> <teacher_dir> <params-json>";
    let stage = args.get(1).ok_or_else(|| anyhow::anyhow!(usage))?;
    let work = PathBuf::from(args.get(2).ok_or_else(|| anyhow::anyhow!(usage))?);
    std::fs::create_dir_all(&work)?;
    let mut sink = EventSink::open(&work.join("events.jsonl"), 0)?;
    let device = ddmd_science::device_for_job();
    let t = std::time::Instant::now();
    match stage.as_str() {
        "teacher" => {
            let params: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(args.get(3).map(String::as_str).unwrap_or("{}"))?;
            let p = TeacherParams::from_map(&params)?;
            let data = ddmd_science::data::ShapesConfig::from_params(&params)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            ddmd_science::teacher::train_teacher(
                &p,
                &data,
                params.get("data").cloned(),
                &work,
                device,
                &mut sink,
            )?;
        }
        "distill" => {
            let teacher = PathBuf::from(args.get(3).ok_or_else(|| anyhow::anyhow!(usage))?);
            let params: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(args.get(4).map(String::as_str).unwrap_or("{}"))?;
            let p = DistillParams::from_map(&params)?;
            train_student(
                &p,
                &TeacherSource::Artifact(teacher),
                &params,
                &work,
                device,
                &mut sink,
            )?;
        }
        _ => anyhow::bail!(usage),
    }
    println!("{stage} done in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}
