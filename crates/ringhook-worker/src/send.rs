//! One delivery attempt: a signed POST with a timeout, and what came of it.

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::{Promise, Reflect, Uint8Array};
use ringhook::delivery::{self, Attempt, Sent};
use ringhook::model::secret_box::{SealError, StorageKey};
use ringhook::model::store::StoredSubscription;
use ringhook::protocol::signature::{self, SecretKey, SignedHeaders};
use ringhook::EventType;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::http::thrown_message;

thread_local! {
    /// Secrets opened before in this isolate, by subscription and sealed form: opening one is an AES-GCM
    /// decryption and two HMAC keys' setup, which a publish to a hundred subscriptions did a hundred times.
    static OPENED: RefCell<HashMap<String, SecretKey>> = RefCell::default();

    /// The request headers of the last deliveries ([`Signing`]): a publish to a hundred subscriptions sets the
    /// headers they share once, and each delivery only its signatures.
    static SIGNING: RefCell<Option<Signing>> = RefCell::default();
}

/// One `Headers` object for the deliveries of an event signed in the same second: the headers they share
/// ([`delivery::shared_headers`]), set once, and the signatures of the delivery sent last
/// ([`delivery::signature_headers`]), replaced before each is sent. `fetch` copies a request's headers as it is
/// called, so one object serves every delivery, as long as each is sent before the next one's signatures are set.
struct Signing {
    event_id: String,
    timestamp: String,
    event: EventType,
    headers: web_sys::Headers,
    /// The names of the signature headers set now.
    signatures: Vec<&'static str>,
}

/// How many opened secrets the isolate keeps; past that it starts again from none.
const OPENED_MAX: usize = 10_000;

/// The secrets that sign a delivery to `stored` at `now` (which they are is the core's decision), each sealed
/// secret opened once per isolate.
pub fn signing_secrets(stored: &StoredSubscription, key: &StorageKey, now: i64) -> Result<Vec<SecretKey>, SealError> {
    stored.signing_secrets_with(now, |sealed| {
        let id = format!(
            "{}.{}.{}.{}",
            stored.public.id,
            sealed.key_id.as_deref().unwrap_or_default(),
            sealed.nonce,
            sealed.ciphertext
        );
        if let Some(opened) = OPENED.with_borrow(|kept| kept.get(&id).cloned()) {
            return Ok(opened);
        }
        let opened = stored.open_secret(key, sealed)?;
        OPENED.with_borrow_mut(|kept| {
            if kept.len() >= OPENED_MAX {
                kept.clear();
            }
            kept.insert(id, opened.clone());
        });
        Ok(opened)
    })
}

/// POSTs `body` to `url`, signed with `secrets` (current first), giving up after `timeout_ms`.
pub async fn send(
    url: &str,
    body: &str,
    event_id: &str,
    event: EventType,
    secrets: &[SecretKey],
    timeout_ms: u32,
) -> (Attempt, Sent) {
    let started = js_sys::Date::now();
    let now = (started / 1000.0).floor() as i64;
    let signed = signature::sign(secrets, event_id, now, body.as_bytes());
    let outcome = match request_headers(signed, event) {
        Ok(headers) => post(url, body, &headers, timeout_ms).await,
        Err(e) => Err(e),
    };
    let duration_ms = (js_sys::Date::now() - started).max(0.0) as u64;
    match outcome {
        Ok(Answer {
            status,
            retry_after,
            location,
            text,
        }) => (
            Attempt {
                status: Some(status),
                error: None,
                retry_after,
                location,
            },
            Sent {
                duration_ms,
                excerpt: Some(delivery::excerpt(&text)),
            },
        ),
        Err(error) => (
            Attempt {
                status: None,
                error: Some(error),
                ..Attempt::default()
            },
            Sent {
                duration_ms,
                excerpt: None,
            },
        ),
    }
}

/// A receiver's answer, as far as it is read.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    location: Option<String>,
    /// The start of the body.
    text: String,
}

#[wasm_bindgen]
extern "C" {
    /// The runtime's `fetch`, called directly with the URL and the request's options: workers-rs reads an answer's
    /// body through a stream reader, chunk by chunk, which cost each attempt more than the rest of reading its
    /// answer, and a `Request` built first only to be passed on is one more object per attempt.
    #[wasm_bindgen(catch, js_name = fetch)]
    fn global_fetch(url: &str, init: &web_sys::RequestInit) -> Result<Promise, JsValue>;

    /// `AbortSignal.timeout`: a signal the runtime aborts after `ms`, with no timer of the Worker's own to set,
    /// wake and clear for each attempt.
    #[wasm_bindgen(js_namespace = AbortSignal, js_name = timeout)]
    fn timeout_signal(ms: u32) -> web_sys::AbortSignal;
}

/// An answer up to this size (by its `Content-Length`) is read whole; a longer one, or one of unknown length, only
/// as far as the excerpt goes.
const READ_WHOLE_BYTES: usize = 64 * 1024;

/// A delivery's request headers ([`Signing`]): those it shares with the deliveries of its event signed in the same
/// second, and its signatures. The caller sends the request before it yields.
fn request_headers(signed: SignedHeaders, event: EventType) -> Result<web_sys::Headers, String> {
    SIGNING.with_borrow_mut(|kept| {
        let current = kept
            .take()
            .filter(|k| k.event_id == signed.webhook_id && k.timestamp == signed.webhook_timestamp && k.event == event);
        let mut signing = match current {
            Some(signing) => signing,
            None => {
                let headers =
                    web_sys::Headers::new().map_err(|e| format!("invalid request: {}", thrown_message(&e)))?;
                for (name, value) in delivery::shared_headers(&signed, event) {
                    set_header(&headers, name, &value)?;
                }
                Signing {
                    event_id: signed.webhook_id.clone(),
                    timestamp: signed.webhook_timestamp.clone(),
                    event,
                    headers,
                    signatures: Vec::new(),
                }
            }
        };
        let signatures = delivery::signature_headers(signed);
        for name in &signing.signatures {
            if !signatures.iter().any(|(set, _)| set == name) {
                signing
                    .headers
                    .delete(name)
                    .map_err(|e| format!("header {name}: {}", thrown_message(&e)))?;
            }
        }
        for (name, value) in &signatures {
            set_header(&signing.headers, name, value)?;
        }
        signing.signatures = signatures.iter().map(|(name, _)| *name).collect();
        let headers = signing.headers.clone();
        *kept = Some(signing);
        Ok(headers)
    })
}

fn set_header(headers: &web_sys::Headers, name: &str, value: &str) -> Result<(), String> {
    headers
        .set(name, value)
        .map_err(|e| format!("header {name}: {}", thrown_message(&e)))
}

/// The POST itself. Redirects are not followed: a 3xx comes back as the answer, so the signed body never goes
/// anywhere but the URL that passed the subscription's checks.
async fn post(url: &str, body: &str, headers: &web_sys::Headers, timeout_ms: u32) -> Result<Answer, String> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    // Copied by `fetch`, called below before anything is awaited: the next delivery sets its own signatures on them.
    init.set_headers(headers);
    init.set_body(&JsValue::from_str(body));
    init.set_redirect(web_sys::RequestRedirect::Manual);
    // The timer starts here, as the request is sent (the caller keeps at most six in flight). When it runs out,
    // the runtime abandons the request, or the reading of its answer, and whatever was waiting on it fails.
    let signal = timeout_signal(timeout_ms);
    init.set_signal(Some(&signal));
    let timeout = || format!("timeout after {timeout_ms} ms");
    let failed = |e: JsValue| match signal.aborted() {
        true => timeout(),
        false => connection_error(&e),
    };
    let sent = global_fetch(url, &init).map_err(failed)?;
    let response: web_sys::Response = JsFuture::from(sent).await.map_err(failed)?.unchecked_into();
    let header = |name: &str| response.headers().get(name).ok().flatten();
    let (retry_after, location) = (header("retry-after"), header("location"));
    let declared = header("content-length").and_then(|v| v.parse::<usize>().ok());
    // Only the start of the answer is read; the rest is cancelled.
    let (mut start, complete) = match declared {
        Some(length) if length <= READ_WHOLE_BYTES => whole(&response).await,
        _ => beginning(&response).await,
    };
    // An answer whose reading failed is kept as far as it was read, unless the timeout is what failed it.
    if !complete && signal.aborted() {
        return Err(timeout());
    }
    start.truncate(delivery::MAX_EXCERPT_BYTES);
    Ok(Answer {
        status: response.status(),
        retry_after,
        location,
        text: String::from_utf8_lossy(&start).into_owned(),
    })
}

/// A short answer's body, read at once, and whether it was read (nothing when it could not be).
async fn whole(response: &web_sys::Response) -> (Vec<u8>, bool) {
    let Ok(reading) = response.array_buffer() else {
        return (Vec::new(), false);
    };
    match JsFuture::from(reading).await {
        Ok(buffer) => (Uint8Array::new(&buffer).to_vec(), true),
        Err(_) => (Vec::new(), false),
    }
}

/// The first chunks of a long (or unknown-length) answer's body, up to the excerpt's length, and whether reading
/// them succeeded. The rest of the body is cancelled (an answer read to its end leaves nothing to cancel).
async fn beginning(response: &web_sys::Response) -> (Vec<u8>, bool) {
    let mut start = Vec::new();
    let Some(body) = response.body() else {
        return (start, true);
    };
    let Ok(reader) = body.get_reader().dyn_into::<web_sys::ReadableStreamDefaultReader>() else {
        return (start, false);
    };
    while start.len() < delivery::MAX_EXCERPT_BYTES {
        let Ok(chunk) = JsFuture::from(reader.read()).await else {
            return (start, false);
        };
        let value = Reflect::get(&chunk, &"value".into()).unwrap_or(JsValue::UNDEFINED);
        match value.dyn_ref::<Uint8Array>() {
            Some(bytes) => start.extend_from_slice(&bytes.to_vec()),
            None => return (start, true),
        }
    }
    // The stream is healthy here (its last read gave a chunk): cancelling it settles, and frees the connection.
    drop(reader.cancel());
    (start, true)
}

fn connection_error(e: &JsValue) -> String {
    let detail: String = thrown_message(e).chars().take(200).collect();
    format!("connection failed: {detail}")
}
