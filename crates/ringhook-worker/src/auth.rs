//! Firebase sign-in: the core checks the token's form and claims; here the RS256 signature is verified with
//! WebCrypto against the key named by the token's `kid`, from the JWKS, cached for its `Cache-Control: max-age`.

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::{Array, Object, Reflect};
use ringhook::service::firebase::{self, Audience, AuthError, PendingSignature};
use ringhook::service::http::ApiError;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::CryptoKey;
use worker::{Fetch, Url};

use crate::http::subtle;

/// How long keys are kept when the JWKS response names no max-age.
const DEFAULT_MAX_AGE_SECS: u64 = 3600;

pub struct AuthSettings {
    pub project_id: String,
    pub jwks_url: String,
    /// Accept unsigned emulator tokens (local development: FIREBASE_AUTH_EMULATOR_HOST is set).
    pub allow_unsigned: bool,
}

struct KeyCache {
    url: String,
    keys: HashMap<String, CryptoKey>,
    expires_at_ms: f64,
}

thread_local! {
    /// The JWKS's keys, imported, shared by the requests this isolate serves.
    static KEYS: RefCell<Option<KeyCache>> = const { RefCell::new(None) };
}

fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(401, "unauthorized", message)
}

/// The signed-in user's id, or a 401 that says what is wrong with the token.
pub async fn user_id(authorization: Option<&str>, settings: &AuthSettings, now: i64) -> Result<String, ApiError> {
    let token = firebase::bearer(authorization).map_err(|AuthError(m)| unauthorized(m))?;
    let audience = Audience {
        project_id: &settings.project_id,
        allow_unsigned: settings.allow_unsigned,
    };
    let checked = firebase::check(token, &audience, now).map_err(|AuthError(m)| unauthorized(m))?;
    if let Some(pending) = &checked.signature {
        verify_signature(pending, settings).await?;
    }
    Ok(checked.uid)
}

async fn verify_signature(pending: &PendingSignature, settings: &AuthSettings) -> Result<(), ApiError> {
    let key = key_for(&pending.kid, settings).await?;
    let algorithm = rsa_algorithm()?;
    let promise = subtle()?
        .verify_with_object_and_u8_array_and_u8_array(
            &algorithm,
            &key,
            &pending.signature,
            pending.signing_input.as_bytes(),
        )
        .map_err(|e| ApiError::internal(format!("crypto.subtle.verify: {e:?}")))?;
    let valid = JsFuture::from(promise)
        .await
        .map_err(|e| ApiError::internal(format!("crypto.subtle.verify: {e:?}")))?;
    if valid.as_bool() == Some(true) {
        Ok(())
    } else {
        Err(unauthorized("token signature does not verify"))
    }
}

fn cached(kid: &str, url: &str, now_ms: f64) -> Option<Option<CryptoKey>> {
    KEYS.with(|cell| {
        let cache = cell.borrow();
        let cache = cache.as_ref().filter(|c| c.url == url && c.expires_at_ms > now_ms)?;
        Some(cache.keys.get(kid).cloned())
    })
}

async fn key_for(kid: &str, settings: &AuthSettings) -> Result<CryptoKey, ApiError> {
    // Milliseconds: a cache timed in whole seconds could expire a moment after it was filled.
    let now_ms = js_sys::Date::now();
    let found = match cached(kid, &settings.jwks_url, now_ms) {
        Some(found) => found,
        None => {
            let (keys, max_age) = fetch_keys(&settings.jwks_url).await?;
            let found = keys.get(kid).cloned();
            let expires_at_ms = now_ms + max_age as f64 * 1000.0;
            KEYS.with(|cell| {
                *cell.borrow_mut() = Some(KeyCache {
                    url: settings.jwks_url.clone(),
                    keys,
                    expires_at_ms,
                })
            });
            found
        }
    };
    found.ok_or_else(|| unauthorized("token key id (kid) is not among Firebase's current keys: get a fresh token"))
}

async fn fetch_keys(url: &str) -> Result<(HashMap<String, CryptoKey>, u64), ApiError> {
    let url = Url::parse(url).map_err(|e| ApiError::internal(format!("FIREBASE_JWKS_URL: {e}")))?;
    let mut response = Fetch::Url(url)
        .send()
        .await
        .map_err(|e| ApiError::internal(format!("fetching the JWKS: {e}")))?;
    if response.status_code() != 200 {
        return Err(ApiError::internal(format!(
            "fetching the JWKS: status {}",
            response.status_code()
        )));
    }
    let max_age = response
        .headers()
        .get("cache-control")
        .ok()
        .flatten()
        .and_then(|v| firebase::max_age(&v))
        .unwrap_or(DEFAULT_MAX_AGE_SECS);
    let text = response
        .text()
        .await
        .map_err(|e| ApiError::internal(format!("reading the JWKS: {e}")))?;
    let jwks = js_sys::JSON::parse(&text).map_err(|_| ApiError::internal("the JWKS is not JSON"))?;
    let list = Reflect::get(&jwks, &"keys".into())
        .ok()
        .filter(Array::is_array)
        .ok_or_else(|| ApiError::internal("the JWKS has no keys"))?;

    let mut keys = HashMap::new();
    for jwk in list.unchecked_into::<Array>().iter() {
        let Some(kid) = Reflect::get(&jwk, &"kid".into()).ok().and_then(|k| k.as_string()) else {
            continue;
        };
        let is_rsa = Reflect::get(&jwk, &"kty".into())
            .ok()
            .and_then(|k| k.as_string())
            .as_deref()
            == Some("RSA");
        if !is_rsa {
            continue;
        }
        keys.insert(kid, import_rsa_key(jwk.unchecked_ref()).await?);
    }
    Ok((keys, max_age))
}

fn rsa_algorithm() -> Result<Object, ApiError> {
    let algorithm = Object::new();
    let set = |k: &str, v: &str| Reflect::set(&algorithm, &k.into(), &v.into()).map(drop);
    set("name", "RSASSA-PKCS1-v1_5")
        .and_then(|_| set("hash", "SHA-256"))
        .map_err(|e| ApiError::internal(format!("{e:?}")))?;
    Ok(algorithm)
}

async fn import_rsa_key(jwk: &Object) -> Result<CryptoKey, ApiError> {
    // Only the public parts: a JWKS entry may carry alg/use/key_ops that WebCrypto would check strictly.
    let public = Object::new();
    for field in ["kty", "n", "e"] {
        let value = Reflect::get(jwk, &field.into()).unwrap_or(JsValue::UNDEFINED);
        Reflect::set(&public, &field.into(), &value).map_err(|e| ApiError::internal(format!("{e:?}")))?;
    }
    let usages = Array::of1(&"verify".into());
    let promise = subtle()?
        .import_key_with_object("jwk", &public, &rsa_algorithm()?, false, &usages)
        .map_err(|e| ApiError::internal(format!("importing a JWKS key: {e:?}")))?;
    let key = JsFuture::from(promise)
        .await
        .map_err(|e| ApiError::internal(format!("importing a JWKS key: {e:?}")))?;
    Ok(key.unchecked_into())
}
