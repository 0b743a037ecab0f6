//! The call events ringhook delivers, and the exact body a delivery carries.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::protocol::json;
pub use crate::protocol::names::{event_id, ulid, CallStatus, EventType, UnknownCallStatus, UnknownEventType};

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
