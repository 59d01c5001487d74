//! The one bounded wait of lmi's tests and of `testidp browser`: poll a
//! condition every few milliseconds until it holds or a deadline passes.
//! Waiting on a deadline, never a bare sleep, keeps a slow machine from
//! failing a test and a broken one from hanging it.

use std::time::{Duration, Instant};

/// How often [`poll_until`] checks its condition.
pub const POLL_EVERY: Duration = Duration::from_millis(5);

/// The condition did not hold within the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut {
    /// How long it was waited for.
    pub limit: Duration,
}

/// Calls `check` every [`POLL_EVERY`] until it returns `Some`, and returns
/// that value; after `limit` without one, [`TimedOut`]. `check` runs at
/// least once, and may panic itself to fail early (say, when the process
/// it waits on has ended).
pub fn poll_until<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Result<T, TimedOut> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            return Err(TimedOut { limit });
        }
        std::thread::sleep(POLL_EVERY);
    }
}

/// [`poll_until`] for tests: waits until `ready` holds and fails the test
/// with `what` (what never happened) after `limit`.
#[track_caller]
pub fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    if poll_until(limit, || ready().then_some(())).is_err() {
        panic!("{what} within {} s", limit.as_secs_f32());
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn returns_the_first_value_the_check_gives() {
        let calls = Cell::new(0);
        let got = poll_until(Duration::from_secs(5), || {
            calls.set(calls.get() + 1);
            (calls.get() == 3).then_some("ready")
        });
        assert_eq!(got, Ok("ready"));
        assert_eq!(calls.get(), 3);
    }

    #[test]
    fn times_out_after_the_limit_having_checked_at_least_once() {
        let calls = Cell::new(0);
        let started = Instant::now();
        let got = poll_until::<()>(Duration::from_millis(30), || {
            calls.set(calls.get() + 1);
            None
        });
        assert_eq!(
            got,
            Err(TimedOut {
                limit: Duration::from_millis(30)
            })
        );
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert!(calls.get() >= 2, "{} checks", calls.get());
    }

    #[test]
    #[should_panic(expected = "the file never appeared within 0.02 s")]
    fn wait_until_fails_naming_what_never_happened() {
        wait_until("the file never appeared", Duration::from_millis(20), || {
            false
        });
    }
}
