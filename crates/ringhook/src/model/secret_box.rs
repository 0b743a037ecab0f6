//! Subscription secrets at rest: sealed with AES-256-GCM under the service's storage key, bound to the
//! subscription id (as associated data) so a sealed secret cannot be moved to another subscription.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use serde::{Deserialize, Serialize};

use crate::protocol::base64;

/// A sealed secret as stored: base64 nonce and ciphertext (with its tag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// 12 random bytes, base64.
    pub nonce: String,
    /// AES-256-GCM ciphertext and tag, base64.
    pub ciphertext: String,
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
}

/// The key that seals secrets. `Debug` never shows it.
#[derive(Clone)]
pub struct StorageKey(Aes256Gcm);

impl std::fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StorageKey(<redacted>)")
    }
}

impl StorageKey {
    /// The key from its configured form: base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        let bytes = base64::decode(text.trim())
            .filter(|b| b.len() == 32)
            .ok_or(SealError::BadKey)?;
        Aes256Gcm::new_from_slice(&bytes)
            .map(Self)
            .map_err(|_| SealError::BadKey)
    }

    /// Seals `secret` for the subscription `id` with a fresh random `nonce`.
    pub fn seal(&self, secret: &str, id: &str, nonce: [u8; 12]) -> Sealed {
        let ciphertext = self
            .0
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
        }
    }

    /// Opens a secret sealed for the subscription `id`.
    pub fn open(&self, sealed: &Sealed, id: &str) -> Result<String, SealError> {
        let nonce = base64::decode(&sealed.nonce)
            .filter(|n| n.len() == 12)
            .ok_or(SealError::Tampered)?;
        let ciphertext = base64::decode(&sealed.ciphertext).ok_or(SealError::Tampered)?;
        let plain = self
            .0
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| SealError::Tampered)?;
        String::from_utf8(plain).map_err(|_| SealError::Tampered)
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
        assert_eq!(key(2).open(&sealed, "sub_1"), Err(SealError::Tampered));
        let mut altered = sealed.clone();
        altered.ciphertext = base64::encode(&[0; 25]);
        assert_eq!(key(1).open(&altered, "sub_1"), Err(SealError::Tampered));
    }

    #[test]
    fn keys_must_be_32_bytes_and_never_print() {
        assert_eq!(StorageKey::from_base64("c2hvcnQ=").unwrap_err(), SealError::BadKey);
        assert_eq!(StorageKey::from_base64("not base64!").unwrap_err(), SealError::BadKey);
        assert_eq!(format!("{:?}", key(1)), "StorageKey(<redacted>)");
    }
}
