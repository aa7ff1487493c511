//! Backups: the raw log, the subject keys and the integration credentials
//! in one encrypted archive.
//!
//! An archive holds what a store cannot rebuild: every event exactly as
//! stored (personal parts still sealed under their subjects' keys) and every
//! subject key as stored (wrapped under the master key, or the tombstone of
//! an erased subject), and every integration credential as sealed under the
//! master key. Read models are not in it: they are rebuilt from the
//! log after a restore.
//!
//! ```text
//!   {"format":"steward-backup","version":2,…,"salt":…,"key_check":…,"sha256":…}\n
//!   XChaCha20-Poly1305( NDJSON body ), associated data = the header line
//! ```
//!
//! The first line is a plain JSON [`BackupHeader`]; the rest is the body
//! sealed under a key derived (HKDF-SHA256, random salt per archive) from the
//! master key, with the header line as associated data so that it cannot be
//! altered either. The body is NDJSON: the subject keys first, then the
//! credentials, then the events in global order. Without the master key an archive is useless; with
//! the wrong one it is refused as such (the header's `key_check`), and a
//! damaged one is refused as corrupt (authentication, then the body's
//! SHA-256 and counts).
//!
//! Consistency: the head is read first and only events up to it are
//! written; the keys are read after the events, so every key those events
//! need is there, and a subject erased while the backup ran is erased in the
//! archive too (its data reads as erased after a restore, even when its
//! `SubjectErased` event came after the head).
//!
//! Restoring writes into an empty store only, preserving event ids, stream
//! versions, metadata, recording times and global positions.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use steward_events::{Position, RecordedEvent, StoreError, SubjectId};
use zeroize::Zeroizing;

use crate::log::StoredKey;
use crate::master_key::MasterKey;
use crate::seal::{KEY_LEN, SealError, SecretKey};
use crate::store::Store;

/// The `format` of every archive's header.
pub const FORMAT: &str = "steward-backup";
/// The archive layout this build writes; it reads this one and every
/// earlier one (version 1 had no credentials).
pub const VERSION: u32 = 2;

const KEY_CHECK_PLAINTEXT: &[u8] = b"steward backup key check v1";
const PAGE: usize = 500;
const SALT_LEN: usize = 16;

/// Why a backup could not be written or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The input is not a Steward backup at all.
    #[error("not a Steward backup: {0}")]
    NotABackup(String),
    /// The archive was written by a newer layout.
    #[error(
        "backup format version {0} is not supported (this build reads versions 1 to {VERSION})"
    )]
    UnsupportedVersion(u32),
    /// The master key is not the one the archive was made with.
    #[error(
        "this backup was made under a different master key: restore needs the key file \
         of the instance that made it"
    )]
    WrongKey,
    /// The archive was damaged or altered.
    #[error("the backup is corrupted: {0}")]
    Corrupt(String),
    /// The target store already holds events or keys.
    #[error("restore needs an empty store, but this one already holds {0}")]
    NotEmpty(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Encryption failed (no randomness).
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// The plain first line of an archive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupHeader {
    /// Always [`FORMAT`].
    pub format: String,
    /// The layout version, [`VERSION`].
    pub version: u32,
    /// When the backup was made.
    pub created_at: DateTime<Utc>,
    /// The position of the last event in it, if any.
    pub head: Option<Position>,
    /// How many events it holds.
    pub event_count: u64,
    /// How many subject keys (and tombstones) it holds.
    pub key_count: u64,
    /// How many integration credentials it holds.
    #[serde(default)]
    pub credential_count: u64,
    /// The HKDF salt of the archive key (base64).
    pub salt: String,
    /// A constant sealed under the archive key (base64): tells a wrong
    /// master key from a damaged archive.
    pub key_check: String,
    /// SHA-256 of the plain body (hex).
    pub sha256: String,
}

/// One line of the body.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    /// A subject key: `wrapped` (base64) or erased.
    Key {
        subject: SubjectId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wrapped: Option<String>,
    },
    /// An integration's credential, `sealed` (base64) under the master key.
    Credential { name: String, sealed: String },
    /// An event as stored.
    Event(Box<RecordedEvent>),
}

/// The key an archive's body is sealed under: HKDF-SHA256 of the master key
/// with the archive's salt, bound to its purpose.
fn archive_key(master: &MasterKey, salt: &[u8]) -> Result<SecretKey, SealError> {
    let mut okm = Zeroizing::new([0u8; KEY_LEN]);
    Hkdf::<Sha256>::new(Some(salt), master.secret().expose())
        .expand(b"steward backup v1", okm.as_mut())
        .map_err(|_| SealError::Format)?;
    SecretKey::from_bytes(okm.as_ref()).ok_or(SealError::Format)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut text, byte| {
            let _ = write!(text, "{byte:02x}");
            text
        })
}

fn json_line(line: &Line, body: &mut Vec<u8>) -> Result<(), BackupError> {
    serde_json::to_writer(&mut *body, line).map_err(StoreError::backend)?;
    body.push(b'\n');
    Ok(())
}

impl Store {
    /// Writes a consistent, encrypted archive of the log and the subject
    /// keys (see the [module docs](self)) and returns its header.
    #[tracing::instrument(skip_all, err)]
    pub async fn write_backup(
        &self,
        out: &mut (impl std::io::Write + Send),
    ) -> Result<BackupHeader, BackupError> {
        let head = self.log().head().await?;
        let mut events_body = Vec::new();
        let mut event_count = 0u64;
        if let Some(head) = head {
            let mut after = Position::ORIGIN;
            'pages: loop {
                let page = self.log().read_all(after, PAGE).await?;
                if page.is_empty() {
                    break;
                }
                for event in page {
                    if event.global_position > head {
                        break 'pages;
                    }
                    after = event.global_position;
                    event_count += 1;
                    json_line(&Line::Event(Box::new(event)), &mut events_body)?;
                }
                if after >= head {
                    break;
                }
            }
        }
        // After the events: every key they were sealed under exists by now.
        let mut keys = self.vault().all_subject_keys().await?;
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        let mut body = Vec::with_capacity(events_body.len() + keys.len() * 128);
        for (subject, key) in &keys {
            let wrapped = match key {
                StoredKey::Wrapped(bytes) => Some(BASE64.encode(bytes)),
                StoredKey::Erased => None,
            };
            json_line(
                &Line::Key {
                    subject: subject.clone(),
                    wrapped,
                },
                &mut body,
            )?;
        }
        let credentials = self.vault().credentials().await?;
        for credential in &credentials {
            json_line(
                &Line::Credential {
                    name: credential.name.clone(),
                    sealed: BASE64.encode(&credential.sealed),
                },
                &mut body,
            )?;
        }
        body.extend_from_slice(&events_body);

        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|e| SealError::Random(e.to_string()))?;
        let key = archive_key(self.master(), &salt)?;
        let header = BackupHeader {
            format: FORMAT.to_owned(),
            version: VERSION,
            created_at: Utc::now(),
            head,
            event_count,
            key_count: keys.len() as u64,
            credential_count: credentials.len() as u64,
            salt: BASE64.encode(salt),
            key_check: BASE64.encode(key.encrypt(KEY_CHECK_PLAINTEXT, b"check")?),
            sha256: hex(&Sha256::digest(&body)),
        };
        let mut header_line = serde_json::to_vec(&header).map_err(StoreError::backend)?;
        header_line.push(b'\n');
        let sealed = key.encrypt(&body, &header_line)?;
        let io = |e: std::io::Error| BackupError::Store(StoreError::backend(e));
        out.write_all(&header_line).map_err(io)?;
        out.write_all(&sealed).map_err(io)?;
        out.flush().map_err(io)?;
        Ok(header)
    }

    /// Restores an archive made by [`Store::write_backup`] under the same
    /// master key into this store, and returns the archive's header.
    /// Everything is checked before anything is written.
    ///
    /// The store must be empty, or hold exactly what an earlier restore of
    /// this same archive wrote before it stopped (its first events, and
    /// keys and credentials as the archive has them): then the restore
    /// carries on from there. Anything else is [`BackupError::NotEmpty`].
    #[tracing::instrument(skip_all, err)]
    pub async fn restore_backup(&self, archive: &[u8]) -> Result<BackupHeader, BackupError> {
        let Contents {
            header,
            keys,
            credentials,
            events,
        } = open_archive(self.master(), archive)?;
        let restored = self.restored_so_far(&keys, &credentials, &events).await?;
        if restored > 0 {
            tracing::info!(
                restored,
                total = events.len(),
                "carrying on with a restore that stopped halfway"
            );
        }
        // Both are idempotent: a key or credential already restored is
        // written again as it is.
        self.vault().import_subject_keys(keys).await?;
        for (name, sealed) in credentials {
            self.vault()
                .put_credential(&name, &sealed, self.master_check())
                .await?;
        }
        let mut events = events.into_iter().skip(restored).peekable();
        while events.peek().is_some() {
            let batch: Vec<RecordedEvent> = events.by_ref().take(PAGE).collect();
            self.log().import(batch).await?;
        }
        Ok(header)
    }

    /// How many of the archive's events the store already holds, when all
    /// it holds is a beginning of the archive; refuses anything else.
    async fn restored_so_far(
        &self,
        keys: &[(SubjectId, StoredKey)],
        credentials: &[(String, Vec<u8>)],
        events: &[RecordedEvent],
    ) -> Result<usize, BackupError> {
        let foreign = |what: String| {
            BackupError::NotEmpty(format!(
                "{what}, which a restore of this archive did not write"
            ))
        };
        for (subject, key) in self.vault().all_subject_keys().await? {
            if !keys.iter().any(|(s, k)| *s == subject && *k == key) {
                return Err(foreign(format!("the key of {subject}")));
            }
        }
        for stored in self.vault().credentials().await? {
            if !credentials
                .iter()
                .any(|(name, sealed)| *name == stored.name && *sealed == stored.sealed)
            {
                return Err(foreign(format!("the credential of {}", stored.name)));
            }
        }
        let mut restored = 0;
        let mut after = Position::ORIGIN;
        loop {
            let page = self.log().read_all(after, PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(restored);
            };
            after = last.global_position;
            for event in page {
                let same = events.get(restored).is_some_and(|expected| {
                    expected.event_id == event.event_id
                        && expected.global_position == event.global_position
                });
                if !same {
                    return Err(foreign(format!(
                        "event {} at position {}",
                        event.event_id, event.global_position
                    )));
                }
                restored += 1;
            }
        }
    }
}

/// What an archive holds, checked.
struct Contents {
    header: BackupHeader,
    keys: Vec<(SubjectId, StoredKey)>,
    credentials: Vec<(String, Vec<u8>)>,
    events: Vec<RecordedEvent>,
}

/// Checks an archive completely (key, authentication, checksum, every
/// line) without writing anything, and returns its header: a restore can
/// refuse a wrong key before it touches a store.
pub fn verify(master: &MasterKey, archive: &[u8]) -> Result<BackupHeader, BackupError> {
    open_archive(master, archive).map(|contents| contents.header)
}

/// Reads an archive's header without the key (to tell what it is).
pub fn read_header(archive: &[u8]) -> Result<BackupHeader, BackupError> {
    split(archive).map(|(header, _, _)| header)
}

fn split(archive: &[u8]) -> Result<(BackupHeader, &[u8], &[u8]), BackupError> {
    let end = archive
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| BackupError::NotABackup("no header line".into()))?;
    let (header_line, sealed) = archive.split_at(end + 1);
    let header: BackupHeader = serde_json::from_slice(header_line)
        .map_err(|e| BackupError::NotABackup(format!("the header is not readable: {e}")))?;
    if header.format != FORMAT {
        return Err(BackupError::NotABackup(format!(
            "its format is {:?}",
            header.format
        )));
    }
    if !(1..=VERSION).contains(&header.version) {
        return Err(BackupError::UnsupportedVersion(header.version));
    }
    Ok((header, header_line, sealed))
}

fn open_archive(master: &MasterKey, archive: &[u8]) -> Result<Contents, BackupError> {
    let (header, header_line, sealed) = split(archive)?;
    let corrupt = |what: String| BackupError::Corrupt(what);
    let salt = BASE64
        .decode(&header.salt)
        .map_err(|e| corrupt(format!("salt: {e}")))?;
    let key = archive_key(master, &salt)?;
    let check = BASE64
        .decode(&header.key_check)
        .map_err(|e| corrupt(format!("key check: {e}")))?;
    if !key
        .decrypt(&check, b"check")
        .is_ok_and(|text| text.as_slice() == KEY_CHECK_PLAINTEXT)
    {
        return Err(BackupError::WrongKey);
    }
    let body = key.decrypt(sealed, header_line).map_err(|_| {
        corrupt("its contents or header were altered or cut short (authentication failed)".into())
    })?;
    if hex(&Sha256::digest(body.as_slice())) != header.sha256 {
        return Err(corrupt("the body does not match its checksum".into()));
    }
    let mut keys = Vec::new();
    let mut credentials: Vec<(String, Vec<u8>)> = Vec::new();
    let mut events = Vec::new();
    let mut seen: HashSet<SubjectId> = HashSet::new();
    for (number, line) in body.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let line: Line = serde_json::from_slice(line)
            .map_err(|e| corrupt(format!("line {} of the body: {e}", number + 1)))?;
        match line {
            Line::Key { subject, wrapped } => {
                let key = match wrapped {
                    Some(text) => StoredKey::Wrapped(
                        BASE64
                            .decode(text)
                            .map_err(|e| corrupt(format!("key of {subject}: {e}")))?,
                    ),
                    None => StoredKey::Erased,
                };
                if !seen.insert(subject.clone()) {
                    return Err(corrupt(format!("the key of {subject} appears twice")));
                }
                keys.push((subject, key));
            }
            Line::Credential { name, sealed } => {
                let sealed = BASE64
                    .decode(sealed)
                    .map_err(|e| corrupt(format!("credential of {name}: {e}")))?;
                if credentials.iter().any(|(seen, _)| *seen == name) {
                    return Err(corrupt(format!("the credential of {name} appears twice")));
                }
                credentials.push((name, sealed));
            }
            Line::Event(event) => {
                if events.last().is_some_and(|last: &RecordedEvent| {
                    last.global_position >= event.global_position
                }) {
                    return Err(corrupt("events are out of order".into()));
                }
                events.push(*event);
            }
        }
    }
    if keys.len() as u64 != header.key_count
        || credentials.len() as u64 != header.credential_count
        || events.len() as u64 != header.event_count
    {
        return Err(corrupt(format!(
            "it holds {} keys, {} credentials and {} events, its header says {}, {} and {}",
            keys.len(),
            credentials.len(),
            events.len(),
            header.key_count,
            header.credential_count,
            header.event_count
        )));
    }
    Ok(Contents {
        header,
        keys,
        credentials,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_key_depends_on_the_master_key_and_the_salt() {
        let master = MasterKey::generate().expect("key");
        let key = |master: &MasterKey, salt: &[u8]| archive_key(master, salt).expect("derives");
        let a = key(&master, b"salt-a");
        assert_eq!(a.expose(), key(&master, b"salt-a").expose());
        assert_ne!(a.expose(), key(&master, b"salt-b").expose());
        let other = MasterKey::generate().expect("key");
        assert_ne!(a.expose(), key(&other, b"salt-a").expose());
    }

    #[test]
    fn what_is_not_an_archive_says_so() {
        assert!(matches!(
            read_header(b"hello"),
            Err(BackupError::NotABackup(_))
        ));
        assert!(matches!(
            read_header(b"{\"format\":\"zip\"}\n"),
            Err(BackupError::NotABackup(_))
        ));
    }

    /// An archive as version 1 wrote it: no `credential_count`, no
    /// credential lines.
    fn version_1_archive(master: &MasterKey, body: &[u8]) -> Vec<u8> {
        let salt = [7u8; SALT_LEN];
        let key = archive_key(master, &salt).expect("derives");
        let header = serde_json::json!({
            "format": FORMAT, "version": 1, "created_at": Utc::now(), "head": null,
            "event_count": 0, "key_count": 1, "salt": BASE64.encode(salt),
            "key_check": BASE64.encode(key.encrypt(KEY_CHECK_PLAINTEXT, b"check").expect("seals")),
            "sha256": hex(&Sha256::digest(body)),
        });
        let mut archive = serde_json::to_vec(&header).expect("json");
        archive.push(b'\n');
        let sealed = key.encrypt(body, &archive).expect("seals");
        archive.extend_from_slice(&sealed);
        archive
    }

    #[test]
    fn version_1_archives_still_open() {
        let master = MasterKey::generate().expect("key");
        let archive = version_1_archive(&master, b"{\"key\":{\"subject\":\"person-1\"}}\n");
        let contents = open_archive(&master, &archive).expect("opens");
        assert_eq!(contents.header.version, 1);
        assert_eq!(contents.header.credential_count, 0);
        assert_eq!(contents.keys.len(), 1);
        assert!(contents.credentials.is_empty());

        let mut future = archive.clone();
        let at = future
            .windows(11)
            .position(|w| w == b"\"version\":1")
            .expect("version");
        future[at + 10] = b'9';
        assert!(matches!(
            read_header(&future),
            Err(BackupError::UnsupportedVersion(9))
        ));
    }
}
