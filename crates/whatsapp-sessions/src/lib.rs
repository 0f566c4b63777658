//! whatsapp-rust's storage traits on PostgreSQL, or on one SQLite file
//! shared by every tenant.
//!
//! Every tenant's WhatsApp session state (the Device, Signal identities,
//! sessions, prekeys and sender keys, app-state keys, versions and MACs, LID
//! mappings, device lists, tc tokens, sent messages, the pending-inbound buffer
//! the inbound durability hook needs, message secrets) lives in one shared
//! database, in `wa_`-prefixed tables whose primary keys start with the tenant.
//!
//! [`PgSessionStore`] is one tenant's view: a cloned pool handle plus the
//! tenant name, nothing cached, so a thousand tenants share a pool of a few
//! connections. Run [`migrate`] once at start-up before building stores.
//! With the `sqlite-import` feature, `import_sqlite` copies a tenant's
//! whatsapp-rust SQLite session database into PostgreSQL, pairing included,
//! and `SqliteSessions::import_legacy` into the shared SQLite file;
//! [`copy_tenant_to_pg`] moves a tenant of the shared file to PostgreSQL.
//! [`SqliteSessions`] is the same on one SQLite file, whose writer connection
//! and two readers every tenant shares; [`SqliteSessionStore`] is its tenant
//! view.
//! On a cluster, [`PgSessionStore::with_fence`] refuses writes from a node
//! whose lease on the tenant is gone ([`Fence`], [`LeaseLost`]).
//!
//! [`SqliteSessions`] is the same tables in one SQLite file, whose writer
//! connection and two readers every tenant shares (opening it migrates it);
//! [`SqliteSessionStore`] is one tenant's view of it.

mod app_sync;
mod codec;
mod device;
mod error;
mod fence;
#[cfg(feature = "sqlite-import")]
mod import;
mod msg_secret;
mod protocol;
mod protocol_codec;
mod schema;
mod signal;
mod sqlite;
mod store;
mod transfer;

pub use error::Error;
pub use fence::{is_lease_lost, Fence, LeaseLost};
#[cfg(feature = "sqlite-import")]
pub use import::import_sqlite;
pub use schema::{delete_tenant, migrate, tenant_exists, MIGRATION_LOCK_KEY, SCHEMA_VERSION};
pub use sqlite::{copy_tenant_to_pg, SqliteSessionStore, SqliteSessions, SQLITE_SCHEMA_VERSION};
pub use store::PgSessionStore;
pub use transfer::ImportCounts;
