//! Firebase sign-in: the core checks the token's form and claims; here the RS256 signature is verified with
//! WebCrypto against the key named by the token's `kid`, from the JWKS, cached for its `Cache-Control: max-age`.
//! A token whose signature verified is not verified again while those keys are current (the core's `KeyCache`):
//! its claims are checked on every request.

use std::cell::RefCell;
use std::pin::pin;
use std::time::Duration;

use futures_util::future::{select, Either};

use js_sys::{Array, Object, Reflect};
use ringhook::service::firebase::{self, Audience, AuthError, KeyCache, KeyLookup, PendingSignature};
use ringhook::service::http::ApiError;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::CryptoKey;
use worker::{AbortController, Delay, Fetch, Method, Request};

use crate::http::subtle;

pub struct AuthSettings {
    pub project_id: String,
    pub jwks_url: String,
    /// Accept unsigned emulator tokens (local development: FIREBASE_AUTH_EMULATOR_HOST is set).
    pub allow_unsigned: bool,
}

thread_local! {
    /// The JWKS's keys, imported, shared by the requests this isolate serves.
    static KEYS: RefCell<Option<KeyCache<CryptoKey>>> = const { RefCell::new(None) };
}

fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(401, "unauthorized", message)
}

/// Who is signed in, and until when.
pub struct SignedIn {
    /// The user id.
    pub uid: String,
    /// The ID token's `exp` (unix seconds).
    pub expires_at: i64,
}

/// The signed-in user, or a 401 that says what is wrong with the token.
pub async fn user(authorization: Option<&str>, settings: &AuthSettings, now: i64) -> Result<SignedIn, ApiError> {
    let token = firebase::bearer(authorization).map_err(|AuthError(m)| unauthorized(m))?;
    let audience = Audience {
        project_id: &settings.project_id,
        allow_unsigned: settings.allow_unsigned,
    };
    let checked = firebase::check(token, &audience, now).map_err(|AuthError(m)| unauthorized(m))?;
    if let Some(pending) = &checked.signature {
        let url = &settings.jwks_url;
        let known = KEYS.with_borrow(|cache| {
            (cache.as_ref()).is_some_and(|c| c.is_for(url) && c.verified(pending, js_sys::Date::now()))
        });
        if !known {
            verify_signature(pending, settings).await?;
            KEYS.with_borrow_mut(|cache| {
                if let Some(c) = cache.as_mut().filter(|c| c.is_for(url)) {
                    c.remember_verified(pending, checked.expires_at, js_sys::Date::now());
                }
            });
        }
    }
    Ok(SignedIn {
        uid: checked.uid,
        expires_at: checked.expires_at,
    })
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

fn lookup(kid: &str, url: &str, now_ms: f64) -> KeyLookup<CryptoKey> {
    KEYS.with_borrow(|cache| match cache.as_ref().filter(|c| c.is_for(url)) {
        Some(cache) => cache.lookup(kid, now_ms),
        None => KeyLookup::Fetch,
    })
}

fn remember(url: &str, change: impl FnOnce(&mut KeyCache<CryptoKey>) -> KeyLookup<CryptoKey>) -> KeyLookup<CryptoKey> {
    KEYS.with_borrow_mut(|cache| {
        let cache = match cache {
            Some(c) if c.is_for(url) => c,
            _ => cache.insert(KeyCache::new(url)),
        };
        change(cache)
    })
}

async fn key_for(kid: &str, settings: &AuthSettings) -> Result<CryptoKey, ApiError> {
    let url = &settings.jwks_url;
    let mut found = lookup(kid, url, js_sys::Date::now());
    if found == KeyLookup::Fetch {
        found = match fetch_keys(url).await {
            Ok((keys, cache_control)) => remember(url, |c| {
                c.fill(keys, cache_control.as_deref(), kid, js_sys::Date::now())
            }),
            Err(why) => {
                worker::console_error!("the JWKS fetch failed: {why}");
                remember(url, |c| c.failed(js_sys::Date::now()))
            }
        };
    }
    match found {
        KeyLookup::Use(key) => Ok(key),
        KeyLookup::Unknown => Err(unauthorized(
            "token key id (kid) is not among Firebase's current keys: get a fresh token",
        )),
        KeyLookup::Unavailable { retry_after_secs } => {
            Err(firebase::keys_unavailable(retry_after_secs, "the last fetch failed"))
        }
        KeyLookup::Fetch => Err(firebase::keys_unavailable(1, "not fetched")),
    }
}

/// The JWKS's RSA keys, imported (a key that will not import is skipped, not fatal), and its `Cache-Control`.
/// The fetch is given up after [`firebase::KEYS_FETCH_TIMEOUT_MS`].
async fn fetch_keys(url: &str) -> Result<(Vec<(String, CryptoKey)>, Option<String>), String> {
    let request = Request::new(url, Method::Get).map_err(|e| format!("FIREBASE_JWKS_URL: {e}"))?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let exchange = async move {
        let mut response = Fetch::Request(request)
            .send_with_signal(&signal)
            .await
            .map_err(|e| e.to_string())?;
        if response.status_code() != 200 {
            return Err(format!("status {}", response.status_code()));
        }
        let cache_control = response.headers().get("cache-control").ok().flatten();
        let text = response.text().await.map_err(|e| format!("reading: {e}"))?;
        Ok((text, cache_control))
    };
    let timeout = Delay::from(Duration::from_millis(firebase::KEYS_FETCH_TIMEOUT_MS));
    let (text, cache_control) = match select(pin!(exchange), timeout).await {
        Either::Left((result, _)) => result?,
        Either::Right(((), _)) => {
            controller.abort();
            return Err(format!("no answer within {} ms", firebase::KEYS_FETCH_TIMEOUT_MS));
        }
    };
    let jwks = js_sys::JSON::parse(&text).map_err(|_| "not JSON".to_owned())?;
    let list = Reflect::get(&jwks, &"keys".into())
        .ok()
        .filter(Array::is_array)
        .ok_or_else(|| "no keys array".to_owned())?;

    let mut keys = Vec::new();
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
        match import_rsa_key(jwk.unchecked_ref()).await {
            Ok(key) => keys.push((kid, key)),
            Err(e) => worker::console_warn!("skipping JWKS key {kid}: {}", e.message),
        }
    }
    if keys.is_empty() {
        return Err("no RSA key could be imported".into());
    }
    Ok((keys, cache_control))
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
