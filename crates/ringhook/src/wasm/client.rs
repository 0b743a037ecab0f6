//! `WebhookClient`: the subscription API from browsers, Node and Workers, over the platform's `fetch`.
//! Request and response bodies are the API's JSON as is (typed in the `.d.ts`); the server validates.

use js_sys::{Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use super::{error_with, type_error};
use crate::api::API_BASE;

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

/// The token as a string: given as one, or returned (possibly through a Promise) by a function.
async fn resolve_token(token: &JsValue) -> Result<Option<String>, JsValue> {
    if token.is_undefined() || token.is_null() {
        return Ok(None);
    }
    let value = match token.dyn_ref::<Function>() {
        Some(get) => {
            let got = get.call0(&JsValue::NULL)?;
            match got.dyn_into::<Promise>() {
                Ok(promise) => JsFuture::from(promise).await?,
                Err(value) => value,
            }
        }
        None => token.clone(),
    };
    value
        .as_string()
        .map(Some)
        .ok_or_else(|| type_error("token must be a string or a function returning one"))
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

/// One request to the API; resolves to the answer or the part of it that `answer` names.
async fn call(
    base_url: String,
    token: JsValue,
    method: &str,
    path: String,
    body: Option<JsValue>,
    answer: Answer,
) -> Result<JsValue, JsValue> {
    let headers = Object::new();
    if let Some(token) = resolve_token(&token).await? {
        set(&headers, "authorization", &format!("Bearer {token}").into())?;
    }
    let init = Object::new();
    set(&init, "method", &method.into())?;
    if let Some(body) = body {
        set(&headers, "content-type", &"application/json".into())?;
        set(&init, "body", &JSON::stringify(&body)?.into())?;
    }
    set(&init, "headers", &headers)?;

    let fetch: Function = Reflect::get(&js_sys::global(), &"fetch".into())?
        .dyn_into()
        .map_err(|_| type_error("this runtime has no fetch()"))?;
    let url = format!("{base_url}{path}");
    let pending: Promise = fetch.call2(&JsValue::NULL, &url.into(), &init)?.unchecked_into();
    let response = JsFuture::from(pending).await.map_err(|e| {
        api_error(
            0,
            "network_error",
            &format!("the request did not complete: {}", describe(&e)),
        )
    })?;
    let status = Reflect::get(&response, &"status".into())?.as_f64().unwrap_or(0.0) as u16;
    let read: Function = Reflect::get(&response, &"text".into())?.unchecked_into();
    let text = JsFuture::from(read.call0(&response)?.unchecked_into::<Promise>())
        .await?
        .as_string()
        .unwrap_or_default();
    let parsed = if text.is_empty() {
        JsValue::UNDEFINED
    } else {
        JSON::parse(&text).unwrap_or(JsValue::UNDEFINED)
    };

    if (200..300).contains(&status) {
        return match answer {
            Answer::Whole => Ok(parsed),
            Answer::Member(name) => Reflect::get(&parsed, &name.into()),
            Answer::Nothing => Ok(JsValue::UNDEFINED),
        };
    }
    let error = Reflect::get(&parsed, &"error".into()).unwrap_or(JsValue::UNDEFINED);
    let field = |name: &str| Reflect::get(&error, &name.into()).ok().and_then(|v| v.as_string());
    let code = field("code").unwrap_or_else(|| "http_error".into());
    let message = field("message").unwrap_or_else(|| format!("the API answered HTTP {status}"));
    Err(api_error(status, &code, &message))
}

fn describe(error: &JsValue) -> String {
    Reflect::get(error, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| "network error".into())
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

    /// Sends one request; every method goes through here, so the package holds one instance of the future.
    fn request(&self, method: &'static str, path: String, body: Option<JsValue>, answer: Answer) -> Promise {
        future_to_promise(call(
            self.base_url.clone(),
            self.token.clone(),
            method,
            format!("{API_BASE}{path}"),
            body,
            answer,
        ))
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
        let mut query = Vec::new();
        if let Some(page) = &page {
            for key in ["limit", "cursor"] {
                let value = Reflect::get(page, &key.into()).unwrap_or(JsValue::UNDEFINED);
                if let Some(text) = value
                    .as_string()
                    .or_else(|| value.as_f64().map(|n| (n.max(0.0) as u64).to_string()))
                {
                    query.push(format!("{key}={}", segment(&text)));
                }
            }
        }
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        self.request(
            "GET",
            format!("/subscriptions/{}/deliveries{query}", segment(id)),
            None,
            Answer::Whole,
        )
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
}
