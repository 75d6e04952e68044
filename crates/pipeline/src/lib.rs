//! Pipeline files (DESIGN §4): parse YAML with line/column locations, validate, expand
//! matrices, apply `--set` overrides and sweeps, and describe the format as a JSON Schema.
//! Nothing here runs jobs or touches the database; the planner builds on [`Spec`].
//!
//! Every YAML library use stays inside this crate (`yaml.rs`), so a swap is one file.

mod duration;
mod error;
mod locate;
mod matrix;
mod model;
mod overrides;
mod parse;
mod schema;
mod yaml;

pub use error::{SpecError, SpecErrors};
pub use locate::location;
pub use matrix::{expand, job_name, Point};
pub use model::{label_of, Axis, AxisValue, Resources, Spec, Stage};
pub use overrides::{apply_overrides, parse_override, Override};
pub use parse::{load, parse_str, read_value};
pub use schema::json_schema;

/// Limits of the reader, for documentation and tests.
pub mod limits {
    pub use crate::parse::keys::{MAX_CPUS, MAX_GPUS, MAX_JOB_NODES, MAX_POINTS, MAX_RETRIES};
    pub use crate::yaml::{MAX_DEPTH, MAX_NODES};
}
