//! A heartbeat: a task proves it is alive by calling [`Heartbeat::beat`];
//! health checks ask [`Heartbeat::silent_for`] whether it has gone quiet.
//! The supervisor beats from its own loop; the event-loop watchdog
//! (`health::LoopWatchdog`) from a task of its own.
//!
//! Time is tokio's clock, which is the wall clock in production and the
//! paused one in tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct Heartbeat {
    started: Instant,
    /// Milliseconds after `started` of the last beat.
    last_beat_ms: AtomicU64,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self::new()
    }
}

impl Heartbeat {
    /// A heartbeat whose first beat is now.
    pub fn new() -> Heartbeat {
        Heartbeat { started: Instant::now(), last_beat_ms: AtomicU64::new(0) }
    }

    /// Records a beat now.
    pub fn beat(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_beat_ms.store(ms, Ordering::SeqCst);
    }

    /// How long since the last beat, when longer than `limit`.
    pub fn silent_for(&self, limit: Duration) -> Option<Duration> {
        let last = Duration::from_millis(self.last_beat_ms.load(Ordering::SeqCst));
        let silent = self.started.elapsed().saturating_sub(last);
        (silent > limit).then_some(silent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn silence_is_measured_from_the_last_beat() {
        let heart = Heartbeat::new();
        let limit = Duration::from_secs(3);
        assert_eq!(heart.silent_for(limit), None);
        tokio::time::advance(Duration::from_secs(2)).await;
        heart.beat();
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(heart.silent_for(limit), None, "exactly the limit is not yet silent");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(heart.silent_for(limit), Some(Duration::from_secs(4)));
        heart.beat();
        assert_eq!(heart.silent_for(limit), None);
    }
}
