//! Stage timeouts: `"90s"`, `"30m"`, `"2h"`, `"1h30m"`, or a number of seconds.

use std::time::Duration;

/// Longest timeout accepted: a year, far beyond any job and far below `Duration`'s range.
pub const MAX_TIMEOUT_SECS: f64 = 365.0 * 24.0 * 3600.0;

/// Parses `1h30m`-style text: one or more `<digits><unit>` with units h, m, s in that order.
pub fn parse_duration_text(s: &str) -> Result<Duration, String> {
    let expected =
        "expected a duration such as \"90s\", \"30m\", \"2h\" or \"1h30m\", or a number of seconds";
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut last_unit = 0usize; // index into "hms" + 1 of the last unit seen; units must descend
    let mut any = false;
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let (rank, secs) = match c {
            'h' => (1, 3600),
            'm' => (2, 60),
            's' => (3, 1),
            _ => return Err(format!("{expected}; found {:?}", s)),
        };
        if digits.is_empty() || rank <= last_unit {
            return Err(format!("{expected}; found {:?}", s));
        }
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{expected}; found {:?}", s))?;
        total = n
            .checked_mul(secs)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("timeout {s:?} is too long; at most 365 days"))?;
        digits.clear();
        last_unit = rank;
        any = true;
    }
    if !digits.is_empty() || !any {
        return Err(format!("{expected}; found {:?}", s));
    }
    seconds(total as f64)
}

/// Checks a number of seconds: positive and at most a year.
pub fn seconds(secs: f64) -> Result<Duration, String> {
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!(
            "expected a timeout greater than 0 seconds, found {secs}"
        ));
    }
    if secs > MAX_TIMEOUT_SECS {
        return Err(format!(
            "timeout of {secs} seconds is too long; at most 365 days"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        assert_eq!(parse_duration_text("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration_text("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration_text("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration_text("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration_text("1h0m5s"), Ok(Duration::from_secs(3605)));
    }

    #[test]
    fn rejected_forms() {
        for bad in [
            "",
            "h",
            "5",
            "1m1h",
            "1x",
            "0s",
            "1.5h",
            "-5s",
            "1hh",
            "9999999h",
            "99999999999999999999s",
        ] {
            assert!(parse_duration_text(bad).is_err(), "{bad}");
        }
    }
}
