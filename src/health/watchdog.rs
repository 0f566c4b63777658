//! A heartbeat task on the event loop: if it stops ticking, the runtime is
//! blocked (a stuck worker thread, a blocking call in async code).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TICK_EVERY: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct LoopWatchdog {
    started: Instant,
    last_tick_ms: Arc<AtomicU64>,
}

impl LoopWatchdog {
    /// Starts ticking on the current runtime until the runtime shuts down.
    pub fn start() -> LoopWatchdog {
        let watchdog = LoopWatchdog { started: Instant::now(), last_tick_ms: Arc::new(AtomicU64::new(0)) };
        let ticker = watchdog.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK_EVERY);
            loop {
                interval.tick().await;
                let ms = ticker.started.elapsed().as_millis() as u64;
                ticker.last_tick_ms.store(ms, Ordering::SeqCst);
            }
        });
        watchdog
    }

    /// How long since the last tick, when longer than `limit`.
    pub fn silent_for(&self, limit: Duration) -> Option<Duration> {
        let last = Duration::from_millis(self.last_tick_ms.load(Ordering::SeqCst));
        let silent = self.started.elapsed().saturating_sub(last);
        (silent > limit).then_some(silent)
    }
}
