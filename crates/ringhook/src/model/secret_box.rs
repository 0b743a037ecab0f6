//! Subscription secrets at rest: sealed with AES-256-GCM under the service's storage key, bound to the
//! subscription id (as associated data) so a sealed secret cannot be moved to another subscription.
//!
//! The storage key can be rotated: each sealed value names the key that sealed it by a key id (a short hash of
//! the key, which tells nothing about it), the keyring holds the current key (`SECRETS_KEY`) and the previous
//! one (`SECRETS_KEY_PREVIOUS`) while values sealed under it remain, and the user's object re-seals such values
//! under the current key the next time it reads them.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::protocol::base64;

/// A sealed secret as stored: base64 nonce and ciphertext (with its tag), and the id of the key that sealed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// 12 random bytes, base64.
    pub nonce: String,
    /// AES-256-GCM ciphertext and tag, base64.
    pub ciphertext: String,
    /// The sealing key's id ([`StorageKey::id`]); absent in values sealed before keys had ids, which are tried
    /// under each key of the ring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// The storage key could not be used, or a sealed secret did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The configured key is not base64 of 32 bytes.
    #[error("SECRETS_KEY must be base64 of 32 bytes")]
    BadKey,
    /// The sealed value was altered, moved, or sealed under another key.
    #[error("a stored secret does not open under SECRETS_KEY (altered, moved, or the key changed)")]
    Tampered,
    /// The sealed value names a key that is neither the current nor the previous one.
    #[error("a stored secret was sealed under key {0}, which is neither SECRETS_KEY ({1}) nor SECRETS_KEY_PREVIOUS: set SECRETS_KEY_PREVIOUS to that key until every secret is re-sealed")]
    UnknownKey(String, String),
}

/// One AES-256-GCM key and its id.
#[derive(Clone)]
struct Key {
    id: String,
    cipher: Aes256Gcm,
}

impl Key {
    fn from_base64(text: &str) -> Result<Self, SealError> {
        let bytes = base64::decode(text.trim())
            .filter(|b| b.len() == 32)
            .ok_or(SealError::BadKey)?;
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| SealError::BadKey)?;
        let digest = Sha256::new()
            .chain_update(b"ringhook storage key id\0")
            .chain_update(&bytes)
            .finalize();
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self { id, cipher })
    }

    fn open(&self, nonce: &[u8], ciphertext: &[u8], aad: &str) -> Result<String, SealError> {
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SealError::Tampered)?;
        String::from_utf8(plain).map_err(|_| SealError::Tampered)
    }
}

/// The keys that seal secrets: the current one, which seals, and the previous one during a rotation, which
/// only opens. `Debug` shows the key ids, never the keys.
#[derive(Clone)]
pub struct StorageKey {
    current: Key,
    previous: Option<Key>,
}

impl std::fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StorageKey({}", self.current.id)?;
        if let Some(previous) = &self.previous {
            write!(f, ", previous {}", previous.id)?;
        }
        f.write_str(")")
    }
}

impl StorageKey {
    /// The key from its configured form: base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        Ok(Self {
            current: Key::from_base64(text)?,
            previous: None,
        })
    }

    /// The same key with `previous` (base64 of 32 bytes) also able to open what it sealed.
    pub fn with_previous(self, previous: &str) -> Result<Self, SealError> {
        let previous = Key::from_base64(previous)?;
        Ok(Self {
            previous: (previous.id != self.current.id).then_some(previous),
            ..self
        })
    }

    /// The current key's id: 8 hex digits of a hash of the key.
    pub fn id(&self) -> &str {
        &self.current.id
    }

    /// The previous key's id, while there is one.
    pub fn previous_id(&self) -> Option<&str> {
        self.previous.as_ref().map(|k| k.id.as_str())
    }

    /// Whether `sealed` was sealed under the current key (and so needs no re-sealing).
    pub fn is_current(&self, sealed: &Sealed) -> bool {
        sealed.key_id.as_deref() == Some(self.current.id.as_str())
    }

    /// Seals `secret` for the subscription `id` with a fresh random `nonce`, under the current key.
    pub fn seal(&self, secret: &str, id: &str, nonce: [u8; 12]) -> Sealed {
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: id.as_bytes(),
                },
            )
            .unwrap_or_else(|_| unreachable!("AES-GCM encrypts messages of this size"));
        Sealed {
            nonce: base64::encode(&nonce),
            ciphertext: base64::encode(&ciphertext),
            key_id: Some(self.current.id.clone()),
        }
    }

    /// Opens a secret sealed for the subscription `id`, under the key its id names (a value without a key id is
    /// tried under the current key, then the previous one).
    pub fn open(&self, sealed: &Sealed, id: &str) -> Result<String, SealError> {
        let nonce = base64::decode(&sealed.nonce)
            .filter(|n| n.len() == 12)
            .ok_or(SealError::Tampered)?;
        let ciphertext = base64::decode(&sealed.ciphertext).ok_or(SealError::Tampered)?;
        let keys = std::iter::once(&self.current).chain(&self.previous);
        match &sealed.key_id {
            Some(key_id) => keys
                .into_iter()
                .find(|k| k.id == *key_id)
                .ok_or_else(|| SealError::UnknownKey(key_id.clone(), self.current.id.clone()))?
                .open(&nonce, &ciphertext, id),
            None => keys
                .into_iter()
                .find_map(|k| k.open(&nonce, &ciphertext, id).ok())
                .ok_or(SealError::Tampered),
        }
    }

    /// `sealed` under the current key: `None` if it is already there, else the value re-sealed with `nonce`.
    pub fn reseal(&self, sealed: &Sealed, id: &str, nonce: [u8; 12]) -> Result<Option<Sealed>, SealError> {
        if self.is_current(sealed) {
            return Ok(None);
        }
        Ok(Some(self.seal(&self.open(sealed, id)?, id, nonce)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> StorageKey {
        StorageKey::from_base64(&base64::encode(&[n; 32])).unwrap()
    }

    #[test]
    fn sealed_secrets_open_only_for_their_subscription_and_key() {
        let sealed = key(1).seal("whsec_abc", "sub_1", [9; 12]);
        assert!(!sealed.ciphertext.contains("whsec"));
        assert_eq!(key(1).open(&sealed, "sub_1").unwrap(), "whsec_abc");
        assert_eq!(key(1).open(&sealed, "sub_2"), Err(SealError::Tampered));
        assert_eq!(
            key(2).open(&sealed, "sub_1"),
            Err(SealError::UnknownKey(key(1).id().to_owned(), key(2).id().to_owned()))
        );
        let mut forged = sealed.clone();
        forged.key_id = Some(key(2).id().to_owned());
        assert_eq!(key(2).open(&forged, "sub_1"), Err(SealError::Tampered));
        let mut altered = sealed.clone();
        altered.ciphertext = base64::encode(&[0; 25]);
        assert_eq!(key(1).open(&altered, "sub_1"), Err(SealError::Tampered));
    }

    #[test]
    fn keys_must_be_32_bytes_and_never_print() {
        assert_eq!(StorageKey::from_base64("c2hvcnQ=").unwrap_err(), SealError::BadKey);
        assert_eq!(StorageKey::from_base64("not base64!").unwrap_err(), SealError::BadKey);
        let both = key(2).with_previous(&base64::encode(&[1; 32])).unwrap();
        assert_eq!(
            format!("{both:?}"),
            format!("StorageKey({}, previous {})", key(2).id(), key(1).id())
        );
        assert!(!format!("{both:?}").contains(&base64::encode(&[1; 32])));
    }

    #[test]
    fn key_ids_are_short_distinct_and_stable() {
        assert_eq!(key(1).id().len(), 8);
        assert!(key(1).id().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(key(1).id(), key(1).id());
        assert_ne!(key(1).id(), key(2).id());
        assert_eq!(key(1).seal("s", "sub_1", [0; 12]).key_id.as_deref(), Some(key(1).id()));
    }

    #[test]
    fn during_a_rotation_values_under_either_key_open_and_new_ones_use_the_current_key() {
        let old = key(1).seal("whsec_old", "sub_1", [9; 12]);
        let ring = key(2).with_previous(&base64::encode(&[1; 32])).unwrap();
        assert_eq!(ring.open(&old, "sub_1").unwrap(), "whsec_old");
        assert!(!ring.is_current(&old));
        let resealed = ring.reseal(&old, "sub_1", [8; 12]).unwrap().expect("re-sealed");
        assert!(ring.is_current(&resealed));
        assert_eq!(key(2).open(&resealed, "sub_1").unwrap(), "whsec_old");
        assert_eq!(ring.reseal(&resealed, "sub_1", [7; 12]).unwrap(), None);
        // The rotation finished: the previous key is gone, and what it sealed says which key it needs.
        assert_eq!(
            key(2).open(&old, "sub_1"),
            Err(SealError::UnknownKey(key(1).id().to_owned(), key(2).id().to_owned()))
        );
    }

    #[test]
    fn values_sealed_before_key_ids_open_under_either_key() {
        let mut legacy = key(1).seal("whsec_legacy", "sub_1", [9; 12]);
        legacy.key_id = None;
        assert_eq!(key(1).open(&legacy, "sub_1").unwrap(), "whsec_legacy");
        let ring = key(2).with_previous(&base64::encode(&[1; 32])).unwrap();
        assert_eq!(ring.open(&legacy, "sub_1").unwrap(), "whsec_legacy");
        assert!(ring.reseal(&legacy, "sub_1", [8; 12]).unwrap().is_some());
        assert_eq!(key(2).open(&legacy, "sub_1"), Err(SealError::Tampered));
        let stored: Sealed = serde_json::from_str(r#"{"nonce":"AAAAAAAAAAAAAAAA","ciphertext":"AA=="}"#).unwrap();
        assert_eq!(stored.key_id, None);
    }

    #[test]
    fn the_previous_key_alone_never_seals() {
        let same = key(1).with_previous(&base64::encode(&[1; 32])).unwrap();
        assert_eq!(
            same.previous_id(),
            None,
            "a previous key equal to the current one is the current one"
        );
        let ring = key(2).with_previous(&base64::encode(&[1; 32])).unwrap();
        assert_eq!(ring.seal("s", "sub_1", [0; 12]).key_id.as_deref(), Some(key(2).id()));
    }
}
