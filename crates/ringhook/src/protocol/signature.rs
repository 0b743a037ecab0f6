//! Signing and verifying deliveries.
//!
//! Every delivery carries two signatures over the same body:
//!
//! - `X-Webhook-Signature: sha256=<hex>`: HMAC-SHA256 keyed with the UTF-8 bytes of the whole secret string
//!   (`whsec_…` included), over the raw body. This is what the setup guide's `verifyWebhookSignature` checks.
//! - [Standard Webhooks](https://www.standardwebhooks.com/): `webhook-id`, `webhook-timestamp` and
//!   `webhook-signature: v1,<base64>`, HMAC-SHA256 keyed with the base64-decoded part of the secret after
//!   `whsec_`, over `id.timestamp.body`. During a secret rotation it lists one signature per secret, separated by
//!   spaces, so receivers on either secret verify.
//!
//! Nothing here reads a clock: `now` always comes from the caller.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::borrow::Borrow;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::protocol::base64;

type HmacSha256 = Hmac<Sha256>;

/// The setup guide's signature header (`sha256=<hex>` over the raw body).
pub const X_WEBHOOK_SIGNATURE: &str = "x-webhook-signature";
/// During a secret rotation's overlap: `sha256=<hex>` over the raw body under the previous secret, for receivers
/// written as the setup guide shows that still hold it.
pub const X_WEBHOOK_SIGNATURE_PREVIOUS: &str = "x-webhook-signature-previous";
/// Standard Webhooks: the event id, the same on every retry.
pub const WEBHOOK_ID: &str = "webhook-id";
/// Standard Webhooks: when the delivery was signed, in unix seconds.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Standard Webhooks: space-separated `v1,<base64>` signatures.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
/// How far a timestamp may be from the verifier's clock, by default.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;
/// Why an empty secret (or, in JavaScript, one that is not a string) cannot verify.
pub const MISSING_SECRET: &str =
    "the secret key is missing or empty: pass the secret_key returned when you subscribed (is its environment variable set?)";
/// The prefix of every secret ringhook issues.
pub const SECRET_PREFIX: &str = "whsec_";

const BODY_SIGNATURE_PREFIX: &str = "sha256=";
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
const V1_PREFIX: &str = "v1,";

/// Why a delivery did not verify. Each message tells the receiver what to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// Neither signature header is present.
    MissingSignature,
    /// A Standard Webhooks header other than the signature is missing.
    MissingHeader(&'static str),
    /// A signature header is not in the expected form.
    MalformedSignature(&'static str),
    /// The timestamp (the `webhook-timestamp` header, or the body's field) is not a whole number of seconds.
    InvalidTimestamp,
    /// Only the body signature is present and the body has no `timestamp` to check for replays.
    MissingTimestamp,
    /// The delivery was signed longer ago than the tolerance allows.
    TimestampTooOld {
        /// Seconds since signing.
        age: u64,
        /// The tolerance in force.
        tolerance: u64,
    },
    /// The delivery claims to be signed in the future.
    TimestampInFuture {
        /// Seconds ahead of the verifier's clock.
        ahead: u64,
        /// The tolerance in force.
        tolerance: u64,
    },
    /// No signature matched.
    SignatureMismatch,
    /// The secret cannot be used.
    InvalidSecret(&'static str),
    /// The body verified but is not a ringhook event.
    InvalidPayload(String),
}

impl core::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for VerifyError {}

impl VerifyError {
    /// What went wrong and what to check (the `Display` text), put together without the formatting machinery,
    /// which the package's smallest wasm does not carry.
    pub fn message(&self) -> String {
        match self {
            Self::MissingSignature => "no signature header: expected X-Webhook-Signature or webhook-signature; check that a proxy does not strip them".into(),
            Self::MissingHeader(name) => ["missing ", name, " header: Standard Webhooks signatures need webhook-id, webhook-timestamp and webhook-signature together"].concat(),
            Self::MalformedSignature(why) => ["malformed signature: ", why].concat(),
            Self::InvalidTimestamp => "invalid timestamp: expected whole unix seconds in webhook-timestamp (or in the body's \"timestamp\" field)".into(),
            Self::MissingTimestamp => "missing timestamp: the body has no \"timestamp\" field to check against replays; send the webhook-* headers or pass toleranceSeconds: null to skip the check".into(),
            Self::TimestampTooOld { age, tolerance } => ["timestamp too old: signed ", &unsigned_decimal(*age), " s ago, more than the ", &unsigned_decimal(*tolerance), " s tolerance; a replayed delivery, or a receiver clock that is wrong"].concat(),
            Self::TimestampInFuture { ahead, tolerance } => ["timestamp in the future: ", &unsigned_decimal(*ahead), " s ahead of this clock, more than the ", &unsigned_decimal(*tolerance), " s tolerance; check the receiver's clock"].concat(),
            Self::SignatureMismatch => "signature mismatch: verify the raw request body exactly as received, not re-serialised JSON, with the secret_key returned when you subscribed (or rotated)".into(),
            Self::InvalidSecret(why) => ["invalid secret: ", why].concat(),
            Self::InvalidPayload(why) => ["invalid payload: ", why].concat(),
        }
    }

    /// A stable, machine-readable code for the error.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::MissingHeader(_) => "missing_header",
            Self::MalformedSignature(_) => "malformed_signature",
            Self::InvalidTimestamp => "invalid_timestamp",
            Self::MissingTimestamp => "missing_timestamp",
            Self::TimestampTooOld { .. } => "timestamp_too_old",
            Self::TimestampInFuture { .. } => "timestamp_in_future",
            Self::SignatureMismatch => "signature_mismatch",
            Self::InvalidSecret(_) => "invalid_secret",
            Self::InvalidPayload(_) => "invalid_payload",
        }
    }
}

/// A subscription's signing secret, with both HMAC keys prepared once.
///
/// `Debug` never shows the secret.
#[derive(Clone)]
pub struct SecretKey {
    text: String,
    body_mac: HmacSha256,
    standard_mac: Option<HmacSha256>,
}

impl core::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    /// A new `whsec_` secret from 32 random bytes that the caller draws from a secure source.
    pub fn generate(random: [u8; 32]) -> Self {
        Self::parse(&[SECRET_PREFIX, &base64::encode(&random)].concat()).expect("a generated secret is valid")
    }

    /// Accepts any non-empty secret. A `whsec_` secret must carry valid base64 and can also sign and verify
    /// Standard Webhooks signatures; any other string (the setup guide's plain secrets) signs the body signature only.
    pub fn parse(text: &str) -> Result<Self, VerifyError> {
        if text.is_empty() {
            return Err(VerifyError::InvalidSecret(MISSING_SECRET));
        }
        let standard_mac = match text.strip_prefix(SECRET_PREFIX) {
            Some(encoded) => {
                let key = base64::decode(encoded)
                    .ok_or(VerifyError::InvalidSecret("the part after whsec_ is not valid base64"))?;
                if key.is_empty() {
                    return Err(VerifyError::InvalidSecret("the part after whsec_ is empty"));
                }
                Some(new_mac(&key))
            }
            None => None,
        };
        Ok(Self {
            text: text.to_owned(),
            body_mac: new_mac(text.as_bytes()),
            standard_mac,
        })
    }

    /// The secret as issued. Show it to its owner only.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// Whether this secret can make Standard Webhooks signatures (it is a `whsec_` secret).
    pub fn has_standard_key(&self) -> bool {
        self.standard_mac.is_some()
    }

    /// `sha256=<hex>`: the setup guide's `X-Webhook-Signature` over the raw body.
    pub fn body_signature(&self, body: &[u8]) -> String {
        let mut mac = self.body_mac.clone();
        mac.update(body);
        let mut out = String::with_capacity(BODY_SIGNATURE_PREFIX.len() + 64);
        out.push_str(BODY_SIGNATURE_PREFIX);
        for byte in mac.finalize().into_bytes() {
            out.extend([HEX_DIGITS[usize::from(byte >> 4)], HEX_DIGITS[usize::from(byte & 15)]].map(char::from));
        }
        out
    }

    /// `v1,<base64>`: one Standard Webhooks signature, or `None` for a secret without the `whsec_` prefix.
    pub fn standard_signature(&self, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
        let mut mac = self.standard_mac.clone()?;
        update_signed_content(&mut mac, id, timestamp, body);
        let mut out = String::with_capacity(V1_PREFIX.len() + 44);
        out.push_str(V1_PREFIX);
        out.push_str(&base64::encode(&mac.finalize().into_bytes()));
        Some(out)
    }

    fn verify_body(&self, body: &[u8], tag: &[u8]) -> bool {
        let mut mac = self.body_mac.clone();
        mac.update(body);
        mac.verify_slice(tag).is_ok()
    }
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

fn update_signed_content(mac: &mut HmacSha256, id: &str, timestamp: i64, body: &[u8]) {
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(decimal(timestamp).as_bytes());
    mac.update(b".");
    mac.update(body);
}

/// `n` in decimal, without the formatting machinery (which the wasm builds would otherwise carry).
pub(crate) fn decimal(n: i64) -> String {
    let digits = unsigned_decimal(n.unsigned_abs());
    if n < 0 {
        ["-", &digits].concat()
    } else {
        digits
    }
}

/// `n` in decimal, as [`decimal`] writes it.
fn unsigned_decimal(n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = n;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    digits[start..].iter().map(|&d| char::from(d)).collect()
}

/// The signature headers of one delivery, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `X-Webhook-Signature`: `sha256=<hex>` under the current secret.
    pub x_webhook_signature: String,
    /// `X-Webhook-Signature-Previous`: `sha256=<hex>` under the previous secret while its overlap lasts.
    pub x_webhook_signature_previous: Option<String>,
    /// `webhook-id`.
    pub webhook_id: String,
    /// `webhook-timestamp`.
    pub webhook_timestamp: String,
    /// `webhook-signature`: one `v1,` signature per `whsec_` secret, current first; empty if there is none.
    pub webhook_signature: String,
}

impl SignedHeaders {
    /// The headers as lower-case name and value pairs, ready to send (`X-Webhook-Signature-Previous` only
    /// while there is a previous secret).
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let mut pairs = vec![
            (X_WEBHOOK_SIGNATURE, self.x_webhook_signature.as_str()),
            (WEBHOOK_ID, &self.webhook_id),
            (WEBHOOK_TIMESTAMP, &self.webhook_timestamp),
            (WEBHOOK_SIGNATURE, &self.webhook_signature),
        ];
        if let Some(previous) = &self.x_webhook_signature_previous {
            pairs.push((X_WEBHOOK_SIGNATURE_PREVIOUS, previous));
        }
        pairs
    }
}

/// Signs `body` for delivery. `secrets` lists the current secret first, then any previous one still in its
/// rotation overlap. `webhook-signature` holds one signature per secret; `X-Webhook-Signature` holds one value,
/// so it is always the current secret's (the one the rotation answered with), and the previous secret's goes in
/// `X-Webhook-Signature-Previous`.
///
/// # Panics
/// If `secrets` is empty.
pub fn sign(secrets: &[SecretKey], id: &str, timestamp: i64, body: &[u8]) -> SignedHeaders {
    let current = secrets.first().expect("at least one secret to sign with");
    let mut webhook_signature = String::new();
    for signature in secrets.iter().filter_map(|s| s.standard_signature(id, timestamp, body)) {
        if !webhook_signature.is_empty() {
            webhook_signature.push(' ');
        }
        webhook_signature.push_str(&signature);
    }
    SignedHeaders {
        x_webhook_signature: current.body_signature(body),
        x_webhook_signature_previous: secrets.get(1).map(|previous| previous.body_signature(body)),
        webhook_id: id.to_owned(),
        webhook_timestamp: decimal(timestamp),
        webhook_signature,
    }
}

/// The signature headers of a received request. Build it with [`ReceivedHeaders::from_lookup`] from whatever
/// header map the framework has; names are looked up in lower case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceivedHeaders<'a> {
    /// `X-Webhook-Signature`.
    pub x_webhook_signature: Option<&'a str>,
    /// `webhook-id`.
    pub webhook_id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub webhook_timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub webhook_signature: Option<&'a str>,
}

impl<'a> ReceivedHeaders<'a> {
    /// Collects the four headers through `get`, called with lower-case names.
    pub fn from_lookup(mut get: impl FnMut(&str) -> Option<&'a str>) -> Self {
        Self {
            x_webhook_signature: get(X_WEBHOOK_SIGNATURE),
            webhook_id: get(WEBHOOK_ID),
            webhook_timestamp: get(WEBHOOK_TIMESTAMP),
            webhook_signature: get(WEBHOOK_SIGNATURE),
        }
    }
}

/// A verified body as the caller's parser saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload<P> {
    /// A JSON object.
    Object(P),
    /// JSON, but an array, a string, a number, `true`, `false` or `null`.
    NotAnObject,
}

/// The body's `timestamp` field, as the contract reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamp {
    /// No such field.
    Missing,
    /// Present, but not whole unix seconds in range.
    Invalid,
    /// Whole unix seconds.
    Seconds(i64),
}

/// Numbers beyond this many seconds (about 17.8 million years) are not timestamps; it also keeps them exact in a
/// JavaScript number.
pub const MAX_TIMESTAMP_SECS: i64 = 1 << 49;

impl Timestamp {
    /// Reads a JSON number as the contract does: whole seconds within ±[`MAX_TIMESTAMP_SECS`].
    pub fn from_number(number: f64) -> Self {
        // Whole: unchanged by a round trip through an integer (NaN and the infinities are not).
        if number as i64 as f64 == number && number.abs() <= MAX_TIMESTAMP_SECS as f64 {
            Self::Seconds(number as i64)
        } else {
            Self::Invalid
        }
    }
}

/// A parsed JSON object whose `timestamp` field the verifier can read.
pub trait BodyTimestamp {
    /// The object's `timestamp` field.
    fn timestamp(&self) -> Timestamp;
}

#[cfg(feature = "std")]
impl BodyTimestamp for serde_json::Map<String, serde_json::Value> {
    fn timestamp(&self) -> Timestamp {
        match self.get("timestamp") {
            None => Timestamp::Missing,
            Some(serde_json::Value::Number(n)) => n.as_f64().map_or(Timestamp::Invalid, Timestamp::from_number),
            Some(_) => Timestamp::Invalid,
        }
    }
}

/// Checks a delivery's signature and freshness, with its own secret or (`Verifier<&SecretKey>`) a borrowed one.
#[derive(Debug, Clone)]
pub struct Verifier<S = SecretKey> {
    secret: S,
    tolerance: Option<u64>,
}

/// Which signature a delivery was verified by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    StandardWebhooks,
    /// `X-Webhook-Signature` over the body alone.
    BodySignature,
}

impl<S: Borrow<SecretKey>> Verifier<S> {
    /// A verifier with the default 300 s tolerance.
    pub fn new(secret: S) -> Self {
        Self {
            secret,
            tolerance: Some(DEFAULT_TOLERANCE_SECS),
        }
    }

    fn key(&self) -> &SecretKey {
        self.secret.borrow()
    }

    /// Sets the timestamp tolerance in seconds; `None` skips the freshness check (not recommended).
    pub fn with_tolerance(mut self, tolerance: Option<u64>) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies the signature only, without parsing the body or checking its age.
    ///
    /// With Standard Webhooks headers present (and a `whsec_` secret) they are checked, including the timestamp
    /// header against `now`; otherwise `X-Webhook-Signature` is.
    pub fn verify_signature(
        &self,
        body: &[u8],
        headers: &ReceivedHeaders<'_>,
        now: i64,
    ) -> Result<Scheme, VerifyError> {
        let standard = headers.webhook_signature.filter(|_| self.key().has_standard_key());
        if let Some(signatures) = standard {
            self.verify_standard(body, headers, signatures, now)?;
            return Ok(Scheme::StandardWebhooks);
        }
        match headers.x_webhook_signature {
            Some(signature) => {
                let tag = parse_body_signature(signature)?;
                if self.key().verify_body(body, &tag) {
                    Ok(Scheme::BodySignature)
                } else {
                    Err(VerifyError::SignatureMismatch)
                }
            }
            None if headers.webhook_signature.is_some() => Err(VerifyError::InvalidSecret(
                "webhook-signature needs a whsec_ secret; this secret can only verify X-Webhook-Signature",
            )),
            None => Err(VerifyError::MissingSignature),
        }
    }

    /// Whether [`Verifier::verify_signature`] leaves a freshness check to the caller for this scheme: the body
    /// signature covers no header timestamp, so the body's own `timestamp` must be checked.
    pub fn needs_body_timestamp(&self, scheme: Scheme) -> bool {
        scheme == Scheme::BodySignature && self.tolerance.is_some()
    }

    /// Verifies a delivery and returns its body as a JSON object: the one contract of every verifier ringhook
    /// ships (the package's `verifyWebhook` wraps [`Verifier::verify_payload`] with the runtime's own JSON parser).
    ///
    /// A delivery verifies when a signature matches (see [`Verifier::verify_signature`]) and its body is a JSON
    /// object. The object may be any of them: ringhook's events carry `id` and `timestamp`, the setup guide's
    /// examples `{event, callId, status, data}` alone. When only the body signature vouches for it, the body's own
    /// `timestamp` (covered by that signature) must be whole unix seconds within the tolerance.
    #[cfg(feature = "std")]
    pub fn verify(
        &self,
        body: &str,
        headers: &ReceivedHeaders<'_>,
        now: i64,
    ) -> Result<serde_json::Map<String, serde_json::Value>, VerifyError> {
        self.verify_payload(body.as_bytes(), headers, now, || {
            match serde_json::from_str::<serde_json::Value>(body) {
                Ok(serde_json::Value::Object(object)) => Some(Payload::Object(object)),
                Ok(_) => Some(Payload::NotAnObject),
                Err(_) => None,
            }
        })
    }

    /// [`Verifier::verify`] with the body parsed by the caller: `parse` runs once the signature has matched and
    /// returns `None` for text that is not JSON.
    pub fn verify_payload<P: BodyTimestamp>(
        &self,
        body: &[u8],
        headers: &ReceivedHeaders<'_>,
        now: i64,
        parse: impl FnOnce() -> Option<Payload<P>>,
    ) -> Result<P, VerifyError> {
        let scheme = self.verify_signature(body, headers, now)?;
        let object = match parse() {
            Some(Payload::Object(object)) => object,
            Some(Payload::NotAnObject) => {
                return Err(VerifyError::InvalidPayload("the body is not a JSON object".into()))
            }
            None => return Err(VerifyError::InvalidPayload("the body is not JSON".into())),
        };
        if self.needs_body_timestamp(scheme) {
            let timestamp = match object.timestamp() {
                Timestamp::Missing => return Err(VerifyError::MissingTimestamp),
                Timestamp::Invalid => return Err(VerifyError::InvalidTimestamp),
                Timestamp::Seconds(seconds) => seconds,
            };
            self.check_age(timestamp, now)?;
        }
        Ok(object)
    }

    fn verify_standard(
        &self,
        body: &[u8],
        headers: &ReceivedHeaders<'_>,
        signatures: &str,
        now: i64,
    ) -> Result<(), VerifyError> {
        let id = headers.webhook_id.ok_or(VerifyError::MissingHeader(WEBHOOK_ID))?;
        let timestamp = headers
            .webhook_timestamp
            .ok_or(VerifyError::MissingHeader(WEBHOOK_TIMESTAMP))?;
        let timestamp: i64 = timestamp
            .trim_ascii()
            .parse()
            .map_err(|_| VerifyError::InvalidTimestamp)?;
        self.check_age(timestamp, now)?;

        let mac = self.key().standard_mac.as_ref().expect("checked by the caller");
        let mut prepared = mac.clone();
        update_signed_content(&mut prepared, id, timestamp, body);

        let mut saw_v1 = false;
        for candidate in signatures.split_ascii_whitespace() {
            let Some(encoded) = candidate.strip_prefix(V1_PREFIX) else {
                continue;
            };
            saw_v1 = true;
            let Some(tag) = base64::decode(encoded) else {
                continue;
            };
            if prepared.clone().verify_slice(&tag).is_ok() {
                return Ok(());
            }
        }
        if saw_v1 {
            Err(VerifyError::SignatureMismatch)
        } else {
            Err(VerifyError::MalformedSignature(
                "webhook-signature has no v1,<base64> signature",
            ))
        }
    }

    /// Checks a signed timestamp (unix seconds) against `now` and the tolerance.
    pub fn check_age(&self, timestamp: i64, now: i64) -> Result<(), VerifyError> {
        let Some(tolerance) = self.tolerance else {
            return Ok(());
        };
        let age = now.saturating_sub(timestamp);
        if age > 0 && age.unsigned_abs() > tolerance {
            return Err(VerifyError::TimestampTooOld {
                age: age.unsigned_abs(),
                tolerance,
            });
        }
        if age < 0 && age.unsigned_abs() > tolerance {
            return Err(VerifyError::TimestampInFuture {
                ahead: age.unsigned_abs(),
                tolerance,
            });
        }
        Ok(())
    }
}

/// Decodes `sha256=<64 hex digits>` (either case); the prefix may be left out, as the setup guide's verifier allows.
fn parse_body_signature(signature: &str) -> Result<[u8; 32], VerifyError> {
    let hex_part = signature.trim_ascii();
    let hex_part = hex_part.strip_prefix(BODY_SIGNATURE_PREFIX).unwrap_or(hex_part);
    let malformed = VerifyError::MalformedSignature("X-Webhook-Signature must be sha256= followed by 64 hex digits");
    let digits = hex_part.as_bytes();
    if digits.len() != 64 {
        return Err(malformed);
    }
    let mut tag = [0u8; 32];
    for (byte, pair) in tag.iter_mut().zip(digits.chunks_exact(2)) {
        match (hex_value(pair[0]), hex_value(pair[1])) {
            (Some(high), Some(low)) => *byte = high << 4 | low,
            _ => return Err(malformed),
        }
    }
    Ok(tag)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// The setup guide's `verifyWebhookSignature(payload, signature, secretKey)`: the body signature alone, no timestamp.
pub fn verify_body_signature(body: &[u8], signature: &str, secret: &SecretKey) -> bool {
    parse_body_signature(signature).is_ok_and(|tag| secret.verify_body(body, &tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn secret() -> SecretKey {
        SecretKey::parse(SECRET).unwrap()
    }

    #[test]
    fn debug_never_shows_the_secret() {
        assert_eq!(format!("{:?}", secret()), "SecretKey(<redacted>)");
        assert!(!format!("{:?}", Verifier::new(secret())).contains("AAEC"));
    }

    #[test]
    fn generated_secrets_are_whsec_base64_of_32_bytes() {
        let s = SecretKey::generate([7; 32]);
        let encoded = s.expose().strip_prefix(SECRET_PREFIX).unwrap();
        assert_eq!(base64::decode(encoded).unwrap(), vec![7; 32]);
        assert!(s.has_standard_key());
    }

    #[test]
    fn bad_secrets_are_refused() {
        assert_eq!(SecretKey::parse("").unwrap_err().code(), "invalid_secret");
        assert_eq!(SecretKey::parse("whsec_%%%").unwrap_err().code(), "invalid_secret");
        assert_eq!(SecretKey::parse("whsec_").unwrap_err().code(), "invalid_secret");
        assert!(!SecretKey::parse("plain").unwrap().has_standard_key());
    }

    #[test]
    fn decimal_writes_every_i64() {
        for n in [0, 7, -7, 10, 1_764_355_200, i64::MAX, i64::MIN] {
            assert_eq!(decimal(n), n.to_string());
        }
    }

    #[test]
    fn messages_name_the_numbers_and_what_to_check() {
        let too_old = VerifyError::TimestampTooOld {
            age: 301,
            tolerance: 300,
        };
        assert_eq!(
            too_old.to_string(),
            "timestamp too old: signed 301 s ago, more than the 300 s tolerance; a replayed delivery, or a receiver clock that is wrong"
        );
        let ahead = VerifyError::TimestampInFuture {
            ahead: u64::MAX,
            tolerance: 0,
        };
        assert_eq!(
            ahead.message(),
            "timestamp in the future: 18446744073709551615 s ahead of this clock, more than the 0 s tolerance; check the receiver's clock"
        );
        assert_eq!(
            VerifyError::MissingHeader(WEBHOOK_ID).to_string(),
            "missing webhook-id header: Standard Webhooks signatures need webhook-id, webhook-timestamp and webhook-signature together"
        );
        assert_eq!(
            VerifyError::InvalidPayload("the body is not JSON".into()).to_string(),
            "invalid payload: the body is not JSON"
        );
        assert_eq!(
            SecretKey::parse("").unwrap_err().to_string(),
            ["invalid secret: ", MISSING_SECRET].concat()
        );
    }

    #[test]
    fn body_signatures_are_64_hex_digits_in_either_case() {
        let s = secret();
        let signature = s.body_signature(b"{}");
        assert!(verify_body_signature(b"{}", &signature, &s));
        assert!(verify_body_signature(
            b"{}",
            &signature.to_uppercase().replace("SHA256=", "sha256="),
            &s
        ));
        assert!(verify_body_signature(b"{}", &format!("  {}\t", &signature[7..]), &s));
        let bad = [
            &signature[..70],
            &format!("{signature}0"),
            &signature.replace('a', "g"),
            "sha256=",
            "",
            "sha256=\u{e9}",
        ];
        for bad in bad {
            assert_eq!(
                parse_body_signature(bad).unwrap_err().code(),
                "malformed_signature",
                "{bad}"
            );
        }
    }

    #[test]
    fn body_timestamps_are_whole_seconds_in_range() {
        assert_eq!(
            Timestamp::from_number(1_764_355_200.0),
            Timestamp::Seconds(1_764_355_200)
        );
        assert_eq!(Timestamp::from_number(-0.0), Timestamp::Seconds(0));
        assert_eq!(
            Timestamp::from_number(MAX_TIMESTAMP_SECS as f64),
            Timestamp::Seconds(MAX_TIMESTAMP_SECS)
        );
        for bad in [
            1.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            MAX_TIMESTAMP_SECS as f64 * 2.0,
            1e300,
        ] {
            assert_eq!(Timestamp::from_number(bad), Timestamp::Invalid, "{bad}");
        }
    }

    #[test]
    fn age_is_checked_both_ways() {
        let v = Verifier::new(secret());
        assert!(v.check_age(1000, 1300).is_ok());
        assert!(v.check_age(1300, 1000).is_ok());
        assert_eq!(v.check_age(1000, 1301).unwrap_err().code(), "timestamp_too_old");
        assert_eq!(v.check_age(1301, 1000).unwrap_err().code(), "timestamp_in_future");
        assert!(v.with_tolerance(None).check_age(0, i64::MAX).is_ok());
    }
}
