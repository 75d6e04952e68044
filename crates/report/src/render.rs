//! The minijinja environment: templates from `reports/templates/` embedded with `include_str!`,
//! HTML autoescape for every template, strict undefined (a misspelt field is an error, not an
//! empty string), and the few filters the templates use.

use crate::error::{ReportError, Result};
use crate::stats::fmt_num;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../../reports/templates/base.html"),
    ),
    (
        "report.html",
        include_str!("../../../reports/templates/report.html"),
    ),
    (
        "run.html",
        include_str!("../../../reports/templates/run.html"),
    ),
    (
        "reports_index.html",
        include_str!("../../../reports/templates/reports_index.html"),
    ),
];

pub fn environment() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Every template is HTML, whatever its name: user strings are always escaped.
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    for (name, text) in TEMPLATES {
        env.add_template(name, text)
            .map_err(|e| ReportError::Template {
                name: name.to_string(),
                message: e.to_string(),
            })?;
    }
    env.add_filter("num", |v: f64| fmt_num(v));
    env.add_filter("bytes", |v: i64| human_bytes(v));
    Ok(env)
}

pub fn render<S: Serialize>(env: &Environment<'_>, name: &str, ctx: &S) -> Result<String> {
    let tmpl = env.get_template(name).map_err(|e| ReportError::Template {
        name: name.to_string(),
        message: e.to_string(),
    })?;
    tmpl.render(ctx).map_err(|e| ReportError::Template {
        name: name.to_string(),
        message: e.to_string(),
    })
}

pub fn human_bytes(v: i64) -> String {
    let v = v as f64;
    if v < 1024.0 {
        format!("{v} B")
    } else if v < 1024.0 * 1024.0 {
        format!("{:.1} KiB", v / 1024.0)
    } else if v < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MiB", v / 1024.0 / 1024.0)
    } else {
        format!("{:.2} GiB", v / 1024.0 / 1024.0 / 1024.0)
    }
}

/// Unix seconds as `2026-11-25 14:03:07 UTC` (no time-zone database needed).
pub fn fmt_time(secs: f64) -> String {
    if !secs.is_finite() {
        return "?".into();
    }
    let s = secs.floor() as i64;
    let (days, rem) = (s.div_euclid(86_400), s.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub fn fmt_duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "?".into();
    }
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        format!("{}m {:02}s", (secs / 60.0).floor(), (secs % 60.0).floor())
    } else {
        format!(
            "{}h {:02}m",
            (secs / 3600.0).floor(),
            ((secs % 3600.0) / 60.0).floor()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(fmt_time(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(fmt_time(1_732_550_000.0), "2024-11-25 15:53:20 UTC");
        assert_eq!(fmt_duration(75.0), "1m 15s");
    }

    #[test]
    fn templates_compile() {
        environment().expect("embedded templates must compile");
    }
}
