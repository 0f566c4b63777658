//! The embedded backend: one SQLite file (`DATA_DIR/agentlocator.db`) in WAL
//! mode, versioned migrations applied at open. The functions of the submodules
//! take a connection; the facade in `store` calls them through [`Db::run`].

pub mod content;
pub mod delivery;
pub mod events;
pub mod files;
pub mod jobs;
mod migrations;
pub use migrations::schema_version;
pub mod tenants;
pub mod whatsapp;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

use super::{StoreError, StoreResult};

/// A handle to the SQLite database; cheap to clone. Calls are blocking: async
/// code goes through [`Db::run`].
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    busy_timeout: Duration,
    conn: Mutex<Connection>,
}

impl Db {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path, busy_timeout: Duration) -> StoreResult<Db> {
        let conn = open_connection(path, busy_timeout)?;
        migrations::apply(&conn).map_err(|e| match e {
            migrations::MigrationError::Sqlite(source) => sqlite_error(path, source),
            migrations::MigrationError::TooNew(found, known) => {
                StoreError::TooNew(path.display().to_string(), found, known)
            }
        })?;
        Ok(Db { inner: Arc::new(Inner { path: path.to_path_buf(), busy_timeout, conn: Mutex::new(conn) }) })
    }

    /// A second handle on its own connection (schema already current);
    /// `frequent_writes` gives it short waits for the write lock.
    pub fn reopen(&self, frequent_writes: bool) -> StoreResult<Db> {
        let path = &self.inner.path;
        let conn = open_connection(path, self.inner.busy_timeout)?;
        if frequent_writes {
            conn.busy_handler(Some(delivery::short_busy_waits)).map_err(|e| sqlite_error(path, e))?;
        }
        Ok(Db {
            inner: Arc::new(Inner {
                path: path.clone(),
                busy_timeout: self.inner.busy_timeout,
                conn: Mutex::new(conn),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the shared connection (blocking).
    pub fn with_conn<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let mut conn = self.lock();
        f(&mut conn).map_err(|e| sqlite_error(&self.inner.path, e))
    }

    /// Runs `f` on the shared connection from async code without blocking the
    /// event loop.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.with_conn(f))
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))?
    }

    /// Proves the database accepts a durable write right now, using a fresh
    /// connection that waits at most `timeout` for the write lock. This is what
    /// readiness means here: a webhook acknowledged now could be stored.
    pub fn probe_write(&self, timeout: Duration) -> StoreResult<()> {
        let path = &self.inner.path;
        let conn = open_connection(path, timeout)?;
        conn.execute(
            "INSERT INTO health_probe (id, checked_at) VALUES (1, strftime('%s','now'))
             ON CONFLICT(id) DO UPDATE SET checked_at = excluded.checked_at",
            [],
        )
        .map(|_| ())
        .map_err(|e| sqlite_error(path, e))
    }

    /// Runs a short read (an index probe) on this thread's own read-only
    /// connection, inline: no hop to the blocking pool and no lock shared with
    /// other users of the store. For the hot path of webhooks, where a
    /// `run` per request costs more than the query. WAL readers never wait
    /// for the writer; keep `f` to a few microseconds.
    pub fn read_local<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        thread_local! {
            static READERS: std::cell::RefCell<Vec<(PathBuf, Connection)>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let path = &self.inner.path;
        READERS.with(|cell| {
            let mut readers = cell.borrow_mut();
            let index = match readers.iter().position(|(p, _)| p == path) {
                Some(i) => i,
                None => {
                    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
                    let conn = Connection::open_with_flags(path, flags).map_err(|e| sqlite_error(path, e))?;
                    conn.busy_timeout(self.inner.busy_timeout).map_err(|e| sqlite_error(path, e))?;
                    readers.push((path.clone(), conn));
                    readers.len() - 1
                }
            };
            f(&readers[index].1).map_err(|e| sqlite_error(path, e))
        })
    }

    pub fn busy_timeout(&self) -> Duration {
        self.inner.busy_timeout
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (the
        // transaction rolls back), so a poisoned lock is still safe to use.
        self.inner.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub(super) fn open_connection(path: &Path, busy_timeout: Duration) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(|e| sqlite_error(path, e))?;
    conn.busy_timeout(busy_timeout).map_err(|e| sqlite_error(path, e))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;",
    )
    .map_err(|e| sqlite_error(path, e))?;
    Ok(conn)
}

pub(super) fn sqlite_error(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite { path: path.display().to_string(), source }
}
