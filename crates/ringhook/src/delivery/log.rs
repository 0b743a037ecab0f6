//! The delivery log's layout in KV and its pages.
//!
//! A subscription's log is a set of append-only KV keys under [`crate::model::keys::log_prefix`]. Each key holds a *group*: the
//! records one write appended for that subscription, newest first. The user's object gathers the records of
//! attempts and skips as it applies them and writes them [`FLUSH_AFTER_MS`] later, one group per subscription
//! (see [`flush_groups`]); a test delivery, or a skip the queue consumer finds, is a group of its own. One key per
//! group rather than per record is what keeps the log cheap: a second of deliveries to one endpoint costs one KV
//! write, however many there were. Keys list in ascending order and carry the time inverted, so the newest group
//! comes first; a key is never written twice.
//!
//! A page holds at most `limit` records, so it may end inside a group. Its [`Cursor`] says where the next page
//! starts: the KV list cursor the page's last group was listed from, that group's key, and how many of its
//! records were shown. Resuming compares key names, so groups written or expired in between do not shift it.

use serde::{Deserialize, Serialize};

use crate::delivery::DeliveryRecord;
use crate::protocol::base64;

/// A group's key, named after its first (newest) record: the inverted time, then that record's event id and
/// attempt, which no other record has.
pub fn group_key(uid: &str, subscription_id: &str, at_millis: u64, first: &DeliveryRecord) -> String {
    let inverted = u64::MAX - at_millis;
    format!(
        "{}{inverted:020}:{}:{:04}",
        crate::model::keys::log_prefix(uid, subscription_id),
        first.event_id,
        first.attempt
    )
}

/// How long the user's object gathers log records before writing them, in milliseconds: at most one write per
/// subscription in that time, whatever the rate of deliveries (a subscription delivered to all day costs 28,800 KV
/// writes, not the 86,400 of a flush every second; the log's readers see the records held as well).
pub const FLUSH_AFTER_MS: f64 = 3000.0;
/// The most records one flush writes; the rest are written by the next, at once. Enough that a user's deliveries
/// at thousands a second still cost one write per subscription per [`FLUSH_AFTER_MS`] (a flush that has to come
/// again at once writes each subscription again).
pub const FLUSH_MAX_RECORDS: usize = 10_000;
/// The most record text one flush reads (characters of the records' JSON; the record that crosses it is the last
/// taken): 10,000 records of a few hundred characters fit, while records at their largest (an excerpt of control
/// characters, each escaped to six) stop a flush at a few megabytes of the object's memory.
pub const FLUSH_MAX_TEXT: usize = 4 << 20;
/// The most event bodies one flush writes (a body may be as large as a publish request takes); the rest are
/// written by the next, at once.
pub const FLUSH_MAX_BODIES: usize = 1000;
/// How long before a flush that failed (KV down) is tried again, in milliseconds.
pub const FLUSH_RETRY_MS: f64 = 5000.0;

/// A record the user's object holds until its next flush, in the order it was added (`seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buffered {
    /// Its place in the buffer.
    pub seq: i64,
    /// The subscription's owner.
    pub uid: String,
    /// The subscription.
    pub subscription_id: String,
    /// The record.
    pub record: DeliveryRecord,
}

/// One KV write of a flush: a subscription's records, newest first, and the buffer places they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushGroup {
    /// The subscription's owner.
    pub uid: String,
    /// The subscription.
    pub subscription_id: String,
    /// Newest first, as a group is stored.
    pub records: Vec<DeliveryRecord>,
    /// The `seq` of each record, to drop from the buffer once written.
    pub seqs: Vec<i64>,
}

/// The groups a flush writes: one per subscription, records newest first, from records in buffer order.
pub fn flush_groups(buffered: Vec<Buffered>) -> Vec<FlushGroup> {
    let mut groups: Vec<FlushGroup> = Vec::new();
    for b in buffered.into_iter().rev() {
        match groups
            .iter_mut()
            .find(|g| g.uid == b.uid && g.subscription_id == b.subscription_id)
        {
            Some(group) => {
                group.records.push(b.record);
                group.seqs.push(b.seq);
            }
            None => groups.push(FlushGroup {
                uid: b.uid,
                subscription_id: b.subscription_id,
                records: vec![b.record],
                seqs: vec![b.seq],
            }),
        }
    }
    groups
}

/// A group as stored: a JSON array of records, newest first.
pub fn encode_group(records: &[DeliveryRecord]) -> String {
    serde_json::to_string(records).expect("records serialise")
}

/// A stored group. A single record (how entries were stored before groups) reads as a group of one.
pub fn decode_group(text: &str) -> Result<Vec<DeliveryRecord>, serde_json::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Group(Vec<DeliveryRecord>),
        One(DeliveryRecord),
    }
    Ok(match serde_json::from_str(text)? {
        Stored::Group(records) => records,
        Stored::One(record) => vec![record],
    })
}

/// Where the next page of a subscription's log starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The KV list cursor to list from (`None`: the start of the log).
    #[serde(rename = "l")]
    pub list_cursor: Option<String>,
    /// The key of the group the last page ended in.
    #[serde(rename = "k")]
    pub key: String,
    /// How many of that group's records were shown.
    #[serde(rename = "s")]
    pub shown: usize,
}

impl Cursor {
    /// The opaque text a client passes back.
    pub fn encode(&self) -> String {
        base64::encode_url(serde_json::to_string(self).expect("a cursor serialises").as_bytes())
    }

    /// A cursor this API gave for the log under `prefix`; `None` for anything else.
    pub fn parse(text: &str, prefix: &str) -> Option<Cursor> {
        let bytes = base64::decode_url(text)?;
        let cursor: Cursor = serde_json::from_slice(&bytes).ok()?;
        cursor.key.starts_with(prefix).then_some(cursor)
    }
}

/// One page of the log, filled from groups in key order.
#[derive(Debug)]
pub struct Page {
    limit: usize,
    resume: Option<(String, usize)>,
    records: Vec<DeliveryRecord>,
    /// The last group taken from: its key, how many of its records are now shown, and whether it has more.
    last: Option<(String, usize, bool)>,
}

impl Page {
    /// A page of at most `limit` records, after where `cursor` ended (or from the newest).
    pub fn new(limit: usize, cursor: Option<&Cursor>) -> Page {
        Page {
            limit,
            resume: cursor.map(|c| (c.key.clone(), c.shown)),
            records: Vec::new(),
            last: None,
        }
    }

    /// Whether the group under `key` has records for this page: it is not before where the last page ended.
    pub fn wants(&self, key: &str) -> bool {
        self.resume.as_ref().is_none_or(|(resume, _)| key >= resume.as_str())
    }

    /// How many more records fit.
    pub fn room(&self) -> usize {
        self.limit - self.records.len()
    }

    /// Takes what fits of a group, after the records an earlier page showed.
    pub fn take(&mut self, key: &str, group: Vec<DeliveryRecord>) {
        let shown = match &self.resume {
            Some((resume, shown)) if resume == key => *shown,
            _ => 0,
        };
        let available = group.len().saturating_sub(shown);
        let taken = available.min(self.room());
        self.records.extend(group.into_iter().skip(shown).take(taken));
        self.last = Some((key.to_owned(), shown + taken, taken < available));
    }

    /// Whether the page holds `limit` records.
    pub fn is_full(&self) -> bool {
        self.records.len() == self.limit
    }

    /// The records, and the cursor of the next page: `None` when `more_after` (whether any group follows the
    /// last one taken) is false and that group is used up. `list_cursor` is the KV cursor the last group was
    /// listed from.
    pub fn finish(self, list_cursor: Option<String>, more_after: bool) -> (Vec<DeliveryRecord>, Option<Cursor>) {
        let cursor = match self.last {
            Some((key, shown, rest)) if self.records.len() == self.limit && (rest || more_after) => Some(Cursor {
                list_cursor,
                key,
                shown,
            }),
            _ => None,
        };
        (self.records, cursor)
    }
}

/// Checks a recovery's `since`: unix seconds from 0 to the end of the year 9999 (a time still to come recovers
/// nothing; milliseconds, a common slip, are far past that bound and refused).
pub fn check_since(since: i64) -> Result<(), crate::service::http::ApiError> {
    use crate::service::publish::MAX_OCCURRED_AT;
    if (0..=MAX_OCCURRED_AT).contains(&since) {
        return Ok(());
    }
    Err(crate::service::http::ApiError::new(
        400,
        "invalid_request",
        format!(
            "since must be unix seconds from 0 to {MAX_OCCURRED_AT} (milliseconds are too large; the log keeps 7 days)"
        ),
    ))
}

/// The events to deliver again when recovering a subscription since `since` (unix seconds), oldest first, once
/// each: those whose log since then holds no delivery and ends in a dead letter, a skip (the subscription was
/// inactive) or a failure with no next attempt (given up, e.g. deactivated meanwhile). `records` is the log in
/// any order; an event still being retried is left to its retries.
pub fn to_recover(records: &[DeliveryRecord], since: i64) -> Vec<(String, crate::EventType)> {
    use crate::delivery::Outcome;
    use std::collections::BTreeMap;
    // Per event: when it first appears since `since`, its newest record, and whether any was a delivery.
    let mut events: BTreeMap<&str, (i64, i64, &DeliveryRecord, bool)> = BTreeMap::new();
    for record in records {
        let Some(at) = crate::protocol::time::parse_rfc3339(&record.at) else {
            continue;
        };
        if at < since {
            continue;
        }
        let delivered = record.outcome == Outcome::Delivered;
        events
            .entry(&record.event_id)
            .and_modify(|(first, newest_at, newest, any)| {
                *first = (*first).min(at);
                if at >= *newest_at {
                    *newest_at = at;
                    *newest = record;
                }
                *any |= delivered;
            })
            .or_insert((at, at, record, delivered));
    }
    let mut due: Vec<(i64, &str, crate::EventType)> = events
        .into_iter()
        .filter(|(_, (_, _, newest, delivered))| {
            !delivered
                && match newest.outcome {
                    Outcome::DeadLettered | Outcome::Skipped => true,
                    Outcome::Failed => newest.next_retry_at.is_none(),
                    Outcome::Delivered => false,
                }
        })
        .map(|(id, (first, _, newest, _))| (first, id, newest.event))
        .collect();
    due.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    due.into_iter().map(|(_, id, event)| (id.to_owned(), event)).collect()
}

#[cfg(test)]
mod flush_tests {
    use super::*;
    use crate::EventType;

    fn buffered(seq: i64, subscription_id: &str, event_id: &str) -> Buffered {
        Buffered {
            seq,
            uid: "alice".into(),
            subscription_id: subscription_id.into(),
            record: DeliveryRecord::skipped(event_id, EventType::CallCompleted, 1, "x", seq),
        }
    }

    #[test]
    fn a_flush_writes_one_group_per_subscription_newest_first() {
        let groups = flush_groups(vec![
            buffered(1, "sub_a", "evt_1"),
            buffered(2, "sub_b", "evt_1"),
            buffered(3, "sub_a", "evt_2"),
        ]);
        let shape: Vec<(&str, Vec<&str>, Vec<i64>)> = groups
            .iter()
            .map(|g| {
                let ids = g.records.iter().map(|r| r.event_id.as_str()).collect();
                (g.subscription_id.as_str(), ids, g.seqs.clone())
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("sub_a", vec!["evt_2", "evt_1"], vec![3, 1]),
                ("sub_b", vec!["evt_1"], vec![2]),
            ]
        );
        assert!(flush_groups(Vec::new()).is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Outcome;
    use crate::EventType;

    fn record(n: u32) -> DeliveryRecord {
        DeliveryRecord {
            event_id: format!("evt_{n}"),
            event: EventType::CallCompleted,
            attempt: 1,
            outcome: Outcome::Delivered,
            status_code: Some(200),
            duration_ms: Some(3),
            error: None,
            response_excerpt: None,
            at: "2026-11-28T12:00:00Z".into(),
            next_retry_at: None,
        }
    }

    #[test]
    fn group_keys_list_newest_first_and_never_collide() {
        let older = group_key("u", "sub_1", 1_000, &record(1));
        let newer = group_key("u", "sub_1", 2_000, &record(1));
        assert!(newer < older);
        assert!(older.starts_with(&crate::model::keys::log_prefix("u", "sub_1")));
        assert_ne!(
            group_key("u", "sub_1", 1_000, &record(1)),
            group_key("u", "sub_1", 1_000, &record(2))
        );
    }

    #[test]
    fn groups_round_trip_and_a_single_record_reads_as_a_group() {
        let group = vec![record(2), record(1)];
        assert_eq!(decode_group(&encode_group(&group)).unwrap(), group);
        let one = serde_json::to_string(&record(7)).unwrap();
        assert_eq!(decode_group(&one).unwrap(), vec![record(7)]);
        assert!(decode_group("{}").is_err());
    }

    #[test]
    fn cursors_round_trip_and_only_for_their_own_log() {
        let cursor = Cursor {
            list_cursor: Some("abc".into()),
            key: format!("{}0001:evt_1:0001", crate::model::keys::log_prefix("u", "sub_1")),
            shown: 3,
        };
        let text = cursor.encode();
        assert_eq!(
            Cursor::parse(&text, &crate::model::keys::log_prefix("u", "sub_1")),
            Some(cursor)
        );
        assert_eq!(
            Cursor::parse(&text, &crate::model::keys::log_prefix("u", "sub_2")),
            None,
            "another subscription's log"
        );
        for bad in ["", "x", "!!!!", &base64::encode_url(b"{}"), &base64::encode_url(b"[1]")] {
            assert_eq!(
                Cursor::parse(bad, &crate::model::keys::log_prefix("u", "sub_1")),
                None,
                "{bad}"
            );
        }
    }

    /// Pages through `groups` (key, record numbers) `limit` records at a time, as the Worker does.
    fn pages(groups: &[(&str, Vec<u32>)], limit: usize) -> Vec<Vec<u32>> {
        let mut out = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let mut page = Page::new(limit, cursor.as_ref());
            let wanted: Vec<_> = groups.iter().filter(|(key, _)| page.wants(key)).collect();
            let mut read = 0;
            for (key, numbers) in &wanted {
                read += 1;
                page.take(key, numbers.iter().copied().map(record).collect());
                if page.is_full() {
                    break;
                }
            }
            let more_after = read < wanted.len();
            let (records, next) = page.finish(None, more_after);
            out.push(records.iter().map(|r| r.event_id[4..].parse().unwrap()).collect());
            match next {
                Some(next) => cursor = Some(next),
                None => return out,
            }
            assert!(out.len() < 100, "paging ends");
        }
    }

    #[test]
    fn pages_split_groups_and_show_every_record_once() {
        let groups = [
            ("k1", vec![9, 8, 7]),
            ("k2", vec![6]),
            ("k3", vec![5, 4, 3, 2]),
            ("k4", vec![1]),
        ];
        assert_eq!(
            pages(&groups, 2),
            vec![vec![9, 8], vec![7, 6], vec![5, 4], vec![3, 2], vec![1]]
        );
        assert_eq!(pages(&groups, 3), vec![vec![9, 8, 7], vec![6, 5, 4], vec![3, 2, 1]]);
        assert_eq!(pages(&groups, 100), vec![(1..=9).rev().collect::<Vec<_>>()]);
        assert_eq!(pages(&groups, 1).len(), 9);
        assert_eq!(pages(&[], 5), vec![Vec::<u32>::new()]);
    }

    #[test]
    fn a_page_that_ends_with_the_log_has_no_cursor() {
        let mut page = Page::new(2, None);
        page.take("k1", vec![record(2), record(1)]);
        assert!(page.is_full());
        assert_eq!(page.finish(None, false).1, None);
        let mut page = Page::new(2, None);
        page.take("k1", vec![record(2), record(1)]);
        assert!(page.finish(Some("c".into()), true).1.is_some(), "another group follows");
    }

    #[test]
    fn a_group_gone_since_the_last_page_does_not_shift_the_next() {
        let cursor = Cursor {
            list_cursor: None,
            key: "k2".into(),
            shown: 1,
        };
        let mut page = Page::new(10, Some(&cursor));
        assert!(!page.wants("k1"));
        // k2 expired; k3 is taken whole.
        assert!(page.wants("k3"));
        page.take("k3", vec![record(5), record(4)]);
        assert_eq!(page.finish(None, false).0.len(), 2);
    }

    #[test]
    fn since_is_seconds_within_rfc3339_and_milliseconds_are_refused() {
        assert!(check_since(0).is_ok());
        assert!(check_since(1_764_355_200).is_ok());
        assert!(
            check_since(2_000_000_000).is_ok(),
            "a time to come recovers nothing, and is no error"
        );
        let ms = check_since(1_764_355_200_000).unwrap_err();
        assert_eq!((ms.status, &*ms.code), (400, "invalid_request"));
        assert!(ms.message.contains("milliseconds"), "{}", ms.message);
        assert!(check_since(-1).is_err());
    }

    #[test]
    fn recovery_takes_what_was_never_delivered_oldest_first_once_each() {
        use crate::delivery::Outcome;
        use crate::protocol::time::rfc3339;
        use crate::EventType;
        let at = |event_id: &str, t: i64, outcome: Outcome, next: Option<i64>| DeliveryRecord {
            outcome,
            next_retry_at: next.map(rfc3339),
            at: rfc3339(t),
            ..DeliveryRecord::skipped(event_id, EventType::CallCompleted, 1, "x", t)
        };
        let records = vec![
            at("evt_dead", 120, Outcome::DeadLettered, None),
            at("evt_dead", 110, Outcome::Failed, Some(120)),
            at("evt_skipped", 105, Outcome::Skipped, None),
            at("evt_gave_up", 130, Outcome::Failed, None),
            at("evt_retrying", 140, Outcome::Failed, Some(200)),
            at("evt_ok", 150, Outcome::Delivered, None),
            at("evt_ok", 149, Outcome::Failed, Some(150)),
            at("evt_redelivered", 160, Outcome::DeadLettered, None),
            at("evt_redelivered", 170, Outcome::Delivered, None),
            at("evt_old", 50, Outcome::DeadLettered, None),
        ];
        let ids: Vec<String> = to_recover(&records, 100).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["evt_skipped", "evt_dead", "evt_gave_up"]);
    }
}
