//! Asking a user's object (see `user_object`): one object per user, addressed by the user id.

use ringhook::model::api::ErrorResponse;
use ringhook::service::http::{ApiError, Reply};
use ringhook::service::object::{self, Command};
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;
use worker::{Env, Method, Request, RequestInit, Stub};

/// The Durable Object binding of the per-user objects.
pub const BINDING: &str = "USERS";

/// `uid`'s object.
pub fn stub(env: &Env, uid: &str) -> Result<Stub, ApiError> {
    env.durable_object(BINDING)
        .and_then(|namespace| namespace.get_by_name(uid))
        .map_err(|e| ApiError::internal(format!("Durable Object binding {BINDING}: {e}")))
}

/// Sends `command` to `uid`'s object; its answer, or its refusal as the same error.
pub async fn call(env: &Env, uid: &str, command: Command) -> Result<Reply, ApiError> {
    let stub = stub(env, uid)?;
    let body = serde_json::to_string(&object::Request {
        uid: uid.to_owned(),
        command,
    })
    .map_err(|e| ApiError::internal(format!("a command to a user's object: {e}")))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body)));
    let request = Request::new_with_init("https://user-object/", &init)
        .map_err(|e| ApiError::internal(format!("a request to a user's object: {e}")))?;
    let mut response = stub
        .fetch_with_request(request)
        .await
        .map_err(|e| ApiError::unavailable(format!("a user's object did not answer: {e}")))?;
    let status = response.status_code();
    let retry_after = response
        .headers()
        .get("retry-after")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok());
    let body = response
        .text()
        .await
        .map_err(|e| ApiError::unavailable(format!("a user's object's answer: {e}")))?;
    if status < 400 {
        return Ok(Reply { status, body });
    }
    // The object logged the detail of its own failures; its refusal reaches the caller as it was made.
    let refusal: ErrorResponse = serde_json::from_str(&body)
        .map_err(|e| ApiError::internal(format!("a user's object answered {status}: {e}")))?;
    Err(ApiError {
        retry_after,
        ..ApiError::new(status, refusal.error.code, refusal.error.message)
    })
}

/// Sends `command` to `uid`'s object and reads its answer as `T`.
pub async fn ask<T: DeserializeOwned>(env: &Env, uid: &str, command: Command) -> Result<T, ApiError> {
    let reply = call(env, uid, command).await?;
    serde_json::from_str(&reply.body).map_err(|e| ApiError::internal(format!("a user's object's answer: {e}")))
}
