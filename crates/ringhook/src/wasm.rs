//! The wasm of the package's main entry (the `wasm` feature): `ringhook/verify`'s verifier ([`crate::verify_abi`])
//! and, on the same buffers and numeric interface, signing deliveries, the `CallEventDispatcher`'s decision and
//! the live stream's reconnection delay. Its JavaScript side is `pkg/core.js`; like `ringhook/verify`'s, it
//! carries neither `std` nor wasm-bindgen.

use alloc::vec::Vec;

use crate::frontend::dispatch::{self, REMEMBERED_IDS};
use crate::frontend::reconnect_delay_ms;
use crate::protocol::names::{event_id, CallStatus};
use crate::protocol::signature::{self, SecretKey, VerifyError};
use crate::verify_abi::{answer, failure, with_input, Local};

/// The secrets the next [`sign`] signs with, current first (as during a rotation).
static SIGNERS: Local<Vec<SecretKey>> = Local(core::cell::Cell::new(Vec::new()));
/// The position the last [`decide`] applied, packed.
static APPLIED: Local<f64> = Local(core::cell::Cell::new(0.0));

/// Forgets the secrets given for signing.
#[no_mangle]
pub extern "C" fn sign_reset() {
    SIGNERS.set(Vec::new());
}

/// Adds the secret in the input buffer (`len` bytes) to those the next [`sign`] signs with: 0, or a failure.
#[no_mangle]
pub extern "C" fn sign_secret(len: usize) -> i32 {
    with_input(
        |mut input| match SecretKey::parse(input.text(len as i32).unwrap_or_default()) {
            Ok(secret) => {
                let mut signers = SIGNERS.take();
                signers.push(secret);
                SIGNERS.set(signers);
                0
            }
            Err(e) => failure(&e),
        },
    )
}

/// `signWebhook`: signs the body in the input buffer (`body_len` bytes) with the secrets given, as a delivery is
/// signed, then forgets them. The event id follows the body (`id_len` bytes), or, for -1, 10 random bytes from
/// which a new `evt_` id is made with `now_ms`; `timestamp` is whole unix seconds, or NaN for `now_ms`'s. Answers
/// the headers as lines, name then value, or a failure.
#[no_mangle]
pub extern "C" fn sign(body_len: usize, id_len: i32, timestamp: f64, now_ms: f64) -> i32 {
    let signers = SIGNERS.take();
    if signers.is_empty() {
        return failure(&VerifyError::InvalidSecret("no secret was given"));
    }
    let text = with_input(|mut input| {
        let body = input.bytes(body_len);
        let id = match input.text(id_len) {
            Some(id) => id.into(),
            None => {
                let mut random = [0u8; 10];
                let given = input.bytes(10);
                random[..given.len()].copy_from_slice(given);
                event_id(now_ms as u64, random)
            }
        };
        let timestamp = if timestamp.is_nan() { now_ms / 1000.0 } else { timestamp };
        let signed = signature::sign(&signers, &id, timestamp as i64, body);
        let mut text = Vec::new();
        for (name, value) in signed.pairs() {
            for part in [name, "\n", value, "\n"] {
                text.extend_from_slice(part.as_bytes());
            }
        }
        text
    });
    answer(text)
}

/// The `CallEventDispatcher`'s decision about an event whose status is in the input buffer (`status_len` bytes,
/// -1 for none): whether its id was `seen` (1) or not (0), the position last applied for its call as
/// [`decide`]'s [`applied`] gave it (NaN for none, or an event without a call), and its `timestamp` as a number
/// (NaN for none). Answers 0 to apply it (then [`applied`] is its position), 1 for a duplicate, 2 when stale.
#[no_mangle]
pub extern "C" fn decide(seen: i32, last: f64, timestamp: f64, status_len: i32) -> i32 {
    with_input(|mut input| {
        let status = input.text(status_len).and_then(CallStatus::parse);
        let position = dispatch::position(dispatch::timestamp_of(timestamp), status);
        let last = (!last.is_nan()).then(|| dispatch::unpack(last));
        APPLIED.set(dispatch::pack(position));
        dispatch::judge(seen != 0, last, position) as i32
    })
}

/// The position of the event [`decide`] last judged, packed into one number for the dispatcher's `Map`.
#[no_mangle]
pub extern "C" fn applied() -> f64 {
    APPLIED.take()
}

/// How many event ids the dispatcher remembers to drop duplicates.
#[no_mangle]
pub extern "C" fn remembered_ids() -> u32 {
    REMEMBERED_IDS as u32
}

/// How long the live stream waits before its `attempt`-th reconnection (`random` in 0..1).
#[no_mangle]
pub extern "C" fn reconnect_delay(attempt: u32, random: f64) -> f64 {
    reconnect_delay_ms(attempt, random) as f64
}
