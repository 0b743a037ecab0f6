//! Asking a user's object (see `user_object`): one object per user, addressed by the user id.

use js_sys::{Promise, Reflect};
use ringhook::service::http::{ApiError, Reply};
use ringhook::service::object::{self, Command};
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::{Env, Stub};

use crate::http::thrown_message;

/// The Durable Object binding of the per-user objects.
pub const BINDING: &str = "USERS";

/// `uid`'s object.
pub fn stub(env: &Env, uid: &str) -> Result<Stub, ApiError> {
    env.durable_object(BINDING)
        .and_then(|namespace| namespace.get_by_name(uid))
        .map_err(|e| ApiError::internal(format!("Durable Object binding {BINDING}: {e}")))
}

#[wasm_bindgen]
extern "C" {
    /// The objects' namespace binding, called directly: workers-rs's stubs offer `fetch` alone, not an object's own
    /// methods.
    type Namespace;
    #[wasm_bindgen(method, catch, js_name = getByName)]
    fn get_by_name(this: &Namespace, name: &str) -> Result<ObjectStub, JsValue>;

    /// A stub of one user's object.
    type ObjectStub;
    /// The object's `command` method, called through the stub (JavaScript RPC): see `UserState::command_method`.
    #[wasm_bindgen(method, catch)]
    fn command(this: &ObjectStub, text: &str) -> Result<Promise, JsValue>;
}

/// Sends `command` to `uid`'s object; its answer, or its refusal as the same error.
pub async fn call(env: &Env, uid: &str, command: Command) -> Result<Reply, ApiError> {
    let binding = |e: &JsValue| ApiError::internal(format!("Durable Object binding {BINDING}: {}", thrown_message(e)));
    let namespace: Namespace = Reflect::get(env, &BINDING.into())
        .map_err(|e| binding(&e))?
        .unchecked_into();
    let stub = namespace.get_by_name(uid).map_err(|e| binding(&e))?;
    let text = serde_json::to_string(&object::Request {
        uid: uid.to_owned(),
        command,
    })
    .map_err(|e| ApiError::internal(format!("a command to a user's object: {e}")))?;
    let unanswered =
        |e: JsValue| ApiError::unavailable(format!("a user's object did not answer: {}", thrown_message(&e)));
    let called = stub.command(&text).map_err(unanswered)?;
    let answer = JsFuture::from(called).await.map_err(unanswered)?;
    object::read_answer(&answer.as_string().unwrap_or_default())
}

/// Sends `command` to `uid`'s object and reads its answer as `T`.
pub async fn ask<T: DeserializeOwned>(env: &Env, uid: &str, command: Command) -> Result<T, ApiError> {
    let reply = call(env, uid, command).await?;
    serde_json::from_str(&reply.body).map_err(|e| ApiError::internal(format!("a user's object's answer: {e}")))
}
