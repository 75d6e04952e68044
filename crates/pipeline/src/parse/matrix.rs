//! A stage's `matrix`, `include` and `exclude`.

use super::keys::*;
use super::read::{is_ident, join, Ctx};
use super::top::opt;
use crate::error::did_you_mean;
use crate::model::{label_of, Axis, AxisValue};
use crate::yaml::{Kind, Node, Pos, Scalar};
use serde_json::{Map, Value};
use std::collections::HashMap;

type Points = Vec<Map<String, Value>>;

/// Validates `matrix`, `include` and `exclude` of the stage `node` at `path`.
pub fn matrix(ctx: &mut Ctx, node: &Node, path: &str) -> Option<(Vec<Axis>, Points, Points)> {
    let axes = match opt(node, "matrix") {
        None => Some(Vec::new()),
        Some(n) => axes(ctx, n, &join(path, "matrix")),
    };
    let include = opt(node, "include")
        .map(|n| points(ctx, n, &join(path, "include"), axes.as_deref(), false));
    let exclude =
        opt(node, "exclude").map(|n| points(ctx, n, &join(path, "exclude"), axes.as_deref(), true));
    Some((
        axes?,
        include.unwrap_or(Some(Vec::new()))?,
        exclude.unwrap_or(Some(Vec::new()))?,
    ))
}

fn axes(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<Axis>> {
    let entries = ctx.map(node, path)?;
    let names: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    let mut out = Vec::new();
    let mut ok = true;
    for e in entries {
        let p = join(path, &e.key);
        if !is_ident(&e.key, AXIS_NAME_EXTRA) {
            ctx.err(
                e.key_pos,
                &p,
                format!(
                    "invalid axis name {:?}; use letters, digits, '_', '.' and '-'",
                    e.key
                ),
            );
            ok = false;
            continue;
        }
        let Some(items) = ctx.seq(
            &e.value,
            &p,
            &format!("a list of values for axis '{}'", e.key),
        ) else {
            ok = false;
            continue;
        };
        if items.is_empty() {
            ctx.err(
                e.value.pos,
                &p,
                format!("axis '{}' has no values; expected a non-empty list", e.key),
            );
            ok = false;
            continue;
        }
        let mut values: Vec<AxisValue> = Vec::new();
        let mut seen: HashMap<String, Pos> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let ip = format!("{p}[{i}]");
            let Some(v) = axis_value_node(ctx, item, &ip, &names, Some(&e.key)) else {
                ok = false;
                continue;
            };
            if let Some(first) = seen.get(&v.label) {
                let (l, c) = (first.line, first.col);
                ctx.err(
                    item.pos,
                    &ip,
                    format!(
                        "duplicate value {:?} in axis '{}' (first at line {l}, column {c})",
                        v.label, e.key
                    ),
                );
                ok = false;
                continue;
            }
            seen.insert(v.label.clone(), item.pos);
            values.push(v);
        }
        out.push(Axis {
            name: e.key.clone(),
            values,
        });
    }
    if ok {
        let points = out
            .iter()
            .try_fold(1usize, |acc, a| acc.checked_mul(a.values.len()));
        match points {
            Some(n) if n <= MAX_POINTS => {}
            _ => {
                let shown = points.map_or("too many".to_string(), |n| n.to_string());
                ctx.err(
                    node.pos,
                    path,
                    format!("the matrix has {shown} points; at most {MAX_POINTS} are allowed"),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// One matrix value: a scalar, or a mapping with `name` whose other keys are extra params.
/// `axis` is the axis being defined (`None` for include/exclude entries, which only match).
fn axis_value_node(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    axis_names: &[&str],
    axis: Option<&str>,
) -> Option<AxisValue> {
    match &node.kind {
        Kind::Scalar(Scalar::Null) | Kind::Seq(_) => {
            ctx.err(
                node.pos,
                path,
                format!(
                    "expected a scalar or a mapping with a 'name' key, found {}",
                    node.describe()
                ),
            );
            None
        }
        Kind::Scalar(_) => {
            let v = AxisValue::scalar(ctx.json(node, path));
            check_label(&v.label)
                .map_err(|mut m| {
                    if let Some(axis) = axis.filter(|_| v.label.contains(LABEL_FORBIDDEN)) {
                        m.push_str(&label_it(axis, &v.value, &v.label));
                    }
                    ctx.err(node.pos, path, m)
                })
                .ok()?;
            Some(v)
        }
        Kind::Map(entries) => {
            let Some(name) = node.get("name") else {
                ctx.err(
                    node.pos,
                    path,
                    "a matrix value that is a mapping needs a 'name' key (its label in job names)",
                );
                return None;
            };
            let np = join(path, "name");
            if !matches!(&name.kind, Kind::Scalar(s) if *s != Scalar::Null) {
                ctx.err(
                    name.pos,
                    &np,
                    format!("expected a scalar name, found {}", name.describe()),
                );
                return None;
            }
            let value = ctx.json(name, &np);
            let label = label_of(&value);
            check_label(&label)
                .map_err(|m| ctx.err(name.pos, &np, m))
                .ok()?;
            let mut extra = Map::new();
            let mut ok = true;
            for e in entries.iter().filter(|e| e.key != "name") {
                if axis_names.contains(&e.key.as_str()) {
                    ctx.err(
                        e.key_pos,
                        &join(path, &e.key),
                        format!(
                            "key '{}' collides with the matrix axis of the same name",
                            e.key
                        ),
                    );
                    ok = false;
                }
                extra.insert(e.key.clone(), ctx.json(&e.value, &join(path, &e.key)));
            }
            ok.then_some(AxisValue {
                label,
                value,
                extra,
                named: true,
            })
        }
    }
}

/// How to sweep a value that cannot label a job: a mapping value sets parameters with its
/// other keys and is labelled by its `name`, which the value itself need not be (under an
/// axis of another name: a mapping's keys may not be axis names).
fn label_it(axis: &str, value: &Value, label: &str) -> String {
    let cleaned: String = label
        .chars()
        .map(|c| if LABEL_FORBIDDEN.contains(&c) { ' ' } else { c })
        .collect();
    let name = cleaned.split_whitespace().collect::<Vec<_>>().join("-");
    let name = if name.is_empty() { "v1".into() } else { name };
    format!(
        "; to sweep it as a value, label it with the {{name: …}} form under an axis of another name: {axis}_label: [{{name: {name}, {axis}: {value}}}]"
    )
}

/// Labels appear in job names between `[`, `=`, `,` and `]`.
pub(crate) fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err("a matrix value cannot be the empty string (it labels job names)".into());
    }
    if label.contains(LABEL_FORBIDDEN) {
        return Err(format!(
            "matrix value {:?} contains one of , = [ ] which delimit job names",
            label
        ));
    }
    Ok(())
}

/// Builds an axis value from an include entry's JSON: an existing value when its label
/// matches (so that it keeps its extra params), a new one otherwise.
pub(crate) fn axis_value(axis: &Axis, v: &Value) -> AxisValue {
    let label = match v {
        Value::Object(m) => m.get("name").map(label_of).unwrap_or_default(),
        other => label_of(other),
    };
    let only_name = matches!(v, Value::Object(m) if m.len() == 1) || !v.is_object();
    if only_name {
        if let Some(existing) = axis.values.iter().find(|x| x.label == label) {
            return existing.clone();
        }
    }
    match v {
        Value::Object(m) => AxisValue {
            label,
            value: m.get("name").cloned().unwrap_or(Value::Null),
            extra: m
                .iter()
                .filter(|(k, _)| *k != "name")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            named: true,
        },
        other => AxisValue::scalar(other.clone()),
    }
}

/// `include` (new points may bring new values) or `exclude` (values must exist).
fn points(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    axes: Option<&[Axis]>,
    exclude: bool,
) -> Option<Points> {
    let what = if exclude { "exclude" } else { "include" };
    let items = ctx.seq(
        node,
        path,
        &format!("a list of mappings (axis: value) for {what}"),
    )?;
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{path}[{i}]");
        let Some(entries) = ctx.map(item, &ip) else {
            ok = false;
            continue;
        };
        if entries.is_empty() {
            ctx.err(
                item.pos,
                &ip,
                format!("an {what} entry needs at least one axis: value"),
            );
            ok = false;
            continue;
        }
        let Some(axes) = axes else {
            // The matrix itself is broken and reported; checking against it would only echo.
            ok = false;
            continue;
        };
        let mut point = Map::new();
        for e in entries {
            let ep = join(&ip, &e.key);
            let Some(axis) = axes.iter().find(|a| a.name == e.key) else {
                let names: Vec<&str> = axes.iter().map(|a| a.name.as_str()).collect();
                let msg = if names.is_empty() {
                    format!("unknown axis '{}': this stage has no matrix", e.key)
                } else {
                    let hint = did_you_mean(&e.key, names.iter().copied());
                    format!(
                        "unknown axis '{}'{hint}; axes of this stage: {}",
                        e.key,
                        names.join(", ")
                    )
                };
                ctx.err(e.key_pos, &ep, msg);
                ok = false;
                continue;
            };
            let Some(v) = axis_value_node(ctx, &e.value, &ep, &[], None) else {
                ok = false;
                continue;
            };
            if exclude {
                if !axis.values.iter().any(|x| x.label == v.label) {
                    let labels: Vec<&str> = axis.values.iter().map(|x| x.label.as_str()).collect();
                    let hint = did_you_mean(&v.label, labels.iter().copied());
                    ctx.err(
                        e.value.pos,
                        &ep,
                        format!(
                            "{:?} is not a value of axis '{}'{hint}; its values: {}",
                            v.label,
                            axis.name,
                            labels.join(", ")
                        ),
                    );
                    ok = false;
                    continue;
                }
                point.insert(e.key.clone(), v.value);
            } else {
                point.insert(e.key.clone(), ctx.json(&e.value, &ep));
            }
        }
        out.push(point);
    }
    ok.then_some(out)
}
