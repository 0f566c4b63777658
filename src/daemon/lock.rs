//! One `serve` per data directory: two daemons on one store would both run
//! each tenant's WhatsApp device and replace each other forever.

use crate::error::{AppError, AppResult};
use crate::paths::{DataDir, FileLock};

/// Held for the daemon's lifetime; the OS releases it if the process dies.
pub struct ServeLock {
    _lock: FileLock,
}

impl ServeLock {
    pub fn acquire(data: &DataDir) -> AppResult<ServeLock> {
        let path = data.serve_lock_path();
        match FileLock::try_exclusive(&path) {
            Ok(Some(lock)) => Ok(ServeLock { _lock: lock }),
            Ok(None) => Err(AppError::failed(format!(
                "another `agentlocator serve` is already running on {}; stop it first or use another --data-dir",
                data.root().display()
            ))),
            Err(e) => Err(AppError::failed(format!("cannot lock {}: {e}", path.display()))),
        }
    }
}
