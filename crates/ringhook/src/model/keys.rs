//! Every KV key the service writes, in one place.
//!
//! KV holds what is written once: event bodies (`events:`, a second's bodies of one user together; `event:`, one
//! per key, from earlier versions), the delivery log (`log:`), dead letters that name no
//! delivery (`dead:`), and, from earlier versions, users' documents (`user:`, read once to move them into the
//! user's object). A user id may be any text Firebase issues, so inside a key it is [encoded](user_part): a `:`
//! in one user's id can never make a key that belongs to another user.

use std::borrow::Cow;
use std::fmt::Write;

/// A user id as it appears inside a key: ASCII letters, digits, `_`, `-` and `.` as they are (so the usual
/// Firebase ids read the same), every other byte as `%XX`. No encoded id contains `:`, and two ids never
/// encode alike.
pub fn user_part(uid: &str) -> Cow<'_, str> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    if uid.bytes().all(plain) {
        return Cow::Borrowed(uid);
    }
    let mut out = String::with_capacity(uid.len() * 3);
    for b in uid.bytes() {
        if plain(b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Cow::Owned(out)
}

/// A group of a user's published event bodies, written together (see [`crate::delivery::bodies`]): the time
/// inverted, then the first body's event id, which no other group starts with.
pub fn events(uid: &str, at_millis: u64, first_event_id: &str) -> String {
    format!(
        "events:{}:{:020}:{first_event_id}",
        user_part(uid),
        u64::MAX - at_millis
    )
}

/// Where earlier versions kept a published event's body, one per key (read for redelivery and recovery until
/// they expire).
pub fn event(uid: &str, event_id: &str) -> String {
    format!("event:{}:{event_id}", user_part(uid))
}

/// The delivery log's key prefix for one subscription (see [`crate::delivery::log`]).
pub fn log_prefix(uid: &str, subscription_id: &str) -> String {
    format!("log:{}:{subscription_id}:", user_part(uid))
}

/// A dead letter that names no delivery, listed newest first: the inverted time, then a unique id.
pub fn dead_letter(at_millis: u64, random: [u8; 10]) -> String {
    format!(
        "dead:{:020}:{}",
        u64::MAX - at_millis,
        crate::protocol::event::event_id(at_millis, random)
    )
}

/// Where earlier versions kept a user's document. They wrote the id as it was, so it is read as it was.
pub fn legacy_user(uid: &str) -> String {
    format!("user:{uid}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usual_ids_read_as_they_are() {
        assert_eq!(event("Xy9_k-2.a", "evt_1"), "event:Xy9_k-2.a:evt_1");
        assert_eq!(log_prefix("alice", "sub_1"), "log:alice:sub_1:");
        assert!(events("alice", 5, "evt_1").starts_with("events:alice:"));
        assert_ne!(events("P:v", 5, "evt_1"), events("P", 5, "v:evt_1"));
    }

    #[test]
    fn a_colon_in_one_id_cannot_reach_another_users_keys() {
        // Unencoded, user "P" asking for event "v:evt_1" and user "P:v" asking for "evt_1" met at one key.
        assert_ne!(event("P:v", "evt_1"), format!("event:P:v:evt_1"));
        assert_eq!(event("P:v", "evt_1"), "event:P%3Av:evt_1");
        assert_ne!(log_prefix("P:v", "s"), log_prefix("P", "v:s"));
        assert!(!user_part("a:b%c/d é").contains(':'));
    }

    #[test]
    fn encoding_is_one_to_one() {
        let ids = ["a%3Ab", "a:b", "a%b", "%", "%25", "é", "e\u{301}", ""];
        let encoded: std::collections::HashSet<_> = ids.iter().map(|id| user_part(id).into_owned()).collect();
        assert_eq!(encoded.len(), ids.len());
    }

    #[test]
    fn dead_letters_list_newest_first() {
        assert!(dead_letter(2_000, [0; 10]) < dead_letter(1_000, [0; 10]));
    }
}
