//! Evaluation for ddmd-pipe (DESIGN §10–11, issue 4): the shapes judge, FID/KID with
//! pytorch-fid parity, DPG scoring and the DPG-Bench adapter, the HPS v2.1 command adapter,
//! pixel statistics, sampling throughput, and the `judge` and `evaluate` stage runners.
//! No SQLite and no orchestration: stages read a `JobFile` and report through an `EventSink`.

pub mod agreement;
pub mod dpg;
pub mod dpg_bench;
pub mod error;
pub mod evaluate;
pub mod features;
pub mod fid;
pub mod fid_cmd;
pub mod hps;
pub mod image_files;
pub mod images_eval;
pub mod judge;
pub mod judge_stage;
pub mod judge_train;
pub mod judged_page;
pub mod kid;
pub mod psnr;
pub mod reference;
pub mod shapes_prompts;
pub mod throughput;

pub use dpg::{dpg_score, run_dpg_scorer, write_dpg_layout, DpgScore};
pub use dpg_bench::{DpgBenchScore, ImageAnswers};
pub use error::EvalError;
pub use evaluate::run_evaluate_stage;
pub use features::Extractor;
pub use fid::{frechet_distance, trace_sqrt_product, FeatureStats};
pub use fid_cmd::{fid_command, FidArgs};
pub use hps::{score_hps, score_hps_files, HpsOutcome, ScorerCommand};
pub use image_files::{features_of_files, folder_images};
pub use judge::{Judge, JudgeConfig};
pub use judge_stage::run_judge_stage;
pub use judge_train::{
    judge_accuracy, train_judge, train_judge_with, AccuracyTable, JudgeTrainParams,
};
pub use kid::{kid, Kid};
pub use shapes_prompts::{prompts_command, PromptsArgs};
pub use throughput::{measure, Throughput};
