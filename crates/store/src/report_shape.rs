//! Turning the values [`crate::report_load`] reads into [`RunRecord`] fields: matrix points as
//! labels, packed metric points as final values and curves, status events as notes. No SQL
//! and no I/O, so each rule is tested on its own.

use crate::report_model::{FinalValue, RunRecord};
use indexmap::IndexMap;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// (step, seq, value) of one logged metric point.
pub(crate) type Point = (i64, i64, f64);

/// A matrix point as stored: axis -> value label (or a value the label is derived from).
pub(crate) fn parse_point(text: &str) -> Result<IndexMap<String, String>, String> {
    let raw: IndexMap<String, Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(raw.into_iter().map(|(k, v)| (k, value_label(&v))).collect())
}

/// The label of one axis value: a string as is, a named object by its name, else its JSON.
pub(crate) fn value_label(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => match o.get("name") {
            Some(Value::String(s)) => s.clone(),
            _ => v.to_string(),
        },
        other => other.to_string(),
    }
}

/// The points of one metric as SQLite packs them (`[[step, seq, value, raw], …]`), with
/// non-finite values (NULL `value`) read from `raw`.
pub(crate) fn unpack_points(packed: &str) -> Result<Vec<Point>, serde_json::Error> {
    let raw_points: Vec<(i64, i64, Option<f64>, Option<String>)> = serde_json::from_str(packed)?;
    Ok(raw_points
        .into_iter()
        .map(|(step, seq, value, raw)| {
            (
                step,
                seq,
                value.unwrap_or_else(|| non_finite(raw.as_deref())),
            )
        })
        .collect())
}

/// The value of a `raw` cell, read with the codec's lenient mode
/// ([`ddmd_core::nonfinite::decode_lenient`]: case, spaces, `inf`): reports have always read
/// hand-written databases this way, and a report must not change because its reader moved.
/// Anything else (`+inf`, a number, no text) is NaN.
fn non_finite(raw: Option<&str>) -> f64 {
    raw.and_then(ddmd_core::nonfinite::decode_lenient)
        .unwrap_or(f64::NAN)
}

/// Final values and curves of one run's metrics.
pub(crate) type FinalsAndCurves = (
    BTreeMap<String, FinalValue>,
    BTreeMap<String, Vec<(f64, f64)>>,
);

/// Per metric: the final value (largest step, latest seq — the `final_metrics` definition) and
/// the curve of finite points, one per step (the latest seq wins).
pub(crate) fn finals_and_curves(per_key: HashMap<String, Vec<Point>>) -> FinalsAndCurves {
    let mut finals = BTreeMap::new();
    let mut curves = BTreeMap::new();
    for (key, mut pts) in per_key {
        pts.sort_unstable_by_key(|p| (p.0, p.1));
        pts.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                *earlier = *later;
                true
            } else {
                false
            }
        });
        if let Some(last) = pts.last() {
            finals.insert(
                key.clone(),
                FinalValue {
                    step: last.0,
                    value: last.2,
                },
            );
        }
        let curve: Vec<(f64, f64)> = pts
            .iter()
            .filter(|p| p.2.is_finite())
            .map(|p| (p.0 as f64, p.2))
            .collect();
        curves.insert(key, curve);
    }
    (finals, curves)
}

/// What a `status` event says about a run, as far as a report shows it.
pub(crate) struct StatusNote {
    state: String,
    key: Option<String>,
    message: String,
}

impl StatusNote {
    /// `None` for a payload that is not a JSON object: a note we cannot show is not a reason
    /// to fail the report.
    pub(crate) fn parse(payload: &str) -> Option<StatusNote> {
        let Ok(Value::Object(ev)) = serde_json::from_str::<Value>(payload) else {
            return None;
        };
        Some(StatusNote {
            state: ev
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            key: ev.get("key").and_then(Value::as_str).map(str::to_string),
            message: ev
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        })
    }

    pub(crate) fn is_diverged(&self) -> bool {
        self.state == "diverged"
    }

    /// `diverged` marks the run; `unavailable` (with a key) adds a reason unless the
    /// `unavailable` table already gave one; `info` (with a key) records a note.
    pub(crate) fn apply(&self, r: &mut RunRecord) {
        match (self.state.as_str(), &self.key) {
            ("diverged", _) => {
                r.diverged = Some(if self.message.is_empty() {
                    "diverged".into()
                } else {
                    self.message.clone()
                })
            }
            ("unavailable", Some(k)) => {
                r.unavailable
                    .entry(k.clone())
                    .or_insert_with(|| self.message.clone());
            }
            ("info", Some(k)) => {
                r.info.insert(k.clone(), self.message.clone());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_labels_keep_axis_order_and_use_names() {
        let p = parse_point(r#"{"terms": {"name": "CA only"}, "seed": 1, "lr": "1e-4"}"#)
            .expect("point");
        let got: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, [("terms", "CA only"), ("seed", "1"), ("lr", "1e-4")]);
        assert!(parse_point("[1]").is_err());
    }

    #[test]
    fn latest_seq_wins_per_step_and_largest_step_is_final() {
        let pts = unpack_points(
            r#"[[10,5,2.0,null],[0,1,1.0,null],[10,7,3.0,null],[5,9,null,"Infinity"],[20,2,null," nan "]]"#,
        )
        .expect("points");
        let (finals, curves) = finals_and_curves(HashMap::from([("loss".to_string(), pts)]));
        let last = &finals["loss"];
        assert_eq!(last.step, 20);
        assert!(last.value.is_nan());
        assert_eq!(curves["loss"], vec![(0.0, 1.0), (10.0, 3.0)]);
    }

    #[test]
    fn raw_text_is_read_leniently() {
        assert_eq!(non_finite(Some(" INF ")), f64::INFINITY);
        assert_eq!(non_finite(Some("+Infinity")), f64::INFINITY);
        assert_eq!(non_finite(Some("-inf")), f64::NEG_INFINITY);
        assert!(non_finite(Some(" NaN ")).is_nan());
        assert!(non_finite(Some("+inf")).is_nan(), "never read as infinity");
        assert_eq!(non_finite(Some("-Infinity")), f64::NEG_INFINITY);
        assert!(non_finite(Some("1.5")).is_nan());
        assert!(non_finite(None).is_nan());
    }

    #[test]
    fn status_notes() {
        let mut r = RunRecord::default();
        r.unavailable.insert("hps".into(), "from the table".into());
        for payload in [
            r#"{"state": "diverged"}"#,
            r#"{"state": "unavailable", "key": "hps", "message": "from an event"}"#,
            r#"{"state": "unavailable", "key": "dpg", "message": "no judge"}"#,
            r#"{"state": "info", "key": "fid", "message": "N=2000"}"#,
            r#"{"state": "info", "message": "no key: ignored"}"#,
        ] {
            StatusNote::parse(payload).expect("note").apply(&mut r);
        }
        assert!(StatusNote::parse("not json").is_none());
        assert_eq!(r.diverged.as_deref(), Some("diverged"));
        assert_eq!(r.unavailable["hps"], "from the table");
        assert_eq!(r.unavailable["dpg"], "no judge");
        assert_eq!(r.info.len(), 1);
        assert_eq!(r.info["fid"], "N=2000");
    }
}
