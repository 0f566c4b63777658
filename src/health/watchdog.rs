//! A heartbeat task on the event loop: if it stops ticking, the runtime is
//! blocked (a stuck worker thread, a blocking call in async code).

use std::sync::Arc;
use std::time::Duration;

use crate::heartbeat::Heartbeat;

const TICK_EVERY: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct LoopWatchdog {
    heartbeat: Arc<Heartbeat>,
}

impl LoopWatchdog {
    /// Starts ticking on the current runtime until the runtime shuts down.
    pub fn start() -> LoopWatchdog {
        let heartbeat = Arc::new(Heartbeat::new());
        let ticker = heartbeat.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK_EVERY);
            loop {
                interval.tick().await;
                ticker.beat();
            }
        });
        LoopWatchdog { heartbeat }
    }

    /// How long since the last tick, when longer than `limit`.
    pub fn silent_for(&self, limit: Duration) -> Option<Duration> {
        self.heartbeat.silent_for(limit)
    }
}
