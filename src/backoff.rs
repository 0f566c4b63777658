//! Capped exponential backoff with jitter, the one schedule behind every retry
//! in the daemon: worker restarts (`supervisor`), webhook deliveries
//! (`delivery`) and background jobs (`jobs`). Each caller picks its own base,
//! cap and jitter; the arithmetic lives here, in [`Duration`]s throughout.

use std::time::Duration;

use rand::Rng;

/// Millionths: the unit a [`Jitter`] factor is kept in, so a delay is
/// jittered in integer nanoseconds and a bound (say "50 to 100 %") holds
/// exactly, without floating-point rounding below it.
const PPM: u32 = 1_000_000;

/// Doublings counted at most: `base * 2^63` exceeds any useful cap.
const MAX_DOUBLINGS: u32 = 63;

/// The random factor a delay is multiplied by, drawn between `low` and
/// `high` (as fractions of the un-jittered delay; never above the cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jitter {
    low_ppm: u32,
    high_ppm: u32,
}

impl Jitter {
    /// No randomness: the delay is the nominal one.
    pub const NONE: Jitter = Jitter { low_ppm: PPM, high_ppm: PPM };

    /// Plus or minus `fraction` (0.0 to 1.0) of the delay: 0.2 gives 80–120 %.
    pub fn plus_minus(fraction: f64) -> Jitter {
        let f = to_ppm(fraction);
        Jitter { low_ppm: PPM - f, high_ppm: PPM + f }
    }

    /// Between `fraction` (0.0 to 1.0) of the delay and all of it: 0.5 gives
    /// 50–100 %, so a retry never comes later than the nominal delay.
    pub fn down_to(fraction: f64) -> Jitter {
        Jitter { low_ppm: to_ppm(fraction), high_ppm: PPM }
    }
}

fn to_ppm(fraction: f64) -> u32 {
    // NaN clamps to 0 through the cast.
    (fraction.clamp(0.0, 1.0) * f64::from(PPM)).round() as u32
}

/// The delay before retry `attempt` (1-based) is `min(cap, base * 2^(attempt-1))`,
/// times a [`Jitter`] factor, and never above `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    pub jitter: Jitter,
}

impl Backoff {
    /// The delay before retry `attempt` (1-based) without jitter.
    pub fn nominal(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(MAX_DOUBLINGS);
        let mut delay = self.base;
        for _ in 0..doublings {
            if delay >= self.cap {
                break;
            }
            delay = delay.saturating_mul(2);
        }
        delay.min(self.cap)
    }

    /// The delay before retry `attempt` (1-based), jitter drawn from `rng`.
    pub fn delay(&self, attempt: u32, rng: &mut (impl Rng + ?Sized)) -> Duration {
        let nominal = self.nominal(attempt);
        let Jitter { low_ppm, high_ppm } = self.jitter;
        let factor = if low_ppm == high_ppm { low_ppm } else { rng.random_range(low_ppm..=high_ppm) };
        scale(nominal, factor).min(self.cap)
    }
}

/// `delay * ppm / 1_000_000`, saturating at [`Duration::MAX`].
fn scale(delay: Duration, ppm: u32) -> Duration {
    if ppm == PPM {
        return delay;
    }
    // At most ~1.8e28 ns times 2e6: far inside a u128.
    let nanos = delay.as_nanos() * u128::from(ppm) / u128::from(PPM);
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    Duration::new(secs, (nanos % 1_000_000_000) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(base: u64, cap: u64, jitter: Jitter) -> Backoff {
        Backoff { base: Duration::from_secs(base), cap: Duration::from_secs(cap), jitter }
    }

    #[test]
    fn without_jitter_the_delay_doubles_up_to_the_cap() {
        let b = secs(1, 300, Jitter::NONE);
        let mut rng = rand::rng();
        let delays: Vec<u64> = (1..=12).map(|n| b.delay(n, &mut rng).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(b.delay(0, &mut rng), Duration::from_secs(1), "attempt 0 counts as the first");
        assert_eq!(b.delay(u32::MAX, &mut rng), b.cap, "no overflow");
    }

    #[test]
    fn jitter_stays_within_its_bounds_and_under_the_cap() {
        let mut rng = rand::rng();
        let around = secs(1, 300, Jitter::plus_minus(0.2));
        let down = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
            jitter: Jitter::down_to(0.5),
        };
        for _ in 0..500 {
            let d = around.delay(3, &mut rng);
            assert!(d >= Duration::from_millis(3200) && d <= Duration::from_millis(4800), "{d:?}");
            let at_cap = around.delay(20, &mut rng);
            assert!(at_cap >= Duration::from_secs(240) && at_cap <= around.cap, "{at_cap:?}");
            let first = down.delay(1, &mut rng).as_millis();
            assert!((50..=100).contains(&first), "{first}");
            let late = down.delay(40, &mut rng).as_millis();
            assert!((500..=1000).contains(&late), "{late}");
        }
    }

    #[test]
    fn huge_values_saturate_instead_of_overflowing() {
        let b = Backoff {
            base: Duration::from_millis(u64::MAX),
            cap: Duration::from_secs(u64::MAX),
            jitter: Jitter::plus_minus(0.5),
        };
        let mut rng = rand::rng();
        for attempt in [1, 2, 40, u32::MAX] {
            assert!(b.delay(attempt, &mut rng) <= b.cap);
        }
        assert_eq!(Jitter::plus_minus(7.0), Jitter::plus_minus(1.0));
        assert_eq!(Jitter::plus_minus(f64::NAN), Jitter::NONE);
    }
}
