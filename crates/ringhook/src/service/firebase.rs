//! Firebase ID tokens, checked as the Firebase Admin SDK checks them, except the RS256 signature itself,
//! which the platform verifies (WebCrypto in the Worker) with the key this module names.
//!
//! A token is `base64url(header).base64url(claims).base64url(signature)`. The header must say `alg: RS256` and
//! name a `kid`; the claims must have `aud` = the project id, `iss` = `https://securetoken.google.com/<project>`,
//! `exp` in the future, `iat` and `auth_time` in the past (60 s of clock skew allowed), and a non-empty `sub`
//! of at most 128 characters, which is the user id. The Firebase Auth emulator issues unsigned tokens
//! (`alg: none`, empty signature); they pass only where the caller allows them (local development).

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::protocol::base64;

/// Clock skew allowed on `iat` and `auth_time`.
pub const CLOCK_SKEW_SECS: i64 = 60;

/// Why a token was refused. The message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

fn refuse(message: impl Into<String>) -> AuthError {
    AuthError(message.into())
}

/// A token that parsed and whose claims hold; its signature is still to be verified unless it is unsigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedToken {
    /// The user id (`sub`).
    pub uid: String,
    /// `None` for an accepted emulator token; otherwise the key id and what to verify with it.
    pub signature: Option<PendingSignature>,
    /// The token's `exp`, in unix seconds.
    pub expires_at: i64,
}

/// The RS256 signature that remains to be verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignature {
    /// The key id from the token's header, to look up in the JWKS.
    pub kid: String,
    /// `base64url(header).base64url(claims)`: the signed bytes.
    pub signing_input: String,
    /// The RSASSA-PKCS1-v1_5 SHA-256 signature.
    pub signature: Vec<u8>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    aud: Option<String>,
    iss: Option<String>,
    sub: Option<String>,
    exp: Option<f64>,
    iat: Option<f64>,
    auth_time: Option<f64>,
}

/// What a token must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience<'a> {
    /// The Firebase project id.
    pub project_id: &'a str,
    /// Whether unsigned emulator tokens are accepted (local development only).
    pub allow_unsigned: bool,
}

/// Extracts the token from an `Authorization` header value.
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let value =
        header.ok_or_else(|| refuse("missing Authorization header: send Authorization: Bearer <Firebase ID token>"))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| refuse("Authorization must be: Bearer <Firebase ID token>"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(refuse("Authorization must be: Bearer <Firebase ID token>"));
    }
    Ok(token.trim())
}

/// Parses a token and checks its header and claims at `now` (unix seconds).
pub fn check(token: &str, audience: &Audience<'_>, now: i64) -> Result<CheckedToken, AuthError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refuse("malformed token: expected three dot-separated parts"));
    };
    let header: Header = decode_part(header_b64, "header")?;
    let claims: Claims = decode_part(claims_b64, "claims")?;

    let signature = match header.alg.as_str() {
        "RS256" => {
            let kid = header
                .kid
                .filter(|k| !k.is_empty())
                .ok_or_else(|| refuse("token header has no kid"))?;
            let signature = base64::decode_url(signature_b64)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| refuse("malformed token signature"))?;
            Some(PendingSignature {
                kid,
                signing_input: format!("{header_b64}.{claims_b64}"),
                signature,
            })
        }
        "none" if audience.allow_unsigned && signature_b64.is_empty() => None,
        "none" => {
            return Err(refuse(
                "unsigned token: accepted only from the Firebase Auth emulator in local development",
            ))
        }
        other => {
            return Err(refuse(format!(
                "token algorithm {other} is not accepted: Firebase ID tokens use RS256"
            )))
        }
    };

    let project = audience.project_id;
    if claims.aud.as_deref() != Some(project) {
        return Err(refuse(format!("token audience is not this project ({project})")));
    }
    let issuer = format!("https://securetoken.google.com/{project}");
    if claims.iss.as_deref() != Some(issuer.as_str()) {
        return Err(refuse(format!("token issuer is not {issuer}")));
    }
    let now = now as f64;
    let expires_at = match claims.exp {
        Some(exp) if exp > now => exp.min(i64::MAX as f64) as i64,
        Some(_) => return Err(refuse("token expired: get a fresh one with getIdToken()")),
        None => return Err(refuse("token has no exp claim")),
    };
    let skew = CLOCK_SKEW_SECS as f64;
    if !claims.iat.is_some_and(|iat| iat <= now + skew) {
        return Err(refuse("token iat is missing or in the future"));
    }
    if !claims.auth_time.is_some_and(|t| t <= now + skew) {
        return Err(refuse("token auth_time is missing or in the future"));
    }
    let uid = claims
        .sub
        .filter(|s| !s.is_empty() && s.chars().count() <= 128)
        .ok_or_else(|| refuse("token sub must be a non-empty user id of at most 128 characters"))?;
    Ok(CheckedToken {
        uid,
        signature,
        expires_at,
    })
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str, what: &str) -> Result<T, AuthError> {
    let bytes = base64::decode_url(part).ok_or_else(|| refuse(format!("malformed token {what}: not base64url")))?;
    serde_json::from_slice(&bytes).map_err(|_| refuse(format!("malformed token {what}: not the expected JSON")))
}

/// The `max-age` of a `Cache-Control` header, in seconds.
pub fn max_age(cache_control: &str) -> Option<u64> {
    cache_control
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .and_then(|v| v.trim().parse().ok())
}

/// Whether unsigned (Auth emulator) tokens are accepted, and what to say about it when the service starts.
///
/// Only when `FIREBASE_AUTH_EMULATOR_HOST` is set *and* the project is a `demo-` project, which no real
/// Firebase project can be: one variable set by mistake in production must not turn sign-in off.
pub fn emulator_tokens(emulator_host: Option<&str>, project_id: &str) -> (bool, Option<String>) {
    match emulator_host {
        None => (false, None),
        Some(_) if project_id.starts_with("demo-") => (
            true,
            Some(format!(
                "sign-in: accepting unsigned Auth emulator tokens for the demo project {project_id} (local development only)"
            )),
        ),
        Some(_) => (
            false,
            Some(format!(
                "sign-in: FIREBASE_AUTH_EMULATOR_HOST is set but {project_id} is not a demo- project: unsigned tokens are refused, only Google-signed ones accepted"
            )),
        ),
    }
}

/// How long fetched keys are used when the JWKS response names no max-age.
pub const DEFAULT_KEYS_MAX_AGE_SECS: u64 = 3600;
/// How long a failed JWKS fetch is remembered: requests in between answer 503 at once instead of each waiting
/// for Google again.
pub const KEYS_FAILURE_SECS: u64 = 5;
/// How long the JWKS fetch may take.
pub const KEYS_FETCH_TIMEOUT_MS: u64 = 5_000;

/// How many verified tokens a [`KeyCache`] remembers.
pub const VERIFIED_TOKENS_MAX: usize = 1_000;

/// The signing keys an isolate fetched (imported as `K`, a WebCrypto key in the Worker), and when; and the tokens
/// verified with them, so that a client sending the same ID token again (a Firebase client keeps one for up to an
/// hour) is not verified again while those keys are current.
#[derive(Debug, Clone)]
pub struct KeyCache<K> {
    url: String,
    keys: Vec<(String, K)>,
    expires_at_ms: f64,
    failed_until_ms: f64,
    /// SHA-256 of each verified token's signing input and signature, with the token's `exp` (unix seconds). A
    /// list searched in order: a hash map's code would add a kilobyte to the Worker to save a few microseconds.
    verified: Vec<([u8; 32], i64)>,
}

/// What a verified token is remembered by: its signing input (header, with the key id, and claims) and its
/// signature, hashed.
fn token_digest(pending: &PendingSignature) -> [u8; 32] {
    Sha256::new()
        .chain_update(pending.signing_input.as_bytes())
        .chain_update(b".")
        .chain_update(&pending.signature)
        .finalize()
        .into()
}

/// What to do for a token's key id.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyLookup<K> {
    /// Verify with this key.
    Use(K),
    /// The current keys do not include it: the token is refused.
    Unknown,
    /// Nothing current is known: fetch the JWKS, then [`KeyCache::fill`] or [`KeyCache::failed`].
    Fetch,
    /// The last fetch failed moments ago: answer [`keys_unavailable`].
    Unavailable {
        /// Seconds until the next fetch will be tried.
        retry_after_secs: u32,
    },
}

impl<K: Clone> KeyCache<K> {
    /// Nothing fetched yet from `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            keys: Vec::new(),
            expires_at_ms: f64::NEG_INFINITY,
            failed_until_ms: f64::NEG_INFINITY,
            verified: Vec::new(),
        }
    }

    /// Whether this cache holds keys from `url` (a changed setting starts afresh).
    pub fn is_for(&self, url: &str) -> bool {
        self.url == url
    }

    /// What to do for `kid` at `now_ms` (milliseconds: a cache timed in whole seconds could expire a moment
    /// after it was filled).
    pub fn lookup(&self, kid: &str, now_ms: f64) -> KeyLookup<K> {
        if now_ms < self.expires_at_ms {
            return match self.keys.iter().find(|(k, _)| k == kid) {
                Some((_, key)) => KeyLookup::Use(key.clone()),
                None => KeyLookup::Unknown,
            };
        }
        if now_ms < self.failed_until_ms {
            let retry_after_secs = ((self.failed_until_ms - now_ms) / 1000.0).ceil().max(1.0) as u32;
            return KeyLookup::Unavailable { retry_after_secs };
        }
        KeyLookup::Fetch
    }

    /// Whether `pending`'s signature was verified already with its key, which is still current at `now_ms`, and
    /// its token has not expired: then it need not be verified again.
    pub fn verified(&self, pending: &PendingSignature, now_ms: f64) -> bool {
        self.is_current(&pending.kid, now_ms) && {
            let digest = token_digest(pending);
            (self.verified.iter()).any(|(d, exp)| *d == digest && now_ms < *exp as f64 * 1000.0)
        }
    }

    /// Whether `kid` is among the keys, and they are current at `now_ms`.
    fn is_current(&self, kid: &str, now_ms: f64) -> bool {
        now_ms < self.expires_at_ms && self.keys.iter().any(|(k, _)| k == kid)
    }

    /// Remembers that `pending`'s signature verified, for its token's life (`expires_at`, unix seconds) or until
    /// the keys are fetched again. At most [`VERIFIED_TOKENS_MAX`] are kept: when full, the expired ones go, and
    /// if none has, all of them.
    pub fn remember_verified(&mut self, pending: &PendingSignature, expires_at: i64, now_ms: f64) {
        if !self.is_current(&pending.kid, now_ms) {
            return;
        }
        if self.verified.len() >= VERIFIED_TOKENS_MAX {
            self.verified.retain(|&(_, exp)| now_ms < exp as f64 * 1000.0);
            if self.verified.len() >= VERIFIED_TOKENS_MAX {
                self.verified.clear();
            }
        }
        let digest = token_digest(pending);
        match self.verified.iter_mut().find(|(d, _)| *d == digest) {
            Some(entry) => entry.1 = expires_at,
            None => self.verified.push((digest, expires_at)),
        }
    }

    /// Keeps the keys of a successful fetch for the response's `Cache-Control: max-age` (or an hour), and
    /// answers for `kid` from them: keys just fetched are current for the request that fetched them, whatever
    /// their max-age. Tokens verified with the keys before are verified again.
    pub fn fill(
        &mut self,
        keys: Vec<(String, K)>,
        cache_control: Option<&str>,
        kid: &str,
        now_ms: f64,
    ) -> KeyLookup<K> {
        let max_age = cache_control.and_then(max_age).unwrap_or(DEFAULT_KEYS_MAX_AGE_SECS);
        self.keys = keys;
        self.expires_at_ms = now_ms + max_age as f64 * 1000.0;
        self.failed_until_ms = f64::NEG_INFINITY;
        self.verified.clear();
        match self.keys.iter().find(|(k, _)| k == kid) {
            Some((_, key)) => KeyLookup::Use(key.clone()),
            None => KeyLookup::Unknown,
        }
    }

    /// Remembers a failed fetch for [`KEYS_FAILURE_SECS`] (keys past their max-age are not used meanwhile) and
    /// answers [`KeyLookup::Unavailable`].
    pub fn failed(&mut self, now_ms: f64) -> KeyLookup<K> {
        self.failed_until_ms = now_ms + KEYS_FAILURE_SECS as f64 * 1000.0;
        KeyLookup::Unavailable {
            retry_after_secs: KEYS_FAILURE_SECS as u32,
        }
    }
}

/// The answer while Google's keys cannot be had: `503` with `Retry-After`, and what went wrong (for the log;
/// it names no token or secret).
pub fn keys_unavailable(retry_after_secs: u32, why: &str) -> crate::service::http::ApiError {
    crate::service::http::ApiError {
        retry_after: Some(retry_after_secs),
        ..crate::service::http::ApiError::new(
            503,
            "auth_unavailable",
            format!("sign-in cannot be checked right now (Google's signing keys: {why}); try again shortly"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_355_200;
    const AUD: Audience<'static> = Audience {
        project_id: "demo-ringhook",
        allow_unsigned: false,
    };

    fn token(alg: &str, kid: Option<&str>, claims: serde_json::Value, signature: &str) -> String {
        let mut header = serde_json::json!({ "alg": alg, "typ": "JWT" });
        if let Some(kid) = kid {
            header["kid"] = kid.into();
        }
        let enc = |v: &serde_json::Value| base64::encode_url(v.to_string().as_bytes());
        format!("{}.{}.{signature}", enc(&header), enc(&claims))
    }

    fn claims() -> serde_json::Value {
        serde_json::json!({
            "iss": "https://securetoken.google.com/demo-ringhook", "aud": "demo-ringhook", "sub": "alice",
            "user_id": "alice", "iat": NOW - 10, "auth_time": NOW - 10, "exp": NOW + 3600
        })
    }

    #[test]
    fn a_well_formed_rs256_token_names_its_key() {
        let t = token("RS256", Some("k1"), claims(), "c2ln");
        let checked = check(&t, &AUD, NOW).unwrap();
        assert_eq!(checked.uid, "alice");
        let pending = checked.signature.unwrap();
        assert_eq!(pending.kid, "k1");
        assert_eq!(pending.signature, b"sig");
        assert_eq!(format!("{}.c2ln", pending.signing_input), t);
    }

    #[test]
    fn bad_claims_are_refused_with_a_reason() {
        let cases: Vec<(serde_json::Value, &str)> = vec![
            (serde_json::json!({"exp": NOW - 1}), "expired"),
            (serde_json::json!({"aud": "other"}), "audience"),
            (
                serde_json::json!({"iss": "https://securetoken.google.com/other"}),
                "issuer",
            ),
            (serde_json::json!({"iat": NOW + 120}), "iat"),
            (serde_json::json!({"auth_time": NOW + 120}), "auth_time"),
            (serde_json::json!({"sub": ""}), "sub"),
            (serde_json::json!({"sub": "x".repeat(129)}), "sub"),
        ];
        for (change, reason) in cases {
            let mut c = claims();
            for (k, v) in change.as_object().unwrap() {
                c[k] = v.clone();
            }
            let err = check(&token("RS256", Some("k1"), c, "c2ln"), &AUD, NOW).unwrap_err();
            assert!(err.0.contains(reason), "{reason}: {err}");
        }
    }

    #[test]
    fn only_rs256_or_allowed_unsigned_tokens_pass() {
        assert!(check(&token("HS256", Some("k1"), claims(), "c2ln"), &AUD, NOW)
            .unwrap_err()
            .0
            .contains("RS256"));
        assert!(check(&token("none", None, claims(), ""), &AUD, NOW)
            .unwrap_err()
            .0
            .contains("emulator"));
        let local = Audience {
            allow_unsigned: true,
            ..AUD
        };
        assert_eq!(
            check(&token("none", None, claims(), ""), &local, NOW)
                .unwrap()
                .signature,
            None
        );
        assert!(check(&token("none", None, claims(), "c2ln"), &local, NOW).is_err());
        assert!(check(&token("RS256", None, claims(), "c2ln"), &AUD, NOW)
            .unwrap_err()
            .0
            .contains("kid"));
        assert!(check("a.b", &AUD, NOW).unwrap_err().0.contains("three"));
        assert!(check("!!.!!.!!", &AUD, NOW).unwrap_err().0.contains("malformed"));
    }

    #[test]
    fn bearer_header_and_cache_control() {
        assert_eq!(bearer(Some("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer(Some("bearer  abc ")).unwrap(), "abc");
        assert!(bearer(None).is_err());
        assert!(bearer(Some("Basic abc")).is_err());
        assert!(bearer(Some("Bearer ")).is_err());
        assert_eq!(max_age("public, max-age=19845, must-revalidate"), Some(19845));
        assert_eq!(max_age("no-store"), None);
    }

    #[test]
    fn keys_are_used_for_their_max_age_then_fetched_again() {
        let mut cache = KeyCache::new("https://keys");
        assert_eq!(cache.lookup("a", 0.0), KeyLookup::Fetch);
        assert_eq!(
            cache.fill(vec![("a".into(), 1)], Some("public, max-age=60"), "a", 1_000.0),
            KeyLookup::Use(1)
        );
        assert_eq!(cache.lookup("a", 1_000.0), KeyLookup::Use(1));
        assert_eq!(cache.lookup("b", 60_999.0), KeyLookup::Unknown);
        assert_eq!(cache.lookup("a", 61_000.0), KeyLookup::Fetch);
        assert_eq!(
            cache.fill(vec![("a".into(), 2)], None, "b", 61_000.0),
            KeyLookup::Unknown
        );
        assert_eq!(cache.lookup("a", 61_000.0 + 3_599_999.0), KeyLookup::Use(2));
        assert_eq!(cache.lookup("a", 61_000.0 + 3_600_000.0), KeyLookup::Fetch);
        assert!(cache.is_for("https://keys") && !cache.is_for("https://other"));
    }

    #[test]
    fn a_failed_fetch_answers_unavailable_for_a_few_seconds_then_tries_again() {
        let mut cache: KeyCache<u8> = KeyCache::new("https://keys");
        assert_eq!(cache.failed(10_000.0), KeyLookup::Unavailable { retry_after_secs: 5 });
        assert_eq!(
            cache.lookup("a", 10_000.0),
            KeyLookup::Unavailable { retry_after_secs: 5 }
        );
        assert_eq!(
            cache.lookup("a", 14_500.0),
            KeyLookup::Unavailable { retry_after_secs: 1 }
        );
        assert_eq!(cache.lookup("a", 15_000.0), KeyLookup::Fetch);
        // Expired keys are not used while the fetch fails.
        // Keys served with max-age=0 serve the request that fetched them, and no other.
        assert_eq!(
            cache.fill(vec![("a".into(), 1)], Some("max-age=0"), "a", 19_000.0),
            KeyLookup::Use(1)
        );
        assert_eq!(cache.lookup("a", 19_000.0), KeyLookup::Fetch);
        cache.fill(vec![("a".into(), 1)], Some("max-age=1"), "a", 20_000.0);
        cache.failed(21_000.0);
        assert_eq!(
            cache.lookup("a", 21_000.0),
            KeyLookup::Unavailable { retry_after_secs: 5 }
        );
        let e = keys_unavailable(5, "status 500");
        assert_eq!(
            (e.status, e.code.as_ref(), e.retry_after),
            (503, "auth_unavailable", Some(5))
        );
    }

    #[test]
    fn emulator_tokens_need_the_variable_and_a_demo_project() {
        assert_eq!(emulator_tokens(None, "demo-x"), (false, None));
        let (on, said) = emulator_tokens(Some("127.0.0.1:9099"), "demo-x");
        assert!(on && said.unwrap().contains("unsigned"));
        let (on, said) = emulator_tokens(Some("127.0.0.1:9099"), "my-prod-project");
        assert!(!on && said.unwrap().contains("refused"));
    }

    /// What a token signed with `kid` over `claims` (its `sub`) would leave to verify, with `signature`.
    fn pending(kid: &str, sub: &str, signature: &[u8]) -> PendingSignature {
        PendingSignature {
            kid: kid.into(),
            signing_input: format!("header-{kid}.claims-{sub}"),
            signature: signature.to_vec(),
        }
    }

    const EXP: i64 = NOW + 3600;
    const NOW_MS: f64 = NOW as f64 * 1000.0;

    fn cache_with(kids: &[&str], now_ms: f64) -> KeyCache<u8> {
        let mut cache = KeyCache::new("https://keys");
        let keys = kids.iter().map(|k| (k.to_string(), 1)).collect();
        cache.fill(keys, Some("max-age=600"), kids[0], now_ms);
        cache
    }

    #[test]
    fn a_verified_token_is_not_verified_again_while_its_key_is_current() {
        let mut cache = cache_with(&["a"], NOW_MS);
        let token = pending("a", "alice", b"sig");
        assert!(!cache.verified(&token, NOW_MS));
        cache.remember_verified(&token, EXP, NOW_MS);
        assert!(cache.verified(&token, NOW_MS + 1_000.0));
        // Any other token is verified: another signature over the same claims, other claims under the same
        // signature, the same under another key id.
        assert!(!cache.verified(&pending("a", "alice", b"sig2"), NOW_MS));
        assert!(!cache.verified(&pending("a", "mallory", b"sig"), NOW_MS));
        let mut other_kid = token.clone();
        other_kid.kid = "b".into();
        assert!(!cache.verified(&other_kid, NOW_MS));
    }

    #[test]
    fn a_verified_token_is_verified_again_once_expired_or_its_keys_change() {
        let token = pending("a", "alice", b"sig");
        let mut cache = cache_with(&["a"], NOW_MS);
        cache.remember_verified(&token, NOW + 10, NOW_MS);
        assert!(cache.verified(&token, NOW_MS + 9_999.0));
        assert!(!cache.verified(&token, NOW_MS + 10_000.0), "the token expired");
        cache.remember_verified(&token, EXP, NOW_MS);
        assert!(
            !cache.verified(&token, NOW_MS + 600_000.0),
            "the keys are past their max-age"
        );
        // Keys fetched again, even the same ones: every token is verified again with them.
        cache.fill(vec![("a".into(), 2)], Some("max-age=600"), "a", NOW_MS + 1.0);
        assert!(!cache.verified(&token, NOW_MS + 2.0));
        // A key that left the JWKS verifies nothing, remembered or not.
        cache.fill(vec![("b".into(), 3)], Some("max-age=600"), "b", NOW_MS + 3.0);
        cache.remember_verified(&token, EXP, NOW_MS + 4.0);
        assert!(!cache.verified(&token, NOW_MS + 5.0));
        // Nor is anything remembered while no keys are current.
        let mut empty: KeyCache<u8> = KeyCache::new("https://keys");
        empty.remember_verified(&token, EXP, NOW_MS);
        assert!(empty.verified.is_empty());
    }

    #[test]
    fn verified_tokens_are_bounded() {
        let mut cache = cache_with(&["a"], NOW_MS);
        let token = |n: usize| pending("a", &format!("user{n}"), b"sig");
        // Half of them expire within a minute.
        for n in 0..VERIFIED_TOKENS_MAX {
            let exp = if n % 2 == 0 { NOW + 60 } else { EXP };
            cache.remember_verified(&token(n), exp, NOW_MS);
        }
        assert_eq!(cache.verified.len(), VERIFIED_TOKENS_MAX);
        // Full: the expired half goes, the rest stay.
        cache.remember_verified(&token(VERIFIED_TOKENS_MAX), EXP, NOW_MS + 60_000.0);
        assert_eq!(cache.verified.len(), VERIFIED_TOKENS_MAX / 2 + 1);
        assert!(cache.verified(&token(1), NOW_MS + 60_000.0));
        assert!(!cache.verified(&token(0), NOW_MS + 60_000.0));
        // Full of live tokens: all go, and the new one is kept.
        let live = VERIFIED_TOKENS_MAX - cache.verified.len();
        for n in 0..=live {
            cache.remember_verified(&token(2 * VERIFIED_TOKENS_MAX + n), EXP, NOW_MS + 60_000.0);
        }
        assert_eq!(cache.verified.len(), 1);
        assert!(cache.verified(&token(2 * VERIFIED_TOKENS_MAX + live), NOW_MS + 60_000.0));
        assert!(!cache.verified(&token(1), NOW_MS + 60_000.0));
    }
}
