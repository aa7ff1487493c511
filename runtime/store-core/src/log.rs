//! The two traits a backend implements.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use steward_events::{
    AppendResult, Direction, ExpectedVersion, NewEvent, Position, RecordedEvent, StoreError,
    StreamId, SubjectId,
};
use tokio::sync::watch;
use uuid::Uuid;

use crate::master_key::KeyRotation;

/// The append-only log of a backend. It stores envelopes exactly as given:
/// personal parts arrive sealed (the [`Store`](crate::Store) sees to it) and
/// are returned sealed. Input has been validated by the store.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Appends a validated, sealed batch atomically, with optimistic
    /// concurrency and idempotent retries (see
    /// [`EventStore::append`](steward_events::EventStore::append)).
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError>;

    /// Reads one stream.
    async fn read_stream(
        &self,
        stream: &StreamId,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Reads the global log after `after`. Must never return an event past
    /// one with a smaller position that may still commit; may therefore
    /// return a short page while later events exist (only an empty page
    /// means "nothing more for now").
    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The version of a stream's last event.
    async fn stream_version(&self, stream: &StreamId) -> Result<Option<u64>, StoreError>;

    /// The events recorded with this command id, in stream order.
    async fn events_of_command(&self, command_id: &str) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The position of the last committed event.
    async fn head(&self) -> Result<Option<Position>, StoreError>;

    /// Ticks whenever events may have been committed, by this process or
    /// another; subscribers also poll every [`EventLog::poll_interval`] in
    /// case a tick is lost.
    fn commits(&self) -> watch::Receiver<u64>;

    /// How often a live subscriber looks for new events without a tick.
    fn poll_interval(&self) -> Duration {
        Duration::from_millis(500)
    }

    /// Keeps `snapshot` as its stream's snapshot unless a newer one is kept
    /// already. Returns false when the backend keeps no snapshots.
    async fn save_snapshot(&self, snapshot: SnapshotRow) -> Result<bool, StoreError> {
        let _ = snapshot;
        Ok(false)
    }

    /// The stream's snapshot, if one is kept.
    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<SnapshotRow>, StoreError> {
        let _ = stream;
        Ok(None)
    }

    /// Takes the lease `name` for `holder`, or renews it if `holder` has it,
    /// until `ttl` from now by the database's clock. True if `holder` holds
    /// it now; false if another holder's lease has not expired.
    ///
    /// A backend without a table for leases (KurrentDB) grants every lease:
    /// run one `steward serve` per store there.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let _ = (name, holder, ttl);
        Ok(true)
    }

    /// Gives the lease up if `holder` has it.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let _ = (name, holder);
        Ok(())
    }

    /// Writes events exactly as another store of the same master key
    /// recorded them (a restore): ids, streams and versions, data, sealed
    /// personal parts, metadata, recording times and global positions
    /// (sequence positions, in increasing order, after every stored one) are
    /// kept. Atomic per call. A backend that cannot keep them refuses.
    async fn import(&self, events: Vec<RecordedEvent>) -> Result<(), StoreError> {
        let _ = events;
        Err(StoreError::backend(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "restoring a backup is not supported by this backend",
        )))
    }
}

/// An aggregate's state at a stream version, as a backend keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRow {
    /// The stream.
    pub stream_id: StreamId,
    /// The version of the last event folded into the state.
    pub stream_version: u64,
    /// The shape version of the state.
    pub state_version: u32,
    /// Salts the sealing key, as an event id does.
    pub snapshot_id: Uuid,
    /// The subjects of the personal data the state holds.
    pub subjects: Vec<SubjectId>,
    /// The state's JSON, sealed under `subjects` when there are any.
    pub state: Vec<u8>,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
}

/// A subject's key as the vault keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredKey {
    /// Wrapped (encrypted) under the master key.
    Wrapped(Vec<u8>),
    /// Destroyed: the subject was erased.
    Erased,
}

/// Where a backend keeps subject keys and the master-key check.
#[async_trait]
pub trait KeyVault: Send + Sync + 'static {
    /// Records `check` as the master-key check value unless one exists, and
    /// returns the value in force.
    async fn init_key_check(&self, check: &[u8]) -> Result<Vec<u8>, StoreError>;

    /// Whether a master-key check value is recorded (the store is not new).
    async fn has_key_check(&self) -> Result<bool, StoreError>;

    /// The keys of these subjects; a subject with no key is absent.
    async fn subject_keys(
        &self,
        subjects: &[SubjectId],
    ) -> Result<HashMap<SubjectId, StoredKey>, StoreError>;

    /// Stores keys for subjects that have none (never replacing a key, erased
    /// or not, so that racing writers agree) and returns the keys in force for
    /// all of them.
    ///
    /// `master_check` is the check value of the master key that wrapped
    /// `keys`: if another one is in force (the master key was rotated since
    /// this process opened the store), nothing is stored and the answer is
    /// [`StoreError::MasterKey`], so that no key is ever kept under a retired
    /// master key. The check and the inserts are one transaction that a
    /// rotation cannot interleave with.
    async fn create_subject_keys(
        &self,
        keys: Vec<(SubjectId, Vec<u8>)>,
        master_check: &[u8],
    ) -> Result<HashMap<SubjectId, StoredKey>, StoreError>;

    /// Destroys a subject's key for good (leaving a tombstone, so no new key
    /// can be made for them). Returns false if it was already destroyed.
    async fn destroy_subject_key(&self, subject: &SubjectId) -> Result<bool, StoreError>;

    /// Every subject key, erased ones included (for a backup).
    async fn all_subject_keys(&self) -> Result<Vec<(SubjectId, StoredKey)>, StoreError>;

    /// Stores keys exactly as given (a restore); a subject that has a key
    /// already keeps it. Atomic.
    async fn import_subject_keys(
        &self,
        keys: Vec<(SubjectId, StoredKey)>,
    ) -> Result<(), StoreError>;

    /// Keeps an integration's credential, sealed under the master key whose
    /// check value is `master_check` (refused as in
    /// [`KeyVault::create_subject_keys`] if another key is in force),
    /// replacing the one it had.
    async fn put_credential(
        &self,
        name: &str,
        sealed: &[u8],
        master_check: &[u8],
    ) -> Result<(), StoreError>;

    /// One integration's credential, still sealed.
    async fn credential(&self, name: &str) -> Result<Option<StoredCredential>, StoreError>;

    /// Every credential, still sealed, by name.
    async fn credentials(&self) -> Result<Vec<StoredCredential>, StoreError>;

    /// Forgets an integration's credential; false if there was none.
    async fn remove_credential(&self, name: &str) -> Result<bool, StoreError>;

    /// Rewraps every subject key and reseals every credential from
    /// `rotation`'s old master key to its new one and makes the new key's
    /// check value the one in force, all in one transaction; refused with
    /// [`StoreError::MasterKey`] if the old key is not the one in force.
    async fn rotate_master_key(&self, rotation: &KeyRotation) -> Result<Rotated, StoreError>;
}

/// What a vault answers when asked to store a key or credential sealed
/// under a master key that a rotation has retired since the caller opened
/// the store.
pub fn master_key_rotated() -> StoreError {
    StoreError::MasterKey(
        "the master key was rotated since this process opened the store; \
         restart it with the new key"
            .into(),
    )
}

/// What a vault answers when asked to rotate from a key not in force.
pub fn rotation_from_another_key() -> StoreError {
    StoreError::MasterKey(
        "the key to rotate from is not the one this store's keys are sealed under".into(),
    )
}

/// An integration's credential as the vault keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredential {
    /// The integration it is for.
    pub name: String,
    /// Sealed under the master key, bound to `name`.
    pub sealed: Vec<u8>,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

/// What a master-key rotation rewrapped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotated {
    /// Subject keys rewrapped (erased subjects have nothing to rewrap).
    pub subject_keys: u64,
    /// Credentials resealed.
    pub credentials: u64,
}

/// The sending side of [`EventLog::commits`], for backends.
#[derive(Debug, Clone)]
pub struct CommitNotifier {
    sender: watch::Sender<u64>,
}

impl Default for CommitNotifier {
    fn default() -> Self {
        Self {
            sender: watch::Sender::new(0),
        }
    }
}

impl CommitNotifier {
    /// Tells subscribers that events may have been committed.
    pub fn notify(&self) {
        self.sender
            .send_modify(|ticks| *ticks = ticks.wrapping_add(1));
    }

    /// A receiver for [`EventLog::commits`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.sender.subscribe()
    }
}
