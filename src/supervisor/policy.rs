//! Restart policy: capped exponential backoff with jitter, and an intensity
//! limit (more than `max_restarts` within `window` quarantines the worker, so
//! a flapping tenant stops costing CPU and log volume until an operator looks).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::backoff::{Backoff, Jitter};

#[derive(Debug, Clone)]
pub struct RestartPolicy {
    /// Delay before the first restart.
    pub base: Duration,
    /// Longest delay between restarts.
    pub cap: Duration,
    /// Fraction of the delay added or removed at random (0.0 to 1.0), so that
    /// many workers failing together do not restart together.
    pub jitter: f64,
    /// Restarts allowed within `window` before quarantine.
    pub max_restarts: usize,
    pub window: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            jitter: 0.2,
            max_restarts: 5,
            window: Duration::from_secs(600),
        }
    }
}

impl RestartPolicy {
    /// The delay before restart number `attempt` (1-based), jitter included.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.backoff().delay(attempt, &mut rand::rng())
    }

    /// The restart schedule: doubling from `base` up to `cap`, ±`jitter`.
    pub fn backoff(&self) -> Backoff {
        Backoff { base: self.base, cap: self.cap, jitter: Jitter::plus_minus(self.jitter) }
    }
}

/// Restarts seen recently, to apply the intensity limit.
#[derive(Debug, Default)]
pub struct RestartHistory {
    recent: VecDeque<Instant>,
}

impl RestartHistory {
    /// Records a restart at `now`; true when the limit is now exceeded.
    pub fn record(&mut self, now: Instant, policy: &RestartPolicy) -> bool {
        while self.recent.front().is_some_and(|t| now.duration_since(*t) > policy.window) {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        self.recent.len() > policy.max_restarts
    }

    /// Restarts within the current window.
    pub fn recent(&self) -> usize {
        self.recent.len()
    }

    pub fn clear(&mut self) {
        self.recent.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_in_bounds() {
        let policy = RestartPolicy { jitter: 0.0, ..Default::default() };
        let delays: Vec<u64> = (1..=12).map(|n| policy.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        let jittered = RestartPolicy { jitter: 0.5, ..Default::default() };
        for _ in 0..200 {
            let d = jittered.delay(3);
            assert!(d >= Duration::from_secs(2) && d <= Duration::from_secs(6), "{d:?}");
        }
        assert!(policy.delay(u32::MAX) <= policy.cap, "no overflow");
    }

    #[test]
    fn a_cap_near_the_largest_duration_does_not_overflow() {
        let policy = RestartPolicy {
            base: Duration::from_millis(u64::MAX),
            cap: Duration::from_secs(u64::MAX),
            jitter: 0.5,
            ..Default::default()
        };
        for attempt in [1, 2, 40, u32::MAX] {
            assert!(policy.delay(attempt) <= policy.cap);
        }
    }

    #[test]
    fn intensity_limit_counts_only_the_window() {
        let policy = RestartPolicy { max_restarts: 2, window: Duration::from_secs(10), ..Default::default() };
        let mut history = RestartHistory::default();
        let t0 = Instant::now();
        assert!(!history.record(t0, &policy));
        assert!(!history.record(t0 + Duration::from_secs(1), &policy));
        assert!(history.record(t0 + Duration::from_secs(2), &policy), "third within 10 s");
        let mut spaced = RestartHistory::default();
        for i in 0..10 {
            assert!(!spaced.record(t0 + Duration::from_secs(i * 6), &policy), "spaced restarts are fine");
        }
    }
}
