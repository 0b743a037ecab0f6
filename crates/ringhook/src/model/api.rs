//! Request and response bodies of the subscription API (`/api/v6/call/webhook/…`).
//!
//! Requests refuse unknown fields, so a typo such as `event` for `events` is an error rather than a silent
//! default. Responses never carry a secret, except the subscribe and rotate responses to the secret's owner.

use serde::{Deserialize, Serialize};

use crate::model::validate::EventSelector;
use crate::protocol::event::EventType;

/// The path prefix of the subscription API.
pub const API_BASE: &str = "/api/v6/call/webhook";

/// `POST /subscribe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    /// Where deliveries go.
    pub webhook_url: String,
    /// Event types to deliver, or `["*"]`.
    pub events: Vec<String>,
}

/// `201` answer to `POST /subscribe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscribeResponse {
    /// Always `true`.
    pub success: bool,
    /// The new subscription.
    pub subscription: Subscription,
    /// The signing secret, shown here and on rotation only.
    pub secret_key: String,
}

/// A webhook subscription as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// `sub_…`.
    pub id: String,
    /// Where deliveries go.
    pub webhook_url: String,
    /// What it listens to.
    pub events: Vec<EventSelector>,
    /// Whether deliveries are made.
    pub active: bool,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Consecutive failed deliveries since the last success or reactivation.
    pub failure_count: u32,
    /// RFC 3339, when the last delivery failed.
    pub last_failure_at: Option<String>,
    /// Why the last delivery failed.
    pub last_failure_reason: Option<String>,
    /// RFC 3339, when the subscription was deactivated, if it is.
    pub deactivated_at: Option<String>,
    /// Why it is inactive: `gone` (the receiver answered 410), `failing` (no successful delivery for the
    /// deactivation window and at least the minimum number of attempts), or `manual` (set inactive by its owner).
    #[serde(default)]
    pub deactivation_reason: Option<String>,
    /// RFC 3339, the first failed attempt since the last successful one, while deliveries fail.
    #[serde(default)]
    pub failing_since: Option<String>,
}

impl Subscription {
    /// A new active subscription with no failures, made at `now` (RFC 3339).
    pub fn new(id: String, webhook_url: String, events: Vec<EventSelector>, now: String) -> Self {
        Self {
            id,
            webhook_url,
            events,
            active: true,
            created_at: now.clone(),
            updated_at: now,
            failure_count: 0,
            last_failure_at: None,
            last_failure_reason: None,
            deactivated_at: None,
            deactivation_reason: None,
            failing_since: None,
        }
    }
}

/// `GET /subscriptions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListResponse {
    /// Always `true`.
    pub success: bool,
    /// The caller's subscriptions.
    pub subscriptions: Vec<Subscription>,
}

/// `GET` and `PATCH /subscriptions/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionResponse {
    /// Always `true`.
    pub success: bool,
    /// The subscription.
    pub subscription: Subscription,
}

/// `PATCH /subscriptions/{id}`: each field present is changed. `{"active": true}` reactivates and resets
/// the failure count.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchRequest {
    /// Activate or deactivate.
    #[serde(default, deserialize_with = "de::present", skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Replace the events list.
    #[serde(default, deserialize_with = "de::present", skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// Move deliveries to another URL.
    #[serde(default, deserialize_with = "de::present", skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
}

/// `POST /subscriptions/{id}/rotate-secret`: the new secret; the previous one keeps signing until
/// `previous_secret_expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RotateResponse {
    /// Always `true`.
    pub success: bool,
    /// The subscription.
    pub subscription: Subscription,
    /// The new signing secret, shown only here.
    pub secret_key: String,
    /// RFC 3339: until then deliveries carry signatures under both secrets.
    pub previous_secret_expires_at: String,
}

/// `DELETE /subscriptions/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteResponse {
    /// Always `true`.
    pub success: bool,
    /// The deleted subscription's id.
    pub id: String,
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResponse {
    /// Always `true`.
    pub success: bool,
    /// `ok`.
    pub status: String,
    /// The service's version.
    pub version: String,
}

/// `POST /test`: send a sample event of `event_type` to one of the caller's subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// The subscription's URL.
    pub webhook_url: String,
    /// The sample event's type.
    pub event_type: String,
}

/// `200` answer of `POST /test`: what the receiver did with a signed sample event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResponse {
    /// Whether the receiver answered 2xx.
    pub success: bool,
    /// The receiver's status, if it answered.
    pub status_code: Option<u16>,
    /// How long the attempt took.
    pub response_time_ms: u64,
    /// The start of the receiver's answer (at most 1 KiB).
    pub response_excerpt: Option<String>,
    /// Why no answer came, or the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /subscriptions/{id}/deliveries`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveriesResponse {
    /// Always `true`.
    pub success: bool,
    /// Log entries.
    pub deliveries: Vec<DeliveryRecord>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub cursor: Option<String>,
}

/// `202` answer of a redelivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeliverResponse {
    /// Always `true`.
    pub success: bool,
    /// The event queued again.
    pub event_id: String,
}

/// `POST /subscriptions/{id}/recover`: deliver again every event not delivered since `since`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoverRequest {
    /// Unix seconds: events logged since then are considered (the log keeps 7 days).
    #[serde(deserialize_with = "de::whole_number")]
    pub since: i64,
}

/// `202` answer of a recovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverResponse {
    /// Always `true`.
    pub success: bool,
    /// The events queued again, oldest first: dead-lettered, skipped while inactive, or given up since `since`.
    pub events: Vec<String>,
}

/// An error answer: `{"success": false, "error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// Always `false`.
    pub success: bool,
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The `error` member of an [`ErrorResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable, machine-readable code, e.g. `invalid_url`.
    pub code: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ErrorResponse {
    /// An error answer with `code` and `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            success: false,
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

/// How an attempt ended, in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A 2xx.
    Delivered,
    /// Failed; another attempt is scheduled unless the subscription was deactivated.
    Failed,
    /// The last attempt failed: the message went to the dead-letter queue.
    DeadLettered,
    /// Not sent: the subscription is inactive or gone.
    Skipped,
}

/// One entry of a subscription's delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The event's id.
    pub event_id: String,
    /// The event's type.
    pub event: EventType,
    /// 1 for the first try.
    pub attempt: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// The receiver's status, if it answered.
    pub status_code: Option<u16>,
    /// How long the attempt took.
    pub duration_ms: Option<u64>,
    /// Why it failed or was skipped.
    pub error: Option<String>,
    /// The start of the receiver's answer.
    pub response_excerpt: Option<String>,
    /// RFC 3339.
    pub at: String,
    /// RFC 3339, when the next attempt is due.
    pub next_retry_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_refuse_unknown_fields() {
        let err = serde_json::from_str::<SubscribeRequest>(r#"{"webhook_url":"https://a.example","event":["*"]}"#)
            .unwrap_err();
        assert!(err.to_string().contains("unknown field `event`"), "{err}");
        assert!(serde_json::from_str::<PatchRequest>(r#"{"actve":true}"#).is_err());
        assert_eq!(
            serde_json::from_str::<PatchRequest>("{}").unwrap(),
            PatchRequest::default()
        );
    }

    #[test]
    fn error_body_has_the_documented_shape() {
        let body = serde_json::to_string(&ErrorResponse::new("not_found", "no such subscription")).unwrap();
        assert_eq!(
            body,
            r#"{"success":false,"error":{"code":"not_found","message":"no such subscription"}}"#
        );
    }
}

/// How request fields are read where JSON allows more than one spelling of the same value.
pub mod de {
    use serde::{Deserialize, Deserializer};

    /// An optional field that, when present, must hold a value: `null` is refused rather than read as absent.
    pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
        T::deserialize(d).map(Some)
    }

    /// A whole number, also when written with a zero fraction (`5.0`): JSON Schema's `integer`.
    pub fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let number = serde_json::Number::deserialize(d)?;
        if let Some(n) = number.as_i64() {
            return Ok(n);
        }
        match number.as_f64() {
            // Beyond ±2^53 a double has no fraction to speak of; the range check is the caller's.
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
            _ => Err(serde::de::Error::custom(format!(
                "expected a whole number, not {number}"
            ))),
        }
    }

    /// An optional [`whole_number`] that, when present, is not `null`.
    pub fn some_whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        whole_number(d).map(Some)
    }

    #[cfg(test)]
    mod tests {
        use crate::model::api::{PatchRequest, RecoverRequest};

        #[test]
        fn whole_numbers_may_carry_a_zero_fraction_and_nothing_else() {
            let since = |text: &str| serde_json::from_str::<RecoverRequest>(text).map(|r| r.since);
            assert_eq!(since(r#"{"since": 3}"#).unwrap(), 3);
            assert_eq!(since(r#"{"since": 3.0}"#).unwrap(), 3);
            assert_eq!(since(r#"{"since": -2990.0}"#).unwrap(), -2990);
            assert_eq!(since(r#"{"since": 1e3}"#).unwrap(), 1000);
            let refused = since(r#"{"since": 3.5}"#).unwrap_err().to_string();
            assert!(refused.contains("expected a whole number, not 3.5"), "{refused}");
            assert!(since(r#"{"since": 1e300}"#).is_err());
            assert!(since(r#"{"since": null}"#).is_err());
            assert!(since(r#"{"since": "3"}"#).is_err());
        }

        #[test]
        fn a_patch_field_sent_as_null_is_refused_and_one_left_out_is_kept() {
            for field in ["active", "events", "webhook_url"] {
                let text = format!(r#"{{"{field}": null}}"#);
                assert!(serde_json::from_str::<PatchRequest>(&text).is_err(), "{field}: null");
            }
            let patch: PatchRequest = serde_json::from_str(r#"{"active": false}"#).unwrap();
            assert_eq!(
                (patch.active, patch.events, patch.webhook_url),
                (Some(false), None, None)
            );
        }
    }
}
