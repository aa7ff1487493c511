//! The cryptography of sealed personal data.
//!
//! Every subject has a random 256-bit key, kept wrapped (XChaCha20-Poly1305)
//! under the master key. An event's personal part is encrypted with
//! XChaCha20-Poly1305 under a content key derived with HKDF-SHA256 from the
//! keys of *all* its subjects and the event id, so destroying any one
//! subject's key makes the part unreadable for good. The event id and subjects
//! are bound as associated data: a sealed box cannot be moved to another event.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;
use steward_events::SubjectId;
use steward_events::envelope::SealedBox;
use uuid::Uuid;
use zeroize::Zeroizing;

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;
/// Size of every key: master, subject and content keys.
pub const KEY_LEN: usize = 32;

/// Why sealing or opening failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The ciphertext does not open under these keys (tampered, or wrong key).
    #[error("authentication failed: the data was altered or the key is wrong")]
    Authentication,
    /// The sealed box has an unknown format.
    #[error("unknown sealed format")]
    Format,
    /// The operating system gave no randomness.
    #[error("no randomness available: {0}")]
    Random(String),
}

/// A 256-bit secret key that is wiped from memory when dropped.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, SealError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(bytes.as_mut()).map_err(|e| SealError::Random(e.to_string()))?;
        Ok(Self(bytes))
    }

    /// A key from exactly [`KEY_LEN`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let array: [u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(Self(Zeroizing::new(array)))
    }

    /// The raw bytes.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_ref().into())
    }

    /// Encrypts `plaintext` with a random nonce, binding `aad`.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| SealError::Random(e.to_string()))?;
        let ciphertext = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SealError::Authentication)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(FORMAT_V1);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens what [`SecretKey::encrypt`] produced with the same `aad`.
    pub fn decrypt(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let (&format, rest) = sealed.split_first().ok_or(SealError::Format)?;
        if format != FORMAT_V1 || rest.len() < NONCE_LEN {
            return Err(SealError::Format);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::Authentication)
    }
}

/// The subjects of an event in canonical order (sorted, without duplicates),
/// which is the order their keys enter the content key.
pub fn canonical_subjects(subjects: &[SubjectId]) -> Vec<&SubjectId> {
    let mut canonical: Vec<&SubjectId> = subjects.iter().collect();
    canonical.sort();
    canonical.dedup();
    canonical
}

fn associated_data(event_id: Uuid, subjects: &[&SubjectId]) -> Vec<u8> {
    let mut aad = event_id.as_bytes().to_vec();
    for subject in subjects {
        aad.push(0);
        aad.extend_from_slice(subject.as_str().as_bytes());
    }
    aad
}

fn content_key(event_id: Uuid, keys: &[&SecretKey]) -> SecretKey {
    let mut ikm = Zeroizing::new(Vec::with_capacity(keys.len() * KEY_LEN));
    for key in keys {
        ikm.extend_from_slice(key.expose());
    }
    let mut okm = Zeroizing::new([0u8; KEY_LEN]);
    // HKDF-SHA256 can expand up to 8160 bytes; 32 always fits.
    let expanded = Hkdf::<Sha256>::new(Some(event_id.as_bytes()), &ikm)
        .expand(b"steward personal v1", okm.as_mut());
    debug_assert!(expanded.is_ok());
    SecretKey(okm)
}

/// Seals an event's personal part. `keys` are the subject keys in the order
/// of [`canonical_subjects`].
pub fn seal_personal(
    event_id: Uuid,
    subjects: &[&SubjectId],
    keys: &[&SecretKey],
    plaintext: &[u8],
) -> Result<SealedBox, SealError> {
    let aad = associated_data(event_id, subjects);
    content_key(event_id, keys)
        .encrypt(plaintext, &aad)
        .map(SealedBox)
}

/// Opens an event's personal part sealed by [`seal_personal`].
pub fn open_personal(
    event_id: Uuid,
    subjects: &[&SubjectId],
    keys: &[&SecretKey],
    sealed: &SealedBox,
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let aad = associated_data(event_id, subjects);
    content_key(event_id, keys).decrypt(&sealed.0, &aad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(name: &str) -> SubjectId {
        SubjectId::parse(name).expect("valid")
    }

    #[test]
    fn personal_data_opens_only_with_every_subject_key() {
        let (alice, bob) = (subject("person-alice"), subject("person-bob"));
        let (ka, kb) = (
            SecretKey::generate().expect("key"),
            SecretKey::generate().expect("key"),
        );
        let subjects = [&alice, &bob];
        let event_id = Uuid::now_v7();
        let sealed =
            seal_personal(event_id, &subjects, &[&ka, &kb], b"{\"name\":\"Dana\"}").expect("seals");
        assert!(
            !sealed.0.windows(4).any(|w| w == b"Dana"),
            "plaintext must not show"
        );

        let opened = open_personal(event_id, &subjects, &[&ka, &kb], &sealed).expect("opens");
        assert_eq!(opened.as_slice(), b"{\"name\":\"Dana\"}");

        let other = SecretKey::generate().expect("key");
        assert_eq!(
            open_personal(event_id, &subjects, &[&ka, &other], &sealed),
            Err(SealError::Authentication)
        );
        assert_eq!(
            open_personal(Uuid::now_v7(), &subjects, &[&ka, &kb], &sealed),
            Err(SealError::Authentication),
            "a box cannot move to another event"
        );
    }

    #[test]
    fn tampering_is_detected() {
        let key = SecretKey::generate().expect("key");
        let mut sealed = key.encrypt(b"secret", b"aad").expect("seals");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(key.decrypt(&sealed, b"aad"), Err(SealError::Authentication));
        assert_eq!(key.decrypt(&[9, 9, 9], b"aad"), Err(SealError::Format));
    }
}
