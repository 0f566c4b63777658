//! The storage traits on one SQLite file shared by every tenant, keyed by
//! tenant like the PostgreSQL backend (same tables, columns and keys).
//!
//! [`SqliteSessions`] owns the file and its few connections;
//! [`SqliteSessionStore`] is one tenant's view of it, as cheap as
//! `PgSessionStore`, so a thousand tenants share one writer and two readers
//! instead of a file and a connection each.

// `pub(crate)`: the copy functions between backends reuse the statements
// and the plumbing.
pub(crate) mod app_sync;
mod conn_thread;
mod copy;
pub(crate) mod device;
#[cfg(feature = "sqlite-import")]
mod import;
mod msg_secret;
mod protocol;
pub(crate) mod schema;
mod signal;
pub(crate) mod store;

pub use copy::copy_tenant_to_pg;
pub use schema::SQLITE_SCHEMA_VERSION;
pub use store::{SqliteSessionStore, SqliteSessions};
