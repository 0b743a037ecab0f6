//! One delivery attempt: a signed POST with a timeout, and what came of it.

use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use ringhook::delivery::{self, Attempt, Sent};
use ringhook::protocol::signature::{self, SecretKey};
use ringhook::EventType;
use wasm_bindgen::JsValue;
use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

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

/// The POST itself. Redirects are not followed: a 3xx comes back as the answer, so the signed body never goes
/// anywhere but the URL that passed the subscription's checks.
async fn post(url: &str, body: &str, headers: &[(&'static str, String)], timeout_ms: u32) -> Result<Answer, String> {
    let request_headers = Headers::new();
    for (name, value) in headers {
        request_headers
            .set(name, value)
            .map_err(|e| format!("header {name}: {e}"))?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(request_headers)
        .with_body(Some(JsValue::from_str(body)))
        .with_redirect(RequestRedirect::Manual);
    let request = Request::new_with_init(url, &init).map_err(|e| format!("invalid request: {e}"))?;

    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    // The timer starts here, as the request is sent (the caller keeps at most six in flight).
    let timeout = Delay::from(Duration::from_millis(u64::from(timeout_ms)));
    let exchange = async move {
        let mut response = fetch
            .send_with_signal(&signal)
            .await
            .map_err(|e| connection_error(&e))?;
        let status = response.status_code();
        let header = |name: &str| response.headers().get(name).ok().flatten();
        let (retry_after, location) = (header("retry-after"), header("location"));
        // Only the start of the answer is read; the rest is cancelled with the request below.
        let mut start = Vec::new();
        if let Ok(mut body) = response.stream() {
            while start.len() < delivery::MAX_EXCERPT_BYTES {
                match body.next().await {
                    Some(Ok(chunk)) => start.extend_from_slice(&chunk),
                    _ => break,
                }
            }
        }
        start.truncate(delivery::MAX_EXCERPT_BYTES);
        Ok::<_, String>(Answer {
            status,
            retry_after,
            location,
            text: String::from_utf8_lossy(&start).into_owned(),
        })
    };
    let outcome = match select(Box::pin(exchange), timeout).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => Err(format!("timeout after {timeout_ms} ms")),
    };
    controller.abort();
    outcome
}

fn connection_error(e: &worker::Error) -> String {
    let detail = e.to_string();
    let detail: String = detail.chars().take(200).collect();
    format!("connection failed: {detail}")
}
