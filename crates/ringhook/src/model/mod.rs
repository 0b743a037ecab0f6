//! The API's request and response models, a user's subscriptions as stored (with sealed secrets), and input
//! validation. Uses [`crate::protocol`] only.

pub mod api;
pub mod keys;
pub mod secret_box;
pub mod store;
pub mod validate;
