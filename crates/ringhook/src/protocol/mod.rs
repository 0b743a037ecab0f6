//! What goes over the wire: the call event, its names and ids, its JavaScript-compatible JSON, the signatures on
//! a delivery, base64 and time. Depends on nothing else in the crate. Signatures, base64, names and ids need no
//! `std`: they are what the package's wasm holds.

pub mod base64;
#[cfg(feature = "std")]
pub mod event;
#[cfg(feature = "std")]
pub mod json;
pub mod names;
pub mod signature;
#[cfg(feature = "std")]
pub mod time;
