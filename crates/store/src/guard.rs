//! The authorizer installed on reader connections.
//!
//! `mode=ro` and `PRAGMA query_only` already make INSERT, UPDATE, DELETE and CREATE fail, but
//! they let `ATTACH ':memory:'` through, let `PRAGMA query_only=OFF` switch the guard off, and
//! answer `PRAGMA journal_mode=…` with a baffling "disk I/O error". SQLite's authorizer sees
//! every action a statement would take while it is being compiled, so a whitelist there refuses
//! all of those up front with SQLITE_AUTH, which [`refusal_message`] turns into a clear message.

use libsqlite3_sys as ffi;
use sqlx::SqliteConnection;
use std::ffi::{c_char, c_int, c_void, CStr};

/// Pragmas that only read, and take an argument naming what to read (`table_info(runs)`).
/// Pragmas without an argument are reads and are always allowed.
const READ_PRAGMAS_WITH_ARG: [&str; 8] = [
    "table_info",
    "table_xinfo",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "foreign_key_check",
    "integrity_check",
];

pub(crate) async fn install(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: `db` is the live connection handle, locked for the duration of this call; the
    // callback is a plain function with no user data, valid for the life of the program.
    let rc = unsafe { ffi::sqlite3_set_authorizer(db, Some(authorize), std::ptr::null_mut()) };
    if rc != ffi::SQLITE_OK {
        return Err(sqlx::Error::Protocol(format!(
            "cannot install the read-only authorizer (sqlite code {rc})"
        )));
    }
    Ok(())
}

extern "C" fn authorize(
    _user: *mut c_void,
    action: c_int,
    arg1: *const c_char,
    arg2: *const c_char,
    _db_name: *const c_char,
    _trigger: *const c_char,
) -> c_int {
    match action {
        ffi::SQLITE_SELECT | ffi::SQLITE_READ | ffi::SQLITE_FUNCTION | ffi::SQLITE_RECURSIVE => {
            ffi::SQLITE_OK
        }
        ffi::SQLITE_PRAGMA => {
            if arg2.is_null() {
                return ffi::SQLITE_OK;
            }
            // SAFETY: for SQLITE_PRAGMA, SQLite passes the pragma name as a NUL-terminated
            // string in arg1 (or NULL, handled by the check).
            let name = if arg1.is_null() {
                ""
            } else {
                unsafe { CStr::from_ptr(arg1) }.to_str().unwrap_or("")
            };
            if READ_PRAGMAS_WITH_ARG
                .iter()
                .any(|p| p.eq_ignore_ascii_case(name))
            {
                ffi::SQLITE_OK
            } else {
                ffi::SQLITE_DENY
            }
        }
        _ => ffi::SQLITE_DENY,
    }
}

/// SQLite's own text for a denial is "not authorized" or "authorization denied"; say why.
/// `code` is the (extended) SQLite result code when there is one.
pub(crate) fn refusal_message(sqlite_message: &str, code: Option<i32>) -> Option<String> {
    let primary = code.map(|c| c & 0xff);
    let lower = sqlite_message.to_ascii_lowercase();
    if primary == Some(ffi::SQLITE_AUTH) || lower.contains("not authorized") {
        Some(format!(
            "{sqlite_message}: only SELECT and reading PRAGMAs are allowed \
             (no INSERT, UPDATE, DELETE, CREATE, ATTACH, VACUUM or PRAGMA assignments)"
        ))
    } else if primary == Some(ffi::SQLITE_READONLY) || lower.contains("readonly") {
        Some(sqlite_message.to_string())
    } else {
        None
    }
}
