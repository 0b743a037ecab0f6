//! What goes over the wire: the call event, its JavaScript-compatible JSON, the signatures on a delivery,
//! base64 and time. Depends on nothing else in the crate.

pub mod base64;
pub mod event;
pub mod json;
pub mod signature;
pub mod time;
