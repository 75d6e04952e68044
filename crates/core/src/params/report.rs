//! The JSON Schema of a report stage's params, for editors: the report crate parses and checks
//! them (with the entry's path in every message); this mirrors its keys so an editor completes
//! and describes them. `ddmd_report`'s tests check the two name the same keys.

use serde_json::{json, Value};

/// A metric key or pattern (`fid@4`, `dpg@*`, `throughput@*/bs16`).
const METRIC: &str = "a metric key; `*` matches any run of characters within one `/` part (`fid@*`: each run's own step count)";

fn filter() -> Value {
    json!({
        "type": "object",
        "description": "axis -> accepted value (or list of values): only runs with one of them",
        "additionalProperties": {
            "anyOf": [
                { "type": ["string", "number", "integer", "boolean"] },
                { "type": "array", "minItems": 1, "items": { "type": ["string", "number", "integer", "boolean"] } }
            ]
        }
    })
}

fn table() -> Value {
    let axis_or_axes = json!({
        "anyOf": [
            { "type": "string" },
            { "type": "array", "minItems": 1, "items": { "type": "string" } }
        ]
    });
    let mut rows = axis_or_axes;
    rows["description"] = json!("the axis (or axes: one row per combination) whose values make the rows; `job` and `stage` work too");
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "title": { "type": "string", "description": "the table's heading (default: the preset's, or `Table by <rows>`)" },
            "preset": { "enum": ["loss_terms", "renoise_schedules", "regularizers", "cfg_scale", "deployment"], "description": "start from a built-in table (reports/presets/); the entry's other keys replace the preset's" },
            "rows": rows,
            "columns": {
                "description": "metric columns (a key or {metric, label} each), or an axis whose values make the columns (then `metric` says what they show)",
                "anyOf": [
                    { "type": "string" },
                    { "type": "array", "minItems": 1, "items": { "anyOf": [
                        { "type": "string", "description": METRIC },
                        { "type": "object", "additionalProperties": false, "required": ["metric"], "properties": {
                            "metric": { "type": "string", "description": METRIC },
                            "label": { "type": "string", "description": "the column's header" }
                        } }
                    ] } }
                ]
            },
            "metric": { "type": "string", "description": "with `columns: <axis>` (a pivot): the metric every column shows" },
            "filter": filter(),
            "units": { "type": "object", "additionalProperties": { "type": "string" }, "description": "metric -> unit shown in its header" },
            "direction": { "type": "object", "additionalProperties": { "enum": ["up", "down", "none", "max", "min", "higher", "lower", "↑", "↓", "higher_is_better", "lower_is_better", ""] }, "description": "metric -> which way is better (bold marks the best); `none`: no best" },
            "note": { "type": "string", "description": "a line under the table" },
            "data_row": { "type": "boolean", "description": "the last row of each metric measured on the data (`fid@data`); default true" }
        }
    })
}

fn plot() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["kind"],
        "properties": {
            "kind": { "enum": ["line", "bar", "sweep", "scatter"], "description": "line: a curve against the training step; bar: a metric per value of axis `x`; sweep: a metric against a numeric axis `x`; scatter: metric `y` against metric `x`" },
            "title": { "type": "string", "description": "the chart's title (default: from the metrics' names)" },
            "metric": { "type": "string", "description": METRIC },
            "x": { "type": "string", "description": "line: `iteration`; bar and sweep: an axis; scatter: a metric key" },
            "y": { "type": "string", "description": "scatter: the metric on the y axis" },
            "series": { "type": "string", "description": "an axis: one line, bar colour or point colour per value" },
            "smooth": { "type": ["boolean", "number"], "minimum": 0, "exclusiveMaximum": 1, "description": "line plots: EMA weight in [0, 1) (true: 0.6)" },
            "filter": filter(),
            "log_y": { "type": "boolean", "description": "a log y axis (values ≤ 0 left out)" },
            "log_x": { "type": "boolean", "description": "sweep and scatter: a log x axis (a learning-rate sweep)" }
        }
    })
}

fn samples() -> Value {
    json!({
        "description": "which runs' sample grids the report shows: false for none; default every run with a `samples` artifact",
        "anyOf": [
            { "type": "boolean" },
            { "type": "object", "additionalProperties": false, "properties": {
                "enabled": { "type": "boolean", "description": "false: no samples section" },
                "stages": { "anyOf": [ { "type": "string" }, { "type": "array", "items": { "type": "string" } } ], "description": "only these stages' runs" },
                "filter": filter(),
                "max_prompts": { "type": "integer", "minimum": 0, "description": "prompts listed per section (default 16)" }
            } }
        ]
    })
}

/// The `params` of a report stage.
pub(super) fn schema() -> Value {
    json!({
        "type": "object",
        "description": "What the report shows: tables, plots, sample grids (docs/PIPELINES.md, \"report\")",
        "additionalProperties": false,
        "properties": {
            "title": { "type": "string", "description": "the report's title (default: the pipeline name)" },
            "description": { "type": "string", "description": "a paragraph under the report's header" },
            "output_dir": { "type": "string", "description": "publish the report to <output_dir>/<pipeline>/ and refresh the index of reports there (default: reports, relative to the folder run starts in)" },
            "tables": { "type": "array", "items": table(), "description": "the tables, in order (none: one table of every final metric by job)" },
            "plots": { "type": "array", "items": plot(), "description": "the charts, in order" },
            "samples": samples(),
            "log_tail": { "type": "integer", "minimum": 0, "description": "lines of each job's log on its run page (default 40)" }
        }
    })
}
