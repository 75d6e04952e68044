//! The parameter contracts of the built-in stage kinds (issue 12): typed, with documented
//! defaults and unknown keys denied. The orchestrator checks every job's parameters with
//! [`check`] before anything runs; the worker reads them with [`parse`]. Both see the same
//! types, so a parameter the plan accepted is the parameter the job reads.
//!
//! Keys that reach a job only through the pipeline's `defaults` may belong to another stage
//! kind (`defaults: {alpha: 4}` is for the teacher and the students, not the judge): the
//! orchestrator leaves them out of [`check`] when the kind does not know them, and [`parse`]
//! ignores them. Every other key must be known.

mod report;
mod stages;
mod values;

pub use stages::{
    DataParams, DistillParams, DivergenceBounds, DpgParams, EvaluateParams, FidParams, HpsParams,
    JudgeParams, TeacherParams, TorchscriptTeacher, MAX_OBJECTS, RESOLUTIONS,
};
pub use values::{DataKind, Metric, Objects, OneOrMany, Regularizer, Schedule, Solver};

use crate::job::StageKind;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// Keys every stage kind accepts: read by the executors, not by the stage.
/// `mem`: the memory a Slurm job asks for (`4G`, or megabytes).
pub const EXECUTOR_KEYS: &[&str] = &["mem"];

/// Keys of a command stage that the orchestrator itself reads; every other key is free for
/// the command's template.
pub const COMMAND_KEYS: &[&str] = &["run"];

/// The top-level keys of a report stage's params (their contents are checked by the report
/// crate, which owns tables, plots and presets).
pub const REPORT_KEYS: &[&str] = &[
    "title",
    "description",
    "output_dir",
    "tables",
    "plots",
    "samples",
    "log_tail",
];

/// One problem with one parameter. `key` is the dotted path inside the job's params
/// (`schedule`, `data.resolution`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamIssue {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for ParamIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "parameter `{}`: {}", self.key, self.message)
    }
}

/// Every problem of a set of parameters; the error of [`parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamIssues(pub Vec<ParamIssue>);

impl std::fmt::Display for ParamIssues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ParamIssues {}

/// A built-in stage's parameter struct.
pub trait StageParams: Serialize + DeserializeOwned + Default {
    /// Checks of values and of values against each other, after the types are right.
    fn validate(&self) -> Vec<ParamIssue>;
}

impl StageParams for TeacherParams {
    fn validate(&self) -> Vec<ParamIssue> {
        TeacherParams::validate(self)
    }
}
impl StageParams for DistillParams {
    fn validate(&self) -> Vec<ParamIssue> {
        DistillParams::validate(self)
    }
}
impl StageParams for JudgeParams {
    fn validate(&self) -> Vec<ParamIssue> {
        JudgeParams::validate(self)
    }
}
impl StageParams for EvaluateParams {
    fn validate(&self) -> Vec<ParamIssue> {
        EvaluateParams::validate(self)
    }
}
impl StageParams for DataParams {
    fn validate(&self) -> Vec<ParamIssue> {
        DataParams::validate(self)
    }
}

/// The keys a struct has (its serialised default), in declaration order.
pub fn fields_of<T: StageParams>() -> Vec<String> {
    match serde_json::to_value(T::default()) {
        Ok(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The documented defaults of a struct, as JSON (for `ddmd-pipe schema` and the docs).
pub fn defaults_of<T: StageParams>() -> Map<String, Value> {
    match serde_json::to_value(T::default()) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// The parameter keys a stage kind reads, or `None` when any key is allowed (a command's
/// template may read any key).
pub fn known_keys(kind: StageKind) -> Option<Vec<String>> {
    let mut keys = match kind {
        StageKind::Teacher => fields_of::<TeacherParams>(),
        StageKind::Distill => fields_of::<DistillParams>(),
        StageKind::Judge => fields_of::<JudgeParams>(),
        StageKind::Evaluate => fields_of::<EvaluateParams>(),
        StageKind::Report => REPORT_KEYS.iter().map(|k| k.to_string()).collect(),
        StageKind::Command => return None,
    };
    keys.extend(EXECUTOR_KEYS.iter().map(|k| k.to_string()));
    Some(keys)
}

/// The JSON Schema of a built-in kind's `params` (with the executor keys), and the
/// definitions it refers to as `#/$defs/<name>`; `None` for command stages (open keys).
pub fn json_schema(kind: StageKind) -> Option<(Value, Map<String, Value>)> {
    let schema = match kind {
        StageKind::Teacher => schemars::schema_for!(TeacherParams),
        StageKind::Distill => schemars::schema_for!(DistillParams),
        StageKind::Judge => schemars::schema_for!(JudgeParams),
        StageKind::Evaluate => schemars::schema_for!(EvaluateParams),
        StageKind::Report => {
            let mut s = report::schema();
            s["properties"]["mem"] = mem_schema();
            return Some((s, Map::new()));
        }
        StageKind::Command => return None,
    };
    let mut s = schema.to_value();
    let defs = match s.as_object_mut().and_then(|o| o.remove("$defs")) {
        Some(Value::Object(d)) => d,
        _ => Map::new(),
    };
    if let Some(o) = s.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
    }
    s["properties"]["mem"] = mem_schema();
    Some((s, defs))
}

fn mem_schema() -> Value {
    serde_json::json!({
        "description": "Memory a Slurm job asks for: `4G`, or a number of megabytes",
        "type": ["string", "number"]
    })
}

/// Every problem with the parameters of one job of a built-in stage kind. `params` holds the
/// keys the job's stage, matrix point and overrides set, plus the `defaults` keys this kind
/// knows (see the module doc). A command stage's keys are open (its template reads them); a
/// report's are checked by name here and by content in the report crate.
pub fn check(kind: StageKind, params: &Map<String, Value>) -> Vec<ParamIssue> {
    let mut issues = check_executor_keys(params);
    let rest = without(params, EXECUTOR_KEYS);
    match kind {
        StageKind::Teacher => issues.extend(check_struct::<TeacherParams>(&rest, "").1),
        StageKind::Distill => issues.extend(check_struct::<DistillParams>(&rest, "").1),
        StageKind::Judge => issues.extend(check_struct::<JudgeParams>(&rest, "").1),
        StageKind::Evaluate => issues.extend(check_struct::<EvaluateParams>(&rest, "").1),
        StageKind::Report => {
            for key in rest.keys() {
                if !REPORT_KEYS.contains(&key.as_str()) {
                    let known: Vec<String> = REPORT_KEYS.iter().map(|k| k.to_string()).collect();
                    issues.push(ParamIssue {
                        key: key.clone(),
                        message: unknown("unknown report parameter", key, &known),
                    });
                }
            }
        }
        StageKind::Command => {}
    }
    issues
}

/// Reads a job's parameters as `T`, ignoring keys `T` does not know (they came through
/// `defaults` for another stage kind; the plan rejected every other unknown key).
pub fn parse<T: StageParams>(params: &Map<String, Value>) -> Result<T, ParamIssues> {
    let fields = fields_of::<T>();
    let known: Map<String, Value> = params
        .iter()
        .filter(|(k, _)| fields.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match check_struct::<T>(&known, "") {
        (Some(t), issues) if issues.is_empty() => Ok(t),
        (_, issues) => Err(ParamIssues(issues)),
    }
}

/// "unknown parameter (did you mean 'x'?)", or with the known keys listed when none is near.
fn unknown(what: &str, key: &str, known: &[String]) -> String {
    match crate::suggest::closest(key, known.iter().map(String::as_str)) {
        Some(near) => format!("{what} (did you mean '{near}'?)"),
        None => format!("{what}; expected one of {}", known.join(", ")),
    }
}

/// Reads `map` as `T`, every key included: for a nested value that has no other readers
/// (`data: {...}`), where an unknown key can only be a mistake.
pub fn parse_strict<T: StageParams>(map: &Map<String, Value>) -> Result<T, ParamIssues> {
    match check_struct::<T>(map, "") {
        (Some(t), issues) if issues.is_empty() => Ok(t),
        (_, issues) => Err(ParamIssues(issues)),
    }
}

fn without(params: &Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    params
        .iter()
        .filter(|(k, _)| !keys.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn check_executor_keys(params: &Map<String, Value>) -> Vec<ParamIssue> {
    match params.get("mem") {
        None | Some(Value::Null) | Some(Value::Number(_)) => Vec::new(),
        Some(Value::String(s)) if !s.trim().is_empty() => Vec::new(),
        Some(v) => vec![ParamIssue {
            key: "mem".into(),
            message: format!(
                "expected a memory size for Slurm (`4G`, or a number of megabytes), got {v}"
            ),
        }],
    }
}

/// Checks `map` against `T`: unknown keys (with a suggestion), each known key's type on its
/// own (so the message names the key), then the struct's own checks. Nested parameter
/// structs (`data`) are checked the same way with their path as prefix.
fn check_struct<T: StageParams>(
    map: &Map<String, Value>,
    prefix: &str,
) -> (Option<T>, Vec<ParamIssue>) {
    let fields = fields_of::<T>();
    let mut issues = Vec::new();
    for (key, value) in map {
        let path = format!("{prefix}{key}");
        if !fields.contains(key) {
            issues.push(ParamIssue {
                key: path,
                message: unknown("unknown parameter", key, &fields),
            });
            continue;
        }
        if key == "data" {
            if let Value::Object(inner) = value {
                issues.extend(check_struct::<DataParams>(inner, &format!("{path}.")).1);
                continue;
            }
        }
        let mut one = Map::new();
        one.insert(key.clone(), value.clone());
        if let Err(e) = serde_json::from_value::<T>(Value::Object(one)) {
            issues.push(ParamIssue {
                key: path,
                message: explain(&e.to_string()),
            });
        }
    }
    if !issues.is_empty() {
        return (None, issues);
    }
    match serde_json::from_value::<T>(Value::Object(map.clone())) {
        Ok(t) => {
            let own = t.validate();
            let own: Vec<ParamIssue> = own
                .into_iter()
                .map(|i| ParamIssue {
                    key: format!("{prefix}{}", i.key),
                    message: i.message,
                })
                .collect();
            (Some(t), own)
        }
        Err(e) => (
            None,
            vec![ParamIssue {
                key: prefix.trim_end_matches('.').to_string(),
                message: explain(&e.to_string()),
            }],
        ),
    }
}

/// serde's message in the words of a pipeline file: Rust type names become what a YAML
/// writer types, an unknown enum value gets the list and a suggestion.
fn explain(serde_msg: &str) -> String {
    // A list element's problem arrives as "item N: <serde's message>".
    if let Some((item, rest)) = serde_msg
        .strip_prefix("item ")
        .and_then(|r| r.split_once(": "))
    {
        return format!("item {item}: {}", explain(rest));
    }
    if let Some(rest) = serde_msg.strip_prefix("unknown variant `") {
        if let Some((bad, expected)) = rest.split_once("`, expected ") {
            // serde writes "one of `a`, `b`, `c`", "`a` or `b`" or "`a`".
            let options: Vec<&str> = expected
                .trim_start_matches("one of ")
                .split(", ")
                .flat_map(|o| o.split(" or "))
                .map(|o| o.trim_matches('`'))
                .collect();
            let hint = crate::suggest::did_you_mean(bad, options.iter().copied());
            return format!(
                "unknown value `{bad}`; expected one of {}{hint}",
                options.join(", ")
            );
        }
    }
    serde_msg
        .replace("expected usize", "expected a non-negative integer")
        .replace("expected u64", "expected a non-negative integer")
        .replace("expected i64", "expected an integer")
        .replace("expected f64", "expected a number")
        .replace("expected a boolean", "expected true or false")
}

#[cfg(test)]
mod tests;
