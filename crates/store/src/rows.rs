//! Mapping of `runs` rows to [`RunRow`] and of `raw` cells to floats, shared by the writer and
//! the readers.

use crate::model::RunRow;
use ddmd_core::{CacheKey, InvocationId, PipelineId, RunId, RunStatus};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

/// Every column of `runs`, in the order [`run_row`] reads them.
pub(crate) const RUN_COLUMNS: &str = "id, invocation_id, pipeline_id, stage, job_name, kind, \
     point, params, cache_key, status, attempt, devices, pgid, exit_code, error, source_run_id, \
     queued_at, started_at, ended_at, job_dir, artifact_dir, executor_id, node";

/// Same columns with the `r.` prefix, for joins.
pub(crate) fn run_columns_prefixed(prefix: &str) -> String {
    RUN_COLUMNS
        .split(", ")
        .map(|c| format!("{prefix}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The value of a metric row whose `value` is NULL, from its `raw` text: the codec's exact
/// spellings ([`ddmd_core::nonfinite::decode`]), else whatever Rust reads as a float (a
/// hand-edited database), else NaN. The report reads the same cells more leniently
/// (`report_shape`).
pub(crate) fn parse_raw(raw: &str) -> f64 {
    ddmd_core::nonfinite::decode(raw).unwrap_or_else(|| raw.parse().unwrap_or(f64::NAN))
}

pub(crate) fn run_row(row: &SqliteRow) -> Result<RunRow, sqlx::Error> {
    let devices: Option<String> = row.try_get("devices")?;
    let attempt: i64 = row.try_get("attempt")?;
    let status_text: String = row.try_get("status")?;
    // The writer stores only the enum's values; a hand-edited cell is an error, not a default.
    let status = RunStatus::parse(&status_text).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: "status".into(),
        source: format!("unknown run status {status_text:?}").into(),
    })?;
    Ok(RunRow {
        id: RunId(row.try_get("id")?),
        invocation_id: InvocationId(row.try_get("invocation_id")?),
        pipeline_id: PipelineId(row.try_get("pipeline_id")?),
        stage: row.try_get("stage")?,
        job_name: row.try_get("job_name")?,
        kind: row.try_get("kind")?,
        point: json_column(row.try_get("point")?),
        params: json_column(row.try_get("params")?),
        cache_key: CacheKey(row.try_get("cache_key")?),
        status,
        attempt: u32::try_from(attempt).unwrap_or(0),
        devices: parse_devices(devices.as_deref()),
        pgid: row.try_get("pgid")?,
        exit_code: row.try_get("exit_code")?,
        error: row.try_get("error")?,
        source_run_id: row.try_get::<Option<i64>, _>("source_run_id")?.map(RunId),
        queued_at: row.try_get("queued_at")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
        job_dir: row.try_get("job_dir")?,
        artifact_dir: row.try_get("artifact_dir")?,
        executor_id: row.try_get("executor_id")?,
        node: row.try_get("node")?,
    })
}

/// JSON columns are written by the store from `serde_json::Value`s; a hand-edited cell that no
/// longer parses is shown as the string it holds rather than failing the whole listing.
fn json_column(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

/// `"0,2"` -> `[0, 2]`; NULL or empty -> CPU.
pub(crate) fn parse_devices(s: Option<&str>) -> Vec<u32> {
    s.map(|s| {
        s.split(',')
            .filter_map(|d| d.trim().parse::<u32>().ok())
            .collect()
    })
    .unwrap_or_default()
}

/// `[0, 2]` -> `Some("0,2")`; `[]` -> NULL.
pub(crate) fn format_devices(devices: &[u32]) -> Option<String> {
    if devices.is_empty() {
        None
    } else {
        Some(
            devices
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ddmd_core::nonfinite;

    #[test]
    fn raw_text_round_trips() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let raw = nonfinite::encode(v).unwrap();
            let back = parse_raw(raw);
            assert!(back.is_nan() && v.is_nan() || back == v, "{raw}");
        }
        // A hand-edited cell: read as a float where Rust can, else NaN.
        assert_eq!(parse_raw("1.5"), 1.5);
        assert_eq!(parse_raw("inf"), f64::INFINITY);
        assert!(parse_raw(" Infinity").is_nan());
        assert!(parse_raw("junk").is_nan());
    }
}
