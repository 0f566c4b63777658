//! The data directory's layout, and the only code that creates files in it:
//! directories 0700, files 0600, whatever the process umask says.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::ids::TenantId;

/// Why a private directory could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error("cannot create directory {}: {source}", path.display())]
    Create { path: PathBuf, source: std::io::Error },
    #[error("cannot set mode 0700 on {}: {source}", path.display())]
    SetMode { path: PathBuf, source: std::io::Error },
    #[error("cannot inspect {}: {source}", path.display())]
    Inspect { path: PathBuf, source: std::io::Error },
    #[error("{} exists and is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error(
        "{} is writable by other users (mode {mode:04o}); use a directory of its own (a new one is \
         created with mode 0700, e.g. {}), or remove their write permission (chmod go-w)",
        path.display(),
        path.join("agentlocator").display()
    )]
    WritableByOthers { path: PathBuf, mode: u32 },
}

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

    /// Creates the directory (0700) if needed; an existing one is used as it
    /// is, unless others may write to it (see [`create_private_dir`]).
    pub fn ensure(&self) -> Result<(), PathError> {
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

    /// Every tenant's WhatsApp session state on the embedded store: one
    /// SQLite file, rows keyed by tenant.
    pub fn sessions_db_path(&self) -> PathBuf {
        self.root.join("whatsapp-sessions.db")
    }

    /// Where a tenant's WhatsApp session was kept before the shared file
    /// (whatsapp-rust's own SQLite database, one per tenant): read once, to
    /// move it into [`Self::sessions_db_path`], then deleted.
    pub fn legacy_whatsapp_db(&self, id: &TenantId) -> PathBuf {
        self.tenant_dir(id).join("whatsapp.db")
    }

    /// Held (flock) by the one process that runs the tenant's WhatsApp client:
    /// two clients on one device would replace each other forever.
    pub fn whatsapp_lock(&self, id: &TenantId) -> PathBuf {
        self.tenant_dir(id).join("whatsapp.lock")
    }

    /// Where a tenant's stored content of `kind` lives
    /// (`DATA_DIR/tenants/<id>/media`, `.../recordings`).
    pub fn content_dir(&self, id: &TenantId, kind: ContentKind) -> PathBuf {
        self.tenant_dir(id).join(kind.dir_name())
    }

    pub fn ensure_tenant_dir(&self, id: &TenantId) -> Result<PathBuf, PathError> {
        create_private_dir(&self.root.join("tenants"))?;
        let dir = self.tenant_dir(id);
        create_private_dir(&dir)?;
        Ok(dir)
    }

    /// [`Self::content_dir`], created (0700, with the tenant's directory) when missing.
    pub fn ensure_content_dir(&self, id: &TenantId, kind: ContentKind) -> Result<PathBuf, PathError> {
        self.ensure_tenant_dir(id)?;
        let dir = self.content_dir(id, kind);
        create_private_dir(&dir)?;
        Ok(dir)
    }
}

/// The kinds of stored content the API serves, each in its own directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// WhatsApp media a contact sent, downloaded and decrypted.
    WhatsappMedia,
    /// A Twilio call recording.
    Recording,
}

impl ContentKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentKind::WhatsappMedia => "whatsapp",
            ContentKind::Recording => "recording",
        }
    }

    pub fn parse(s: &str) -> Option<ContentKind> {
        match s {
            "whatsapp" => Some(ContentKind::WhatsappMedia),
            "recording" => Some(ContentKind::Recording),
            _ => None,
        }
    }

    fn dir_name(self) -> &'static str {
        match self {
            ContentKind::WhatsappMedia => "media",
            ContentKind::Recording => "recordings",
        }
    }
}

/// Creates `path` (and missing parents) with mode 0700. A directory that
/// already exists is never chmodded: it may be shared (`--data-dir /tmp`
/// once turned /tmp into 0700). One that other users may write to is refused,
/// since they could plant or swap the files we trust (the database, the
/// secret, the admin socket).
pub fn create_private_dir(path: &Path) -> Result<(), PathError> {
    let cannot = |source: std::io::Error| PathError::Create { path: path.to_path_buf(), source };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        DirBuilder::new().recursive(true).mode(0o700).create(parent).map_err(cannot)?;
    }
    match DirBuilder::new().mode(0o700).create(path) {
        // Ours: exactly 0700, whatever the umask did.
        Ok(()) => fs::set_permissions(path, Permissions::from_mode(0o700))
            .map_err(|source| PathError::SetMode { path: path.to_path_buf(), source }),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => check_existing_dir(path),
        Err(e) => Err(cannot(e)),
    }
}

fn check_existing_dir(path: &Path) -> Result<(), PathError> {
    let meta =
        fs::metadata(path).map_err(|source| PathError::Inspect { path: path.to_path_buf(), source })?;
    if !meta.is_dir() {
        return Err(PathError::NotADirectory { path: path.to_path_buf() });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(PathError::WritableByOthers { path: path.to_path_buf(), mode });
    }
    Ok(())
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

/// An operator command that fails on this ends with exit 1 and its message.
impl crate::error::CommandFailure for PathError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o7777
    }

    #[test]
    fn new_dirs_are_private_and_existing_ones_keep_their_mode() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let fresh = tmp.path().join("a/b");
        create_private_dir(&fresh).expect("create");
        assert_eq!(mode(&fresh), 0o700);
        let shared = tmp.path().join("shared");
        fs::create_dir(&shared).expect("mkdir");
        fs::set_permissions(&shared, Permissions::from_mode(0o755)).expect("chmod");
        create_private_dir(&shared).expect("an existing directory only others can read is used");
        assert_eq!(mode(&shared), 0o755, "never chmodded");
        for loose in [0o777, 0o1777, 0o770] {
            fs::set_permissions(&shared, Permissions::from_mode(loose)).expect("chmod");
            let err = create_private_dir(&shared).unwrap_err();
            let message = err.to_string();
            assert!(message.contains("writable by other users"), "{message}");
            assert_eq!(mode(&shared), loose, "never chmodded");
        }
    }
}
