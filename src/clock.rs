//! The wall clock and how its times are written: every stored time is Unix
//! seconds (`*_at` columns) or Unix milliseconds (`*_at_ms`), and every shown
//! or delivered time is RFC 3339 in UTC.

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    Utc::now().timestamp()
}

/// Unix milliseconds as RFC 3339 with milliseconds, e.g.
/// `2026-11-25T19:19:08.123Z`: the precision of event times.
pub fn format_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Unix seconds as RFC 3339 to the second, e.g. `2026-11-25T19:19:08Z`: the
/// precision of every time the CLI shows about tenants.
pub fn format_secs(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_utc_at_their_precision() {
        assert_eq!(format_ms(1_764_098_348_123), "2025-11-25T19:19:08.123Z");
        assert_eq!(format_secs(1_764_098_348), "2025-11-25T19:19:08Z");
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn the_two_clocks_agree() {
        let (ms, s) = (now_ms(), now_unix());
        assert!((ms / 1000 - s).abs() <= 1);
    }
}
