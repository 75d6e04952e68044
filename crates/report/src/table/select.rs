//! Which runs and metric keys a table (or plot, or sample grid) takes: axis filters, and key
//! patterns with `*`.

use crate::metrics_meta::is_data_key;
use crate::model::{RunRecord, RunRecordExt};
use crate::report_params::Filter;
use crate::stats::labels_match;

/// Does the run pass the filter (every filtered axis present with an accepted value)?
pub fn passes(run: &RunRecord, filter: &Filter) -> bool {
    filter.iter().all(|(axis, accepted)| match run.label(axis) {
        Some(l) => accepted.iter().any(|a| labels_match(l, a)),
        None => false,
    })
}

/// `*` matches any run of characters within one `/`-separated part of the key; everything else
/// literally. So `dpg@*` is `dpg@4`, not also its breakdown `dpg@4/count`, and
/// `throughput@*/bs16` is `throughput@4/bs16`. A `*` never matches a measure of the data
/// (`dpg@data`, which every evaluate run emits beside `dpg@4`): `dpg@*` would otherwise match
/// two keys of each run; tables show those in their data row, and a pattern that names `data`
/// (`dpg@data`) still matches them.
pub fn key_matches(pattern: &str, key: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == key;
    }
    if is_data_key(key) && !is_data_key(pattern) {
        return false;
    }
    let (pats, keys): (Vec<&str>, Vec<&str>) =
        (pattern.split('/').collect(), key.split('/').collect());
    pats.len() == keys.len() && pats.iter().zip(&keys).all(|(p, k)| part_matches(p, k))
}

/// [`key_matches`] within one part (no `/` in either).
fn part_matches(pattern: &str, key: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == key;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !key.starts_with(first) || key.len() < first.len() + last.len() || !key.ends_with(last) {
        return false;
    }
    let mut rest = &key[first.len()..key.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(key_matches("throughput@*/bs16", "throughput@4/bs16"));
        assert!(!key_matches("throughput@*/bs16", "throughput@4/bs1"));
        assert!(key_matches("fid@4", "fid@4"));
        assert!(!key_matches("fid@4", "fid@40"));
        assert!(key_matches("power_w@*", "power_w@8"));
        // `*` stays within one part: a breakdown key is not the headline key.
        assert!(key_matches("dpg@*", "dpg@4"));
        assert!(!key_matches("dpg@*", "dpg@4/count"));
        assert!(key_matches("dpg@*/count", "dpg@4/count"));
        assert!(key_matches("*/bs16", "throughput@4/bs16"));
        assert!(!key_matches("throughput@*", "throughput@4/bs16"));
        // Measures of the data are the data row's, not a wildcard's.
        assert!(!key_matches("dpg@*", "dpg@data"));
        assert!(!key_matches("dpg@*/entity", "dpg@data/entity"));
        assert!(key_matches("dpg@data/*", "dpg@data/entity"));
        assert!(key_matches("dpg@data", "dpg@data"));
    }
}
