//! The HTTP API's answers and refusals, and how request bodies are read: one error type for the whole surface,
//! whose message tells the caller what to fix, and whose internal detail goes to the log only.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::api::ErrorResponse;
use crate::model::validate::ValidationError;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// A successful answer: status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON text.
    pub body: String,
}

/// A refused or failed request. `internal` holds detail for the log, never for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Stable code, e.g. `invalid_url`.
    pub code: Cow<'static, str>,
    /// What is wrong and how to fix it.
    pub message: String,
    /// For a 5xx: what failed, for the log.
    pub internal: Option<String>,
    /// Seconds the caller should wait before trying again (`Retry-After`), for a 429 or 503.
    pub retry_after: Option<u32>,
    /// The methods the path takes (`Allow`), for a 405.
    pub allow: Option<String>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: u16, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            internal: None,
            retry_after: None,
            allow: None,
        }
    }

    /// `429 rate_limited`: `what` is used up until `retry_after` seconds from now.
    pub fn rate_limited(what: &str, retry_after: u32) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(429, "rate_limited", format!("{what}: try again in {retry_after} s"))
        }
    }

    /// `503 unavailable`: a dependency (storage, a queue) did not answer; `detail` goes to the log.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self {
            internal: Some(detail.into()),
            retry_after: Some(1),
            ..Self::new(
                503,
                "unavailable",
                "the service is briefly unavailable: try again shortly",
            )
        }
    }

    /// A failure of ours: the caller sees a generic message; `detail` goes to the log.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self {
            internal: Some(detail.into()),
            ..Self::new(500, "internal_error", "internal error: try again later")
        }
    }

    /// `404 not_found` for a subscription id the user does not own (whether or not it exists).
    pub fn no_subscription(id: &str) -> Self {
        Self::new(404, "not_found", format!("no subscription {id} for this user"))
    }

    /// The JSON error body.
    pub fn body(&self) -> String {
        to_json(&ErrorResponse::new(self.code.clone(), self.message.clone()))
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self::new(400, e.code, e.message)
    }
}

impl From<crate::model::store::StoreError> for ApiError {
    fn from(e: crate::model::store::StoreError) -> Self {
        Self::internal(e.to_string())
    }
}

impl From<crate::model::secret_box::SealError> for ApiError {
    fn from(e: crate::model::secret_box::SealError) -> Self {
        Self::internal(e.to_string())
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| unreachable!("API models serialise"))
}

/// A JSON answer with `status`.
pub fn reply<T: Serialize>(status: u16, value: &T) -> Result<Reply, ApiError> {
    Ok(Reply {
        status,
        body: to_json(value),
    })
}

/// Parses a JSON request body that must be an object: malformed JSON, wrong types, unknown fields and
/// arrays of field values are distinct 4xx errors, and the message names the field at fault.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    check_size(body.len())?;
    // Derived structs would also take an array of field values; the API takes objects only.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Ok(_) => ApiError::new(400, "invalid_request", "the request body must be a JSON object"),
            Err(e) => invalid_json(&e),
        });
    }
    parse_json(body, "")
}

/// Parses a JSON request body of any shape. A field at fault is named after `prefix`: with `events`, an error
/// in the second item's status reads `events[1].status: …`.
pub fn parse_json<T: DeserializeOwned>(body: &[u8], prefix: &str) -> Result<T, ApiError> {
    check_size(body.len())?;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let inner = e.inner();
        if !inner.is_data() {
            return invalid_json(inner);
        }
        let path = e.path().to_string();
        let field = match path.as_str() {
            "." => prefix.to_owned(),
            p if p.starts_with('[') || prefix.is_empty() => format!("{prefix}{p}"),
            p => format!("{prefix}.{p}"),
        };
        let message = if field.is_empty() {
            inner.to_string()
        } else {
            format!("{field}: {inner}")
        };
        ApiError::new(400, "invalid_request", message)
    })?;
    deserializer.end().map_err(|e| invalid_json(&e))?;
    Ok(value)
}

/// `413 payload_too_large` for a body of `len` bytes over [`MAX_BODY_BYTES`] (as read, or as declared by
/// `Content-Length` before reading).
pub fn check_size(len: usize) -> Result<(), ApiError> {
    if len > MAX_BODY_BYTES {
        return Err(ApiError::new(
            413,
            "payload_too_large",
            format!("the request body is over {MAX_BODY_BYTES} bytes"),
        ));
    }
    Ok(())
}

fn invalid_json(e: &serde_json::Error) -> ApiError {
    ApiError::new(400, "invalid_json", format!("the request body is not valid JSON: {e}"))
}
