//! The keys the format accepts, shared by the parser and the JSON Schema so they cannot drift.

pub const TOP_KEYS: &[&str] = &["name", "description", "defaults", "stages", "executor"];
pub const STAGE_KEYS: &[&str] = &[
    "kind",
    "needs",
    "resources",
    "matrix",
    "include",
    "exclude",
    "fan_in",
    "params",
    "retries",
    "timeout",
    "inputs",
    "prompts",
];
pub const RESOURCE_KEYS: &[&str] = &["gpus", "nodes", "cpus", "share_gpu"];
pub const EXECUTOR_KEYS: &[&str] = &[
    "kind",
    "partition",
    "account",
    "qos",
    "extra",
    "max_submitted",
];
/// Most Slurm jobs one invocation may have submitted at once (`executor.max_submitted`).
pub const MAX_SUBMITTED: u32 = 100_000;
pub const EXECUTOR_KINDS: &[&str] = &["local", "slurm"];

/// GPUs of one job on one node.
pub const MAX_GPUS: u32 = 64;
/// Nodes of one job (a multi-node `torchrun` under Slurm).
pub const MAX_JOB_NODES: u32 = 1024;
pub const MIN_CPUS: u32 = 1;
pub const MAX_CPUS: u32 = 256;
pub const MAX_RETRIES: u32 = 100;
/// Most points one stage's matrix may have; beyond this a typo is likelier than intent.
pub const MAX_POINTS: usize = 10_000;
/// Characters besides ASCII letters and digits allowed in names.
pub const PIPELINE_NAME_EXTRA: &[char] = &['_', '.', '-'];
pub const STAGE_NAME_EXTRA: &[char] = &['_', '-'];
pub const AXIS_NAME_EXTRA: &[char] = &['_', '.', '-'];
/// Characters a matrix value's label may not hold: they delimit job names.
pub const LABEL_FORBIDDEN: &[char] = &[',', '=', '[', ']'];
