//! Workers KV: what is written once and read later (event bodies, the delivery log). Users' mutable state is
//! not here: each user's object holds it.

use ringhook::service::http::ApiError;
use worker::kv::KvStore;
use worker::Env;

/// The KV binding of event bodies and the delivery log (the name is kept from the old layout).
pub const BINDING: &str = "SUBSCRIPTIONS";

/// The KV namespace of the `SUBSCRIPTIONS` binding.
pub fn kv(env: &Env) -> Result<KvStore, ApiError> {
    env.kv(BINDING)
        .map_err(|e| ApiError::internal(format!("KV binding {BINDING}: {e}")))
}
