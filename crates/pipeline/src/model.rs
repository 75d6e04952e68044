//! The validated pipeline: what the planner reads. Built only by `parse`, changed only by
//! `overrides`; every field has already been checked.

use ddmd_core::{StageKind, StageName};
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// A validated pipeline file.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub file: PathBuf,
    /// The file's text as read (after a leading byte-order mark, if any, is dropped).
    pub text: String,
    /// sha256 hex of `text`.
    pub hash: String,
    pub name: String,
    pub description: Option<String>,
    /// Parameters every job inherits; a stage's `params` override them key by key.
    pub defaults: Map<String, Value>,
    /// In file order.
    pub stages: IndexMap<StageName, Stage>,
    /// Kept as written (types checked) for the Slurm executor.
    pub executor: Option<Value>,
    /// Field paths (`stages.distill.params.lr`, `defaults.seed`, `stages.train.matrix.lr`)
    /// whose value came from `--set`, so a later error about them names `--set`, not the line
    /// of the file that the override replaced.
    pub overridden: Vec<String>,
}

/// One stage of a pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub name: StageName,
    pub kind: StageKind,
    /// Upstream stages, in the order written, each known and none of them this stage.
    pub needs: Vec<StageName>,
    /// One job over all upstream jobs (true) or one job per upstream matrix point (false).
    pub fan_in: bool,
    pub resources: Resources,
    /// Axes in file order; axes added by `--set` sweeps come last.
    pub matrix: Vec<Axis>,
    /// Extra points: axis name -> value (a scalar, or a matrix value's `name`).
    pub include: Vec<Map<String, Value>>,
    /// Points to drop: every point matching all the given axis values.
    pub exclude: Vec<Map<String, Value>>,
    pub params: Map<String, Value>,
    pub retries: u32,
    pub timeout: Option<Duration>,
    /// Files whose content hash enters the cache key (command stages), as written.
    pub inputs: Vec<PathBuf>,
    /// The prompt set a command stage draws (`prompts:`), paths as written.
    pub prompts: Option<ddmd_core::PromptsDecl>,
}

/// What one job of a stage asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resources {
    /// GPUs per node.
    pub gpus: u32,
    /// Nodes of one job; more than one only for command stages under an executor that has
    /// nodes (Slurm), where `{{ launch }}` starts one `torchrun` per node.
    pub nodes: u32,
    pub cpus: u32,
    /// Whether jobs of this stage may run on a GPU another job holds.
    pub share_gpu: bool,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            gpus: 0,
            nodes: 1,
            cpus: 1,
            share_gpu: false,
        }
    }
}

/// One matrix axis. Its name is also the parameter that receives the value; a dotted name
/// (`opt.lr`, from a sweep) names a nested parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub name: String,
    pub values: Vec<AxisValue>,
}

/// One value of an axis.
#[derive(Clone, Debug, PartialEq)]
pub struct AxisValue {
    /// How the value appears in job names: the scalar as text, or a mapping's `name`.
    pub label: String,
    /// What the axis parameter is set to: the scalar, or a mapping's `name`.
    pub value: Value,
    /// A mapping value's other keys, merged into the job's params.
    pub extra: Map<String, Value>,
    /// Written as a mapping with a `name` (`{name: "CA + DM", ca: 1}`): the axis then labels
    /// points rather than setting a parameter of its own name.
    pub named: bool,
}

impl AxisValue {
    /// A scalar value (not a mapping), labelled by its text.
    pub fn scalar(value: Value) -> AxisValue {
        AxisValue {
            label: label_of(&value),
            value,
            extra: Map::new(),
            named: false,
        }
    }
}

/// The text of a scalar as used in job names: strings bare, other scalars as JSON.
pub fn label_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
