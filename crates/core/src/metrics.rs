//! Metric-key conventions (a contract between the evaluators that write keys and the reports
//! and tools that read them): which direction is better, the unit, a readable label. Keys carry their setting (`fid@4`, `throughput@4/bs16`,
//! `train/pixel_var`); the base name is the part before `@`, after the last `/`.

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

/// `fid@4` -> `fid`, `train/loss_dm` -> `loss_dm`, `throughput@4/bs16` -> `throughput`.
pub fn base_name(key: &str) -> &str {
    let before_at = key.split('@').next().unwrap_or(key);
    before_at.rsplit('/').next().unwrap_or(before_at)
}

/// Built-in table: (base name, direction, unit).
const KNOWN: &[(&str, Option<Direction>, &str)] = &[
    ("fid", Some(Direction::Down), ""),
    ("kid", Some(Direction::Down), ""),
    ("dpg", Some(Direction::Up), ""),
    ("hps", Some(Direction::Up), ""),
    ("clip", Some(Direction::Up), ""),
    ("psnr", Some(Direction::Up), "dB"),
    ("accuracy", Some(Direction::Up), ""),
    ("stability", Some(Direction::Up), "iter"),
    ("throughput", Some(Direction::Up), "img/s"),
    ("fps", Some(Direction::Up), "img/s"),
    ("p50_ms", Some(Direction::Down), "ms"),
    ("median_ms", Some(Direction::Down), "ms"),
    ("p95_ms", Some(Direction::Down), "ms"),
    ("latency_ms", Some(Direction::Down), "ms"),
    ("step_ms", Some(Direction::Down), "ms"),
    ("power_w", Some(Direction::Down), "W"),
    ("power_kw", Some(Direction::Down), "kW"),
    ("color_shift", Some(Direction::Down), ""),
    ("saturated", Some(Direction::Down), ""),
    ("loss", Some(Direction::Down), ""),
    ("pixel_var", None, ""),
    ("pixel_mean", None, ""),
];

pub fn known_direction(key: &str) -> Option<Direction> {
    let base = base_name(key);
    if let Some((_, d, _)) = KNOWN.iter().find(|(n, _, _)| *n == base) {
        return *d;
    }
    // Families: every loss and every colour-shift channel is better lower.
    if base.starts_with("loss") || base.starts_with("color_shift") {
        return Some(Direction::Down);
    }
    None
}

pub fn known_unit(key: &str) -> Option<&'static str> {
    let base = base_name(key);
    KNOWN
        .iter()
        .find(|(n, _, _)| *n == base)
        .map(|(_, _, u)| *u)
        .filter(|u| !u.is_empty())
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
}
