//! What a report's declarations refer to, checked against what the runs have: a metric key
//! (or pattern) that no run reported, an axis no run has. Without this a misspelt metric is a
//! column of "—" and an unknown row axis an empty table, in a report stage that succeeds; the
//! error names the entry, the name, and what the runs do have.
//!
//! The columns of a preset the entry did not replace are not checked: a pipeline need not
//! measure everything a preset shows, and their empty columns are noted as gaps instead.
//!
//! Metrics a run reported as unavailable count as known (the table shows them as `n/a`). An
//! invocation with no runs at all is not checked: there is nothing to compare against, and the
//! page says it is empty.

use crate::error::{ReportError, Result};
use crate::model::RunRecord;
use crate::report_params::{Columns, Filter, PlotKind, ReportSpec};
use crate::table::key_matches;
use std::collections::BTreeSet;

/// Pseudo-axes every run has (`RunRecordExt::label`).
const PSEUDO_AXES: &[&str] = &["job", "stage"];

/// What the runs have: final metric keys, curve keys, axes.
struct Known<'a> {
    finals: BTreeSet<&'a str>,
    curves: BTreeSet<&'a str>,
    axes: BTreeSet<&'a str>,
    runs: usize,
    failed: usize,
}

impl<'a> Known<'a> {
    fn of(runs: &'a [RunRecord]) -> Self {
        use crate::model::RunRecordExt;
        let mut k = Known {
            finals: BTreeSet::new(),
            curves: BTreeSet::new(),
            axes: PSEUDO_AXES.iter().copied().collect(),
            runs: runs.len(),
            failed: runs.iter().filter(|r| r.failed()).count(),
        };
        for r in runs {
            k.finals.extend(r.finals.keys().map(String::as_str));
            k.finals.extend(r.unavailable.keys().map(String::as_str));
            k.curves.extend(r.curves.keys().map(String::as_str));
            k.axes.extend(r.point.keys().map(String::as_str));
        }
        k
    }

    fn metric(&self, path: &str, pattern: &str) -> Result<()> {
        if self.finals.iter().any(|k| key_matches(pattern, k)) {
            return Ok(());
        }
        Err(ReportError::param(
            path,
            format!(
                "no run has a final value of the metric {pattern:?}{}; the runs have: {}",
                self.failed_note(),
                list(&self.finals)
            ),
        ))
    }

    fn curve(&self, path: &str, pattern: &str) -> Result<()> {
        if self.curves.iter().any(|k| key_matches(pattern, k)) {
            return Ok(());
        }
        Err(ReportError::param(
            path,
            format!(
                "no run logged the metric {pattern:?} over training{}; the runs logged: {}",
                self.failed_note(),
                list(&self.curves)
            ),
        ))
    }

    fn axis(&self, path: &str, axis: &str) -> Result<()> {
        if self.axes.contains(axis) {
            return Ok(());
        }
        Err(ReportError::param(
            path,
            format!(
                "no run has the axis {axis:?}; the runs have: {}",
                list(&self.axes)
            ),
        ))
    }

    fn filter(&self, path: &str, filter: &Filter) -> Result<()> {
        for (axis, _) in filter.iter() {
            self.axis(&format!("{path}.filter.{axis}"), axis)?;
        }
        Ok(())
    }

    /// Failed runs report nothing: said, so a metric missing for that reason is not taken
    /// for a typo.
    fn failed_note(&self) -> String {
        if self.failed > 0 {
            format!(" ({} of {} runs failed)", self.failed, self.runs)
        } else {
            String::new()
        }
    }
}

fn list(names: &BTreeSet<&str>) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.iter().copied().collect::<Vec<_>>().join(", ")
    }
}

/// Fails on the first table or plot entry that names a metric or axis no run has.
pub fn check(spec: &ReportSpec, runs: &[RunRecord]) -> Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    let known = Known::of(runs);
    for (i, t) in spec.tables.iter().enumerate() {
        let path = format!("tables[{i}]");
        for (j, axis) in t.rows.iter().enumerate() {
            known.axis(&format!("{path}.rows[{j}]"), axis)?;
        }
        match &t.columns {
            // A preset's columns are checked as gaps (`table::notes::gaps`).
            Columns::Metrics(_) if t.columns_from_preset => {}
            Columns::Metrics(cols) => {
                for (j, c) in cols.iter().enumerate() {
                    known.metric(&format!("{path}.columns[{j}]"), &c.metric)?;
                }
            }
            Columns::Axis { axis, metric } => {
                known.axis(&format!("{path}.columns"), axis)?;
                known.metric(&format!("{path}.metric"), metric)?;
            }
        }
        known.filter(&path, &t.filter)?;
    }
    for (i, p) in spec.plots.iter().enumerate() {
        let path = format!("plots[{i}]");
        match p.kind {
            PlotKind::Line => known.curve(&format!("{path}.metric"), &p.metric)?,
            PlotKind::Bar | PlotKind::Sweep => {
                known.metric(&format!("{path}.metric"), &p.metric)?;
                known.axis(&format!("{path}.x"), &p.x)?;
            }
            PlotKind::Scatter => {
                known.metric(&format!("{path}.y"), &p.metric)?;
                known.metric(&format!("{path}.x"), &p.x)?;
            }
        }
        if let Some(s) = &p.series {
            known.axis(&format!("{path}.series"), s)?;
        }
        known.filter(&path, &p.filter)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FinalValue;
    use crate::report_params::parse_report_params;
    use serde_json::json;

    fn runs() -> Vec<RunRecord> {
        let run = |id: i64, terms: &str, status: &str, fid: Option<f64>| RunRecord {
            id,
            status: status.into(),
            point: [("terms".to_string(), terms.to_string())]
                .into_iter()
                .collect(),
            finals: fid
                .map(|v| ("fid@4".to_string(), FinalValue { step: 0, value: v }))
                .into_iter()
                .collect(),
            curves: [("train/loss".to_string(), vec![(0.0, 1.0), (1.0, 0.5)])]
                .into_iter()
                .collect(),
            ..Default::default()
        };
        vec![
            run(1, "CA", "succeeded", Some(20.0)),
            run(2, "DM", "failed", None),
        ]
    }

    fn err(params: serde_json::Value) -> String {
        let spec = parse_report_params(params.as_object().unwrap()).unwrap();
        check(&spec, &runs()).unwrap_err().to_string()
    }

    #[test]
    fn unknown_names_fail_with_what_the_runs_have() {
        assert_eq!(
            err(json!({"tables": [{"rows": ["terms"], "columns": ["fid@4", "fdi@4"]}]})),
            "tables[0].columns[1]: no run has a final value of the metric \"fdi@4\" (1 of 2 runs failed); the runs have: fid@4"
        );
        assert_eq!(
            err(json!({"tables": [{"rows": ["term"], "columns": ["fid@4"]}]})),
            "tables[0].rows[0]: no run has the axis \"term\"; the runs have: job, stage, terms"
        );
        assert_eq!(
            err(json!({"plots": [{"kind": "line", "metric": "train/los"}]})),
            "plots[0].metric: no run logged the metric \"train/los\" over training (1 of 2 runs failed); the runs logged: train/loss"
        );
        assert_eq!(
            err(
                json!({"plots": [{"kind": "bar", "metric": "fid@*", "x": "terms", "filter": {"seed": 0}}]})
            ),
            "plots[0].filter.seed: no run has the axis \"seed\"; the runs have: job, stage, terms"
        );
    }

    #[test]
    fn known_names_and_patterns_pass() {
        let spec = parse_report_params(
            json!({
                "tables": [{"rows": ["terms"], "columns": ["fid@*"]}],
                "plots": [{"kind": "bar", "metric": "fid@4", "x": "terms"}]
            })
            .as_object()
            .unwrap(),
        )
        .unwrap();
        check(&spec, &runs()).unwrap();
        check(&spec, &[]).unwrap();
    }
}
