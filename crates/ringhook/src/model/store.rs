//! Where a user's subscriptions live: a small synchronous trait, so the API logic runs the same in the user's
//! Durable Object (SQLite, the single writer of each user's state) and, in native tests, on the in-memory store
//! here. Synchronous on purpose: an operation loads, decides and saves with no wait in between, so nothing else
//! the object is asked can come between its read and its write.
//!
//! Earlier versions kept one JSON document per user in KV under [`crate::model::keys::legacy_user`]; the object moves such a
//! document into its own storage the first time it is asked about that user.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use crate::model::api::Subscription;
use crate::model::secret_box::{SealError, Sealed, StorageKey};
use crate::protocol::signature::SecretKey;

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

impl UserDocument {
    /// Re-seals under the current key every secret sealed under another (the previous key, or none named),
    /// with nonces from `nonce`; returns how many. A secret that opens under no key of the ring is left as it
    /// is, to fail where it is used with the error that names its key.
    pub fn reseal(&mut self, key: &StorageKey, mut nonce: impl FnMut() -> [u8; 12]) -> usize {
        let mut count = 0;
        for stored in &mut self.subscriptions {
            let id = stored.public.id.as_str();
            let previous = stored.previous_secret.as_mut().map(|p| &mut p.sealed);
            for sealed in std::iter::once(&mut stored.secret).chain(previous) {
                if let Ok(Some(fresh)) = key.reseal(sealed, id, nonce()) {
                    *sealed = fresh;
                    count += 1;
                }
            }
        }
        count
    }

    /// The subscription that delivers to `url` (a normalised webhook URL), other than `except`.
    pub fn with_url(&self, url: &str, except: Option<&str>) -> Option<&StoredSubscription> {
        self.subscriptions
            .iter()
            .find(|s| s.public.webhook_url == url && Some(s.public.id.as_str()) != except)
    }
}

impl StoredSubscription {
    /// The secrets that sign a delivery at `now`: the current one first, then the previous one while its
    /// overlap lasts.
    pub fn signing_secrets(&self, key: &StorageKey, now: i64) -> Result<Vec<SecretKey>, SealError> {
        self.signing_secrets_with(now, |sealed| self.open_secret(key, sealed))
    }

    /// The same secrets, each opened by `open` (the Worker's opens each sealed secret once per isolate).
    pub fn signing_secrets_with(
        &self,
        now: i64,
        open: impl FnMut(&Sealed) -> Result<SecretKey, SealError>,
    ) -> Result<Vec<SecretKey>, SealError> {
        let previous = self
            .previous_secret
            .iter()
            .filter(|p| p.expires_at > now)
            .map(|p| &p.sealed);
        std::iter::once(&self.secret).chain(previous).map(open).collect()
    }

    /// One of the subscription's sealed secrets, opened with `key`.
    pub fn open_secret(&self, key: &StorageKey, sealed: &Sealed) -> Result<SecretKey, SealError> {
        SecretKey::parse(&key.open(sealed, &self.public.id)?).map_err(|_| SealError::Tampered)
    }
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

/// Storage of one user's subscriptions.
pub trait SubscriptionStore {
    /// The user's document; an empty one if the user has none.
    fn load(&self) -> Result<UserDocument, StoreError>;
    /// Replaces the user's document.
    fn save(&self, document: &UserDocument) -> Result<(), StoreError>;
}

/// An in-memory store of one user's document, held as JSON text as the object holds its rows. For native tests.
#[derive(Debug, Default)]
pub struct MemoryStore {
    text: RefCell<Option<String>>,
}

impl MemoryStore {
    /// The stored text: what a look at the raw storage would show.
    pub fn raw(&self) -> Option<String> {
        self.text.borrow().clone()
    }
}

impl SubscriptionStore for MemoryStore {
    fn load(&self) -> Result<UserDocument, StoreError> {
        match &*self.text.borrow() {
            Some(text) => serde_json::from_str(text).map_err(|e| StoreError(e.to_string())),
            None => Ok(UserDocument::default()),
        }
    }

    fn save(&self, document: &UserDocument) -> Result<(), StoreError> {
        let text = serde_json::to_string(document).map_err(|e| StoreError(e.to_string()))?;
        *self.text.borrow_mut() = Some(text);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::validate::EventSelector;

    #[test]
    fn a_stored_subscription_reads_back_as_written_and_as_earlier_versions_wrote_it() {
        let key = StorageKey::from_base64(&crate::protocol::base64::encode(&[3; 32])).unwrap();
        let mut stored = StoredSubscription {
            public: Subscription::new(
                "sub_1".into(),
                "https://example.com/".into(),
                vec![EventSelector::All],
                "2026-12-04T10:00:00Z".into(),
            ),
            secret: key.seal("whsec_x", "sub_1", [4; 12]),
            previous_secret: Some(PreviousSecret {
                sealed: key.seal("whsec_y", "sub_1", [5; 12]),
                expires_at: 100,
            }),
        };
        stored.public.failing_since = Some("2026-12-04T10:01:00Z".into());
        let text = serde_json::to_string(&stored).unwrap();
        assert_eq!(serde_json::from_str::<StoredSubscription>(&text).unwrap(), stored);

        // One object, public fields and secret side by side; a row from before the deactivation reason, the
        // failure streak's start and rotation has none of them.
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["id"], "sub_1");
        assert!(value["secret"].is_object());
        for newer in ["deactivation_reason", "failing_since", "previous_secret"] {
            value.as_object_mut().unwrap().remove(newer);
        }
        let older: StoredSubscription = serde_json::from_value(value).unwrap();
        stored.public.failing_since = None;
        stored.previous_secret = None;
        assert_eq!(older, stored);
    }

    /// A subscription whose secret was rotated: `current` signs, and `previous` until 100, both sealed with `key`.
    fn rotated(key: &StorageKey, current: &SecretKey, previous: &SecretKey) -> StoredSubscription {
        StoredSubscription {
            public: Subscription::new(
                "sub_1".into(),
                "https://example.com/".into(),
                vec![EventSelector::All],
                String::new(),
            ),
            secret: key.seal(current.expose(), "sub_1", [4; 12]),
            previous_secret: Some(PreviousSecret {
                sealed: key.seal(previous.expose(), "sub_1", [5; 12]),
                expires_at: 100,
            }),
        }
    }

    #[test]
    fn the_previous_secret_signs_until_its_overlap_ends() {
        let key = StorageKey::from_base64(&crate::protocol::base64::encode(&[3; 32])).unwrap();
        let (current, previous) = (SecretKey::generate([1; 32]), SecretKey::generate([2; 32]));
        let stored = rotated(&key, &current, &previous);
        let names = |now| {
            stored
                .signing_secrets(&key, now)
                .unwrap()
                .iter()
                .map(|s| s.expose().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(99), vec![current.expose(), previous.expose()]);
        assert_eq!(names(100), vec![current.expose()]);
        let other = StorageKey::from_base64(&crate::protocol::base64::encode(&[9; 32])).unwrap();
        assert_eq!(
            stored.signing_secrets(&other, 0).unwrap_err(),
            SealError::UnknownKey(key.id().to_owned(), other.id().to_owned())
        );
    }

    #[test]
    fn a_given_opener_is_asked_for_the_secrets_that_sign_in_their_order_and_its_failure_is_the_answer() {
        let key = StorageKey::from_base64(&crate::protocol::base64::encode(&[3; 32])).unwrap();
        let stored = rotated(&key, &SecretKey::generate([1; 32]), &SecretKey::generate([2; 32]));
        let asked = |now| {
            let mut nonces = Vec::new();
            let opened = stored.signing_secrets_with(now, |sealed| {
                nonces.push(sealed.nonce.clone());
                stored.open_secret(&key, sealed)
            });
            (nonces, opened.map(|k| k.len()))
        };
        let current = stored.secret.nonce.clone();
        let previous = stored.previous_secret.as_ref().unwrap().sealed.nonce.clone();
        assert_eq!(asked(99), (vec![current.clone(), previous], Ok(2)));
        assert_eq!(asked(100), (vec![current], Ok(1)));
        assert_eq!(
            stored
                .signing_secrets_with(0, |_| Err(SealError::Tampered))
                .unwrap_err(),
            SealError::Tampered
        );
    }

    #[test]
    fn a_rotated_storage_key_reseals_every_secret_once_and_keeps_what_opens_under_neither() {
        let b64 = |n: u8| crate::protocol::base64::encode(&[n; 32]);
        let old = StorageKey::from_base64(&b64(1)).unwrap();
        let stranger = StorageKey::from_base64(&b64(7)).unwrap();
        let sub = |id: &str, key: &StorageKey, previous: bool| StoredSubscription {
            public: Subscription::new(
                id.into(),
                format!("https://example.com/{id}"),
                vec![EventSelector::All],
                String::new(),
            ),
            secret: key.seal(SecretKey::generate([4; 32]).expose(), id, [4; 12]),
            previous_secret: previous.then(|| PreviousSecret {
                sealed: key.seal(SecretKey::generate([5; 32]).expose(), id, [5; 12]),
                expires_at: 100,
            }),
        };
        let mut document = UserDocument {
            subscriptions: vec![
                sub("sub_1", &old, true),
                sub("sub_2", &old, false),
                sub("sub_3", &stranger, false),
            ],
        };
        let ring = StorageKey::from_base64(&b64(2))
            .unwrap()
            .with_previous(&b64(1))
            .unwrap();
        assert_eq!(document.reseal(&ring, || [6; 12]), 3);
        let current = StorageKey::from_base64(&b64(2)).unwrap();
        let opened = |s: &StoredSubscription| s.signing_secrets(&current, 0).map(|k| k.len());
        assert_eq!(opened(&document.subscriptions[0]), Ok(2));
        assert_eq!(opened(&document.subscriptions[1]), Ok(1));
        assert!(matches!(
            opened(&document.subscriptions[2]),
            Err(SealError::UnknownKey(..))
        ));
        assert_eq!(document.reseal(&ring, || [6; 12]), 0, "nothing is re-sealed twice");
    }
}
