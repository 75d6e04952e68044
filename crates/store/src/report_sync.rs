//! Synchronous versions of the report reads of [`crate::report_load`], for callers that have
//! no async runtime of their own (`ddmd-report`, which then needs neither tokio nor sqlx).
//!
//! Each call opens a [`ReadStore`] (read-only, with the authorizer guard), runs its queries on
//! a private current-thread runtime in a scoped thread, and closes it. The thread is what lets
//! these be called from inside another runtime too: `block_on` on a runtime's own thread
//! panics.

use crate::error::StoreError;
use crate::reader::ReadStore;
use crate::report_model::ReportData;
use ddmd_core::RunId;
use serde_json::{Map, Value};
use std::future::Future;
use std::path::Path;

/// The invocation a run belongs to.
pub fn invocation_of_run(db: &Path, run: RunId) -> Result<i64, StoreError> {
    block_on(async {
        let r = ReadStore::open(db).await?;
        let out = r.invocation_of_run(run).await;
        close_after(r, out).await
    })
}

/// The given invocation of pipeline `name` (checked), or its latest one that has runs.
pub fn find_invocation(db: &Path, name: &str, invocation: Option<i64>) -> Result<i64, StoreError> {
    block_on(async {
        let r = ReadStore::open(db).await?;
        let out = r.find_invocation(name, invocation).await;
        close_after(r, out).await
    })
}

/// The params of the latest report run of an invocation, if it had one.
pub fn report_params(db: &Path, invocation: i64) -> Result<Option<Map<String, Value>>, StoreError> {
    block_on(async {
        let r = ReadStore::open(db).await?;
        let out = r.report_params(invocation).await;
        close_after(r, out).await
    })
}

/// Everything one report of `invocation` shows; see [`ReadStore::load_report`].
pub fn load_report(db: &Path, invocation: i64) -> Result<ReportData, StoreError> {
    block_on(async {
        let r = ReadStore::open(db).await?;
        let out = r.load_report(invocation).await;
        close_after(r, out).await
    })
}

/// Closes `r` when `out` succeeded (a failing close is then the error); on an error the
/// connection is just dropped, so the first error is the one reported.
async fn close_after<T>(r: ReadStore, out: Result<T, StoreError>) -> Result<T, StoreError> {
    let value = out?;
    r.close().await?;
    Ok(value)
}

/// Runs `fut` to completion on a fresh current-thread runtime in its own thread.
fn block_on<F, T>(fut: F) -> Result<T, StoreError>
where
    F: Future<Output = Result<T, StoreError>> + Send,
    T: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|source| StoreError::Runtime { source })?;
            rt.block_on(fut)
        })
        .join()
        .map_err(|_| StoreError::ReaderPanicked)?
    })
}
