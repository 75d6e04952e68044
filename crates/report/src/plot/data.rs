//! Which values of the runs a chart shows: series labels and groups, and final values of a
//! metric (key patterns included) — the selection shared by the chart kinds.

use crate::model::{FinalValue, RunRecord, RunRecordExt};
use crate::table::key_matches;

/// The legend name of a run: `axis=value` of the series axis, else the job name.
pub(super) fn series_label(r: &RunRecord, series: Option<&str>) -> String {
    match series {
        Some(axis) => format!("{axis}={}", r.label(axis).unwrap_or("?")),
        None => r.job_name.clone(),
    }
}

/// Groups runs by series label, keeping first-appearance order.
pub(super) fn group<'a>(
    runs: &[&'a RunRecord],
    series: Option<&str>,
) -> Vec<(String, Vec<&'a RunRecord>)> {
    let mut groups: Vec<(String, Vec<&RunRecord>)> = Vec::new();
    for r in runs {
        let l = series_label(r, series);
        match groups.iter_mut().find(|g| g.0 == l) {
            Some(g) => g.1.push(r),
            None => groups.push((l, vec![r])),
        }
    }
    groups
}

/// A run's final value of `metric`, which may hold `*` as in table columns (`fid@*`: each run
/// at its own step count); a pattern that matches several keys of one run gives nothing.
pub(super) fn final_of<'a>(r: &'a RunRecord, metric: &str) -> Option<&'a FinalValue> {
    if let Some(f) = r.finals.get(metric) {
        return Some(f);
    }
    if !metric.contains('*') {
        return None;
    }
    let mut hits = r.finals.iter().filter(|(k, _)| key_matches(metric, k));
    let (_, first) = hits.next()?;
    hits.next().is_none().then_some(first)
}

/// Final value of a metric for each run that has a finite one.
pub(super) fn finals<'a>(runs: &[&'a RunRecord], metric: &str) -> Vec<(&'a RunRecord, f64)> {
    runs.iter()
        .filter_map(|r| final_of(r, metric).map(|f| (*r, f.value)))
        .filter(|(_, v)| v.is_finite())
        .collect()
}
