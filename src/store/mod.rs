//! The durable store: one interface, two backends. Unset `store.url` means the
//! embedded SQLite file in the data directory ([`sqlite`]); a `postgres://`
//! URL puts every piece of daemon state in PostgreSQL. Callers use the
//! operations of [`Store`] (grouped as `store.tenants()`, `store.outbox()`,
//! ...) and the [`EventWriter`]; they never see which backend runs, and no
//! other module writes SQL or names a database type.

pub mod content;
pub mod delivery;
pub mod events;
pub mod jobs;
mod sqlite;
pub mod tenants;
pub mod whatsapp;
mod writer;

pub use writer::EventWriter;

use std::path::Path;

use crate::config::StoreConfig;
use crate::paths::DataDir;
use std::sync::Arc;
use std::time::Duration;

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

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
}

enum Backend {
    Sqlite(sqlite::Db),
}

impl Store {
    /// Opens the store the configuration names: `store.url` when set, else the
    /// SQLite file in the data directory. Brings the schema up to date.
    pub async fn open(settings: &StoreConfig, data: &DataDir) -> StoreResult<Store> {
        Store::open_sqlite(&data.db_path(), settings.busy_timeout)
    }

    /// Opens (creating if needed) the SQLite database at `path` and brings its
    /// schema up to date.
    pub fn open_sqlite(path: &Path, busy_timeout: Duration) -> StoreResult<Store> {
        Ok(Store { backend: Arc::new(Backend::Sqlite(sqlite::Db::open(path, busy_timeout)?)) })
    }

    /// Another handle to the same store for a component that must not queue
    /// behind the others' statements: on SQLite a connection of its own
    /// (`frequent_writes`: with short waits for the write lock, for a thread
    /// that commits often); on PostgreSQL the shared pool already gives each
    /// statement its own connection.
    pub fn separate(&self, frequent_writes: bool) -> StoreResult<Store> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Ok(Store { backend: Arc::new(Backend::Sqlite(db.reopen(frequent_writes)?)) })
            }
        }
    }

    /// Where the data lives, for logs and error messages (never a password).
    pub fn describe(&self) -> String {
        match &*self.backend {
            Backend::Sqlite(db) => format!("SQLite {}", db.path().display()),
        }
    }

    /// Proves the database accepts a durable write right now, waiting at most
    /// `timeout`. This is what readiness means here: a webhook acknowledged
    /// now could be stored.
    pub async fn probe_write(&self, timeout: Duration) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                let db = db.clone();
                tokio::task::spawn_blocking(move || db.probe_write(timeout))
                    .await
                    .map_err(|e| StoreError::Worker(e.to_string()))?
            }
        }
    }
}

/// An operator command that fails on this ends with exit 1 and its message.
impl crate::error::CommandFailure for StoreError {}
