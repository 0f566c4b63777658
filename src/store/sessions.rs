//! Each tenant's WhatsApp session state (whatsapp-rust's storage): with the
//! embedded store a SQLite file per tenant (`DATA_DIR/tenants/<id>/whatsapp.db`,
//! 0600 in a 0700 directory), with PostgreSQL the tenant's rows in the shared
//! database, so any node can run the tenant. The client never learns which.

use super::cluster::Token;
use super::postgres::cluster::FENCE_CHECK;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use diesel::connection::Connection as _;
use whatsapp_rust::store::{SqliteStore, SqliteStoreConfig};
use whatsapp_rust::traits::Backend as SessionBackend;

use super::{Backend, Store, StoreError, StoreResult};
use crate::ids::TenantId;
use crate::paths::DataDir;

/// The session operations of a [`Store`].
pub struct Sessions<'a> {
    store: &'a Store,
    data: &'a DataDir,
}

impl Store {
    /// Sessions; `data` is where the embedded store keeps their files.
    pub fn sessions<'a>(&'a self, data: &'a DataDir) -> Sessions<'a> {
        Sessions { store: self, data }
    }
}

impl Sessions<'_> {
    /// Whether a session is stored for `tenant` (linked or half-paired).
    pub async fn exists(&self, tenant: &TenantId) -> StoreResult<bool> {
        match &*self.store.backend {
            Backend::Sqlite(_) => Ok(self.data.whatsapp_db(tenant).exists()),
            Backend::Postgres(pg) => Ok(whatsapp_sessions::tenant_exists(pg.pool(), tenant.as_str()).await?),
        }
    }

    /// The storage the tenant's client runs on, created when missing. On a
    /// cluster, `lease` is this node's lease of the tenant: every write then
    /// checks, in its own transaction, that the lease still carries that
    /// fencing token, so a node that lost the lease (paused past its expiry,
    /// cut off) cannot write stale session state over the new owner's.
    pub async fn open(
        &self,
        tenant: &TenantId,
        lease: Option<Token>,
    ) -> StoreResult<Arc<dyn SessionBackend>> {
        match &*self.store.backend {
            Backend::Sqlite(_) => {
                let file = session_file(self.data, tenant)?;
                let shown = file.display().to_string();
                let store = SqliteStore::with_config(&shown, session_store_config())
                    .await
                    .map_err(|source| StoreError::SessionFile { path: shown, source })?;
                Ok(Arc::new(store))
            }
            Backend::Postgres(pg) => {
                let store = whatsapp_sessions::PgSessionStore::new(pg.pool().clone(), tenant.as_str());
                Ok(Arc::new(match lease {
                    Some(token) => store.with_fence(whatsapp_sessions::Fence::new(FENCE_CHECK, token.0)),
                    None => store,
                }))
            }
        }
    }

    /// Deletes the session, keys and all: after a logout the device is gone
    /// for good and the next connect must pair anew.
    pub async fn wipe(&self, tenant: &TenantId) -> StoreResult<()> {
        match &*self.store.backend {
            Backend::Sqlite(_) => {
                let db = self.data.whatsapp_db(tenant);
                for path in [db.clone(), sidecar(&db, "-wal"), sidecar(&db, "-shm")] {
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => return Err(StoreError::SessionWipe { path, source }),
                    }
                }
                Ok(())
            }
            Backend::Postgres(pg) => {
                whatsapp_sessions::delete_tenant(pg.pool(), tenant.as_str()).await?;
                Ok(())
            }
        }
    }
}

/// The session file, created empty with mode 0600 first so its keys are never
/// readable by others whatever the umask (SQLite gives the -wal and -shm
/// files the database file's mode).
fn session_file(data: &DataDir, tenant: &TenantId) -> StoreResult<PathBuf> {
    let db = data.whatsapp_db(tenant);
    if !db.exists() {
        crate::paths::create_private_file(&db, b"")
            .or_else(|e| if e.kind() == std::io::ErrorKind::AlreadyExists { Ok(()) } else { Err(e) })
            .map_err(|source| StoreError::SessionWipe { path: db.clone(), source })?;
    }
    Ok(db)
}

/// How each tenant's SQLite session connection is set up. A thousand tenants
/// hold a thousand connections, so what one holds counts a thousandfold: with
/// the library's defaults a tenant's connection held about 600 KiB once
/// paired (a 512 KiB page cache, soon full, and Diesel's prepared statements).
/// A session file is small and the client keeps what it reads, so:
/// - a small page cache: a page it no longer holds is read again from the
///   kernel's page cache, which all tenants share and the kernel can reclaim;
/// - no prepared-statement cache: a statement is compiled again each time it
///   runs (microseconds; a session does a few per message).
///
/// Durability is the library's default as before (WAL, `synchronous =
/// NORMAL`, writes committed before the client acks), and so are the single
/// connection and memory-mapped I/O (off: mapped pages would count in the
/// daemon's RSS, see bench/whatsapp/README.md).
fn session_store_config() -> SqliteStoreConfig {
    let mut config = SqliteStoreConfig::default().with_connection_init(|connection| {
        connection.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
        Ok(())
    });
    config.cache_size_kib = SESSION_CACHE_KIB;
    config
}

/// The page cache of each tenant's session connection, in KiB (four 4 KiB pages).
const SESSION_CACHE_KIB: u32 = 16;

fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
