//! What a chart's caption says besides the chart: the filter it applies, what one line, bar
//! or point pools (the mean of how many runs, the spread drawn), and runs pooled that differ
//! in more than their seed — which a table warns about, and a chart would otherwise average
//! in silence.

use super::data::{final_of, series_label};
use crate::model::{RunRecord, RunRecordExt};
use crate::report_params::{PlotKind, PlotSpec};
use std::collections::{BTreeMap, BTreeSet};

/// The caption's sentences, in reading order.
pub(super) fn lines(spec: &PlotSpec, runs: &[&RunRecord]) -> Vec<String> {
    let mut out = Vec::new();
    if !spec.filter.is_empty() {
        let f = spec
            .filter
            .iter()
            .map(|(a, v)| format!("{a} = {}", v.join(" | ")))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(format!("Filter: {f}."));
    }
    let groups = pools(spec, runs);
    let largest = groups.values().map(Vec::len).max().unwrap_or(0);
    if largest > 1 {
        let smallest = groups.values().map(Vec::len).min().unwrap_or(0);
        let n = if smallest == largest {
            format!("{largest}")
        } else {
            format!("{smallest}–{largest}")
        };
        out.push(match spec.kind {
            PlotKind::Line => {
                format!("Each line: the mean of {n} runs at each step, the band ± 1 std.")
            }
            PlotKind::Bar => format!("Each bar: the mean of {n} runs, error bars ± 1 std."),
            PlotKind::Sweep => format!("Each point: the mean of {n} runs, error bars ± 1 std."),
            PlotKind::Scatter => format!("Each point: the mean of {n} runs (seeds) of a variant."),
        });
    }
    let mixed: BTreeSet<&str> = groups
        .values()
        .flat_map(|members| differing_axes(members))
        .collect();
    if !mixed.is_empty() {
        out.push(format!(
            "⚠ Pools runs that differ in {} (not only in seed): add a filter or a series to separate them.",
            mixed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    out
}

/// The runs each mark of the chart averages, by mark: the series (line), the series and x
/// value (bar, sweep), the variant (scatter). Only runs with the plotted values count.
fn pools<'a>(spec: &PlotSpec, runs: &[&'a RunRecord]) -> BTreeMap<String, Vec<&'a RunRecord>> {
    let mut out: BTreeMap<String, Vec<&RunRecord>> = BTreeMap::new();
    for r in runs {
        let has = match spec.kind {
            PlotKind::Line => r.curves.get(&spec.metric).is_some_and(|c| !c.is_empty()),
            PlotKind::Scatter => {
                final_of(r, &spec.metric).is_some() && final_of(r, &spec.x).is_some()
            }
            PlotKind::Bar | PlotKind::Sweep => {
                final_of(r, &spec.metric).is_some() && r.label(&spec.x).is_some()
            }
        };
        if !has {
            continue;
        }
        let key = match spec.kind {
            PlotKind::Line => series_label(r, spec.series.as_deref()),
            PlotKind::Scatter => r.variant_key(),
            PlotKind::Bar | PlotKind::Sweep => format!(
                "{}\u{1f}{}",
                spec.series
                    .as_deref()
                    .and_then(|a| r.label(a))
                    .unwrap_or(""),
                r.label(&spec.x).unwrap_or("")
            ),
        };
        out.entry(key).or_default().push(r);
    }
    // A line plot without a series axis draws a line per run (job name): nothing pooled.
    out
}

/// The axes other than `seed` whose values differ among `members`.
fn differing_axes<'a>(members: &[&'a RunRecord]) -> Vec<&'a str> {
    let mut axes: BTreeSet<&str> = BTreeSet::new();
    for r in members {
        axes.extend(r.point.keys().map(String::as_str));
    }
    axes.into_iter()
        .filter(|a| *a != "seed")
        .filter(|a| {
            let values: BTreeSet<Option<&str>> = members.iter().map(|r| r.label(a)).collect();
            values.len() > 1
        })
        .collect()
}
