//! The wasm of the package's `ringhook/verify` entry (the `verify-abi` feature): the core's verifier behind a
//! plain numeric interface, with neither wasm-bindgen nor the formatting machinery, so receivers load as little
//! as possible. Its JavaScript side is `pkg/verify/verify.js`. The main entry's wasm (the `wasm` feature, module
//! [`crate::wasm`]) is this and a few exports more, on the same buffers.
//!
//! The JavaScript side writes a call's inputs one after another into the input buffer (the body first, then
//! each text the call takes), calls one export with their lengths, and reads any answer from the output buffer.
//! A length of -1 is a header that is absent. An export that fails returns minus the length of `code message` in
//! the output buffer.

use alloc::vec::Vec;
use core::cell::Cell;

use crate::protocol::signature::{
    self, BodyTimestamp, Payload, ReceivedHeaders, SecretKey, Timestamp, Verifier, VerifyError,
};

static INPUT: Local<Vec<u8>> = Local(Cell::new(Vec::new()));
static OUTPUT: Local<Vec<u8>> = Local(Cell::new(Vec::new()));
/// The verifying secret, prepared once for the calls that follow (receivers verify with one secret).
static SECRET: Local<Option<SecretKey>> = Local(Cell::new(None));

/// A value of the module's one thread. Each export takes what it uses out of its cell and puts it back, so
/// nothing is borrowed twice and nothing can panic.
pub(crate) struct Local<T>(pub(crate) Cell<T>);

// SAFETY: this module is built for wasm32 without shared memory or threads: one thread runs all of it.
unsafe impl<T> Sync for Local<T> {}

impl<T: Default> Local<T> {
    pub(crate) fn take(&self) -> T {
        self.0.take()
    }

    pub(crate) fn set(&self, value: T) {
        self.0.set(value);
    }
}

#[link(wasm_import_module = "ringhook")]
extern "C" {
    /// `JSON.parse` of the body being verified, kept on the JavaScript side: 0 when the body is not JSON, 1 when
    /// it is JSON but not an object, 2 for an object.
    fn parse_body() -> i32;
    /// The parsed object's `timestamp` field: 0 when it has none, 1 for a number (see `timestamp_value`), 2 for
    /// anything else.
    fn timestamp_kind() -> i32;
    /// The number that `timestamp_kind` found.
    fn timestamp_value() -> f64;
}

/// Makes the input buffer at least `len` bytes long and returns where it starts.
#[no_mangle]
pub extern "C" fn input(len: usize) -> *mut u8 {
    let mut buffer = INPUT.take();
    if buffer.len() < len {
        buffer.resize(len, 0);
    }
    let start = buffer.as_mut_ptr();
    INPUT.set(buffer);
    start
}

/// Where the last answer's text starts.
#[no_mangle]
pub extern "C" fn output() -> *const u8 {
    let buffer = OUTPUT.take();
    let start = buffer.as_ptr();
    OUTPUT.set(buffer);
    start
}

/// Prepares the secret in the input buffer (`len` bytes) for the verifications that follow: 0, or a failure.
#[no_mangle]
pub extern "C" fn secret(len: usize) -> i32 {
    with_input(|mut input| {
        let text = input.text(len as i32).unwrap_or_default();
        match SecretKey::parse(text) {
            Ok(secret) => {
                SECRET.set(Some(secret));
                0
            }
            Err(e) => {
                SECRET.set(None);
                failure(&e)
            }
        }
    })
}

/// `verifyWebhookSignature`: 1 when the signature after the body is the body's under the secret, else 0.
#[no_mangle]
pub extern "C" fn verify_signature(body_len: usize, signature_len: i32) -> i32 {
    with_input(|mut input| {
        let body = input.bytes(body_len);
        let signature = input.text(signature_len);
        with_secret(|secret| match (secret, signature) {
            (Some(secret), Some(signature)) => i32::from(signature::verify_body_signature(body, signature, secret)),
            _ => 0,
        })
    })
}

/// `verifyWebhook`: checks the body against the four signature headers written after it (`X-Webhook-Signature`,
/// `webhook-id`, `webhook-timestamp`, `webhook-signature`) and has the JavaScript side parse it once the
/// signature matched. `tolerance` is seconds, NaN for the default, or negative for none (no freshness check);
/// `now` is unix seconds. 0, or a failure.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn verify(
    body_len: usize,
    body_is_bytes: i32,
    x_signature_len: i32,
    id_len: i32,
    timestamp_len: i32,
    signature_len: i32,
    tolerance: f64,
    now: f64,
) -> i32 {
    with_input(|mut input| {
        let body = input.bytes(body_len);
        let received = ReceivedHeaders {
            x_webhook_signature: input.text(x_signature_len),
            webhook_id: input.text(id_len),
            webhook_timestamp: input.text(timestamp_len),
            webhook_signature: input.text(signature_len),
        };
        if body_is_bytes != 0 && core::str::from_utf8(body).is_err() {
            return failure(&VerifyError::InvalidPayload("the body is not UTF-8 text".into()));
        }
        let tolerance = if tolerance.is_nan() {
            Some(signature::DEFAULT_TOLERANCE_SECS)
        } else {
            (tolerance >= 0.0).then_some(tolerance as u64)
        };
        with_secret(|secret| {
            let Some(secret) = secret else {
                return failure(&VerifyError::InvalidSecret("no secret was given"));
            };
            let verified =
                Verifier::new(secret)
                    .with_tolerance(tolerance)
                    .verify_payload(body, &received, now as i64, || {
                        // SAFETY: an import of the JavaScript side, which takes and returns numbers only.
                        match unsafe { parse_body() } {
                            2 => Some(Payload::Object(ParsedBody)),
                            1 => Some(Payload::NotAnObject),
                            _ => None,
                        }
                    });
            verified.map_or_else(|e| failure(&e), |_| 0)
        })
    })
}

/// The body as the JavaScript side parsed it.
struct ParsedBody;

impl BodyTimestamp for ParsedBody {
    fn timestamp(&self) -> Timestamp {
        // SAFETY: imports of the JavaScript side, which take and return numbers only.
        match unsafe { timestamp_kind() } {
            0 => Timestamp::Missing,
            1 => Timestamp::from_number(unsafe { timestamp_value() }),
            _ => Timestamp::Invalid,
        }
    }
}

/// The input buffer, read from its start.
pub(crate) struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    /// The next `len` bytes (fewer if the buffer ends first).
    pub(crate) fn bytes(&mut self, len: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        head
    }

    /// The next text of `len` bytes, or `None` for -1 (an absent header). The JavaScript side writes UTF-8.
    pub(crate) fn text(&mut self, len: i32) -> Option<&'a str> {
        let len = usize::try_from(len).ok()?;
        core::str::from_utf8(self.bytes(len)).ok()
    }
}

pub(crate) fn with_input<R>(f: impl FnOnce(Input<'_>) -> R) -> R {
    let buffer = INPUT.take();
    let result = f(Input(&buffer));
    INPUT.set(buffer);
    result
}

fn with_secret<R>(f: impl FnOnce(Option<&SecretKey>) -> R) -> R {
    let secret = SECRET.take();
    let result = f(secret.as_ref());
    SECRET.set(secret);
    result
}

/// Puts `text` in the output buffer and returns its length.
pub(crate) fn answer(text: Vec<u8>) -> i32 {
    let len = text.len() as i32;
    OUTPUT.set(text);
    len
}

/// Puts `code message` in the output buffer and returns minus its length.
pub(crate) fn failure(error: &VerifyError) -> i32 {
    -answer([error.code(), " ", &error.message()].concat().into_bytes())
}
