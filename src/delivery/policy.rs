//! The retry policy: which answers deliver, which retry and for how long.
//!
//! - 2xx: delivered.
//! - 408, 429, 5xx, timeouts, refused or broken connections: retried up to
//!   `delivery.max_attempts` attempts in all.
//! - Any other answer (other 4xx, 3xx; redirects are not followed): the
//!   receiver rejects the event or is misconfigured. Retried too, because a
//!   misconfiguration gets fixed, but the event is dead once it has had
//!   `delivery.client_error_attempts` attempts in all.
//! - The wait after attempt n is `min(cap, base * 2^(n-1))`, jittered to
//!   80–120 % and never above the cap. A `Retry-After` (seconds or HTTP date)
//!   longer than that wait is honoured, up to the cap.

use std::time::Duration;

use rand::Rng;

use crate::backoff::{Backoff, Jitter};
use crate::config::DeliveryConfig;
use crate::store::delivery::Verdict;

/// What kind of answer an attempt got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Success,
    /// Worth the whole schedule: the receiver is down, slow or overloaded.
    Transient,
    /// The receiver answered but refused the event.
    Rejected,
}

/// `None` is a transport failure (timeout, connection refused or reset).
pub fn classify(status: Option<u16>) -> Class {
    match status {
        None => Class::Transient,
        Some(s) if (200..300).contains(&s) => Class::Success,
        Some(408 | 429) => Class::Transient,
        Some(s) if s >= 500 => Class::Transient,
        Some(_) => Class::Rejected,
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub max_attempts: u32,
    pub client_error_attempts: u32,
    /// Doubling from `delivery.backoff_base` up to `delivery.backoff_cap`,
    /// jittered to 80–120 % (never above the cap).
    pub backoff: Backoff,
}

impl Policy {
    pub fn from_config(c: &DeliveryConfig) -> Self {
        Policy {
            max_attempts: c.max_attempts.get(),
            client_error_attempts: c.client_error_attempts.get(),
            backoff: Backoff { base: c.backoff_base, cap: c.backoff_cap, jitter: Jitter::plus_minus(0.2) },
        }
    }

    /// The un-jittered wait after the `attempt`-th attempt (1-based).
    pub fn nominal_wait(&self, attempt: u32) -> Duration {
        self.backoff.nominal(attempt)
    }

    /// The wait after the `attempt`-th attempt, jittered, honouring `retry_after`.
    pub fn wait(&self, attempt: u32, retry_after: Option<Duration>, rng: &mut impl Rng) -> Duration {
        let wait = self.backoff.delay(attempt, rng);
        match retry_after {
            Some(asked) => wait.max(asked.min(self.backoff.cap)),
            None => wait,
        }
    }

    /// What happens to an event after its `attempts`-th attempt (1-based, since
    /// it was last queued) ended in `class`.
    pub fn verdict(
        &self,
        class: Class,
        attempts: u32,
        retry_after: Option<Duration>,
        now_ms: i64,
        rng: &mut impl Rng,
    ) -> Verdict {
        let budget = match class {
            Class::Success => return Verdict::Delivered,
            Class::Transient => self.max_attempts,
            Class::Rejected => self.client_error_attempts.min(self.max_attempts),
        };
        if attempts >= budget {
            return Verdict::Dead;
        }
        let wait = self.wait(attempts, retry_after, rng);
        Verdict::RetryAt(now_ms + wait.as_millis() as i64)
    }
}

/// `Retry-After` as seconds or as an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = at.with_timezone(&chrono::Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::from_config(&DeliveryConfig {
            max_attempts: std::num::NonZeroU32::new(5).expect("non-zero"),
            client_error_attempts: std::num::NonZeroU32::new(2).expect("non-zero"),
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(10),
            ..DeliveryConfig::default()
        })
    }

    #[test]
    fn answers_are_classified() {
        assert_eq!(classify(Some(200)), Class::Success);
        assert_eq!(classify(Some(204)), Class::Success);
        for s in [408, 429, 500, 502, 503] {
            assert_eq!(classify(Some(s)), Class::Transient, "{s}");
        }
        assert_eq!(classify(None), Class::Transient);
        for s in [301, 400, 401, 404, 410] {
            assert_eq!(classify(Some(s)), Class::Rejected, "{s}");
        }
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let p = policy();
        let nominal: Vec<u64> = (1..=5).map(|n| p.nominal_wait(n).as_secs()).collect();
        assert_eq!(nominal, vec![2, 4, 8, 10, 10]);
        let mut rng = rand::rng();
        for n in 1..=5 {
            for _ in 0..50 {
                let w = p.wait(n, None, &mut rng).as_secs_f64();
                let nom = p.nominal_wait(n).as_secs_f64();
                assert!(w >= nom * 0.8 - 1e-9 && w <= (nom * 1.2).min(10.0) + 1e-9, "{n}: {w}");
            }
        }
        // Retry-After longer than the backoff wins, up to the cap.
        assert_eq!(p.wait(1, Some(Duration::from_secs(7)), &mut rng), Duration::from_secs(7));
        assert_eq!(p.wait(1, Some(Duration::from_secs(70)), &mut rng), Duration::from_secs(10));
        assert!(p.wait(3, Some(Duration::from_secs(1)), &mut rng) >= Duration::from_secs_f64(6.4));
    }

    #[test]
    fn budgets_differ_for_rejections() {
        let p = policy();
        let mut rng = rand::rng();
        assert_eq!(p.verdict(Class::Success, 5, None, 0, &mut rng), Verdict::Delivered);
        assert!(matches!(p.verdict(Class::Transient, 4, None, 0, &mut rng), Verdict::RetryAt(t) if t > 0));
        assert_eq!(p.verdict(Class::Transient, 5, None, 0, &mut rng), Verdict::Dead);
        assert!(matches!(p.verdict(Class::Rejected, 1, None, 0, &mut rng), Verdict::RetryAt(_)));
        assert_eq!(p.verdict(Class::Rejected, 2, None, 0, &mut rng), Verdict::Dead);
    }

    #[test]
    fn retry_after_forms() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z").expect("t").to_utc();
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(60)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
