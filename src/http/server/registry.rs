//! The open connections: the cap on their number, and which one to close
//! when a new connection needs room.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::activity::Activity;

/// How long a new connection waits for the one evicted for it to close. The
/// evicted connection's task only has to run once, so this is a safety bound.
const EVICTION_WAIT: Duration = Duration::from_secs(1);

pub(super) struct Registry {
    permits: Arc<Semaphore>,
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    next_id: AtomicU64,
}

/// One admitted connection's place under the cap; dropping it (when the
/// connection's task ends) frees the place.
pub(super) struct Slot {
    registry: Arc<Registry>,
    id: u64,
    pub activity: Arc<Activity>,
    _permit: OwnedSemaphorePermit,
}

impl Registry {
    pub fn new(max_connections: usize) -> Arc<Registry> {
        Arc::new(Registry {
            permits: Arc::new(Semaphore::new(max_connections)),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        })
    }

    /// A place for a new connection: a free one, else the one of the
    /// longest-idle connection (closed for it). None when every open
    /// connection has a request in flight.
    pub async fn admit(self: &Arc<Self>) -> Option<Slot> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if !self.evict_one() {
                    return None;
                }
                tokio::time::timeout(EVICTION_WAIT, self.permits.clone().acquire_owned()).await.ok()?.ok()?
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity::new());
        self.lock().insert(id, activity.clone());
        Some(Slot { registry: self.clone(), id, activity, _permit: permit })
    }

    /// Asks the connection idle the longest (no request in flight, not
    /// already asked) to close. False when there is none. A scan of at most
    /// `max_connections` entries, and only when the cap is reached.
    pub fn evict_one(&self) -> bool {
        let open = self.lock();
        let oldest = open
            .values()
            .filter_map(|a| a.evictable_since().map(|since| (since, a)))
            .min_by_key(|(since, _)| *since);
        match oldest {
            Some((_, activity)) => {
                activity.evict();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Activity>>> {
        // The map stays consistent even if a holder panicked: each operation
        // is a single insert, remove or read.
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}
