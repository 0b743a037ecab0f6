//! HTTP glue: JSON responses, CORS, query strings, URLs, the clock and WebCrypto.

use ringhook::model::validate::{ParsedUrl, UrlParser};
use ringhook::service::http::ApiError;
use ringhook::service::subscriptions::Random;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Crypto, SubtleCrypto};
use worker::{Headers, Response, Result};

/// Which browser origins may call the API: `*`, or a list.
pub enum Cors {
    Any,
    Origins(Vec<String>),
}

impl Cors {
    /// From `ALLOWED_ORIGINS`: `*`, or comma-separated origins.
    pub fn from_setting(value: &str) -> Self {
        if value.trim() == "*" {
            Self::Any
        } else {
            Self::Origins(
                value
                    .split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect(),
            )
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if it is allowed.
    pub fn allow(&self, origin: Option<&str>) -> Option<String> {
        let origin = origin?;
        match self {
            Self::Any => Some("*".to_owned()),
            Self::Origins(list) => list.iter().any(|o| o == origin).then(|| origin.to_owned()),
        }
    }
}

fn headers(allow_origin: Option<&str>) -> Result<Headers> {
    let headers = Headers::new();
    headers.set("vary", "Origin")?;
    if let Some(origin) = allow_origin {
        headers.set("access-control-allow-origin", origin)?;
    }
    Ok(headers)
}

/// The request's query string as name-value pairs (percent-decoded).
pub fn query_pairs(request: &worker::Request) -> Vec<(String, String)> {
    let url = request.inner().url();
    let query = url.split_once('?').map_or("", |(_, rest)| rest);
    let query = query.split_once('#').map_or(query, |(query, _)| query);
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// The runtime's own `URL` as the core's URL parser: the WHATWG URL Standard, as `fetch` parses, with no parser
/// or Unicode tables in the Worker's wasm.
pub struct RuntimeUrls;

impl UrlParser for RuntimeUrls {
    fn parse(&self, input: &str) -> std::result::Result<ParsedUrl, String> {
        let url = web_sys::Url::new(input).map_err(|e| thrown_message(&e))?;
        let protocol = url.protocol();
        Ok(ParsedUrl {
            href: url.href(),
            scheme: protocol.strip_suffix(':').unwrap_or(&protocol).to_owned(),
            username: url.username(),
            password: url.password(),
            host: url.hostname(),
        })
    }
}

/// A JSON response.
pub fn json(status: u16, body: &str, allow_origin: Option<&str>) -> Result<Response> {
    let headers = headers(allow_origin)?;
    headers.set("content-type", "application/json; charset=utf-8")?;
    Ok(Response::ok(body)?.with_status(status).with_headers(headers))
}

/// An error response: `{success: false, error: {code, message}}`, with `Retry-After` when the caller should
/// wait and `Allow` for a method the path does not take.
pub fn error(e: &ApiError, allow_origin: Option<&str>) -> Result<Response> {
    let response = json(e.status, &e.body(), allow_origin)?;
    if let Some(seconds) = e.retry_after {
        response.headers().set("retry-after", &seconds.to_string())?;
    }
    if let Some(methods) = &e.allow {
        response.headers().set("allow", methods)?;
    }
    Ok(response)
}

/// The answer to a CORS preflight.
pub fn preflight(allow_origin: Option<&str>) -> Result<Response> {
    let headers = headers(allow_origin)?;
    headers.set("access-control-allow-methods", "GET, POST, PATCH, DELETE, OPTIONS")?;
    headers.set("access-control-allow-headers", "Authorization, Content-Type")?;
    headers.set("access-control-max-age", "86400")?;
    Ok(Response::empty()?.with_status(204).with_headers(headers))
}

/// Unix seconds.
pub fn now_seconds() -> i64 {
    (js_sys::Date::now() / 1000.0).floor() as i64
}

fn crypto() -> std::result::Result<Crypto, ApiError> {
    js_sys::Reflect::get(&js_sys::global(), &"crypto".into())
        .ok()
        .and_then(|c| c.dyn_into::<Crypto>().ok())
        .ok_or_else(|| ApiError::internal("no crypto global"))
}

/// WebCrypto's `crypto.subtle`.
pub fn subtle() -> std::result::Result<SubtleCrypto, ApiError> {
    Ok(crypto()?.subtle())
}

/// `N` bytes from the platform's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    CryptoRandom.fill(&mut bytes);
    bytes
}

/// A new `evt_…` id for an event the service makes itself (a test send, a deactivation notice).
pub fn new_event_id() -> String {
    ringhook::protocol::event::event_id(js_sys::Date::now() as u64, random_bytes())
}

/// `crypto.getRandomValues`: the platform's CSPRNG.
pub struct CryptoRandom;

impl Random for CryptoRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        let filled = crypto().ok().and_then(|c| c.get_random_values_with_u8_array(buf).ok());
        // Without randomness no secret may be made: stop rather than hand out a predictable one.
        assert!(filled.is_some(), "crypto.getRandomValues is unavailable");
    }
}

/// A thrown JavaScript value, for an error message: an `Error`'s message, a string as it is.
pub fn thrown_message(thrown: &JsValue) -> String {
    match thrown.dyn_ref::<js_sys::Error>() {
        Some(error) => String::from(error.message()),
        None => thrown.as_string().unwrap_or_else(|| format!("{thrown:?}")),
    }
}
