//! The durable store: one SQLite file (`DATA_DIR/agentlocator.db`) in WAL mode,
//! versioned migrations applied at open. Other modules use the functions of the
//! submodules and never write SQL against these tables themselves.

pub mod content;
pub mod delivery;
pub mod events;
pub mod jobs;
mod migrations;
pub mod postgres;
pub mod tenants;
pub mod whatsapp;
mod writer;

pub use writer::EventWriter;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {0} was written by a newer agentlocator (schema {1}, this build knows {2}); upgrade the binary")]
    TooNew(String, i64, i64),
    #[error("the database worker stopped: {0}")]
    Worker(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A handle to the store; cheap to clone. Calls are blocking: async code goes
/// through [`Store::run`].
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    busy_timeout: Duration,
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path, busy_timeout: Duration) -> StoreResult<Store> {
        let conn = open_connection(path, busy_timeout)?;
        migrations::apply(&conn).map_err(|e| match e {
            migrations::MigrationError::Sqlite(source) => sqlite_error(path, source),
            migrations::MigrationError::TooNew(found, known) => {
                StoreError::TooNew(path.display().to_string(), found, known)
            }
        })?;
        Ok(Store {
            inner: Arc::new(Inner { path: path.to_path_buf(), busy_timeout, conn: Mutex::new(conn) }),
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

fn open_connection(path: &Path, busy_timeout: Duration) -> StoreResult<Connection> {
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

fn sqlite_error(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite { path: path.display().to_string(), source }
}

/// An operator command that fails on this ends with exit 1 and its message.
impl crate::error::CommandFailure for StoreError {}
