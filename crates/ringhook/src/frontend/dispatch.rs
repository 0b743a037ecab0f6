//! What a frontend does with events that arrive at least once and in any order: drop an id seen before, and
//! drop an update older than the last one applied for the same call. Pure and without `std`: the package's
//! `CallEventDispatcher` keeps its memory in JavaScript's own `Set` and `Map` and asks the wasm to [`judge`].

#[cfg(feature = "std")]
use std::collections::{HashMap, HashSet, VecDeque};

use crate::protocol::names::CallStatus;
use crate::protocol::signature::MAX_TIMESTAMP_SECS;

/// How many event ids are remembered to drop duplicates.
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

/// What a dispatcher remembers: the ids it applied (at most [`REMEMBERED_IDS`], the oldest forgotten first)
/// and the last position applied for each call. [`InMemory`] keeps it in Rust collections; the npm package's
/// dispatcher in JavaScript's own `Set` and `Map`, which cost the package no hash table code.
pub trait Memory {
    /// Whether `id` was applied (and not yet forgotten).
    fn seen(&self, id: &str) -> bool;
    /// Remembers an applied id, forgetting the oldest when [`REMEMBERED_IDS`] are remembered.
    fn remember(&mut self, id: &str);
    /// The last position applied for a call.
    fn position(&self, call_id: &str) -> Option<Position>;
    /// Records the position just applied for a call.
    fn set_position(&mut self, call_id: &str, position: Position);
}

/// Decides about an event, and remembers it if it is to be applied. An event without a call id is only
/// deduplicated.
pub fn decide(
    memory: &mut impl Memory,
    id: &str,
    call_id: &str,
    timestamp: i64,
    status: Option<CallStatus>,
) -> Decision {
    let position = position(timestamp, status);
    let last = if call_id.is_empty() {
        None
    } else {
        memory.position(call_id)
    };
    let decision = judge(memory.seen(id), last, position);
    if decision == Decision::Apply {
        if !call_id.is_empty() {
            memory.set_position(call_id, position);
        }
        memory.remember(id);
    }
    decision
}

/// [`Memory`] in Rust collections.
#[cfg(feature = "std")]
#[derive(Debug, Default)]
pub struct InMemory {
    seen: HashSet<String>,
    order: VecDeque<String>,
    calls: HashMap<String, Position>,
}

#[cfg(feature = "std")]
impl Memory for InMemory {
    fn seen(&self, id: &str) -> bool {
        self.seen.contains(id)
    }

    fn remember(&mut self, id: &str) {
        if self.order.len() == REMEMBERED_IDS {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.seen.insert(id.to_owned());
        self.order.push_back(id.to_owned());
    }

    fn position(&self, call_id: &str) -> Option<Position> {
        self.calls.get(call_id).copied()
    }

    fn set_position(&mut self, call_id: &str, position: Position) {
        self.calls.insert(call_id.to_owned(), position);
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use CallStatus::*;

    /// The memory with a decision method, to keep the cases short.
    #[derive(Default)]
    struct D(InMemory);

    impl D {
        fn accept(&mut self, id: &str, call_id: &str, timestamp: i64, status: Option<CallStatus>) -> Decision {
            decide(&mut self.0, id, call_id, timestamp, status)
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
    fn memory_of_ids_is_bounded() {
        let mut d = D::default();
        for i in 0..=REMEMBERED_IDS {
            d.accept(&format!("e{i}"), "", 0, None);
        }
        assert_eq!(d.0.seen.len(), REMEMBERED_IDS);
        assert_eq!(
            d.accept("e0", "", 0, None),
            Decision::Apply,
            "the oldest id was forgotten"
        );
        assert_eq!(
            d.accept(&format!("e{REMEMBERED_IDS}"), "", 0, None),
            Decision::Duplicate
        );
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
