//! Connection set-up: the writer's options (WAL, NORMAL sync, busy timeout, foreign keys) and
//! the reader's (read-only file, `query_only`, the authorizer of [`crate::guard`]).

use crate::error::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, SqliteConnection};
use std::path::Path;
use std::time::Duration;

/// Long enough to ride out a checkpoint or a reader holding the WAL; short enough that a stuck
/// second writer is reported instead of hanging forever.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Statement cache: the ingest path uses one statement per power-of-two batch size per table,
/// plus the handful of writer statements; 256 keeps all of them prepared.
const STATEMENT_CACHE: usize = 256;

/// Creates the folders that will hold the database file.
fn create_parent(path: &Path) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

/// Opens the writer connection, creating the parent folders and the file.
pub(crate) async fn open_writer(path: &Path) -> Result<SqliteConnection, StoreError> {
    create_parent(path)?;
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        .statement_cache_capacity(STATEMENT_CACHE);
    opts.connect().await.map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// Opens a reader connection. The file must exist: a reader never creates a database.
pub(crate) async fn open_reader(path: &Path) -> Result<SqliteConnection, StoreError> {
    if !path.is_file() {
        return Err(StoreError::Missing {
            path: path.to_path_buf(),
        });
    }
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false)
        .busy_timeout(BUSY_TIMEOUT)
        .pragma("query_only", "ON");
    let mut conn = opts.connect().await.map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    crate::guard::install(&mut conn)
        .await
        .map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(conn)
}

/// An exclusive `flock` on `<db>.migrate.lock`, held while the writer connection is opened
/// (which may switch a new file to WAL) and migrations are checked and applied.
/// The kernel drops it when the file closes or the process dies, so a crash never leaves it.
pub(crate) struct MigrationLock {
    _file: std::fs::File,
}

impl MigrationLock {
    pub(crate) async fn acquire(db_path: &Path) -> Result<MigrationLock, StoreError> {
        create_parent(db_path)?;
        let mut name = db_path.as_os_str().to_owned();
        name.push(".migrate.lock");
        let lock_path = std::path::PathBuf::from(name);
        let err_path = lock_path.clone();
        let file = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
            use std::os::fd::AsRawFd;
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)?;
            // SAFETY: flock on a descriptor we own; blocking is fine on this blocking thread.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(file)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|r| r)
        .map_err(|source| StoreError::Lock {
            path: err_path,
            source,
        })?;
        Ok(MigrationLock { _file: file })
    }
}
