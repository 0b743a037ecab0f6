//! What a frontend does with events that arrive at least once and in any order: drop an id seen before, and
//! drop an update older than the last one applied for the same call. Pure; the JS `CallEventDispatcher`
//! (behind the `wasm` feature) decides with it over its own memory.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::protocol::event::CallStatus;

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

/// What to do with an arriving event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Apply it.
    Apply,
    /// Its id was seen before.
    Duplicate,
    /// An update older than the last applied one for its call.
    Stale,
}

/// Where an update stands in its call's life: its timestamp, then its [`lifecycle_rank`]. A later position
/// supersedes an earlier one.
pub type Position = (i64, u8);

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
    if memory.seen(id) {
        return Decision::Duplicate;
    }
    let position = (timestamp, status.map_or(0, lifecycle_rank));
    if !call_id.is_empty() {
        if memory.position(call_id).is_some_and(|last| position < last) {
            return Decision::Stale;
        }
        memory.set_position(call_id, position);
    }
    memory.remember(id);
    Decision::Apply
}

/// [`Memory`] in Rust collections.
#[derive(Debug, Default)]
pub struct InMemory {
    seen: HashSet<String>,
    order: VecDeque<String>,
    calls: HashMap<String, Position>,
}

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

#[cfg(test)]
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
    fn ranks_follow_the_call_life() {
        let order = [Scheduled, Queued, Initiated, Ringing, InProgress, Completed];
        assert!(order.windows(2).all(|w| lifecycle_rank(w[0]) < lifecycle_rank(w[1])));
        assert!(CallStatus::ALL
            .iter()
            .filter(|s| s.is_final())
            .all(|s| lifecycle_rank(*s) == 5));
    }
}
