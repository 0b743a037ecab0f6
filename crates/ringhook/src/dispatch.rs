//! What a frontend does with events that arrive at least once and in any order: drop an id seen before, and
//! drop an update older than the last one applied for the same call. Pure; the JS `CallEventDispatcher`
//! (behind the `wasm` feature) wraps it.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::event::CallStatus;

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

/// The memory of applied events.
#[derive(Debug, Default)]
pub struct Deduplicator {
    seen: HashSet<String>,
    order: VecDeque<String>,
    calls: HashMap<String, (i64, u8)>,
}

impl Deduplicator {
    /// Decides about an event, and remembers it if it is to be applied.
    pub fn accept(&mut self, id: &str, call_id: &str, timestamp: i64, status: Option<CallStatus>) -> Decision {
        if self.seen.contains(id) {
            return Decision::Duplicate;
        }
        let position = (timestamp, status.map_or(0, lifecycle_rank));
        if !call_id.is_empty() {
            if let Some(last) = self.calls.get(call_id) {
                if position < *last {
                    return Decision::Stale;
                }
            }
            self.calls.insert(call_id.to_owned(), position);
        }
        if self.order.len() == REMEMBERED_IDS {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.seen.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        Decision::Apply
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CallStatus::*;

    #[test]
    fn duplicates_are_dropped() {
        let mut d = Deduplicator::default();
        assert_eq!(d.accept("e1", "c1", 10, Some(Ringing)), Decision::Apply);
        assert_eq!(d.accept("e1", "c1", 10, Some(Ringing)), Decision::Duplicate);
    }

    #[test]
    fn older_updates_of_a_call_are_stale_and_others_calls_are_independent() {
        let mut d = Deduplicator::default();
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
        let mut d = Deduplicator::default();
        for i in 0..=REMEMBERED_IDS {
            d.accept(&format!("e{i}"), "", 0, None);
        }
        assert_eq!(d.seen.len(), REMEMBERED_IDS);
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
