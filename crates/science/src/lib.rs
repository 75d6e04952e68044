//! Decoupled-DMD in `tch` (DESIGN §9–10): the shapes world (`data`, written by the data
//! helper), networks, flow matching and samplers, the `teacher` and `distill` stages, and
//! generators loaded from artifacts. No orchestration and no SQL here: stages read a
//! `JobFile`, write into its work dir and report through an `EventSink`.

pub mod alloc;
pub mod ckpt;
pub mod data;
pub mod distill;
pub mod flow;
pub mod image_stats;
pub mod model;
pub mod nets;
pub mod optim;
pub mod params;
pub mod regularize;
pub mod sample;
pub mod teacher;
pub mod train_util;

pub use distill::run_distill_stage;
pub use model::{device_for_job, Generator, ModelKind};
pub use sample::{sample_command, SampleArgs};
pub use teacher::run_teacher_stage;
