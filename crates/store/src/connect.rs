//! Connection set-up: the writer's options (WAL, NORMAL sync unless
//! [`SYNCHRONOUS_ENV`] says `full`, busy timeout, foreign keys) and the reader's (read-only
//! file, `query_only`, the authorizer of [`crate::guard`]).

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

/// The environment variable that chooses the writer's `PRAGMA synchronous`.
pub const SYNCHRONOUS_ENV: &str = "DDMD_SQLITE_SYNCHRONOUS";

/// The writer's `PRAGMA synchronous`, from [`SYNCHRONOUS_ENV`].
///
/// `Normal` is the default: in WAL mode it fsyncs the WAL only at checkpoints, so a committed
/// transaction survives a crash of the process (the WAL is in the OS's page cache and is
/// replayed on the next open) but the last transactions may be lost on a power loss or kernel
/// crash; the database stays consistent either way. The jobs' own files are no safer against a
/// power loss, and a result whose success was not recorded is not cached, so it runs again: an
/// fsync per ingest batch would slow every run for that case. `Full` fsyncs the WAL at every
/// commit (durable against power loss too) for whoever wants that, and for the benchmark that
/// compares like with like against MLflow, which commits every batch (docs/BENCHMARKS.md,
/// row 3c).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    #[default]
    Normal,
    Full,
}

/// What the error message lists as accepted.
const SYNCHRONOUS_ACCEPTED: &str = "`normal` (the default) or `full`";

impl Synchronous {
    /// Reads [`SYNCHRONOUS_ENV`]: unset is the default; any other value than `normal` or `full`
    /// (ASCII case ignored) is an error, never silently the default.
    pub fn from_env() -> Result<Synchronous, StoreError> {
        Synchronous::parse(std::env::var_os(SYNCHRONOUS_ENV).as_deref())
    }

    /// Parses the variable's value (`None`: unset).
    pub fn parse(value: Option<&std::ffi::OsStr>) -> Result<Synchronous, StoreError> {
        let Some(value) = value else {
            return Ok(Synchronous::default());
        };
        let bad = || StoreError::Setting {
            var: SYNCHRONOUS_ENV,
            value: value.to_string_lossy().into_owned(),
            accepted: SYNCHRONOUS_ACCEPTED,
        };
        let text = value.to_str().ok_or_else(bad)?;
        if text.eq_ignore_ascii_case("normal") {
            Ok(Synchronous::Normal)
        } else if text.eq_ignore_ascii_case("full") {
            Ok(Synchronous::Full)
        } else {
            Err(bad())
        }
    }

    fn sqlx(self) -> SqliteSynchronous {
        match self {
            Synchronous::Normal => SqliteSynchronous::Normal,
            Synchronous::Full => SqliteSynchronous::Full,
        }
    }
}

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

/// Opens the writer connection, creating the parent folders and the file, with the
/// `synchronous` setting of [`SYNCHRONOUS_ENV`] (checked before anything is created).
pub(crate) async fn open_writer(path: &Path) -> Result<SqliteConnection, StoreError> {
    let synchronous = Synchronous::from_env()?;
    open_writer_with(path, synchronous).await
}

async fn open_writer_with(
    path: &Path,
    synchronous: Synchronous,
) -> Result<SqliteConnection, StoreError> {
    create_parent(path)?;
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous.sqlx())
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn unset_is_normal() {
        assert_eq!(Synchronous::parse(None).unwrap(), Synchronous::Normal);
    }

    #[test]
    fn normal_and_full_in_any_ascii_case() {
        for (text, want) in [
            ("normal", Synchronous::Normal),
            ("NORMAL", Synchronous::Normal),
            ("full", Synchronous::Full),
            ("Full", Synchronous::Full),
        ] {
            assert_eq!(Synchronous::parse(Some(OsStr::new(text))).unwrap(), want);
        }
    }

    #[test]
    fn anything_else_is_an_error_naming_the_variable_and_the_values() {
        // `off` and `extra` are SQLite values too, but not ones the store offers; an empty
        // value is not "unset".
        for text in ["", "off", "extra", "2", " full", "fulll"] {
            let err = Synchronous::parse(Some(OsStr::new(text))).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(SYNCHRONOUS_ENV), "{msg}");
            assert!(msg.contains("`normal`") && msg.contains("`full`"), "{msg}");
            assert!(msg.contains(&format!("{text:?}")), "{msg}");
        }
    }

    #[test]
    fn a_value_that_is_not_unicode_is_an_error() {
        use std::os::unix::ffi::OsStrExt;
        let err = Synchronous::parse(Some(OsStr::from_bytes(b"f\xffll"))).unwrap_err();
        assert!(err.to_string().contains(SYNCHRONOUS_ENV), "{err}");
    }

    #[tokio::test]
    async fn the_writer_uses_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        for (setting, pragma) in [(Synchronous::Normal, 1), (Synchronous::Full, 2)] {
            let path = dir.path().join(format!("{setting:?}.sqlite"));
            let mut conn = open_writer_with(&path, setting).await.unwrap();
            let got: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(got, pragma, "{setting:?}");
        }
    }
}
