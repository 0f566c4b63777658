//! The durable store: one interface, two backends. Unset `store.url` means the
//! embedded SQLite file in the data directory ([`sqlite`]); a `postgres://`
//! URL puts every piece of daemon state in PostgreSQL. Callers use the
//! operations of [`Store`] (grouped as `store.tenants()`, `store.outbox()`,
//! ...) and the [`EventWriter`]; they never see which backend runs, and no
//! other module writes SQL or names a database type.

/// One operation on whichever backend the store has: the SQLite function on
/// the blocking pool (its arguments moved into the closure), or the
/// PostgreSQL one on a pooled connection (`$p` is `&mut` that connection).
macro_rules! dispatch {
    ($store:expr, |$c:ident| $sqlite:expr, |$p:ident| $pg:expr $(,)?) => {
        match &*$store.backend {
            crate::store::Backend::Sqlite(db) => db.run(move |$c| $sqlite).await,
            crate::store::Backend::Postgres(pg) => {
                let mut client = pg.client().await?;
                let $p = &mut client;
                Ok($pg.await?)
            }
        }
    };
}

pub mod blobs;
pub mod cluster;
mod columns;
pub mod content;
pub mod copy;
pub mod delivery;
pub mod events;
pub mod jobs;
mod ops;
mod postgres;
pub mod sessions;
mod sqlite;
pub mod tenants;
pub mod whatsapp;
mod writer;

pub use ops::{Blob, Blobs};
/// Test databases on the PostgreSQL test server, for tests outside the store.
#[cfg(test)]
pub(crate) use postgres::testdb;
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
    #[error(transparent)]
    Postgres(#[from] postgres::PgError),
    #[error("WhatsApp session store: {0}")]
    Sessions(#[from] whatsapp_sessions::Error),
    #[error("cannot open the WhatsApp session store {path}: {source}")]
    SessionFile {
        path: String,
        #[source]
        source: whatsapp_rust::wacore::store::error::StoreError,
    },
    #[error("several nodes need the PostgreSQL store (store.url); the embedded SQLite serves one daemon")]
    NotShared,
    #[error("cannot create or delete {}: {source}", path.display())]
    SessionWipe {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// Whether the store could not be reached or could not take the write
    /// right now (PostgreSQL down or restarting, the event writer unable to
    /// commit), as opposed to a fault of the request or of the data: the
    /// same request succeeds later, so the caller is told to retry (503).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Postgres(e) => e.is_unavailable(),
            // The event writer answers with its commit's error as text; a
            // batch it could not store is one to send again.
            StoreError::Worker(_) => true,
            StoreError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    /// The embedded store's shared WhatsApp session file, opened by the first
    /// caller that needs it (see [`sessions`]); every handle of one store
    /// shares it. Unused on PostgreSQL.
    sqlite_sessions: Arc<tokio::sync::OnceCell<whatsapp_sessions::SqliteSessions>>,
}

enum Backend {
    Sqlite(sqlite::Db),
    Postgres(postgres::Pg),
}

impl Store {
    /// Opens the store the configuration names: `store.url` when set, else the
    /// SQLite file in the data directory. Brings the schema up to date.
    pub async fn open(settings: &StoreConfig, data: &DataDir) -> StoreResult<Store> {
        match &settings.url {
            Some(url) => {
                let pg = postgres::Pg::open(url, settings.pool_size.get(), settings.busy_timeout).await?;
                // Each tenant's WhatsApp session lives in the same database.
                whatsapp_sessions::migrate(pg.pool()).await?;
                Ok(Store::on(Backend::Postgres(pg)))
            }
            None => Store::open_sqlite(&data.db_path(), settings.busy_timeout),
        }
    }

    fn on(backend: Backend) -> Store {
        Store { backend: Arc::new(backend), sqlite_sessions: Arc::default() }
    }

    /// Opens (creating if needed) the SQLite database at `path` and brings its
    /// schema up to date.
    pub fn open_sqlite(path: &Path, busy_timeout: Duration) -> StoreResult<Store> {
        Ok(Store::on(Backend::Sqlite(sqlite::Db::open(path, busy_timeout)?)))
    }

    /// Another handle to the same store for a component that must not queue
    /// behind the others' statements: on SQLite a connection of its own
    /// (`frequent_writes`: with short waits for the write lock, for a thread
    /// that commits often); on PostgreSQL the shared pool already gives each
    /// statement its own connection.
    pub fn separate(&self, frequent_writes: bool) -> StoreResult<Store> {
        match &*self.backend {
            Backend::Sqlite(db) => Ok(Store {
                backend: Arc::new(Backend::Sqlite(db.reopen(frequent_writes)?)),
                sqlite_sessions: self.sqlite_sessions.clone(),
            }),
            Backend::Postgres(_) => Ok(self.clone()),
        }
    }

    /// Where the data lives, for logs and error messages (never a password).
    pub fn describe(&self) -> String {
        match &*self.backend {
            Backend::Sqlite(db) => format!("SQLite {}", db.path().display()),
            Backend::Postgres(pg) => format!("PostgreSQL {}", pg.target()),
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
            Backend::Postgres(pg) => Ok(postgres::probe_write(pg.pool(), pg.target(), timeout).await?),
        }
    }
}

/// The schema a store has, for `agentlocator db status`.
#[derive(Debug, Clone)]
pub struct SchemaStatus {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    pub version: i64,
    /// The newest version this build knows.
    pub latest: i64,
}

impl Store {
    pub async fn schema(&self) -> StoreResult<SchemaStatus> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                let (version, latest) = db.run(|c| sqlite::schema_version(c)).await?;
                Ok(SchemaStatus { backend: "sqlite", version, latest })
            }
            Backend::Postgres(pg) => {
                let status = postgres::migrations::status(pg.pool()).await?;
                Ok(SchemaStatus { backend: "postgres", version: status.version, latest: status.latest })
            }
        }
    }
}

/// An operator command that fails on this ends with exit 1 and its message.
impl crate::error::CommandFailure for StoreError {}
