//! `WebhookClient` against the real Worker in workerd: `make test-wasm` starts `wrangler dev` and compiles
//! its address in as `RINGHOOK_API_URL`; these run in Node and in headless Chromium (across origins: CORS).
#![cfg(all(target_arch = "wasm32", feature = "wasm"))]

use js_sys::{Function, Object, Promise, Reflect, JSON};
use ringhook::protocol::base64;
use ringhook::wasm::WebhookClient;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

const API: &str = match option_env!("RINGHOOK_API_URL") {
    Some(url) => url,
    None => panic!("RINGHOOK_API_URL is not set: run these through `make test-wasm`, which starts the Worker"),
};

/// A Firebase Auth emulator token for `uid` (the local Worker accepts unsigned tokens).
fn token(uid: &str) -> String {
    let now = (js_sys::Date::now() / 1000.0) as i64;
    let claims = format!(
        r#"{{"iss":"https://securetoken.google.com/demo-ringhook","aud":"demo-ringhook","sub":"{uid}","user_id":"{uid}","iat":{},"auth_time":{},"exp":{}}}"#,
        now - 10,
        now - 10,
        now + 3600
    );
    format!(
        "{}.{}.",
        base64::encode_url(br#"{"alg":"none","typ":"JWT"}"#),
        base64::encode_url(claims.as_bytes())
    )
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", (js_sys::Math::random() * 1e12) as u64)
}

fn client(token: JsValue) -> WebhookClient {
    let options = Object::new();
    Reflect::set(&options, &"baseUrl".into(), &API.into()).unwrap();
    Reflect::set(&options, &"token".into(), &token).unwrap();
    WebhookClient::new(Some(options)).unwrap()
}

fn json(text: &str) -> JsValue {
    JSON::parse(text).unwrap()
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap()
}

async fn ok(promise: Promise) -> JsValue {
    JsFuture::from(promise)
        .await
        .unwrap_or_else(|e| panic!("rejected: {:?}", JSON::stringify(&e)))
}

async fn err(promise: Promise) -> JsValue {
    JsFuture::from(promise).await.expect_err("expected a rejection")
}

#[wasm_bindgen_test]
async fn every_endpoint_round_trips() {
    let uid = unique("client");
    let api = client(token(&uid).into());
    let url = format!("http://127.0.0.1:9/{uid}");
    let created = ok(api.subscribe(json(&format!(
        r#"{{"webhook_url":"{url}","events":["call.completed"]}}"#
    ))))
    .await;
    let secret = get(&created, "secret_key").as_string().unwrap();
    assert!(secret.starts_with("whsec_"));
    let id = get(&get(&created, "subscription"), "id").as_string().unwrap();

    let listed: js_sys::Array = ok(api.list()).await.unchecked_into();
    assert_eq!(listed.length(), 1);
    assert_eq!(get(&listed.get(0), "id").as_string(), Some(id.clone()));
    assert_eq!(
        get(&ok(api.get(&id)).await, "webhook_url").as_string(),
        Some(url.clone())
    );

    let off = ok(api.update(&id, json(r#"{"active":false,"events":["*"]}"#))).await;
    assert_eq!(get(&off, "active"), JsValue::FALSE);
    let on = ok(api.reactivate(&id)).await;
    assert_eq!(get(&on, "active"), JsValue::TRUE);
    assert_eq!(get(&on, "failure_count").as_f64(), Some(0.0));

    let rotated = ok(api.rotate_secret(&id)).await;
    assert_ne!(get(&rotated, "secret_key").as_string(), Some(secret));
    assert!(get(&rotated, "previous_secret_expires_at").is_string());

    let tested = ok(api.test(json(&format!(
        r#"{{"webhook_url":"{url}","event_type":"call.completed"}}"#
    ))))
    .await;
    assert_eq!(get(&tested, "success"), JsValue::FALSE, "nothing listens on port 9");
    let page = ok(api.deliveries(&id, Some(json(r#"{"limit":5}"#).unchecked_into()))).await;
    let entries: js_sys::Array = get(&page, "deliveries").unchecked_into();
    assert_eq!(entries.length(), 1, "the test send is in the log");
    ok(api.test(json(&format!(
        r#"{{"webhook_url":"{url}","event_type":"call.failed"}}"#
    ))))
    .await;
    let first = ok(api.deliveries(&id, Some(json(r#"{"limit":1}"#).unchecked_into()))).await;
    let cursor = get(&first, "cursor");
    assert!(cursor.is_string(), "a second page follows");
    let next = Object::new();
    Reflect::set(&next, &"limit".into(), &1.into()).unwrap();
    Reflect::set(&next, &"cursor".into(), &cursor).unwrap();
    let second = ok(api.deliveries(&id, Some(next))).await;
    assert!(get(&second, "cursor").is_null(), "the last page");
    let event_of = |page: &JsValue| get(&js_sys::Array::from(&get(page, "deliveries")).get(0), "event").as_string();
    assert_eq!(event_of(&first).as_deref(), Some("call.failed"), "newest first");
    assert_eq!(event_of(&second).as_deref(), Some("call.completed"));

    let missing = err(api.redeliver(&id, "evt_never")).await;
    assert_eq!(get(&missing, "status").as_f64(), Some(404.0));

    assert!(ok(api.delete(&id)).await.is_undefined());
    let gone = err(api.get(&id)).await;
    assert_eq!(get(&gone, "name").as_string().as_deref(), Some("RingHookApiError"));
    assert_eq!(get(&gone, "code").as_string().as_deref(), Some("not_found"));
}

#[wasm_bindgen_test]
async fn api_errors_carry_status_and_code() {
    let api = client(token(&unique("errors")).into());
    let bad = err(api.subscribe(json(r#"{"webhook_url":"ftp://example.com/","events":["*"]}"#))).await;
    assert!(bad.is_instance_of::<js_sys::Error>());
    assert_eq!(get(&bad, "status").as_f64(), Some(400.0));
    assert_eq!(get(&bad, "code").as_string().as_deref(), Some("invalid_url"));
    assert!(get(&bad, "message").as_string().unwrap().contains("https"));

    let anonymous = client(JsValue::UNDEFINED);
    let refused = err(anonymous.list()).await;
    assert_eq!(get(&refused, "status").as_f64(), Some(401.0));
    assert_eq!(get(&refused, "code").as_string().as_deref(), Some("unauthorized"));
}

#[wasm_bindgen_test]
async fn the_token_may_come_from_an_async_function() {
    let uid = unique("async-token");
    let get_token = Function::new_with_args("t", "return async () => t;")
        .call1(&JsValue::NULL, &token(&uid).into())
        .unwrap();
    let api = client(get_token);
    let listed: js_sys::Array = ok(api.list()).await.unchecked_into();
    assert_eq!(listed.length(), 0);
}

#[wasm_bindgen_test]
async fn a_failing_or_wrong_token_rejects_before_any_request() {
    let failing = Function::new_with_args("", "return async () => { throw new Error('signed out'); };")
        .call0(&JsValue::NULL)
        .unwrap();
    let error = err(client(failing).list()).await;
    assert_eq!(
        get(&error, "message").as_string().unwrap(),
        "signed out",
        "the token function's own error"
    );

    for wrong in [JsValue::from(42), Function::new_no_args("return undefined;").into()] {
        let error = err(client(wrong).list()).await;
        assert!(error.is_instance_of::<js_sys::TypeError>(), "{error:?}");
    }
}

#[wasm_bindgen_test]
async fn an_unreachable_api_is_a_network_error() {
    let options = Object::new();
    Reflect::set(&options, &"baseUrl".into(), &"http://127.0.0.1:9".into()).unwrap();
    let failed = err(WebhookClient::new(Some(options)).unwrap().list()).await;
    assert_eq!(get(&failed, "code").as_string().as_deref(), Some("network_error"));
    assert_eq!(get(&failed, "status").as_f64(), Some(0.0));
}
