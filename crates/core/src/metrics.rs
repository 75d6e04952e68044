//! Metric-key conventions (a contract between the evaluators that write keys and the reports
//! and tools that read them): which direction is better, the unit, a readable label. Keys are
//! `name@setting/sub` (`fid@4`, `throughput@4/bs16`, `dpg@4/entity`, `train/pixel_var`); the
//! base name is the part before `@`, after the last `/`. The setting `data` marks the same
//! metric measured on renders of the data ([`data_counterpart`]).

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Direction {
    /// Higher is better (↑).
    Up,
    /// Lower is better (↓).
    Down,
}

impl Direction {
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Up => "↑",
            Direction::Down => "↓",
        }
    }

    /// Parses a user's `direction` override; `Some(None)` means "no best marking", `None`
    /// that the word is not a direction.
    pub fn parse(s: &str) -> Option<Option<Direction>> {
        match s.trim().to_ascii_lowercase().as_str() {
            "up" | "max" | "higher" | "↑" | "higher_is_better" => Some(Some(Direction::Up)),
            "down" | "min" | "lower" | "↓" | "lower_is_better" => Some(Some(Direction::Down)),
            "none" | "" => Some(None),
            _ => None,
        }
    }
}

/// The metric a run logs when it continues an earlier attempt of the same job (same cache key)
/// from that attempt's checkpoint: step and value are the iteration it resumed at. Its curves
/// begin after that iteration; a report draws the part up to it from the earlier attempts,
/// so a killed and rerun job shows one training curve, not its last stretch. A `command`
/// stage that resumes its own checkpoints can log the same key to get the same.
pub const RESUMED_FROM: &str = "resumed_from";

/// `fid@4` -> `fid`, `train/loss_dm` -> `loss_dm`, `throughput@4/bs16` -> `throughput`.
pub fn base_name(key: &str) -> &str {
    let before_at = key.split('@').next().unwrap_or(key);
    before_at.rsplit('/').next().unwrap_or(before_at)
}

/// What is known of one metric (by base name): which way is better, the unit and a readable
/// label.
struct Known {
    name: &'static str,
    direction: Option<Direction>,
    unit: &'static str,
    label: &'static str,
}

const fn known(
    name: &'static str,
    direction: Option<Direction>,
    unit: &'static str,
    label: &'static str,
) -> Known {
    Known {
        name,
        direction,
        unit,
        label,
    }
}

const UP: Option<Direction> = Some(Direction::Up);
const DOWN: Option<Direction> = Some(Direction::Down);

/// Built-in table of metrics by base name.
const KNOWN: &[Known] = &[
    known("fid", DOWN, "", "FID"),
    known("kid", DOWN, "", "KID"),
    known("dpg", UP, "", "DPG"),
    known("hps", UP, "", "HPS v2.1"),
    known("clip", UP, "", "CLIP score"),
    known("psnr", UP, "dB", "PSNR"),
    known("psnr_teacher", UP, "dB", "PSNR vs teacher"),
    known("accuracy", UP, "", "Accuracy"),
    known("stability", UP, "iter", "Training stability"),
    known("throughput", UP, "img/s", "Throughput"),
    known("fps", UP, "img/s", "Throughput"),
    known("p50_ms", DOWN, "ms", "p50 latency"),
    known("median_ms", DOWN, "ms", "Median latency"),
    known("p95_ms", DOWN, "ms", "p95 latency"),
    known("latency_ms", DOWN, "ms", "Latency"),
    known("step_ms", DOWN, "ms", "Step time"),
    known("power_w", DOWN, "W", "Power"),
    known("power_kw", DOWN, "kW", "Power"),
    known("color_shift", DOWN, "", "Colour shift"),
    known("saturated", DOWN, "", "Saturated pixels"),
    known("loss", DOWN, "", "Loss"),
    // High-frequency energy relative to the data's: 1 is ideal, so neither higher nor lower
    // is better and no best is marked; the table's data row shows the data's own value.
    known("sharpness", None, "× data", "Sharpness"),
    // Mean colour saturation in [0, 1]: a property to compare with the data row, not a score.
    known("saturation", None, "", "Saturation"),
    known("pixel_var", None, "", "Pixel variance"),
    known("pixel_mean", None, "", "Pixel mean"),
];

fn known_of(key: &str) -> Option<&'static Known> {
    let base = base_name(key);
    KNOWN.iter().find(|k| k.name == base)
}

pub fn known_direction(key: &str) -> Option<Direction> {
    if let Some(k) = known_of(key) {
        return k.direction;
    }
    // Families: every loss and every colour-shift channel is better lower.
    let base = base_name(key);
    if base.starts_with("loss") || base.starts_with("color_shift") {
        return Some(Direction::Down);
    }
    None
}

pub fn known_unit(key: &str) -> Option<&'static str> {
    known_of(key).map(|k| k.unit).filter(|u| !u.is_empty())
}

/// A readable name of the metric (`fid@4` -> `FID`), for tooltips and generated text.
pub fn known_label(key: &str) -> Option<&'static str> {
    known_of(key).map(|k| k.label)
}

/// The setting that marks a metric measured on renders of the data instead of generated
/// samples (`fid@data`: renders against independent renders of the same prompts, FID's floor;
/// `dpg@data/entity`: the judge on renders, DPG's ceiling). Evaluate emits one per metric.
pub const DATA_SETTING: &str = "data";

/// The setting of a key, between `@` and the next `/`: `fid@4` -> `4`,
/// `throughput@4/bs16` -> `4`, `train/loss` -> none.
pub fn setting(key: &str) -> Option<&str> {
    let (_, after) = key.split_once('@')?;
    Some(after.split('/').next().unwrap_or(after))
}

/// True for a key measured on the data (`fid@data`, `dpg@data/entity`).
pub fn is_data_key(key: &str) -> bool {
    setting(key) == Some(DATA_SETTING)
}

/// The same metric measured on the data: a key or pattern whose setting is a step count (or
/// `*`) with the setting replaced by [`DATA_SETTING`] — `fid@4` -> `fid@data`,
/// `dpg@*/entity` -> `dpg@data/entity`. None for keys without a step setting (`stability`,
/// `train/loss`, `fid@data` itself).
pub fn data_counterpart(key: &str) -> Option<String> {
    let (name, after) = key.split_once('@')?;
    let (step, rest) = match after.split_once('/') {
        Some((s, r)) => (s, Some(r)),
        None => (after, None),
    };
    let is_step = step == "*" || (!step.is_empty() && step.chars().all(|c| c.is_ascii_digit()));
    if !is_step {
        return None;
    }
    Some(match rest {
        Some(r) => format!("{name}@{DATA_SETTING}/{r}"),
        None => format!("{name}@{DATA_SETTING}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names_and_directions() {
        assert_eq!(base_name("fid@4"), "fid");
        assert_eq!(base_name("train/loss_dm"), "loss_dm");
        assert_eq!(base_name("throughput@4/bs16"), "throughput");
        assert_eq!(known_direction("fid@1"), Some(Direction::Down));
        assert_eq!(known_direction("dpg@4"), Some(Direction::Up));
        assert_eq!(known_direction("train/loss_ca"), Some(Direction::Down));
        assert_eq!(known_direction("throughput@8/bs16"), Some(Direction::Up));
        assert_eq!(known_direction("p95_ms@4"), Some(Direction::Down));
        assert_eq!(known_direction("pixel_var@4"), None);
        assert_eq!(known_direction("mystery"), None);
        assert_eq!(known_unit("p95_ms@4/bs1"), Some("ms"));
        assert_eq!(known_unit("fid@4"), None);
    }

    #[test]
    fn metrics_of_the_data_comparisons() {
        assert_eq!(known_direction("psnr_teacher@4"), Some(Direction::Up));
        assert_eq!(known_unit("psnr_teacher@4"), Some("dB"));
        assert_eq!(known_direction("color_shift@4"), Some(Direction::Down));
        assert_eq!(known_direction("kid@4"), Some(Direction::Down));
        // 1 is ideal: neither way is better.
        assert_eq!(known_direction("sharpness@4"), None);
        assert_eq!(known_unit("sharpness@4"), Some("× data"));
        assert_eq!(known_direction("saturation@4"), None);
        assert_eq!(known_label("saturation@data"), Some("Saturation"));
        assert_eq!(known_label("dpg@4/entity"), Some("DPG"));
        assert_eq!(known_label("mystery"), None);
    }

    #[test]
    fn settings_and_data_counterparts() {
        assert_eq!(setting("fid@4"), Some("4"));
        assert_eq!(setting("throughput@4/bs16"), Some("4"));
        assert_eq!(setting("train/loss"), None);
        assert!(is_data_key("dpg@data/entity") && is_data_key("fid@data"));
        assert!(!is_data_key("fid@4") && !is_data_key("database"));
        assert_eq!(data_counterpart("fid@4").as_deref(), Some("fid@data"));
        assert_eq!(
            data_counterpart("dpg@4/entity").as_deref(),
            Some("dpg@data/entity")
        );
        assert_eq!(data_counterpart("fid@*").as_deref(), Some("fid@data"));
        assert_eq!(
            data_counterpart("throughput@*/bs16").as_deref(),
            Some("throughput@data/bs16")
        );
        assert_eq!(data_counterpart("stability"), None);
        assert_eq!(data_counterpart("train/loss"), None);
        assert_eq!(data_counterpart("fid@data"), None);
        assert_eq!(data_counterpart("fid@"), None);
    }
}
