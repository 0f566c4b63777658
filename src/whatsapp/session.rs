//! The lock that keeps one process at a time on a tenant's WhatsApp session
//! (`DATA_DIR/tenants/<id>/whatsapp.lock`): two clients on one device would
//! replace each other forever. Where the session itself is stored is the
//! store's business (`store::sessions`).

use std::path::PathBuf;

use crate::paths::{DataDir, FileLock};
use crate::tenants::TenantId;

/// Why the tenant directory could not be prepared or the lock taken.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The tenant's directory could not be created.
    #[error(transparent)]
    Dir(crate::paths::PathError),
    #[error("cannot lock {}: {source}", path.display())]
    Lock { path: PathBuf, source: std::io::Error },
}

pub struct SessionFiles {
    lock: PathBuf,
}

impl SessionFiles {
    /// Creates the tenant's directory (0700) when missing.
    pub fn prepare(data: &DataDir, tenant: &TenantId) -> Result<SessionFiles, SessionError> {
        data.ensure_tenant_dir(tenant).map_err(SessionError::Dir)?;
        Ok(SessionFiles { lock: data.whatsapp_lock(tenant) })
    }

    /// `None` when another process (a daemon, or a `tenant pair` without
    /// one) runs this tenant's client: two clients on one device would
    /// replace each other forever.
    pub fn lock(&self) -> Result<Option<FileLock>, SessionError> {
        FileLock::try_exclusive(&self.lock)
            .map_err(|source| SessionError::Lock { path: self.lock.clone(), source })
    }
}
