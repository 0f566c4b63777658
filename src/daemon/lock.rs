//! One `serve` per data directory: two daemons on one store would both run
//! each tenant's WhatsApp device and replace each other forever.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;

use fs4::fs_std::FileExt;

use crate::error::{AppError, AppResult};
use crate::paths::DataDir;

/// Held for the daemon's lifetime; the OS releases it if the process dies.
pub struct ServeLock {
    _file: File,
}

impl ServeLock {
    pub fn acquire(data: &DataDir) -> AppResult<ServeLock> {
        let path = data.serve_lock_path();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| AppError::failed(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock_exclusive() {
            Ok(true) => Ok(ServeLock { _file: file }),
            Ok(false) => Err(AppError::failed(format!(
                "another `agentlocator serve` is already running on {}; stop it first or use another --data-dir",
                data.root().display()
            ))),
            Err(e) => Err(AppError::failed(format!("cannot lock {}: {e}", path.display()))),
        }
    }
}
