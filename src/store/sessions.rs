//! Each tenant's WhatsApp session state (whatsapp-rust's storage traits, on
//! the `whatsapp-sessions` crate): with the embedded store one SQLite file
//! every tenant shares (`DATA_DIR/whatsapp-sessions.db`, 0600), with
//! PostgreSQL the tenant's rows in the shared database, so any node can run
//! the tenant. Either way a session is rows keyed by the tenant's id, and a
//! thousand tenants share a few connections and one page cache. The client
//! never learns which.
//!
//! Older versions gave each tenant its own whatsapp-rust SQLite file
//! (`DATA_DIR/tenants/<id>/whatsapp.db`), which cost every connected tenant
//! its own connection, page cache and schema (about 170 KiB). Opening such a
//! tenant moves its file's rows into the shared file, in one transaction made
//! durable before the old file is deleted, so nobody pairs again.

use super::cluster::Token;
use super::postgres::cluster::FENCE_CHECK;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use whatsapp_rust::traits::Backend as SessionBackend;
use whatsapp_sessions::SqliteSessions;

use super::{Backend, Store, StoreError, StoreResult};
use crate::ids::TenantId;
use crate::paths::DataDir;

/// The session operations of a [`Store`].
pub struct Sessions<'a> {
    store: &'a Store,
    data: &'a DataDir,
}

impl Store {
    /// Sessions; `data` is where the embedded store keeps their file.
    pub fn sessions<'a>(&'a self, data: &'a DataDir) -> Sessions<'a> {
        Sessions { store: self, data }
    }
}

impl Sessions<'_> {
    /// Whether a paired session is stored for `tenant` (or a file of the old
    /// layout, which may hold one).
    pub async fn exists(&self, tenant: &TenantId) -> StoreResult<bool> {
        match &*self.store.backend {
            Backend::Sqlite(_) => Ok(self.data.legacy_whatsapp_db(tenant).exists()
                || self.shared().await?.tenant_exists(tenant.as_str()).await?),
            Backend::Postgres(pg) => Ok(whatsapp_sessions::tenant_exists(pg.pool(), tenant.as_str()).await?),
        }
    }

    /// The storage the tenant's client runs on. On a cluster, `lease` is this
    /// node's lease of the tenant: every write then checks, in its own
    /// transaction, that the lease still carries that fencing token, so a
    /// node that lost the lease (paused past its expiry, cut off) cannot
    /// write stale session state over the new owner's.
    pub async fn open(
        &self,
        tenant: &TenantId,
        lease: Option<Token>,
    ) -> StoreResult<Arc<dyn SessionBackend>> {
        match &*self.store.backend {
            Backend::Sqlite(_) => {
                let shared = self.shared().await?;
                self.import_legacy(shared, tenant).await?;
                Ok(Arc::new(shared.tenant(tenant.as_str())))
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
                self.shared().await?.delete_tenant(tenant.as_str()).await?;
                remove_legacy(&self.data.legacy_whatsapp_db(tenant))
            }
            Backend::Postgres(pg) => {
                whatsapp_sessions::delete_tenant(pg.pool(), tenant.as_str()).await?;
                Ok(())
            }
        }
    }

    /// The shared session file, opened (created 0600 and migrated) on first use.
    pub(crate) async fn shared(&self) -> StoreResult<&SqliteSessions> {
        let path = self.data.sessions_db_path();
        self.store
            .sqlite_sessions
            // The crate creates the file 0600 before SQLite opens it (its
            // -wal and -shm files take the database file's mode).
            .get_or_try_init(|| async { SqliteSessions::open(&path).await.map_err(StoreError::from) })
            .await
    }

    /// Moves a session file of the old layout into the shared file, then
    /// deletes it. A file whose device never paired holds nothing worth
    /// keeping and goes too; so does one whose rows already moved (a crash
    /// between the move and the delete).
    async fn import_legacy(&self, shared: &SqliteSessions, tenant: &TenantId) -> StoreResult<()> {
        let legacy = self.data.legacy_whatsapp_db(tenant);
        if !legacy.exists() {
            return Ok(());
        }
        match shared.import_legacy(tenant.as_str(), &legacy).await {
            Ok(_)
            | Err(whatsapp_sessions::Error::NoDevice(_))
            | Err(whatsapp_sessions::Error::TenantNotEmpty { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(tenant = %tenant, "moved the WhatsApp session into the shared session file");
        remove_legacy(&legacy)
    }
}

/// Deletes an old-layout session file with its -wal and -shm files.
fn remove_legacy(db: &Path) -> StoreResult<()> {
    for path in [db.to_path_buf(), sidecar(db, "-wal"), sidecar(db, "-shm")] {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StoreError::SessionWipe { path, source }),
        }
    }
    Ok(())
}

fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use whatsapp_rust::store::SqliteStore;
    use whatsapp_rust::wacore::store::traits::DeviceStore;

    /// A data dir with an open embedded store and one tenant's directory.
    async fn setup(dir: &Path) -> (DataDir, Store, TenantId) {
        let data = DataDir::new(dir.join("data"));
        data.ensure().expect("data dir");
        let store = Store::open(&crate::config::StoreConfig::default(), &data).await.expect("store");
        let tenant = TenantId::parse("acme").expect("id");
        data.ensure_tenant_dir(&tenant).expect("tenant dir");
        (data, store, tenant)
    }

    /// A session file as older versions kept it: whatsapp-rust's own SQLite
    /// store, its device linked to `phone` when given.
    async fn legacy_session(path: &Path, phone: Option<&str>) {
        let old = SqliteStore::new(path.to_str().expect("utf-8 path")).await.expect("legacy store");
        old.create().await.expect("device");
        let mut device = old.load().await.expect("load").expect("a device");
        device.pn = phone.map(|p| p.parse().expect("jid"));
        old.save(&device).await.expect("save");
    }

    #[tokio::test]
    async fn a_session_of_the_old_layout_moves_into_the_shared_file_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (data, store, tenant) = setup(dir.path()).await;
        let legacy = data.legacy_whatsapp_db(&tenant);
        legacy_session(&legacy, Some("15550001111@s.whatsapp.net")).await;
        let sessions = store.sessions(&data);
        assert!(sessions.exists(&tenant).await.expect("exists"), "the old file counts");

        let backend = sessions.open(&tenant, None).await.expect("open");
        assert!(!legacy.exists() && !sidecar(&legacy, "-wal").exists(), "the old file is gone");
        let device = backend.load().await.expect("load").expect("moved device");
        assert_eq!(device.pn.map(|j| j.to_string()).as_deref(), Some("15550001111@s.whatsapp.net"));
        assert!(sessions.exists(&tenant).await.expect("exists"), "now from the shared file");
        let mode = std::fs::metadata(data.sessions_db_path()).expect("shared file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        // Opened again (a restart): nothing left to move, the session stays.
        let again = store.sessions(&data).open(&tenant, None).await.expect("reopen");
        assert!(again.load().await.expect("load").and_then(|d| d.pn).is_some());
        // Another handle of the same store shares the file's connections.
        let separate = store.separate(false).expect("separate");
        assert!(separate.sessions(&data).exists(&tenant).await.expect("exists"));

        sessions.wipe(&tenant).await.expect("wipe");
        assert!(!sessions.exists(&tenant).await.expect("exists"), "wiped");
    }

    #[tokio::test]
    async fn an_old_file_that_never_paired_is_dropped_and_a_stale_one_after_a_move_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (data, store, tenant) = setup(dir.path()).await;
        let legacy = data.legacy_whatsapp_db(&tenant);
        legacy_session(&legacy, None).await;
        let sessions = store.sessions(&data);
        sessions.open(&tenant, None).await.expect("open");
        assert!(!legacy.exists(), "an unpaired device holds nothing to keep");
        assert!(!sessions.exists(&tenant).await.expect("exists"));

        // Moved, then a crash before the old file went: it must not be
        // imported over the moved rows, only deleted.
        let other = TenantId::parse("bravo").expect("id");
        data.ensure_tenant_dir(&other).expect("tenant dir");
        let legacy = data.legacy_whatsapp_db(&other);
        legacy_session(&legacy, Some("15550002222@s.whatsapp.net")).await;
        let shared = sessions.shared().await.expect("shared");
        shared.import_legacy(other.as_str(), &legacy).await.expect("moved");
        let backend = sessions.open(&other, None).await.expect("open after the crash");
        assert!(!legacy.exists());
        assert!(backend.load().await.expect("load").and_then(|d| d.pn).is_some());
    }
}
