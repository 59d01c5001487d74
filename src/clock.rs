//! The clock seam: everything that decides by time (token expiry, skew,
//! session freshness, assertion lifetimes, an ID token's `iat`, a plugin's
//! install time) asks a [`Clock`], and everything that waits (the device
//! flow's polling) goes through a [`Sleeper`], so tests move time instead of
//! sleeping. [`SystemClock`] is the one reader of the system time in lmi
//! (`Instant`, for timeouts, excepted); [`rfc3339`] formats its seconds.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Seconds since the Unix epoch, from wherever time comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// Seconds since the epoch as RFC 3339 UTC (`2026-11-28T01:57:10Z`);
/// `None` when out of chrono's range.
pub fn rfc3339(unix: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// A clock that stands still until moved: for tests of expiry logic.
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    pub fn at(now: i64) -> FixedClock {
        FixedClock(AtomicI64::new(now))
    }

    /// Moves the clock forward (or back, with a negative amount).
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Waiting: the real one sleeps, a test's moves its clock.
pub trait Sleeper: Send + Sync {
    fn sleep(&self, duration: Duration);
}

/// Sleeps the thread.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemSleeper;

impl Sleeper for SystemSleeper {
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// A fixed clock "sleeps" by moving forward (whole seconds), at once.
impl Sleeper for FixedClock {
    fn sleep(&self, duration: Duration) {
        self.advance(duration.as_secs() as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let clock = FixedClock::at(1_000);
        assert_eq!(clock.now(), 1_000);
        clock.advance(61);
        assert_eq!(clock.now(), 1_061);
        assert!(SystemClock.now() > 1_700_000_000);
    }

    #[test]
    fn rfc3339_is_utc_to_the_second() {
        assert_eq!(rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            rfc3339(1_795_830_630).as_deref(),
            Some("2026-11-28T01:50:30Z")
        );
        assert_eq!(rfc3339(i64::MAX), None);
    }
}
