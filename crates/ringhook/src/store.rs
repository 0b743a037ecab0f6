//! Where subscriptions live: a small trait, so the API logic runs the same on Workers KV and, in native tests,
//! on the in-memory store here.
//!
//! Layout: one document per user, `user:<uid>` → [`UserDocument`] as JSON. Every read and write of a user's
//! subscriptions is one KV operation, and the fan-out of an event (which knows the user) is one read. KV keeps
//! the last write: two writes for the same user at the same moment (two browser tabs) can lose one of them;
//! reads see a write at once in the location that made it and within about a minute elsewhere.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::api::Subscription;
use crate::secret_box::Sealed;

/// One user's subscriptions as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserDocument {
    /// Oldest first.
    pub subscriptions: Vec<StoredSubscription>,
}

/// A subscription with what only the service sees: its sealed secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSubscription {
    /// What the API shows.
    #[serde(flatten)]
    pub public: Subscription,
    /// The current signing secret, sealed.
    pub secret: Sealed,
    /// The secret before the last rotation, valid for signing until `expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<PreviousSecret>,
}

/// A rotated-out secret still in its overlap window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviousSecret {
    /// The secret, sealed.
    pub sealed: Sealed,
    /// Unix seconds after which it no longer signs.
    pub expires_at: i64,
}

/// A storage failure: logged by the service, shown to the caller only as an internal error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage: {0}")]
pub struct StoreError(pub String);

/// The key of a user's document.
pub fn user_key(uid: &str) -> String {
    format!("user:{uid}")
}

/// Storage of users' subscription documents.
#[allow(async_fn_in_trait)]
pub trait SubscriptionStore {
    /// The user's document; an empty one if the user has none.
    async fn load(&self, uid: &str) -> Result<UserDocument, StoreError>;
    /// Replaces the user's document.
    async fn save(&self, uid: &str, document: &UserDocument) -> Result<(), StoreError>;
}

/// An in-memory store holding documents as JSON text, as KV does. For native tests.
#[derive(Debug, Default)]
pub struct MemoryStore {
    values: RefCell<HashMap<String, String>>,
}

impl MemoryStore {
    /// Every stored value, by key: what a look at the raw storage would show.
    pub fn raw(&self) -> HashMap<String, String> {
        self.values.borrow().clone()
    }
}

impl SubscriptionStore for MemoryStore {
    async fn load(&self, uid: &str) -> Result<UserDocument, StoreError> {
        match self.values.borrow().get(&user_key(uid)) {
            Some(text) => serde_json::from_str(text).map_err(|e| StoreError(e.to_string())),
            None => Ok(UserDocument::default()),
        }
    }

    async fn save(&self, uid: &str, document: &UserDocument) -> Result<(), StoreError> {
        let text = serde_json::to_string(document).map_err(|e| StoreError(e.to_string()))?;
        self.values.borrow_mut().insert(user_key(uid), text);
        Ok(())
    }
}
