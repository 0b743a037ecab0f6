//! Verifying and signing deliveries: `verifyWebhookSignature`, `verifyWebhook`, `signWebhook` (`verifyRequest`,
//! which reads a Fetch API request's body and calls `verifyWebhook`, is `pkg/request.js`).
//! Errors are `Error` objects named `WebhookVerificationError` with a `code`.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, JsString, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::{error_with, now_seconds, type_error, utf8_bytes};
use crate::protocol::event::event_id;
use crate::protocol::signature::{
    self, BodyTimestamp, Payload, ReceivedHeaders, SecretKey, Timestamp, Verifier, VerifyError, DEFAULT_TOLERANCE_SECS,
    WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, X_WEBHOOK_SIGNATURE,
};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** What happened: the `event` field of a delivery. */
export type CallEventType =
  | "call.initiated" | "call.scheduled" | "call.status.changed" | "call.completed" | "call.failed"
  | "webhook.test" | "webhook.subscription.deactivated";

/** Where a call stands: the `status` field of a delivery. */
export type CallStatus =
  | "scheduled" | "queued" | "initiated" | "ringing" | "in-progress"
  | "completed" | "busy" | "no-answer" | "canceled" | "failed";

/** A verified delivery's body. */
export interface WebhookEvent<Data = Record<string, unknown>> {
  /** `evt_…`: the same on every retry; use it to drop duplicates. */
  id: string;
  event: CallEventType;
  callId: string;
  status: CallStatus;
  /** When the event happened, in unix seconds. */
  timestamp: number;
  data: Data;
}

/** A `Headers` object, or a plain object such as Node's `req.headers` (names in any case). */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined | null>;

export interface VerifyOptions {
  /** Seconds a signature may be old (or ahead); default 300. `null` skips the check (not recommended). */
  toleranceSeconds?: number | null;
  /** The verifier's clock in unix seconds; default `Date.now() / 1000`. */
  now?: number;
}

export interface SignOptions {
  /** The event id for `webhook-id`; default a new `evt_…` id. */
  id?: string;
  /** Unix seconds for `webhook-timestamp`; default now. */
  timestamp?: number;
}

/** The signature headers of one delivery, lower-case names (a plain object: usable as WebhookHeaders). */
export type SignedHeaders = {
  "x-webhook-signature": string;
  "webhook-id": string;
  "webhook-timestamp": string;
  /** Space-separated `v1,<base64>` signatures; empty for a secret without the `whsec_` prefix. */
  "webhook-signature": string;
  /** With two secrets (a rotation's overlap): `sha256=<hex>` under the second, the previous secret. */
  "x-webhook-signature-previous"?: string;
};

export type VerificationErrorCode =
  | "missing_signature" | "missing_header" | "malformed_signature" | "invalid_timestamp" | "missing_timestamp"
  | "timestamp_too_old" | "timestamp_in_future" | "signature_mismatch" | "invalid_secret" | "invalid_payload";

/** Thrown by `verifyWebhook`: an `Error` whose `name` is `"WebhookVerificationError"`. */
export interface WebhookVerificationError extends Error {
  name: "WebhookVerificationError";
  code: VerificationErrorCode;
}

/**
 * For Fetch-API receivers (Workers, Node 18+, Deno, Bun): reads the request's raw body once, verifies it as
 * `verifyWebhook` does, and resolves to the event (or rejects with a `WebhookVerificationError`).
 */
export function verifyRequest(request: Request, secretKey: string, options?: VerifyOptions): Promise<WebhookEvent>;
"#;

#[wasm_bindgen]
extern "C" {
    /// `JSON.parse` of a JS string (js-sys's binding takes a Rust `&str`, which would copy the body out again).
    #[wasm_bindgen(catch, js_namespace = JSON, js_name = parse)]
    fn json_parse(text: &JsValue) -> Result<JsValue, JsValue>;
}

thread_local! {
    /// The last secret used, as the JS string it came as and with its HMAC keys prepared: receivers verify with
    /// the same secret again and again, and comparing JS strings costs less than copying one into wasm.
    static LAST_SECRET: RefCell<Option<(JsValue, Rc<SecretKey>)>> = const { RefCell::new(None) };
}

/// The secret with its keys prepared. Throws when it is missing or not a string (an unset environment variable,
/// typically); the inner error is a string that is not a valid secret.
fn prepared_secret(given: &JsValue) -> Result<Result<Rc<SecretKey>, VerifyError>, JsValue> {
    let cached =
        LAST_SECRET.with_borrow(|last| last.as_ref().filter(|(text, _)| text == given).map(|(_, s)| s.clone()));
    if let Some(secret) = cached {
        return Ok(Ok(secret));
    }
    let text = secret_text(given)?;
    Ok(SecretKey::parse(&text).map(|secret| {
        let secret = Rc::new(secret);
        LAST_SECRET.set(Some((given.clone(), secret.clone())));
        secret
    }))
}

thread_local! {
    // Property names read on every verification, made JS strings once.
    static TIMESTAMP: JsValue = JsValue::from_str("timestamp");
    static GET: JsValue = JsValue::from_str("get");
    static NAMES: [JsValue; 4] = HEADER_NAMES.map(JsValue::from_str);
}

pub(crate) fn verification_error(e: &VerifyError) -> JsValue {
    error_with("WebhookVerificationError", &e.to_string(), &[("code", e.code().into())])
}

/// The raw body as bytes: a string (its UTF-8), a `Uint8Array` (Node's `Buffer` included) or an `ArrayBuffer`.
pub(crate) fn body_bytes(payload: &JsValue) -> Result<Vec<u8>, JsValue> {
    if let Some(text) = payload.dyn_ref::<JsString>() {
        Ok(utf8_bytes(text))
    } else if let Some(bytes) = payload.dyn_ref::<Uint8Array>() {
        Ok(bytes.to_vec())
    } else if payload.is_instance_of::<js_sys::ArrayBuffer>() {
        Ok(Uint8Array::new(payload).to_vec())
    } else {
        Err(type_error(
            "the payload must be the raw body as a string, Uint8Array/Buffer or ArrayBuffer (not parsed JSON)",
        ))
    }
}

/// The setup guide's `verifyWebhookSignature(payload, signature, secretKey)`: `true` when `signature`
/// (`sha256=<hex>`, the `X-Webhook-Signature` header) is the HMAC-SHA256 of `payload` under `secretKey`.
/// Compares in constant time; returns `false` rather than throwing for a missing or malformed signature.
#[wasm_bindgen(js_name = verifyWebhookSignature)]
pub fn verify_webhook_signature(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | ArrayBuffer")] payload: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string | string[] | null | undefined")] signature: JsValue,
    #[wasm_bindgen(js_name = secretKey, unchecked_param_type = "string")] secret_key: JsValue,
) -> Result<bool, JsValue> {
    let Ok(secret) = prepared_secret(&secret_key)? else {
        return Ok(false);
    };
    let Some(signature) = header_text(&signature) else {
        return Ok(false);
    };
    let body = body_bytes(&payload)?;
    Ok(signature::verify_body_signature(&body, &signature, &secret))
}

/// The secret as a string; a missing one (an unset environment variable, typically) is an `invalid_secret` error.
fn secret_text(secret: &JsValue) -> Result<String, JsValue> {
    secret
        .as_string()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| verification_error(&VerifyError::InvalidSecret(signature::MISSING_SECRET)))
}

/// A header's value: a string, or the first of a list (Node gives repeated headers as arrays).
fn header_text(value: &JsValue) -> Option<String> {
    if Array::is_array(value) {
        value.unchecked_ref::<Array>().get(0).as_string()
    } else {
        value.as_string()
    }
}

/// Verifies a delivery by either header set (Standard Webhooks `webhook-*`, or `X-Webhook-Signature`) and its
/// timestamp, and returns the parsed event. Throws a `WebhookVerificationError` that says what to fix.
#[wasm_bindgen(js_name = verifyWebhook, unchecked_return_type = "WebhookEvent")]
pub fn verify_webhook(
    #[wasm_bindgen(js_name = rawBody, unchecked_param_type = "string | Uint8Array | ArrayBuffer")] raw_body: JsValue,
    #[wasm_bindgen(unchecked_param_type = "WebhookHeaders")] headers: JsValue,
    #[wasm_bindgen(js_name = secretKey, unchecked_param_type = "string")] secret_key: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "VerifyOptions")] options: Option<Object>,
) -> Result<JsValue, JsValue> {
    let secret = prepared_secret(&secret_key)?.map_err(|e| verification_error(&e))?;
    let (tolerance, now) = verify_options(options.as_ref())?;
    let body = body_bytes(&raw_body)?;
    // The text to parse: a string body as given (its UTF-8 from `encodeInto` is valid by construction, and it is
    // not copied back out of wasm memory); bytes once they are known to be UTF-8.
    let text = if raw_body.is_string() {
        raw_body
    } else {
        let utf8 = std::str::from_utf8(&body)
            .map_err(|_| verification_error(&VerifyError::InvalidPayload("the body is not UTF-8 text".into())))?;
        JsValue::from_str(utf8)
    };
    let values = header_values(&headers)?;
    let received = ReceivedHeaders {
        x_webhook_signature: values[0].as_deref(),
        webhook_id: values[1].as_deref(),
        webhook_timestamp: values[2].as_deref(),
        webhook_signature: values[3].as_deref(),
    };

    Verifier::new(&*secret)
        .with_tolerance(tolerance)
        .verify_payload(&body, &received, now, || {
            let value = json_parse(&text).ok()?;
            Some(if value.is_object() && !Array::is_array(&value) {
                Payload::Object(JsObject(value))
            } else {
                Payload::NotAnObject
            })
        })
        .map(|object| object.0)
        .map_err(|e| verification_error(&e))
}

/// A body parsed by JavaScript's own `JSON.parse`, faster than building it from wasm.
struct JsObject(JsValue);

impl BodyTimestamp for JsObject {
    fn timestamp(&self) -> Timestamp {
        match TIMESTAMP.with(|key| Reflect::get(&self.0, key)) {
            Ok(value) if value.is_undefined() => Timestamp::Missing,
            Ok(value) => value.as_f64().map_or(Timestamp::Invalid, Timestamp::from_number),
            Err(_) => Timestamp::Invalid,
        }
    }
}

fn verify_options(options: Option<&Object>) -> Result<(Option<u64>, i64), JsValue> {
    let mut tolerance = Some(DEFAULT_TOLERANCE_SECS);
    let mut now = None;
    if let Some(options) = options {
        let t = Reflect::get(options, &"toleranceSeconds".into())?;
        if t.is_null() {
            tolerance = None;
        } else if !t.is_undefined() {
            match t.as_f64() {
                Some(secs) if secs >= 0.0 && secs.is_finite() => tolerance = Some(secs as u64),
                _ => {
                    return Err(type_error(
                        "toleranceSeconds must be a non-negative number of seconds, or null",
                    ))
                }
            }
        }
        let n = Reflect::get(options, &"now".into())?;
        if !n.is_undefined() {
            match n.as_f64() {
                Some(secs) if secs.is_finite() => now = Some(secs.floor() as i64),
                _ => return Err(type_error("now must be unix seconds")),
            }
        }
    }
    Ok((tolerance, now.unwrap_or_else(now_seconds)))
}

const HEADER_NAMES: [&str; 4] = [X_WEBHOOK_SIGNATURE, WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE];

/// The four signature headers from a `Headers`-like object (with a `get` method) or a plain object.
fn header_values(headers: &JsValue) -> Result<[Option<String>; 4], JsValue> {
    let mut values: [Option<String>; 4] = Default::default();
    if headers.is_undefined() || headers.is_null() {
        return Ok(values);
    }
    if !headers.is_object() {
        return Err(type_error(
            "headers must be a Headers object or a plain object of header names to values",
        ));
    }
    let get = GET.with(|key| Reflect::get(headers, key))?;
    let get = get.dyn_ref::<Function>();
    NAMES.with(|names| -> Result<(), JsValue> {
        for (value, name) in values.iter_mut().zip(names) {
            *value = header_text(&match get {
                Some(get) => get.call1(headers, name)?,
                None => Reflect::get(headers, name)?,
            });
        }
        Ok(())
    })?;
    if get.is_none() && !one_scheme_complete(&values) {
        // Names in another case than Node's lower case: look through them all for the headers still missing.
        for entry in Object::entries(headers.unchecked_ref::<Object>()).iter() {
            let entry: Array = entry.unchecked_into();
            let Some(name) = entry.get(0).as_string() else {
                continue;
            };
            let Some(slot) = HEADER_NAMES.iter().position(|h| h.eq_ignore_ascii_case(&name)) else {
                continue;
            };
            if values[slot].is_none() {
                values[slot] = header_text(&entry.get(1));
            }
        }
    }
    Ok(values)
}

/// Whether the headers found are a whole signature that looking further could not change: all three Standard
/// Webhooks headers, or `X-Webhook-Signature` without a `webhook-signature` (which would take precedence).
fn one_scheme_complete(values: &[Option<String>; 4]) -> bool {
    let [body_signature, id, timestamp, standard] = values;
    (id.is_some() && timestamp.is_some() && standard.is_some()) || (body_signature.is_some() && standard.is_none())
}

/// Signs `payload` as ringhook signs a delivery, for receivers' own tests. `secretKeys` is one secret or a list
/// (current first, as during a rotation). Returns the four signature headers.
#[wasm_bindgen(js_name = signWebhook, unchecked_return_type = "SignedHeaders")]
pub fn sign_webhook(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | ArrayBuffer")] payload: JsValue,
    #[wasm_bindgen(js_name = secretKeys, unchecked_param_type = "string | string[]")] secret_keys: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "SignOptions")] options: Option<Object>,
) -> Result<JsValue, JsValue> {
    let body = body_bytes(&payload)?;
    let texts: Vec<String> = if let Some(one) = secret_keys.as_string() {
        vec![one]
    } else if Array::is_array(&secret_keys) {
        secret_keys
            .unchecked_ref::<Array>()
            .iter()
            .map(|s| s.as_string())
            .collect::<Option<_>>()
            .ok_or_else(|| type_error("secretKeys must be a string or an array of strings"))?
    } else {
        return Err(type_error("secretKeys must be a string or an array of strings"));
    };
    if texts.is_empty() {
        return Err(type_error("secretKeys must name at least one secret"));
    }
    let secrets = texts
        .iter()
        .map(|t| SecretKey::parse(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| verification_error(&e))?;

    let mut id = None;
    let mut timestamp = None;
    if let Some(options) = &options {
        let given = Reflect::get(options, &"id".into())?;
        if !given.is_undefined() {
            let text = given
                .as_string()
                .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()));
            id = Some(text.ok_or_else(|| type_error("id must be a non-empty string of visible ASCII characters"))?);
        }
        let given = Reflect::get(options, &"timestamp".into())?;
        if !given.is_undefined() {
            let secs = given.as_f64().filter(|t| t.fract() == 0.0 && *t >= 0.0 && *t < 1e15);
            timestamp = Some(secs.ok_or_else(|| type_error("timestamp must be whole unix seconds"))? as i64);
        }
    }
    let id = id.unwrap_or_else(|| event_id(js_sys::Date::now() as u64, random_bytes()));
    let signed = signature::sign(&secrets, &id, timestamp.unwrap_or_else(now_seconds), &body);

    let out = Object::new();
    for (name, value) in signed.pairs() {
        Reflect::set(&out, &name.into(), &value.into())?;
    }
    Ok(out.into())
}

/// Random bytes for default event ids (not secret material).
fn random_bytes() -> [u8; 10] {
    let mut bytes = [0u8; 10];
    for b in &mut bytes {
        *b = (js_sys::Math::random() * 256.0) as u8;
    }
    bytes
}
