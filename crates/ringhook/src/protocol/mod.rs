//! What goes over the wire: the call event, its JavaScript-compatible JSON, the signatures on a delivery,
//! base64 and time. Depends on nothing else in the crate. Signatures and base64 need no `std`: they are all
//! that the package's `ringhook/verify` wasm holds.

pub mod base64;
#[cfg(feature = "std")]
pub mod event;
#[cfg(feature = "std")]
pub mod json;
pub mod signature;
#[cfg(feature = "std")]
pub mod time;
