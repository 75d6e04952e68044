//! JSON Schema (draft 2020-12) of the pipeline format, for editors and `ddmd-pipe schema`.
//! Built from the same key lists and limits as the parser. Some rules need the whole file
//! (needs naming known stages, cycles, include/exclude naming axes) and only the parser
//! checks them.

use crate::parse::keys::*;
use ddmd_core::StageKind;
use serde_json::{json, Value};

pub fn json_schema() -> Value {
    let kinds: Vec<&str> = StageKind::ALL.iter().map(|k| k.as_str()).collect();
    let scalar = json!({ "type": ["string", "number", "integer", "boolean"] });
    let matrix_value = json!({
        "oneOf": [
            scalar,
            {
                "type": "object",
                "required": ["name"],
                "properties": { "name": { "type": ["string", "number", "integer", "boolean"], "description": "the value's label: in job names and reports, and the axis parameter's value" } },
                "description": "A labelled value: 'name' is the label in job names and the axis parameter; the other keys are merged into the job's params."
            }
        ]
    });
    let point = json!({
        "type": "object",
        "minProperties": 1,
        "propertyNames": { "pattern": "^[A-Za-z0-9_.-]+$" },
        "additionalProperties": matrix_value
    });
    let duration = json!({
        "oneOf": [
            { "type": "string", "pattern": "^([0-9]+h)?([0-9]+m)?([0-9]+s)?$", "minLength": 2 },
            { "type": "number", "exclusiveMinimum": 0, "maximum": crate::duration::MAX_TIMEOUT_SECS }
        ]
    });
    let stage = json!({
        "type": "object",
        "required": ["kind"],
        "additionalProperties": false,
        "properties": {
            "kind": { "enum": kinds },
            "needs": {
                "oneOf": [
                    { "$ref": "#/$defs/stageName" },
                    { "type": "array", "items": { "$ref": "#/$defs/stageName" }, "uniqueItems": true }
                ]
            },
            "resources": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "gpus": { "type": "integer", "minimum": 0, "maximum": MAX_GPUS, "description": "GPUs per node" },
                    "nodes": { "type": "integer", "minimum": 1, "maximum": MAX_JOB_NODES, "description": "nodes of one job (more than 1 needs the Slurm executor and a command stage)" },
                    "cpus": { "type": "integer", "minimum": MIN_CPUS, "maximum": MAX_CPUS },
                    "share_gpu": { "type": "boolean" }
                }
            },
            "matrix": {
                "type": "object",
                "propertyNames": { "pattern": "^[A-Za-z0-9_.-]+$" },
                "additionalProperties": { "type": "array", "minItems": 1, "items": matrix_value }
            },
            "include": { "type": "array", "items": point },
            "exclude": { "type": "array", "items": point },
            "fan_in": { "type": "boolean" },
            "params": { "type": "object" },
            "retries": { "type": "integer", "minimum": 0, "maximum": MAX_RETRIES },
            "timeout": duration,
            "inputs": { "type": "array", "items": { "type": "string", "minLength": 1 } },
            "prompts": {
                "type": "object",
                "additionalProperties": false,
                "minProperties": 1,
                "properties": {
                    "shapes": { "type": "integer", "minimum": 1, "maximum": ddmd_core::prompts::source::MAX_SHAPES_PROMPTS },
                    "dpg_bench": { "type": "string", "minLength": 1 },
                    "text": { "type": "string", "minLength": 1 },
                    "jsonl": { "type": "string", "minLength": 1 },
                    "images_per_prompt": { "type": "integer", "minimum": 1, "maximum": ddmd_core::prompts::source::MAX_IMAGES_PER_PROMPT },
                    "seed": { "type": "integer", "minimum": 0, "maximum": u32::MAX },
                    "limit": { "type": "integer", "minimum": 1 }
                },
                "oneOf": [
                    { "required": ["shapes"] }, { "required": ["dpg_bench"] },
                    { "required": ["text"] }, { "required": ["jsonl"] }
                ]
            }
        },
        "if": { "properties": { "kind": { "const": "command" } } },
        "then": {
            "required": ["kind", "params"],
            "properties": { "params": { "type": "object", "required": ["run"], "description": "the command's template (`run`) and any keys it reads", "properties": { "run": { "type": "string", "minLength": 1, "description": "the shell command, a minijinja template over the job's params, `needs`, `pipeline_dir` and `home`; run in the pipeline file's folder" } } } }
        },
        "else": {
            "not": { "required": ["prompts"] },
            "if": { "properties": { "kind": { "const": "evaluate" } } },
            "else": { "not": { "required": ["inputs"] } }
        }
    });
    // Each built-in kind's params, from the contracts the plan checks them with
    // (`ddmd_core::params`), so an editor completes and checks them as `validate` does.
    let mut defs = serde_json::Map::new();
    let mut by_kind = Vec::new();
    for kind in StageKind::ALL {
        if let Some((params, kind_defs)) = ddmd_core::params::json_schema(kind) {
            defs.extend(kind_defs);
            by_kind.push(json!({
                "if": { "properties": { "kind": { "const": kind.as_str() } } },
                "then": { "properties": { "params": params } }
            }));
        }
    }
    let mut stage = stage;
    describe(&mut stage, STAGE_KEYS_DOC);
    describe(&mut stage["properties"]["resources"], RESOURCES_DOC);
    describe(&mut stage["properties"]["prompts"], PROMPTS_DOC);
    // The parser takes an empty value (`needs:` with nothing after it) as absent.
    if let Some(props) = stage["properties"].as_object_mut() {
        for (key, p) in props.iter_mut() {
            if key != "kind" {
                *p = nullable(p.take());
            }
        }
    }
    stage["allOf"] = Value::Array(by_kind);
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://ddmd-pipe.invalid/pipeline.schema.json",
        "title": "ddmd-pipe pipeline",
        "type": "object",
        "required": ["name", "stages"],
        "additionalProperties": false,
        "properties": {
            "name": { "type": "string", "pattern": "^[A-Za-z0-9_.-]+$" },
            "description": { "type": "string" },
            "defaults": { "type": "object" },
            "stages": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": { "$ref": "#/$defs/stageName" },
                "additionalProperties": stage
            },
            "executor": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "kind": { "enum": EXECUTOR_KINDS },
                    "partition": { "type": "string" },
                    "account": { "type": "string" },
                    "qos": { "type": "string" },
                    "extra": { "type": "array", "items": { "type": "string" } },
                    "max_submitted": { "type": "integer", "minimum": 1, "maximum": MAX_SUBMITTED, "description": "most Slurm jobs submitted at once (default 256)" }
                }
            }
        },
        "$defs": {
            "stageName": { "type": "string", "pattern": "^[A-Za-z0-9_-]+$" }
        }
    });
    describe(&mut schema, TOP_KEYS_DOC);
    describe(&mut schema["properties"]["executor"], EXECUTOR_DOC);
    if let Some(d) = schema["$defs"].as_object_mut() {
        d.extend(defs);
    }
    // The "ddmd-pipe.invalid" id is a placeholder domain by design (RFC 2606); drop it so no
    // tool tries to fetch it.
    if let Some(o) = schema.as_object_mut() {
        o.remove("$id");
    }
    schema
}

/// Sets the `description` of each named property of the object schema `v`.
fn describe(v: &mut Value, docs: &[(&str, &str)]) {
    for (key, text) in docs {
        if let Some(p) = v["properties"].get_mut(*key) {
            p["description"] = Value::String((*text).to_string());
        }
    }
}

/// `p` or null, keeping `p`'s description at the top where editors show it.
fn nullable(mut p: Value) -> Value {
    let description = p.as_object_mut().and_then(|o| o.remove("description"));
    let mut wrapped = json!({ "anyOf": [p, { "type": "null" }] });
    if let Some(d) = description {
        wrapped["description"] = d;
    }
    wrapped
}

const TOP_KEYS_DOC: &[(&str, &str)] = &[
    ("name", "The pipeline's name: runs, reports and `--pipeline` filters use it."),
    ("description", "Free text about the pipeline, shown in its report."),
    ("defaults", "Parameters every job inherits; a stage's `params` override them (a built-in stage takes only the keys it knows)."),
    ("stages", "Stage name -> stage, in file order; `needs` orders them."),
    ("executor", "Where jobs run: the local machine (default) or Slurm."),
];

const STAGE_KEYS_DOC: &[(&str, &str)] = &[
    ("kind", "What the stage does: a built-in (teacher, judge, distill, evaluate, report) or `command` (your own shell command)."),
    ("needs", "The stages this one runs after and reads from: a name or a list (empty: none)."),
    ("resources", "What one job of the stage takes: GPUs, nodes, CPUs, whether it may share a GPU."),
    ("matrix", "Axis -> values: one job per combination; a scalar axis sets the parameter of its name, `{name: label, ...}` values label a point and merge their other keys."),
    ("include", "Extra matrix points, `{axis: value}`."),
    ("exclude", "Matrix points to drop: those matching every given `{axis: value}`."),
    ("fan_in", "One job over all upstream jobs instead of one per upstream point (default true for `report`)."),
    ("params", "The stage's parameters (docs/PIPELINES.md, \"Stage parameters\"); they override `defaults`."),
    ("retries", "How many times a failed job is tried again."),
    ("timeout", "Wall-clock limit of one job: `90s`, `30m`, `1h30m`, or seconds."),
    ("inputs", "Command and evaluate stages: files (relative to the pipeline file) whose content enters the cache key."),
    ("prompts", "Command stages: the prompt set the jobs draw images for (one of shapes, dpg_bench, text, jsonl)."),
];

const RESOURCES_DOC: &[(&str, &str)] = &[
    ("gpus", "GPUs per node."),
    (
        "nodes",
        "Nodes of one job (more than 1 needs the Slurm executor and a command stage).",
    ),
    ("cpus", "CPU cores of one job."),
    (
        "share_gpu",
        "Let jobs of this stage share a GPU with other sharing jobs.",
    ),
];

const PROMPTS_DOC: &[(&str, &str)] = &[
    ("shapes", "The built-in shapes prompts: how many."),
    ("dpg_bench", "A DPG-Bench CSV file."),
    ("text", "A text file, one prompt a line."),
    (
        "jsonl",
        "A JSON-lines file, one `{\"text\": …, \"id\": …}` object per line (`id` optional).",
    ),
    ("images_per_prompt", "Images drawn for each prompt."),
    (
        "seed",
        "Base of the per-image seeds (and the shapes prompts' seed).",
    ),
    ("limit", "Only the first N prompts."),
];

const EXECUTOR_DOC: &[(&str, &str)] = &[
    ("kind", "`local` (default) or `slurm`."),
    ("partition", "Slurm partition (`--partition`)."),
    ("account", "Slurm account (`--account`)."),
    ("qos", "Slurm quality of service (`--qos`)."),
    ("extra", "Further `sbatch` arguments, one per item."),
    (
        "max_submitted",
        "Most Slurm jobs submitted at once (default 256).",
    ),
];
