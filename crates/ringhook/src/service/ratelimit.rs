//! Per-user limits on what sends on the user's behalf at once (`/test`, redeliver, recover): a fixed one-minute
//! window, counted exactly by the user's object; over the limit is a 429 with `Retry-After`.

use serde::{Deserialize, Serialize};

/// `/test` sends per user per minute, unless the settings say otherwise.
pub const DEFAULT_TEST_PER_MINUTE: u32 = 10;
/// Redeliveries per user per minute, unless the settings say otherwise.
pub const DEFAULT_REDELIVER_PER_MINUTE: u32 = 30;
/// Recoveries per user per minute (each may queue many events).
pub const RECOVER_PER_MINUTE: u32 = 5;

/// One window's use of a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Unix seconds at which the minute began.
    pub start: i64,
    /// Uses taken in it.
    pub used: u32,
}

/// Takes one use of a limit of `per_minute` at `now`, given the stored window: the window to store, or the
/// seconds until the next minute frees a use (for `Retry-After`).
pub fn take(current: Option<Window>, per_minute: u32, now: i64) -> Result<Window, u32> {
    let start = now - now.rem_euclid(60);
    let used = match current {
        Some(window) if window.start == start => window.used,
        _ => 0,
    };
    if used >= per_minute {
        return Err((start + 60 - now).max(1) as u32);
    }
    Ok(Window { start, used: used + 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_are_counted_within_a_minute_and_reset_at_the_next() {
        let first = take(None, 2, 120).unwrap();
        assert_eq!(first, Window { start: 120, used: 1 });
        let second = take(Some(first), 2, 150).unwrap();
        assert_eq!(second.used, 2);
        assert_eq!(take(Some(second), 2, 170), Err(10), "refused until the minute ends");
        assert_eq!(take(Some(second), 2, 180), Ok(Window { start: 180, used: 1 }));
    }

    #[test]
    fn a_zero_limit_refuses_everything() {
        assert_eq!(take(None, 0, 61), Err(59));
    }
}
