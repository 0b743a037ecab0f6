//! `WebhookClient`: the subscription API from browsers, Node and Workers, over the platform's `fetch`.
//! Request and response bodies are the API's JSON as is (typed in the `.d.ts`); the server validates.
//! A call is a chain of the platform's Promises: the token, then `fetch`, then the answer's text, then the
//! result (see [`super::Step`]).

use js_sys::{Array, Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;

use super::{after, error_with, recover, type_error, Step};
use crate::model::api::API_BASE;

/// A typed client of the subscription API. Every method returns a Promise; a non-2xx answer rejects with a
/// `RingHookApiError` carrying the HTTP `status` and the API's `code`.
#[wasm_bindgen]
pub struct WebhookClient {
    base_url: String,
    token: JsValue,
}

fn api_error(status: u16, code: &str, message: &str) -> JsValue {
    error_with(
        "RingHookApiError",
        message,
        &[("status", status.into()), ("code", code.into())],
    )
}

fn set(target: &Object, key: &str, value: &JsValue) -> Result<(), JsValue> {
    Reflect::set(target, &key.into(), value).map(drop)
}

/// What a method resolves to.
#[derive(Clone, Copy)]
enum Answer {
    /// The parsed JSON answer.
    Whole,
    /// One member of it, e.g. `subscription`.
    Member(&'static str),
    /// `undefined`.
    Nothing,
}

impl Answer {
    /// As it travels in a call's context: `undefined`, the member's name, or `null`.
    fn to_js(self) -> JsValue {
        match self {
            Answer::Whole => JsValue::UNDEFINED,
            Answer::Member(name) => name.into(),
            Answer::Nothing => JsValue::NULL,
        }
    }

    /// What the method resolves to, from the parsed answer and the [`Answer::to_js`] its context carried.
    fn pick(answer: &JsValue, parsed: JsValue) -> Result<JsValue, JsValue> {
        if answer.is_null() {
            Ok(JsValue::UNDEFINED)
        } else if answer.is_undefined() {
            Ok(parsed)
        } else {
            Reflect::get(&parsed, answer)
        }
    }
}

/// A call's context, the array that travels along its Promises.
const URL: u32 = 0;
const METHOD: u32 = 1;
const BODY: u32 = 2;
const ANSWER: u32 = 3;

thread_local! {
    static SEND: Step = Closure::new(|resolved: JsValue| send(resolved.unchecked_into()));
    static NETWORK_ERROR: Step = Closure::new(|error: JsValue| Err(network_error(&error)));
    static READ: Step = Closure::new(|resolved: JsValue| read(resolved.unchecked_into()));
    static FINISH: Step = Closure::new(|resolved: JsValue| finish(resolved.unchecked_into()));
}

/// The token as given, or as the token function returns it (possibly a Promise, which `Promise.all` awaits);
/// `false` when the client has none.
fn token_source(token: &JsValue) -> Result<JsValue, JsValue> {
    if token.is_undefined() || token.is_null() {
        return Ok(JsValue::FALSE);
    }
    match token.dyn_ref::<Function>() {
        Some(get) => get.call0(&JsValue::NULL),
        None => Ok(token.clone()),
    }
}

/// `[token, context]` → `fetch(url, init)`, its failure made a `RingHookApiError`.
fn send(resolved: Array) -> Result<JsValue, JsValue> {
    let (token, context) = (resolved.get(0), resolved.get(1).unchecked_into::<Array>());
    let headers = Object::new();
    if token != JsValue::FALSE {
        let token = token
            .as_string()
            .ok_or_else(|| type_error("token must be a string or a function returning one"))?;
        set(&headers, "authorization", &format!("Bearer {token}").into())?;
    }
    let init = Object::new();
    set(&init, "method", &context.get(METHOD))?;
    let body = context.get(BODY);
    if !body.is_undefined() {
        set(&headers, "content-type", &"application/json".into())?;
        set(&init, "body", &body)?;
    }
    set(&init, "headers", &headers)?;

    let fetch: Function = Reflect::get(&js_sys::global(), &"fetch".into())?
        .dyn_into()
        .map_err(|_| type_error("this runtime has no fetch()"))?;
    let response: Promise = fetch.call2(&JsValue::NULL, &context.get(URL), &init)?.unchecked_into();
    let response = recover(&response, &NETWORK_ERROR);
    Ok(after(&[&response, &context], &READ).into())
}

fn network_error(error: &JsValue) -> JsValue {
    let reason = Reflect::get(error, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| "network error".into());
    api_error(0, "network_error", &format!("the request did not complete: {reason}"))
}

/// `[response, context]` → the answer's text, with the status.
fn read(resolved: Array) -> Result<JsValue, JsValue> {
    let (response, context) = (resolved.get(0), resolved.get(1));
    let status = Reflect::get(&response, &"status".into())?;
    let text: Function = Reflect::get(&response, &"text".into())?.unchecked_into();
    let text = text.call0(&response)?;
    Ok(after(&[&text, &status, &context], &FINISH).into())
}

/// `[text, status, context]` → what the method resolves to, or a `RingHookApiError`.
fn finish(resolved: Array) -> Result<JsValue, JsValue> {
    let text = resolved.get(0).as_string().unwrap_or_default();
    let status = resolved.get(1).as_f64().unwrap_or(0.0) as u16;
    let context: Array = resolved.get(2).unchecked_into();
    let parsed = if text.is_empty() {
        JsValue::UNDEFINED
    } else {
        JSON::parse(&text).unwrap_or(JsValue::UNDEFINED)
    };

    if (200..300).contains(&status) {
        return Answer::pick(&context.get(ANSWER), parsed);
    }
    let error = Reflect::get(&parsed, &"error".into()).unwrap_or(JsValue::UNDEFINED);
    let field = |name: &str| Reflect::get(&error, &name.into()).ok().and_then(|v| v.as_string());
    let code = field("code").unwrap_or_else(|| "http_error".into());
    let message = field("message").unwrap_or_else(|| format!("the API answered HTTP {status}"));
    Err(api_error(status, &code, &message))
}

fn segment(id: &str) -> String {
    String::from(js_sys::encode_uri_component(id))
}

#[wasm_bindgen]
impl WebhookClient {
    /// `new WebhookClient({ baseUrl, token })`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "ClientOptions")] options: Option<Object>,
    ) -> Result<WebhookClient, JsValue> {
        let (mut base_url, mut token) = (String::new(), JsValue::UNDEFINED);
        if let Some(options) = options {
            let base = Reflect::get(&options, &"baseUrl".into())?;
            if !base.is_undefined() {
                base_url = base.as_string().ok_or_else(|| type_error("baseUrl must be a string"))?;
            }
            token = Reflect::get(&options, &"token".into())?;
        }
        Ok(WebhookClient {
            base_url: base_url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// Sends one request: `Promise.all([token, context])`, then [`send`].
    fn request(&self, method: &'static str, path: String, body: Option<JsValue>, answer: Answer) -> Promise {
        let start = || -> Result<Promise, JsValue> {
            let token = token_source(&self.token)?;
            let body = match body {
                Some(body) => JsValue::from(JSON::stringify(&body)?),
                None => JsValue::UNDEFINED,
            };
            let url = JsValue::from(format!("{}{API_BASE}{path}", self.base_url));
            let context = Array::of4(&url, &method.into(), &body, &answer.to_js());
            Ok(after(&[&token, &context], &SEND))
        };
        start().unwrap_or_else(|error| Promise::reject(&error))
    }

    /// `POST /subscribe`: resolves to `{success, subscription, secret_key}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<SubscribeResponse>")]
    pub fn subscribe(&self, #[wasm_bindgen(unchecked_param_type = "SubscribeRequest")] request: JsValue) -> Promise {
        self.request("POST", "/subscribe".into(), Some(request), Answer::Whole)
    }

    /// `GET /subscriptions`: resolves to the subscriptions.
    #[wasm_bindgen(unchecked_return_type = "Promise<Subscription[]>")]
    pub fn list(&self) -> Promise {
        self.request("GET", "/subscriptions".into(), None, Answer::Member("subscriptions"))
    }

    /// `GET /subscriptions/{id}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Subscription>")]
    pub fn get(&self, id: &str) -> Promise {
        self.request(
            "GET",
            format!("/subscriptions/{}", segment(id)),
            None,
            Answer::Member("subscription"),
        )
    }

    /// `PATCH /subscriptions/{id}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Subscription>")]
    pub fn update(
        &self,
        id: &str,
        #[wasm_bindgen(unchecked_param_type = "SubscriptionPatch")] patch: JsValue,
    ) -> Promise {
        self.request(
            "PATCH",
            format!("/subscriptions/{}", segment(id)),
            Some(patch),
            Answer::Member("subscription"),
        )
    }

    /// `PATCH /subscriptions/{id}` with `{active: true}`: turns it back on and resets its failure count.
    #[wasm_bindgen(unchecked_return_type = "Promise<Subscription>")]
    pub fn reactivate(&self, id: &str) -> Promise {
        let patch = Object::new();
        let _ = set(&patch, "active", &JsValue::TRUE);
        self.update(id, patch.into())
    }

    /// `DELETE /subscriptions/{id}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn delete(&self, id: &str) -> Promise {
        self.request(
            "DELETE",
            format!("/subscriptions/{}", segment(id)),
            None,
            Answer::Nothing,
        )
    }

    /// `POST /subscriptions/{id}/rotate-secret`: the new secret; the previous one signs for 24 h more.
    #[wasm_bindgen(js_name = rotateSecret, unchecked_return_type = "Promise<RotateResponse>")]
    pub fn rotate_secret(&self, id: &str) -> Promise {
        self.request(
            "POST",
            format!("/subscriptions/{}/rotate-secret", segment(id)),
            None,
            Answer::Whole,
        )
    }

    /// `POST /test`: sends a signed sample event to one of your subscriptions now.
    #[wasm_bindgen(unchecked_return_type = "Promise<TestResponse>")]
    pub fn test(&self, #[wasm_bindgen(unchecked_param_type = "TestRequest")] request: JsValue) -> Promise {
        self.request("POST", "/test".into(), Some(request), Answer::Whole)
    }

    /// `GET /subscriptions/{id}/deliveries`: one page of the delivery log, newest first.
    #[wasm_bindgen(unchecked_return_type = "Promise<DeliveriesResponse>")]
    pub fn deliveries(
        &self,
        id: &str,
        #[wasm_bindgen(unchecked_optional_param_type = "{ limit?: number; cursor?: string }")] page: Option<Object>,
    ) -> Promise {
        let mut path = format!("/subscriptions/{}/deliveries", segment(id));
        if let Some(page) = &page {
            for key in ["limit", "cursor"] {
                let value = Reflect::get(page, &key.into()).unwrap_or(JsValue::UNDEFINED);
                if let Some(text) = value
                    .as_string()
                    .or_else(|| value.as_f64().map(|n| (n.max(0.0) as u64).to_string()))
                {
                    path.push(if path.contains('?') { '&' } else { '?' });
                    path.push_str(key);
                    path.push('=');
                    path.push_str(&segment(&text));
                }
            }
        }
        self.request("GET", path, None, Answer::Whole)
    }

    /// `GET /subscriptions/{id}/stats?window=`: attempts per hour by outcome and their times, over `"24h"`
    /// (the default) or `"7d"`.
    #[wasm_bindgen(unchecked_return_type = "Promise<StatsResponse>")]
    pub fn stats(
        &self,
        id: &str,
        #[wasm_bindgen(unchecked_optional_param_type = "\"24h\" | \"7d\"")] window: Option<String>,
    ) -> Promise {
        let mut path = format!("/subscriptions/{}/stats", segment(id));
        if let Some(window) = window {
            path.push_str("?window=");
            path.push_str(&segment(&window));
        }
        self.request("GET", path, None, Answer::Whole)
    }

    /// `POST /subscriptions/{id}/deliveries/{eventId}/redeliver`.
    #[wasm_bindgen(unchecked_return_type = "Promise<RedeliverResponse>")]
    pub fn redeliver(&self, id: &str, #[wasm_bindgen(js_name = eventId)] event_id: &str) -> Promise {
        let path = format!(
            "/subscriptions/{}/deliveries/{}/redeliver",
            segment(id),
            segment(event_id)
        );
        self.request("POST", path, None, Answer::Whole)
    }

    /// `POST /subscriptions/{id}/recover`: delivers again every event not delivered since `since` (unix seconds).
    #[wasm_bindgen(unchecked_return_type = "Promise<RecoverResponse>")]
    pub fn recover(&self, id: &str, since: f64) -> Promise {
        let body = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&body, &"since".into(), &JsValue::from_f64(since.floor()));
        self.request(
            "POST",
            format!("/subscriptions/{}/recover", segment(id)),
            Some(body.into()),
            Answer::Whole,
        )
    }
}
