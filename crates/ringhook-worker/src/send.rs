//! One delivery attempt: a signed POST with a timeout, and what came of it.

use std::time::Duration;

use futures_util::future::{select, Either};
use js_sys::{Promise, Reflect, Uint8Array};
use ringhook::delivery::{self, Attempt, Sent};
use ringhook::protocol::signature::{self, SecretKey};
use ringhook::EventType;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::Delay;

use crate::http::thrown_message;

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
    let outcome = post(url, body, &delivery::request_headers(&signed, event), timeout_ms).await;
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
    /// The runtime's `fetch`, called directly: workers-rs reads an answer's body through a stream reader, chunk by
    /// chunk, which cost each attempt more than the rest of reading its answer.
    #[wasm_bindgen(catch, js_name = fetch)]
    fn global_fetch(request: &web_sys::Request) -> Result<Promise, JsValue>;
}

/// An answer up to this size (by its `Content-Length`) is read whole; a longer one, or one of unknown length, only
/// as far as the excerpt goes.
const READ_WHOLE_BYTES: usize = 64 * 1024;

/// The POST itself. Redirects are not followed: a 3xx comes back as the answer, so the signed body never goes
/// anywhere but the URL that passed the subscription's checks.
async fn post(url: &str, body: &str, headers: &[(&'static str, String)], timeout_ms: u32) -> Result<Answer, String> {
    let invalid = |e: JsValue| format!("invalid request: {}", thrown_message(&e));
    let request_headers = web_sys::Headers::new().map_err(invalid)?;
    for (name, value) in headers {
        request_headers
            .set(name, value)
            .map_err(|e| format!("header {name}: {}", thrown_message(&e)))?;
    }
    let controller = web_sys::AbortController::new().map_err(invalid)?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&request_headers);
    init.set_body(&JsValue::from_str(body));
    init.set_redirect(web_sys::RequestRedirect::Manual);
    init.set_signal(Some(&controller.signal()));
    let request = web_sys::Request::new_with_str_and_init(url, &init).map_err(invalid)?;

    // The timer starts here, as the request is sent (the caller keeps at most six in flight).
    let timeout = Delay::from(Duration::from_millis(u64::from(timeout_ms)));
    let exchange = async move {
        let sent = global_fetch(&request).map_err(|e| connection_error(&e))?;
        let response: web_sys::Response = JsFuture::from(sent)
            .await
            .map_err(|e| connection_error(&e))?
            .unchecked_into();
        let header = |name: &str| response.headers().get(name).ok().flatten();
        let (retry_after, location) = (header("retry-after"), header("location"));
        let declared = header("content-length").and_then(|v| v.parse::<usize>().ok());
        // Only the start of the answer is read; the rest is cancelled with the request below.
        let (mut start, ended) = match declared {
            Some(length) if length <= READ_WHOLE_BYTES => (whole(&response).await, true),
            _ => beginning(&response).await,
        };
        start.truncate(delivery::MAX_EXCERPT_BYTES);
        let answer = Answer {
            status: response.status(),
            retry_after,
            location,
            text: String::from_utf8_lossy(&start).into_owned(),
        };
        Ok::<_, String>((answer, ended))
    };
    match select(Box::pin(exchange), timeout).await {
        // An answer read to its end leaves nothing to cancel: aborting costs the runtime an error object
        // (with its stack) per attempt.
        Either::Left((Ok((answer, true)), _)) => Ok(answer),
        Either::Left((result, _)) => {
            controller.abort();
            result.map(|(answer, _)| answer)
        }
        Either::Right(((), _)) => {
            controller.abort();
            Err(format!("timeout after {timeout_ms} ms"))
        }
    }
}

/// A short answer's body, read at once (nothing when it cannot be read; either way nothing is left to read).
async fn whole(response: &web_sys::Response) -> Vec<u8> {
    let Ok(reading) = response.array_buffer() else {
        return Vec::new();
    };
    JsFuture::from(reading)
        .await
        .map(|buffer| Uint8Array::new(&buffer).to_vec())
        .unwrap_or_default()
}

/// The first chunks of a long (or unknown-length) answer's body, up to the excerpt's length, and whether the body
/// ended there (nothing left to read).
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
    (start, false)
}

fn connection_error(e: &JsValue) -> String {
    let detail: String = thrown_message(e).chars().take(200).collect();
    format!("connection failed: {detail}")
}
