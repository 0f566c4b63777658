//! A tenant's WhatsApp session on disk: `DATA_DIR/tenants/<id>/whatsapp.db`
//! (whatsapp-rust's SQLite store, 0600 in a 0700 directory) and the lock that
//! keeps one process at a time on it.

use std::path::{Path, PathBuf};

use crate::paths::{DataDir, FileLock};
use crate::tenants::TenantId;

/// Why the session files could not be prepared, locked, created or deleted.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The tenant's directory could not be created.
    #[error(transparent)]
    Dir(crate::paths::PathError),
    #[error("cannot lock {}: {source}", path.display())]
    Lock { path: PathBuf, source: std::io::Error },
    #[error("cannot create {}: {source}", path.display())]
    Create { path: PathBuf, source: std::io::Error },
    #[error("{} is not UTF-8", .0.display())]
    NotUtf8(PathBuf),
    #[error("cannot delete {}: {source}", path.display())]
    Delete { path: PathBuf, source: std::io::Error },
}

pub struct SessionFiles {
    pub db: PathBuf,
    lock: PathBuf,
}

impl SessionFiles {
    /// Creates the tenant's directory (0700) when missing.
    pub fn prepare(data: &DataDir, tenant: &TenantId) -> Result<SessionFiles, SessionError> {
        data.ensure_tenant_dir(tenant).map_err(SessionError::Dir)?;
        Ok(SessionFiles { db: data.whatsapp_db(tenant), lock: data.whatsapp_lock(tenant) })
    }

    /// `None` when another process (a daemon, or a `tenant pair` without
    /// one) runs this tenant's client: two clients on one device would
    /// replace each other forever.
    pub fn lock(&self) -> Result<Option<FileLock>, SessionError> {
        FileLock::try_exclusive(&self.lock)
            .map_err(|source| SessionError::Lock { path: self.lock.clone(), source })
    }

    pub fn exists(&self) -> bool {
        self.db.exists()
    }

    /// The path whatsapp-rust opens, created empty with mode 0600 first so its
    /// keys are never readable by others whatever the umask (SQLite gives the
    /// -wal and -shm files the database file's mode).
    pub fn db_path_for_client(&self) -> Result<String, SessionError> {
        if !self.db.exists() {
            crate::paths::create_private_file(&self.db, b"")
                .or_else(|e| if e.kind() == std::io::ErrorKind::AlreadyExists { Ok(()) } else { Err(e) })
                .map_err(|source| SessionError::Create { path: self.db.clone(), source })?;
        }
        self.db.to_str().map(str::to_string).ok_or_else(|| SessionError::NotUtf8(self.db.clone()))
    }

    /// Deletes the session store (keys and all): after a logout the device is
    /// gone for good and the next connect must pair anew.
    pub fn wipe(&self) -> Result<(), SessionError> {
        for path in [self.db.clone(), sidecar(&self.db, "-wal"), sidecar(&self.db, "-shm")] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(SessionError::Delete { path, source }),
            }
        }
        Ok(())
    }
}

fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
