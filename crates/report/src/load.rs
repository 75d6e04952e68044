//! Loading a report's data: thin synchronous calls into `ddmd_store::report`, which owns every
//! SQL statement and opens the database read-only. Here store errors only gain the database's
//! path, so that the CLI and the stage worker say which file they could not read.

use crate::error::{ReportError, Result};
use crate::model::ReportData;
use ddmd_core::RunId;
use ddmd_store::report as store;
use ddmd_store::StoreError;
use serde_json::{Map, Value};
use std::path::Path;

fn db_error(db: &Path) -> impl FnOnce(StoreError) -> ReportError + '_ {
    move |e| ReportError::Db {
        db: db.to_path_buf(),
        message: e.to_string(),
    }
}

/// The invocation a run belongs to.
pub fn invocation_of_run(db: &Path, run_id: i64) -> Result<i64> {
    store::invocation_of_run(db, RunId(run_id)).map_err(db_error(db))
}

/// The given invocation of pipeline `name` (checked), or its latest one.
pub fn find_invocation(db: &Path, name: &str, invocation: Option<i64>) -> Result<i64> {
    store::find_invocation(db, name, invocation).map_err(db_error(db))
}

/// The params of the latest report run of an invocation (what the report stage was given).
pub fn report_params(db: &Path, invocation: i64) -> Result<Option<Map<String, Value>>> {
    store::report_params(db, invocation).map_err(db_error(db))
}

/// Everything one report shows: the invocation and its runs (latest attempt per job, report
/// runs excluded), with the data of `cached` rows taken from the run they reuse.
pub fn load_invocation(db: &Path, invocation: i64) -> Result<ReportData> {
    store::load_report(db, invocation).map_err(db_error(db))
}
