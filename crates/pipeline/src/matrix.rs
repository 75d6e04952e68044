//! Matrix expansion: the points of one stage's own matrix, and the job names built from them.
//! Fan-out over upstream stages is the planner's business, not this module's.

use crate::model::{label_of, Axis, AxisValue, Stage};
use crate::parse::axis_value;
use ddmd_core::{JobId, StageName};
use serde_json::{Map, Value};

/// One point of a stage's own matrix after include/exclude: axis name -> value, in axis order.
#[derive(Clone, Debug, PartialEq)]
pub struct Point(pub Vec<(String, AxisValue)>);

impl Point {
    /// `(axis, label)` pairs, as [`job_name`] takes them.
    pub fn labels(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .map(|(a, v)| (a.clone(), v.label.clone()))
            .collect()
    }

    pub fn job_name(&self, stage: &StageName) -> JobId {
        job_name(stage, &self.labels())
    }

    /// Sets this point's parameters into `params`: first the extra keys of mapping values,
    /// then each axis parameter (so an axis always wins). A dotted axis name (`opt.lr`, from
    /// a sweep) sets a nested parameter, creating mappings on the way.
    pub fn apply(&self, params: &mut Map<String, Value>) {
        for (_, v) in &self.0 {
            for (k, x) in &v.extra {
                params.insert(k.clone(), x.clone());
            }
        }
        for (axis, v) in &self.0 {
            let path: Vec<&str> = axis.split('.').collect();
            set_path(params, &path, v.value.clone());
        }
    }
}

/// Sets `path` in `map`, replacing anything that is not a mapping on the way.
pub(crate) fn set_path(map: &mut Map<String, Value>, path: &[&str], value: Value) {
    match path {
        [] => {}
        [last] => {
            map.insert((*last).to_string(), value);
        }
        [first, rest @ ..] => {
            let slot = map
                .entry((*first).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(inner) = slot {
                set_path(inner, rest, value);
            }
        }
    }
}

/// The product of the stage's axes (first axis outermost) minus the points matching an
/// `exclude` entry, plus the `include` points not already present. No axes: one empty point.
pub fn expand(stage: &Stage) -> Vec<Point> {
    let mut points = product(&stage.matrix);
    points.retain(|p| !stage.exclude.iter().any(|ex| matches(p, ex)));
    for inc in &stage.include {
        let mut pt = Vec::new();
        // Axis order, not the entry's order, so that names are stable.
        for axis in &stage.matrix {
            if let Some(v) = inc.get(&axis.name) {
                pt.push((axis.name.clone(), axis_value(axis, v)));
            }
        }
        let pt = Point(pt);
        if !pt.0.is_empty() && !points.iter().any(|p| p.labels() == pt.labels()) {
            points.push(pt);
        }
    }
    points
}

fn product(axes: &[Axis]) -> Vec<Point> {
    let mut points = vec![Point(Vec::new())];
    for axis in axes {
        let mut next = Vec::with_capacity(points.len() * axis.values.len());
        for p in &points {
            for v in &axis.values {
                let mut q = p.0.clone();
                q.push((axis.name.clone(), v.clone()));
                next.push(Point(q));
            }
        }
        points = next;
    }
    points
}

/// Whether `p` has, for every key of `entry`, the value with that label.
fn matches(p: &Point, entry: &Map<String, Value>) -> bool {
    entry.iter().all(|(axis, v)| {
        let label = match v {
            Value::Object(m) => m.get("name").map(label_of).unwrap_or_default(),
            other => label_of(other),
        };
        p.0.iter().any(|(a, x)| a == axis && x.label == label)
    })
}

/// `distill[terms=CA only,schedule=hybrid]`, or `distill` for an empty point.
pub fn job_name(stage: &StageName, point: &[(String, String)]) -> JobId {
    if point.is_empty() {
        return JobId(stage.0.clone());
    }
    let inner: Vec<String> = point.iter().map(|(a, v)| format!("{a}={v}")).collect();
    JobId(format!("{}[{}]", stage.0, inner.join(",")))
}
