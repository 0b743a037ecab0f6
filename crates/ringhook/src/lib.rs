//! ringhook's core: the call-event model, signing and verifying deliveries, the subscription API's models,
//! input validation, every delivery decision, and (behind the `wasm` feature) the JavaScript surface of the
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
//! - [`frontend`]: what a receiving page decides (which events to apply); [`wasm`] is its JavaScript surface.
#![deny(missing_docs)]

pub mod delivery;
pub mod frontend;
pub mod model;
pub mod protocol;
pub mod service;

#[cfg(feature = "wasm-verify")]
pub mod wasm;

pub use protocol::event::{CallStatus, Event, EventType};
pub use protocol::signature::{sign, ReceivedHeaders, Scheme, SecretKey, SignedHeaders, Verifier, VerifyError};
