//! The data directory's layout, and the only code that creates files in it:
//! directories 0700, files 0600, whatever the process umask says.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{AppError, AppResult};
use crate::tenants::TenantId;

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the directory (0700) if needed, and tightens it if it exists.
    pub fn ensure(&self) -> AppResult<()> {
        create_private_dir(&self.root)
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join("agentlocator.db")
    }

    pub fn socket_path(&self) -> PathBuf {
        self.root.join("agentlocator.sock")
    }

    pub fn secret_path(&self) -> PathBuf {
        self.root.join("internal_secret")
    }

    /// Held (flock) by the one `serve` that owns this data directory.
    pub fn serve_lock_path(&self) -> PathBuf {
        self.root.join("serve.lock")
    }

    /// `DATA_DIR/tenants/<id>`: a validated id cannot climb out of it.
    pub fn tenant_dir(&self, id: &TenantId) -> PathBuf {
        self.root.join("tenants").join(id.as_str())
    }

    /// The tenant's WhatsApp session store (whatsapp-rust's SQLite database).
    pub fn whatsapp_db(&self, id: &TenantId) -> PathBuf {
        self.tenant_dir(id).join("whatsapp.db")
    }

    /// Held (flock) by the one process that runs the tenant's WhatsApp client:
    /// two clients on one device would replace each other forever.
    pub fn whatsapp_lock(&self, id: &TenantId) -> PathBuf {
        self.tenant_dir(id).join("whatsapp.lock")
    }

    pub fn ensure_tenant_dir(&self, id: &TenantId) -> AppResult<PathBuf> {
        create_private_dir(&self.root.join("tenants"))?;
        let dir = self.tenant_dir(id);
        create_private_dir(&dir)?;
        Ok(dir)
    }
}

pub fn create_private_dir(path: &Path) -> AppResult<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| AppError::failed(format!("cannot create directory {}: {e}", path.display())))?;
    fs::set_permissions(path, Permissions::from_mode(0o700))
        .map_err(|e| AppError::failed(format!("cannot set mode 0700 on {}: {e}", path.display())))
}

/// Writes a new file with mode 0600; fails if it already exists, so two
/// processes racing to create it cannot both win.
pub fn create_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Replaces (or creates) a 0600 file atomically: a reader sees the old or the
/// new contents, never a torn write.
pub fn replace_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    create_private_file(&tmp, contents)?;
    fs::rename(&tmp, path)
}

/// An exclusive advisory lock (flock) on a 0600 file, held until dropped; the
/// OS releases it if the process dies, so a crash never leaves it stuck.
pub struct FileLock {
    _file: fs::File,
}

impl FileLock {
    /// `Ok(None)` when another process holds it.
    pub fn try_exclusive(path: &Path) -> std::io::Result<Option<FileLock>> {
        use fs4::fs_std::FileExt;
        let file = OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(path)?;
        Ok(file.try_lock_exclusive()?.then_some(FileLock { _file: file }))
    }
}
