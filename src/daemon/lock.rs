//! One `serve` per data directory: two daemons on one store would both run
//! each tenant's WhatsApp device and replace each other forever.

use super::DaemonError;
use crate::error::AppResult;
use crate::paths::{DataDir, FileLock};

/// The data directory, owned by this daemon for as long as the value lives;
/// the OS releases the lock if the process dies.
pub struct ServeLock {
    data: DataDir,
    _lock: FileLock,
}

impl ServeLock {
    /// Creates the data directory if needed and takes its lock, or says
    /// which daemon holds it.
    pub fn acquire(data: DataDir) -> AppResult<ServeLock> {
        data.ensure()?;
        let path = data.serve_lock_path();
        match FileLock::try_exclusive(&path) {
            Ok(Some(lock)) => Ok(ServeLock { data, _lock: lock }),
            Ok(None) => Err(DaemonError::LockHeld { data_dir: data.root().to_path_buf() }.into()),
            Err(source) => Err(DaemonError::Lock { path, source }.into()),
        }
    }

    pub fn data(&self) -> &DataDir {
        &self.data
    }
}
