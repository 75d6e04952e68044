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
        "sort.js",
        include_str!("../../../reports/templates/sort.js"),
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
    ddmd_core::text::bytes(v)
}

/// Unix seconds as `2026-11-25 14:03:07 UTC`.
pub fn fmt_time(secs: f64) -> String {
    let t = ddmd_core::text::utc_time(secs);
    if t == "?" {
        t
    } else {
        format!("{t} UTC")
    }
}

pub fn fmt_duration(secs: f64) -> String {
    ddmd_core::text::duration(secs, ddmd_core::text::DurationStyle::Spaced)
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
