//! The master key: it wraps every subject key and never enters the database.
//!
//! It lives in a key file (created owner-only on first run) or in the
//! `STEWARD_MASTER_KEY` environment variable, base64-encoded. The store keeps
//! a check value sealed under it, so a wrong key is refused at start-up
//! instead of silently making new keys.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use zeroize::Zeroizing;

use crate::seal::{SealError, SecretKey};

const FILE_PREFIX: &str = "steward-master-key-v1:";
const CHECK_PLAINTEXT: &[u8] = b"steward master key check v1";

/// What went wrong with the master key.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// The key file could not be read or written.
    #[error("master key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key text is not a key.
    #[error(
        "{origin} does not hold a Steward master key (expected `{FILE_PREFIX}<base64 of 32 bytes>`)"
    )]
    Malformed {
        /// Where the text came from.
        origin: String,
    },
    /// No randomness to make a key.
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// The key that wraps every subject key.
#[derive(Clone, Debug)]
pub struct MasterKey(SecretKey);

impl MasterKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, MasterKeyError> {
        Ok(Self(SecretKey::generate()?))
    }

    /// Parses the key from its text form (`steward-master-key-v1:<base64>`,
    /// or bare base64 as in an environment variable).
    pub fn parse(text: &str, origin: &str) -> Result<Self, MasterKeyError> {
        let malformed = || MasterKeyError::Malformed {
            origin: origin.to_owned(),
        };
        let text = text.trim();
        let encoded = text.strip_prefix(FILE_PREFIX).unwrap_or(text);
        let bytes = Zeroizing::new(BASE64.decode(encoded).map_err(|_| malformed())?);
        SecretKey::from_bytes(&bytes)
            .map(Self)
            .ok_or_else(malformed)
    }

    /// The key's text form.
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("{FILE_PREFIX}{}", BASE64.encode(self.0.expose())))
    }

    /// Reads a key file.
    pub fn read_file(path: &Path) -> Result<Self, MasterKeyError> {
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| MasterKeyError::Io {
                    path: path.to_owned(),
                    source,
                })?,
            );
        Self::parse(&text, &path.display().to_string())
    }

    /// Generates a key and writes it to a new file readable by its owner only.
    /// Refuses to overwrite an existing file.
    pub fn create_file(path: &Path) -> Result<Self, MasterKeyError> {
        let io = |source| MasterKeyError::Io {
            path: path.to_owned(),
            source,
        };
        let key = Self::generate()?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io)?;
        writeln!(file, "{}", key.to_text().as_str()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(key)
    }

    /// The key itself, for deriving other keys from it (backups).
    pub(crate) fn secret(&self) -> &SecretKey {
        &self.0
    }

    /// Wraps a subject key for storage, bound to its subject.
    pub fn wrap(&self, subject_key: &SecretKey, subject: &str) -> Result<Vec<u8>, SealError> {
        self.0.encrypt(subject_key.expose(), subject.as_bytes())
    }

    /// Unwraps a stored subject key.
    pub fn unwrap_key(&self, wrapped: &[u8], subject: &str) -> Result<SecretKey, SealError> {
        let bytes = self.0.decrypt(wrapped, subject.as_bytes())?;
        SecretKey::from_bytes(&bytes).ok_or(SealError::Format)
    }

    /// A value the store keeps to recognise this key later.
    pub fn check_value(&self) -> Result<Vec<u8>, SealError> {
        self.0.encrypt(CHECK_PLAINTEXT, b"check")
    }

    /// Whether `check` was made by [`MasterKey::check_value`] with this key.
    pub fn matches(&self, check: &[u8]) -> bool {
        self.0
            .decrypt(check, b"check")
            .is_ok_and(|text| text.as_slice() == CHECK_PLAINTEXT)
    }

    /// Seals an integration's credential, bound to its name so that a
    /// sealed credential cannot be moved to another integration.
    pub fn seal_credential(&self, name: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        self.0.encrypt(plaintext, &credential_aad(name))
    }

    /// Opens what [`MasterKey::seal_credential`] sealed for `name`.
    pub fn open_credential(
        &self,
        name: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        self.0.decrypt(sealed, &credential_aad(name))
    }
}

fn credential_aad(name: &str) -> Vec<u8> {
    [b"credential\0".as_slice(), name.as_bytes()].concat()
}

/// A change of master key, as [`KeyVault::rotate_master_key`] applies it:
/// every subject key and credential is opened with the old key and sealed
/// again with the new one.
///
/// [`KeyVault::rotate_master_key`]: crate::KeyVault::rotate_master_key
#[derive(Debug)]
pub struct KeyRotation {
    old: MasterKey,
    new: MasterKey,
    new_check: Vec<u8>,
}

impl KeyRotation {
    /// A rotation from `old` (the key in force) to `new`.
    pub fn new(old: MasterKey, new: MasterKey) -> Result<Self, SealError> {
        let new_check = new.check_value()?;
        Ok(Self {
            old,
            new,
            new_check,
        })
    }

    /// Whether `check`, the value in force, is the old key's.
    pub fn old_key_in_force(&self, check: &[u8]) -> bool {
        self.old.matches(check)
    }

    /// The check value to put in force.
    pub fn new_check(&self) -> &[u8] {
        &self.new_check
    }

    /// A subject key wrapped under the old key, wrapped under the new one.
    pub fn rewrap_subject_key(&self, subject: &str, wrapped: &[u8]) -> Result<Vec<u8>, SealError> {
        self.new
            .wrap(&self.old.unwrap_key(wrapped, subject)?, subject)
    }

    /// A credential sealed under the old key, sealed under the new one.
    pub fn reseal_credential(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        self.new
            .seal_credential(name, &self.old.open_credential(name, sealed)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_owner_only_and_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("steward.key");
        let key = MasterKey::create_file(&path).expect("creates");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let read = MasterKey::read_file(&path).expect("reads");
        assert!(read.matches(&key.check_value().expect("check")));
        assert!(
            MasterKey::create_file(&path).is_err(),
            "never overwrites a key"
        );
    }

    #[test]
    fn another_key_does_not_match() {
        let key = MasterKey::generate().expect("key");
        let other = MasterKey::generate().expect("key");
        assert!(!other.matches(&key.check_value().expect("check")));
    }

    #[test]
    fn a_rotation_moves_keys_and_credentials_to_the_new_key() {
        let (old, new) = (
            MasterKey::generate().expect("key"),
            MasterKey::generate().expect("key"),
        );
        let subject_key = SecretKey::generate().expect("key");
        let wrapped = old.wrap(&subject_key, "person-1").expect("wraps");
        let sealed = old.seal_credential("mqtt", b"hunter2").expect("seals");
        let rotation = KeyRotation::new(old.clone(), new.clone()).expect("rotation");
        assert!(rotation.old_key_in_force(&old.check_value().expect("check")));
        assert!(new.matches(rotation.new_check()));

        let rewrapped = rotation
            .rewrap_subject_key("person-1", &wrapped)
            .expect("rewraps");
        assert_eq!(
            new.unwrap_key(&rewrapped, "person-1")
                .expect("opens")
                .expose(),
            subject_key.expose()
        );
        assert!(old.unwrap_key(&rewrapped, "person-1").is_err());
        let resealed = rotation
            .reseal_credential("mqtt", &sealed)
            .expect("reseals");
        assert_eq!(
            new.open_credential("mqtt", &resealed)
                .expect("opens")
                .as_slice(),
            b"hunter2"
        );
        assert!(
            new.open_credential("imap", &resealed).is_err(),
            "bound to its integration"
        );
    }

    #[test]
    fn malformed_keys_name_their_origin() {
        let error = MasterKey::parse("not a key", "STEWARD_MASTER_KEY").expect_err("malformed");
        assert!(error.to_string().contains("STEWARD_MASTER_KEY"));
        assert!(MasterKey::parse("c2hvcnQ=", "x").is_err(), "too short");
    }
}
