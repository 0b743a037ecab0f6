//! What a frontend does with events that arrive at least once and in any order: drop an id seen before, and
//! drop an update older than the last one applied for the same call. Pure and without `std`: the package's
//! `CallEventDispatcher` keeps its memory (the ids applied, at most [`REMEMBERED_IDS`], and each call's last
//! position, [`pack`]ed) in JavaScript's own `Set` and `Map`, which cost its wasm no hash table code, and asks the
//! wasm to [`judge`] each event.

use crate::protocol::names::CallStatus;
use crate::protocol::signature::MAX_TIMESTAMP_SECS;

/// How many event ids a dispatcher remembers to drop duplicates (the oldest forgotten first).
pub const REMEMBERED_IDS: usize = 10_000;

/// Where a status stands in a call's life: later statuses rank higher; the final ones rank highest.
pub fn lifecycle_rank(status: CallStatus) -> u8 {
    match status {
        CallStatus::Scheduled => 0,
        CallStatus::Queued => 1,
        CallStatus::Initiated => 2,
        CallStatus::Ringing => 3,
        CallStatus::InProgress => 4,
        CallStatus::Completed | CallStatus::Busy | CallStatus::NoAnswer | CallStatus::Canceled | CallStatus::Failed => {
            5
        }
    }
}

/// What to do with an arriving event (the numbers are what the package's wasm answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Apply it.
    Apply = 0,
    /// Its id was seen before.
    Duplicate = 1,
    /// An update older than the last applied one for its call.
    Stale = 2,
}

/// Where an update stands in its call's life: its timestamp, then its [`lifecycle_rank`]. A later position
/// supersedes an earlier one.
pub type Position = (i64, u8);

/// An update's position: its timestamp, then its status's rank (0 without a status).
pub fn position(timestamp: i64, status: Option<CallStatus>) -> Position {
    (timestamp, status.map_or(0, lifecycle_rank))
}

/// What to do with an event at `position`: a duplicate if its id was `seen`, stale if it comes before `last`, the
/// position last applied for its call (`None` for an event without a call, or a call not seen yet).
pub fn judge(seen: bool, last: Option<Position>, position: Position) -> Decision {
    if seen {
        Decision::Duplicate
    } else if last.is_some_and(|last| position < last) {
        Decision::Stale
    } else {
        Decision::Apply
    }
}

/// An event's `timestamp` as a JavaScript number holds it: clamped to ±[`MAX_TIMESTAMP_SECS`], so that a
/// [`pack`]ed position stays exact, and 0 for NaN (an update without one sorts first).
pub fn timestamp_of(number: f64) -> i64 {
    let limit = MAX_TIMESTAMP_SECS as f64;
    number.clamp(-limit, limit) as i64
}

/// A position as one JavaScript number, `timestamp * 8 + rank`: exact for timestamps within
/// ±[`MAX_TIMESTAMP_SECS`], and ordered as the positions are.
pub fn pack((timestamp, rank): Position) -> f64 {
    timestamp as f64 * 8.0 + f64::from(rank)
}

/// The position [`pack`] made into a number.
pub fn unpack(packed: f64) -> Position {
    let rank = packed - 8.0 * floor(packed / 8.0);
    (((packed - rank) / 8.0) as i64, rank as u8)
}

/// `f64::floor`, which needs `std`: exact for the whole numbers below 2^53 that [`pack`] makes.
fn floor(x: f64) -> f64 {
    let truncated = x as i64 as f64;
    if truncated > x {
        truncated - 1.0
    } else {
        truncated
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use CallStatus::*;

    /// A dispatcher's memory as the package keeps it (ids applied, each call's last position), to judge
    /// sequences of events.
    #[derive(Default)]
    struct D {
        seen: HashSet<String>,
        calls: HashMap<String, Position>,
    }

    impl D {
        fn accept(&mut self, id: &str, call_id: &str, timestamp: i64, status: Option<CallStatus>) -> Decision {
            let position = position(timestamp, status);
            let last = self.calls.get(call_id).copied().filter(|_| !call_id.is_empty());
            let decision = judge(self.seen.contains(id), last, position);
            if decision == Decision::Apply {
                self.seen.insert(id.to_owned());
                self.calls.insert(call_id.to_owned(), position);
            }
            decision
        }
    }

    #[test]
    fn duplicates_are_dropped() {
        let mut d = D::default();
        assert_eq!(d.accept("e1", "c1", 10, Some(Ringing)), Decision::Apply);
        assert_eq!(d.accept("e1", "c1", 10, Some(Ringing)), Decision::Duplicate);
    }

    #[test]
    fn older_updates_of_a_call_are_stale_and_others_calls_are_independent() {
        let mut d = D::default();
        assert_eq!(d.accept("e2", "c1", 20, Some(InProgress)), Decision::Apply);
        assert_eq!(
            d.accept("e1", "c1", 10, Some(Ringing)),
            Decision::Stale,
            "older timestamp"
        );
        assert_eq!(
            d.accept("e3", "c1", 20, Some(Ringing)),
            Decision::Stale,
            "same second, earlier in the call's life"
        );
        assert_eq!(
            d.accept("e4", "c1", 20, Some(Completed)),
            Decision::Apply,
            "same second, later in the call's life"
        );
        assert_eq!(
            d.accept("e5", "c2", 5, Some(Initiated)),
            Decision::Apply,
            "another call"
        );
        assert_eq!(d.accept("e6", "c1", 30, Some(Failed)), Decision::Apply, "newer");
    }

    #[test]
    fn positions_pack_into_ordered_exact_numbers() {
        let limit = MAX_TIMESTAMP_SECS;
        let positions = [
            (-limit, 0),
            (-5, 3),
            (-1, 5),
            (0, 0),
            (0, 1),
            (1_764_355_200, 4),
            (1 << 48, 2),
            (limit, 5),
        ];
        for p in positions {
            assert_eq!(unpack(pack(p)), p, "{p:?}");
        }
        assert!(positions.windows(2).all(|w| pack(w[0]) < pack(w[1])));
    }

    #[test]
    fn timestamps_are_clamped_and_nan_is_zero() {
        assert_eq!(timestamp_of(f64::NAN), 0);
        assert_eq!(timestamp_of(1e300), MAX_TIMESTAMP_SECS);
        assert_eq!(timestamp_of(f64::NEG_INFINITY), -MAX_TIMESTAMP_SECS);
        assert_eq!(timestamp_of(12.9), 12);
    }

    #[test]
    fn judging_needs_no_memory_of_its_own() {
        assert_eq!(judge(true, None, (5, 1)), Decision::Duplicate);
        assert_eq!(judge(false, Some((5, 2)), (5, 1)), Decision::Stale);
        assert_eq!(
            judge(false, Some((5, 1)), (5, 1)),
            Decision::Apply,
            "the same position again"
        );
        assert_eq!(judge(false, None, (-1, 0)), Decision::Apply);
    }

    #[test]
    fn ranks_follow_the_call_life() {
        let order = [Scheduled, Queued, Initiated, Ringing, InProgress, Completed];
        assert!(order.windows(2).all(|w| lifecycle_rank(w[0]) < lifecycle_rank(w[1])));
        assert!(CallStatus::ALL
            .iter()
            .filter(|s| s.is_final())
            .all(|s| lifecycle_rank(*s) == 5));
    }
}
