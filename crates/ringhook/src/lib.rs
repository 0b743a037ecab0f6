//! ringhook's core: the call-event model, signing and verifying deliveries, the subscription API's models,
//! input validation, every delivery decision, and (behind the `wasm` and `verify-abi` features) the wasm of the
//! `ringhook` npm package.
//!
//! The pure part has no clock, no random source and no platform code: callers pass `now` and random bytes in,
//! so the same code runs natively, in a Worker and in a browser.
//!
//! The folders are layers; each uses only those above it:
//! - [`protocol`]: what goes over the wire: the event, its JavaScript-compatible JSON, signatures, base64, time;
//! - [`model`]: the API's request and response models, a user's stored subscriptions, sealed secrets, validation;
//! - [`delivery`]: the delivery engine's decisions (fan-out, judging an attempt, retries, deactivation) and the
//!   delivery log;
//! - [`service`]: the HTTP API: routes, the subscription operations, publishing, Firebase token checks, and what
//!   a user's object (the single writer of a user's state) is asked and decides;
//! - [`frontend`]: what a receiving page decides (which events to apply, when to reconnect); `verify_abi` is the
//!   wasm of the package's `ringhook/verify` entry, and `wasm` that of its main entry.
//!
//! Without the `std` feature only signatures, base64, the wire's names and ids and the frontend's decisions are
//! built, with `core` and `alloc` alone.
#![deny(missing_docs)]
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(feature = "std")]
pub mod delivery;
pub mod frontend;
#[cfg(feature = "std")]
pub mod model;
pub mod protocol;
#[cfg(feature = "std")]
pub mod service;

#[cfg(all(feature = "verify-abi", target_family = "wasm"))]
pub mod verify_abi;

#[cfg(all(feature = "wasm", target_family = "wasm"))]
pub mod wasm;

#[cfg(all(target_family = "wasm", feature = "verify-abi"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[cfg(all(target_family = "wasm", not(feature = "std")))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // Nothing panics on purpose; a bug traps, without the formatting machinery that a message would need.
    core::arch::wasm32::unreachable()
}

#[cfg(feature = "std")]
pub use protocol::event::{CallStatus, Event, EventType};
pub use protocol::signature::{sign, ReceivedHeaders, Scheme, SecretKey, SignedHeaders, Verifier, VerifyError};
