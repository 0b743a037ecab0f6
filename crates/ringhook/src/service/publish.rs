//! Publishing: the call system's side. `POST /api/v6/call/events` (or the `EVENTS` queue) takes one event or up
//! to 100; each becomes a signed delivery to every matching active subscription of its user.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::protocol::event::{event_id, is_id, CallStatus, Event, EventType};
use crate::service::http::{parse_body, parse_json, ApiError};

/// The most events one request may publish.
pub const MAX_BATCH: usize = 100;
/// The latest `occurred_at`: 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
pub const MAX_OCCURRED_AT: i64 = 253_402_300_799;

/// One event as the call system sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishItem {
    /// One of the five `call.*` types.
    pub event: String,
    /// The call.
    #[serde(rename = "callId")]
    pub call_id: String,
    /// The call's status after the event.
    pub status: String,
    /// The Firebase user the call belongs to.
    pub uid: String,
    /// Anything the call system attaches; an object.
    #[serde(
        default,
        deserialize_with = "crate::model::api::de::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub data: Option<Value>,
    /// The caller's event id: publishing the same id again for the same user delivers nothing new.
    #[serde(
        default,
        deserialize_with = "crate::model::api::de::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    /// When it happened, unix seconds from 0 to [`MAX_OCCURRED_AT`]; default now.
    #[serde(
        default,
        deserialize_with = "crate::model::api::de::some_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub occurred_at: Option<i64>,
}

/// `202` answer: per event, its id and how many deliveries were queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishResponse {
    /// Always `true`.
    pub success: bool,
    /// In request order.
    pub events: Vec<Published>,
}

/// One published event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The event id.
    pub id: String,
    /// Deliveries queued (active matching subscriptions).
    pub deliveries: usize,
    /// The id was published before: nothing new was queued.
    pub duplicate: bool,
}

/// A checked event, ready to fan out.
#[derive(Debug, Clone, PartialEq)]
pub struct Ready {
    /// Whose subscriptions receive it.
    pub uid: String,
    /// The event; its id is the caller's or a new one.
    pub event: Event,
}

/// Parses a request body: one event or an array of 1..=100.
pub fn parse_request(body: &[u8]) -> Result<Vec<PublishItem>, ApiError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'[') {
        return Ok(vec![parse_body(body)?]);
    }
    // Items are objects, as a single event is (derived structs would also take an array of field values);
    // their shape is checked first, then the items are read with errors that name the item and field.
    let shapes: Vec<Value> = parse_json(body, "events")?;
    if shapes.is_empty() || shapes.len() > MAX_BATCH {
        return Err(ApiError::new(
            400,
            "invalid_request",
            format!("publish 1 to {MAX_BATCH} events at a time"),
        ));
    }
    if let Some(i) = shapes.iter().position(|item| !item.is_object()) {
        return Err(ApiError::new(
            400,
            "invalid_request",
            format!("events[{i}]: each event must be a JSON object"),
        ));
    }
    parse_json(body, "events")
}

/// Checks every item (the whole request is refused if one is wrong) and builds the events.
/// `random_id` supplies 10 random bytes for each event without a caller id.
pub fn prepare(
    items: Vec<PublishItem>,
    now: i64,
    mut random_id: impl FnMut() -> [u8; 10],
) -> Result<Vec<Ready>, ApiError> {
    let many = items.len() > 1;
    let mut ready = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = |field: &str| {
            if many {
                format!("events[{i}].{field}")
            } else {
                field.to_owned()
            }
        };
        let bad = |field: &str, why: String| ApiError::new(400, "invalid_request", format!("{}: {why}", at(field)));

        let event: EventType = item
            .event
            .parse()
            .map_err(|e: crate::protocol::event::UnknownEventType| bad("event", e.to_string()))?;
        if matches!(event, EventType::WebhookTest | EventType::SubscriptionDeactivated) {
            return Err(bad(
                "event",
                format!("{event} is sent by ringhook itself; publish call.* events"),
            ));
        }
        let status: CallStatus = item
            .status
            .parse()
            .map_err(|e: crate::protocol::event::UnknownCallStatus| bad("status", e.to_string()))?;
        if item.uid.is_empty() || item.uid.chars().count() > 128 {
            return Err(bad("uid", "must be the Firebase user id (1 to 128 characters)".into()));
        }
        if item.call_id.is_empty() || item.call_id.len() > 256 {
            return Err(bad("callId", "must be 1 to 256 bytes".into()));
        }
        let data = match item.data {
            None => Value::Object(Map::new()),
            Some(Value::Object(map)) => Value::Object(map),
            Some(_) => return Err(bad("data", "must be an object".into())),
        };
        if let Some(id) = &item.id {
            if !is_id(id) {
                return Err(bad("id", "must be 1 to 100 letters, digits, '_' or '-'".into()));
            }
        }
        let id = item
            .id
            .unwrap_or_else(|| event_id(now.max(0) as u64 * 1000, random_id()));
        if let Some(at) = item.occurred_at {
            if !(0..=MAX_OCCURRED_AT).contains(&at) {
                return Err(bad(
                    "occurred_at",
                    format!("must be unix seconds from 0 to {MAX_OCCURRED_AT} (the end of the year 9999)"),
                ));
            }
        }
        let timestamp = item.occurred_at.unwrap_or(now);
        ready.push(Ready {
            uid: item.uid,
            event: Event {
                id,
                event,
                call_id: item.call_id,
                status,
                timestamp,
                data,
            },
        });
    }
    Ok(ready)
}

/// Compares a presented bearer token with the configured one without revealing, by timing, how much matched.
pub fn token_matches(presented: &str, expected: &str) -> bool {
    let (a, b) = (presented.as_bytes(), expected.as_bytes());
    if a.len() != b.len() || b.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(extra: Value) -> Value {
        let mut base =
            serde_json::json!({"event": "call.completed", "callId": "call_1", "status": "completed", "uid": "alice"});
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    }

    fn ready(body: Value) -> Result<Vec<Ready>, ApiError> {
        prepare(parse_request(body.to_string().as_bytes())?, 1000, || [7; 10])
    }

    #[test]
    fn one_event_or_a_batch() {
        let one = ready(item(serde_json::json!({}))).unwrap();
        assert_eq!(one.len(), 1);
        assert!(one[0].event.id.starts_with("evt_"));
        assert_eq!(one[0].event.timestamp, 1000);
        let batch = ready(serde_json::json!([
            item(serde_json::json!({"id": "a-1"})),
            item(serde_json::json!({"occurred_at": 5})),
            item(serde_json::json!({"occurred_at": 1764355200.0}))
        ]))
        .unwrap();
        assert_eq!(batch[0].event.id, "a-1");
        assert_eq!(batch[1].event.timestamp, 5);
        assert_eq!(
            batch[2].event.timestamp, 1764355200,
            "a zero fraction is the whole number"
        );
    }

    #[test]
    fn a_bad_item_refuses_the_batch_and_is_named() {
        let cases = [
            (serde_json::json!({"event": "call.answered"}), "events[1].event"),
            (serde_json::json!({"event": "webhook.test"}), "events[1].event"),
            (serde_json::json!({"status": "exploded"}), "events[1].status"),
            (serde_json::json!({"uid": ""}), "events[1].uid"),
            (serde_json::json!({"data": [1]}), "events[1].data"),
            (serde_json::json!({"id": "no spaces"}), "events[1].id"),
            (serde_json::json!({"extra": 1}), "events[1].extra: unknown field"),
            (
                serde_json::json!({"occurred_at": -2990.0}),
                "events[1].occurred_at: must be unix seconds from 0",
            ),
            (
                serde_json::json!({"occurred_at": 253402300800_i64}),
                "events[1].occurred_at: must be unix seconds",
            ),
            (serde_json::json!({"occurred_at": 5.5}), "events[1].occurred_at"),
            (serde_json::json!({"occurred_at": null}), "events[1].occurred_at"),
            (serde_json::json!({"id": null}), "events[1].id"),
            (serde_json::json!({"data": null}), "events[1].data"),
        ];
        for (change, named) in cases {
            let err = ready(serde_json::json!([item(serde_json::json!({})), item(change.clone())])).unwrap_err();
            assert_eq!((err.status, &*err.code), (400, "invalid_request"), "{change}");
            assert!(err.message.starts_with(named), "{change}: {}", err.message);
        }
        let err = ready(serde_json::json!([
            item(serde_json::json!({})),
            ["call.completed", "c1", "completed", "alice"]
        ]))
        .unwrap_err();
        assert_eq!(
            (&*err.code, err.message.as_str()),
            ("invalid_request", "events[1]: each event must be a JSON object")
        );
        let err = ready(serde_json::json!([
            item(serde_json::json!({})),
            item(serde_json::json!({"callId": 7}))
        ]))
        .unwrap_err();
        assert!(
            err.message.starts_with("events[1].callId: invalid type"),
            "{}",
            err.message
        );
        let huge = format!(
            "[{}]",
            vec![item(serde_json::json!({"data": {"pad": "x".repeat(1000)}})).to_string(); 70].join(",")
        );
        assert_eq!(parse_request(huge.as_bytes()).unwrap_err().code, "payload_too_large");
        let too_many: Vec<Value> = (0..101).map(|_| item(serde_json::json!({}))).collect();
        assert_eq!(ready(Value::Array(too_many)).unwrap_err().code, "invalid_request");
        assert_eq!(ready(serde_json::json!([])).unwrap_err().code, "invalid_request");
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cres", "s3cret"));
        assert!(!token_matches("s3cret!", "s3cret"));
        assert!(!token_matches("", ""));
    }
}
