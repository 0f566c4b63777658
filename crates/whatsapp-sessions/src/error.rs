//! The crate's error type for the schema, tenant and import functions (the
//! storage traits themselves speak wacore's `StoreError`).
//!
//! No variant carries a connection string: PostgreSQL and pool errors render
//! the server's message, never the configuration that reached it.

use std::path::PathBuf;

/// What can go wrong outside the storage traits.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No connection could be taken from the pool.
    #[error("no PostgreSQL connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A statement failed.
    #[error("PostgreSQL: {}", describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// The database was migrated by a newer build than this one.
    #[error("the WhatsApp session schema is at version {found}, newer than this build's {known}")]
    SchemaTooNew { found: i64, known: i64 },
    /// The import target already holds session state.
    #[error("tenant {tenant:?} already has WhatsApp session rows there; not importing over them")]
    TenantNotEmpty { tenant: String },
    /// The SQLite file to import is not there.
    #[error("no SQLite session database at {}", .0.display())]
    SqliteMissing(PathBuf),
    /// The SQLite file holds no device, so there is nothing to move.
    #[error("the SQLite session database {} holds no device", .0.display())]
    NoDevice(PathBuf),
    /// whatsapp-rust's own store failed (opening or reading the SQLite file).
    #[error("WhatsApp store: {0}")]
    Store(#[from] wacore::store::error::StoreError),
    /// A SQLite statement failed (the shared session file, or a file to import).
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A fenced write was refused: this node's lease on the tenant is gone.
    /// (Not `transparent`: the [`crate::LeaseLost`] must stay in the source
    /// chain for [`crate::is_lease_lost`] to find.)
    #[error("{0}")]
    LeaseLost(#[from] crate::fence::LeaseLost),
    /// The shared SQLite session file could not be created or opened.
    #[error("SQLite session file {}: {source}", path.display())]
    File { path: PathBuf, source: std::io::Error },
    /// A value could not be converted between the stores.
    #[error("unexpected value: {0}")]
    Value(String),
}

/// `tokio_postgres::Error`'s own text is only "db error" for server errors;
/// the server's message (never the connection string) says what failed.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}
