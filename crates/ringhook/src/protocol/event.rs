//! The call events ringhook delivers, and the exact body a delivery carries.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::protocol::json;

/// Generates a string enum with `as_str`, `FromStr`, `Display` and serde as that string.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $error:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The name as it appears on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        #[doc = concat!("A ", $what, " that ringhook does not know.")]
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("unknown {}: {name:?} (expected one of: {})", $what, [$($text),+].join(", "))]
        pub struct $error {
            /// The name that was given.
            pub name: String,
        }

        impl FromStr for $name {
            type Err = $error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($error { name: s.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_enum! {
    /// What happened: the `event` field of a delivery.
    EventType, UnknownEventType, "event type" {
        /// A call was started.
        CallInitiated = "call.initiated",
        /// A call was scheduled for later.
        CallScheduled = "call.scheduled",
        /// A call moved to another status.
        CallStatusChanged = "call.status.changed",
        /// A call ended normally.
        CallCompleted = "call.completed",
        /// A call could not be made or ended in error.
        CallFailed = "call.failed",
        /// A sample event sent by the test endpoint.
        WebhookTest = "webhook.test",
        /// Notice to an owner that one of their subscriptions was deactivated.
        SubscriptionDeactivated = "webhook.subscription.deactivated",
    }
}

string_enum! {
    /// Where a call stands: the `status` field of a delivery.
    CallStatus, UnknownCallStatus, "call status" {
        /// Scheduled for a later time.
        Scheduled = "scheduled",
        /// Waiting for a line.
        Queued = "queued",
        /// Being placed.
        Initiated = "initiated",
        /// Ringing at the callee.
        Ringing = "ringing",
        /// Answered and going on.
        InProgress = "in-progress",
        /// Ended normally.
        Completed = "completed",
        /// The callee was busy.
        Busy = "busy",
        /// Nobody answered.
        NoAnswer = "no-answer",
        /// Canceled before it was answered.
        Canceled = "canceled",
        /// Could not be made.
        Failed = "failed",
    }
}

impl CallStatus {
    /// Whether the call is over: no later status can follow.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Busy | Self::NoAnswer | Self::Canceled | Self::Failed
        )
    }
}

/// One delivered event, as its receiver sees it.
///
/// The setup guide's field names (`event`, `callId`, `status`, `data`) are kept exactly; `id` is the dedup key and stays
/// the same on every retry, and `timestamp` (unix seconds) lets a receiver that checks only the body signature
/// reject replays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `evt_…`, unique per event.
    pub id: String,
    /// What happened.
    pub event: EventType,
    /// The call the event is about.
    pub call_id: String,
    /// The call's status after this event.
    pub status: CallStatus,
    /// When the event happened, in unix seconds.
    pub timestamp: i64,
    /// Whatever the call system attached (duration, reason, …).
    #[serde(default = "empty_object")]
    pub data: Value,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

impl Event {
    /// The sample event the test endpoint sends for `event`: call `call_test`, `data: {"test": true}`, and the
    /// status that event type usually carries.
    pub fn sample(event: EventType, id: String, now: i64) -> Self {
        let status = match event {
            EventType::CallInitiated => CallStatus::Initiated,
            EventType::CallScheduled => CallStatus::Scheduled,
            EventType::CallStatusChanged => CallStatus::Ringing,
            EventType::CallCompleted | EventType::WebhookTest => CallStatus::Completed,
            EventType::CallFailed | EventType::SubscriptionDeactivated => CallStatus::Failed,
        };
        Self {
            id,
            event,
            call_id: "call_test".into(),
            status,
            timestamp: now,
            data: serde_json::json!({"test": true}),
        }
    }

    /// The body a delivery carries: the fields in the order above, written so that
    /// `JSON.stringify(JSON.parse(body)) === body` holds in JavaScript.
    pub fn to_body(&self) -> String {
        let mut map = Map::with_capacity(6);
        map.insert("id".into(), Value::String(self.id.clone()));
        map.insert("event".into(), Value::String(self.event.as_str().into()));
        map.insert("callId".into(), Value::String(self.call_id.clone()));
        map.insert("status".into(), Value::String(self.status.as_str().into()));
        map.insert("timestamp".into(), Value::from(self.timestamp));
        map.insert("data".into(), self.data.clone());
        json::to_js_string(&Value::Object(map))
    }

    /// Parses a delivered body. Unknown event types and statuses are errors that name the value.
    pub fn from_body(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }
}

/// Whether `id` can name an event or a subscription: 1 to 100 ASCII letters, digits, `_` or `-`. Ids taken from
/// a path or a publisher are checked with this before they reach storage keys.
pub fn is_id(id: &str) -> bool {
    (1..=100).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// An event id: `evt_` followed by 26 Crockford base32 characters (a ULID) made from `unix_millis` and
/// 10 random bytes that the caller supplies (the core has no clock and no random source of its own).
pub fn event_id(unix_millis: u64, random: [u8; 10]) -> String {
    let mut id = String::from("evt_");
    id.push_str(&ulid(unix_millis, random));
    id
}

/// A ULID: 48 bits of milliseconds then 80 random bits, as 26 Crockford base32 characters (sortable by time).
pub fn ulid(unix_millis: u64, random: [u8; 10]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut value: u128 = u128::from(unix_millis & 0xFFFF_FFFF_FFFF) << 80;
    for (i, b) in random.iter().enumerate() {
        value |= u128::from(*b) << (8 * (9 - i));
    }
    (0..26)
        .map(|i| ALPHABET[((value >> (5 * (25 - i))) & 0x1f) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), *t);
        }
        for s in CallStatus::ALL {
            assert_eq!(s.as_str().parse::<CallStatus>().unwrap(), *s);
        }
    }

    #[test]
    fn unknown_names_are_errors_that_list_the_known_ones() {
        let err = "call.answered".parse::<EventType>().unwrap_err();
        assert_eq!(err.name, "call.answered");
        assert!(err.to_string().contains("call.completed"), "{err}");
        let err = serde_json::from_str::<Event>(
            r#"{"id":"e","event":"call.nope","callId":"c","status":"ringing","timestamp":1,"data":{}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown event type"), "{err}");
    }

    #[test]
    fn body_has_the_setup_guide_fields_in_order() {
        let event = Event {
            id: "evt_1".into(),
            event: EventType::CallCompleted,
            call_id: "call_123".into(),
            status: CallStatus::Completed,
            timestamp: 1_764_355_200,
            data: serde_json::json!({"duration_seconds": 42}),
        };
        let body = event.to_body();
        assert_eq!(
            body,
            r#"{"id":"evt_1","event":"call.completed","callId":"call_123","status":"completed","timestamp":1764355200,"data":{"duration_seconds":42}}"#
        );
        assert_eq!(Event::from_body(&body).unwrap(), event);
    }

    #[test]
    fn ulids_sort_by_time_and_use_crockford_base32() {
        let a = ulid(1_764_355_200_000, [0xff; 10]);
        let b = ulid(1_764_355_200_001, [0; 10]);
        assert_eq!(a.len(), 26);
        assert!(a < b);
        assert_eq!(ulid(0, [0; 10]), "00000000000000000000000000");
        assert_eq!(ulid(0, [0xff; 10]), "0000000000ZZZZZZZZZZZZZZZZ");
        assert!(event_id(1, [1; 10]).starts_with("evt_"));
    }
}
