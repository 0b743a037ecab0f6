//! The subscription store on Workers KV (the layout is described in `ringhook::store`).

use ringhook::store::{user_key, StoreError, SubscriptionStore, UserDocument};
use ringhook::subscriptions::ApiError;
use worker::kv::KvStore;
use worker::Env;

/// The KV binding that holds subscriptions.
pub const BINDING: &str = "SUBSCRIPTIONS";

/// The KV namespace of the `SUBSCRIPTIONS` binding.
pub fn kv(env: &Env) -> Result<KvStore, ApiError> {
    env.kv(BINDING)
        .map_err(|e| ApiError::internal(format!("KV binding {BINDING}: {e}")))
}

pub struct KvSubscriptions {
    kv: KvStore,
}

impl KvSubscriptions {
    pub fn new(kv: KvStore) -> Self {
        Self { kv }
    }
}

impl SubscriptionStore for KvSubscriptions {
    async fn load(&self, uid: &str) -> Result<UserDocument, StoreError> {
        let text = self
            .kv
            .get(&user_key(uid))
            .text()
            .await
            .map_err(|e| StoreError(e.to_string()))?;
        match text {
            Some(text) => serde_json::from_str(&text).map_err(|e| StoreError(format!("document of a user: {e}"))),
            None => Ok(UserDocument::default()),
        }
    }

    async fn save(&self, uid: &str, document: &UserDocument) -> Result<(), StoreError> {
        let text = serde_json::to_string(document).map_err(|e| StoreError(e.to_string()))?;
        let put = self
            .kv
            .put(&user_key(uid), text)
            .map_err(|e| StoreError(e.to_string()))?;
        put.execute().await.map_err(|e| StoreError(e.to_string()))
    }
}
