//! ringhook's core: the call-event model, signing and verifying deliveries, the subscription API's models,
//! input validation, and (behind the `wasm` feature) the JavaScript surface of the `ringhook` npm package.
//!
//! The pure part has no clock, no random source and no platform code: callers pass `now` and random bytes in,
//! so the same code runs natively, in a Worker and in a browser.
#![deny(missing_docs)]

pub mod api;
pub mod base64;
pub mod delivery;
pub mod delivery_log;
pub mod dispatch;
pub mod event;
pub mod firebase;
pub mod json;
pub mod object;
pub mod publish;
pub mod ratelimit;
pub mod routes;
pub mod secret_box;
pub mod signature;
pub mod store;
pub mod subscriptions;
pub mod time;
pub mod validate;

#[cfg(feature = "wasm")]
pub mod wasm;

pub use event::{CallStatus, Event, EventType};
pub use signature::{sign, ReceivedHeaders, Scheme, SecretKey, SignedHeaders, Verifier, VerifyError};
