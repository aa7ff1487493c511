//! [`Store`]: a backend's log and vault made into the public event store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use steward_events::domain::subject::SubjectErased;
use steward_events::envelope::SealedBox;
use steward_events::{
    AppendResult, Direction, Erasure, EventStore, EventStream, ExpectedVersion, Metadata, NewEvent,
    Personal, Position, RecordedEvent, StoreError, StreamId, SubjectId, Upcasters,
};

use crate::key_cache::WriteKeyCache;
use crate::log::{EventLog, KeyVault, StoredKey};
use crate::master_key::MasterKey;
use crate::seal::{self, SealError, SecretKey};
use crate::subscribe::{CATCH_UP_BATCH, subscribe};
use crate::validate::{Limits, validate_batch};

/// How a [`Store`] treats what passes through it.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Size limits of events and batches.
    pub limits: Limits,
    /// The upcasters applied on every read.
    pub upcasters: Upcasters,
    /// How long a subject key used to seal is kept in memory for the next
    /// appends (never for reading); zero asks the vault every time.
    pub write_key_ttl: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            upcasters: Upcasters::default(),
            write_key_ttl: Duration::from_secs(5),
        }
    }
}

impl StoreOptions {
    /// Default limits and Steward's own upcasters.
    pub fn steward() -> Self {
        Self {
            upcasters: Upcasters::steward(),
            ..Self::default()
        }
    }
}

/// The public event store over any backend: validates and seals on the way
/// in, opens and upcasts on the way out. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    log: Arc<dyn EventLog>,
    vault: Arc<dyn KeyVault>,
    master: MasterKey,
    /// The check value in force when the store was opened: the vault
    /// refuses new keys sealed under a master key rotated out since.
    master_check: Vec<u8>,
    options: StoreOptions,
    write_keys: WriteKeyCache,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

fn sealing(error: SealError) -> StoreError {
    StoreError::backend(error)
}

impl Store {
    /// Opens a store over a backend's log and vault. The first open records a
    /// check value of `master`; every later open refuses any other key.
    pub async fn open(
        log: Arc<dyn EventLog>,
        vault: Arc<dyn KeyVault>,
        master: MasterKey,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        let check = master.check_value().map_err(sealing)?;
        let in_force = vault.init_key_check(&check).await?;
        if !master.matches(&in_force) {
            return Err(StoreError::MasterKey(
                "this store's keys were sealed under a different master key; \
                 point Steward at the key file it was first started with"
                    .into(),
            ));
        }
        let write_keys = WriteKeyCache::new(options.write_key_ttl);
        Ok(Self {
            inner: Arc::new(Inner {
                log,
                vault,
                master,
                master_check: in_force,
                options,
                write_keys,
            }),
        })
    }

    /// The backend's raw log, whose personal parts stay sealed (what the bus
    /// relay publishes).
    pub fn log(&self) -> &Arc<dyn EventLog> {
        &self.inner.log
    }

    /// The backend's key vault, whose keys stay wrapped.
    pub fn vault(&self) -> &Arc<dyn KeyVault> {
        &self.inner.vault
    }

    /// The master key, for the archives of [`crate::backup`].
    pub(crate) fn master(&self) -> &MasterKey {
        &self.inner.master
    }

    /// The check value of the master key, as recorded in the vault.
    pub(crate) fn master_check(&self) -> &[u8] {
        &self.inner.master_check
    }

    /// Opens events of this store's raw log read elsewhere (the bus relay
    /// publishes them with their personal parts sealed): unseals those parts
    /// with this store's keys, or marks them erased, and upcasts, exactly as
    /// every read of the store does.
    pub async fn open_events(
        &self,
        events: Vec<RecordedEvent>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.opened(events).await
    }

    /// Seals every plain personal part of a validated batch.
    async fn seal_batch(&self, events: &mut [NewEvent]) -> Result<(), StoreError> {
        let subjects: Vec<SubjectId> = events
            .iter()
            .filter(|e| e.personal.is_some())
            .flat_map(|e| e.metadata.subjects.iter().cloned())
            .collect();
        if subjects.is_empty() {
            return Ok(());
        }
        let keys = self.keys_for_writing(subjects).await?;
        for event in events.iter_mut() {
            let Some(Personal::Plain(value)) = &event.personal else {
                continue;
            };
            let subjects = seal::canonical_subjects(&event.metadata.subjects);
            let event_keys: Vec<&SecretKey> =
                subjects.iter().filter_map(|s| keys.get(*s)).collect();
            let plaintext = serde_json::to_vec(value).map_err(StoreError::backend)?;
            let sealed = seal::seal_personal(event.event_id, &subjects, &event_keys, &plaintext)
                .map_err(sealing)?;
            event.personal = Some(Personal::Sealed(sealed));
        }
        Ok(())
    }

    /// The unwrapped keys of `subjects`, creating keys for new subjects.
    pub(crate) async fn keys_for_writing(
        &self,
        mut subjects: Vec<SubjectId>,
    ) -> Result<HashMap<SubjectId, SecretKey>, StoreError> {
        subjects.sort();
        subjects.dedup();
        let cache = &self.inner.write_keys;
        let mut keys = HashMap::with_capacity(subjects.len());
        subjects.retain(|subject| match cache.get(subject) {
            Some(key) => {
                keys.insert(subject.clone(), key);
                false
            }
            None => true,
        });
        if subjects.is_empty() {
            return Ok(keys);
        }
        let vault = &self.inner.vault;
        let master = &self.inner.master;
        let mut stored = vault.subject_keys(&subjects).await?;
        let missing: Vec<&SubjectId> = subjects
            .iter()
            .filter(|s| !stored.contains_key(*s))
            .collect();
        if !missing.is_empty() {
            let mut fresh = Vec::with_capacity(missing.len());
            for subject in missing {
                let key = SecretKey::generate().map_err(sealing)?;
                fresh.push((
                    subject.clone(),
                    master.wrap(&key, subject.as_str()).map_err(sealing)?,
                ));
            }
            stored.extend(
                vault
                    .create_subject_keys(fresh, &self.inner.master_check)
                    .await?,
            );
        }
        for subject in subjects {
            match stored.get(&subject) {
                Some(StoredKey::Wrapped(wrapped)) => {
                    let key = unwrap_subject_key(master, wrapped, &subject)?;
                    cache.insert(subject.clone(), key.clone());
                    keys.insert(subject, key);
                }
                Some(StoredKey::Erased) | None => return Err(StoreError::SubjectErased(subject)),
            }
        }
        Ok(keys)
    }

    /// The unwrapped keys of those of `subjects` that have not been erased.
    pub(crate) async fn keys_for_reading(
        &self,
        subjects: &[SubjectId],
    ) -> Result<HashMap<SubjectId, SecretKey>, StoreError> {
        let mut keys = HashMap::new();
        if subjects.is_empty() {
            return Ok(keys);
        }
        for (subject, stored) in self.inner.vault.subject_keys(subjects).await? {
            if let StoredKey::Wrapped(wrapped) = stored {
                let key = unwrap_subject_key(&self.inner.master, &wrapped, &subject)?;
                keys.insert(subject, key);
            }
        }
        Ok(keys)
    }

    /// Opens sealed personal parts (or marks them erased) and upcasts.
    async fn open_batch(&self, events: &mut [RecordedEvent]) -> Result<(), StoreError> {
        let mut subjects: Vec<SubjectId> = events
            .iter()
            .filter(|e| matches!(e.personal, Some(Personal::Sealed(_))))
            .flat_map(|e| e.metadata.subjects.iter().cloned())
            .collect();
        subjects.sort();
        subjects.dedup();
        let keys = self.keys_for_reading(&subjects).await?;
        for event in events.iter_mut() {
            if let Some(Personal::Sealed(sealed)) = &event.personal {
                event.personal = Some(open_personal(event, sealed, &keys)?);
            }
            self.inner
                .options
                .upcasters
                .upcast(event)
                .map_err(|e| StoreError::Corrupt {
                    event_id: event.event_id,
                    reason: e.to_string(),
                })?;
        }
        Ok(())
    }

    async fn opened(
        &self,
        mut events: Vec<RecordedEvent>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.open_batch(&mut events).await?;
        Ok(events)
    }
}

/// A stored subject key, unwrapped; a key that does not unwrap means the
/// master key is not this store's.
fn unwrap_subject_key(
    master: &MasterKey,
    wrapped: &[u8],
    subject: &SubjectId,
) -> Result<SecretKey, StoreError> {
    master
        .unwrap_key(wrapped, subject.as_str())
        .map_err(|e| StoreError::MasterKey(format!("subject key of `{subject}`: {e}")))
}

fn open_personal(
    event: &RecordedEvent,
    sealed: &SealedBox,
    keys: &HashMap<SubjectId, SecretKey>,
) -> Result<Personal, StoreError> {
    let subjects = seal::canonical_subjects(&event.metadata.subjects);
    let Some(event_keys) = subjects
        .iter()
        .map(|s| keys.get(*s))
        .collect::<Option<Vec<_>>>()
    else {
        return Ok(Personal::Erased);
    };
    let corrupt = |reason: String| StoreError::Corrupt {
        event_id: event.event_id,
        reason,
    };
    let plaintext = seal::open_personal(event.event_id, &subjects, &event_keys, sealed)
        .map_err(|e| corrupt(format!("personal part: {e}")))?;
    serde_json::from_slice(&plaintext)
        .map(Personal::Plain)
        .map_err(|e| corrupt(format!("personal part is not JSON: {e}")))
}

#[async_trait]
impl EventStore for Store {
    #[tracing::instrument(skip_all, fields(stream = %stream, expected = %expected, events = events.len()), err)]
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        mut events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        validate_batch(&events, &self.inner.options.limits)?;
        self.seal_batch(&mut events).await?;
        self.inner.log.append(stream, expected, events).await
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self
            .inner
            .log
            .read_stream(stream, from, direction, limit)
            .await?;
        self.opened(events).await
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self.inner.log.read_all(after, limit).await?;
        self.opened(events).await
    }

    fn subscribe_all(&self, after: Position) -> EventStream {
        let store = self.clone();
        let read_all = Box::new(move |cursor: Position| {
            let store = store.clone();
            async move { store.read_all(cursor, CATCH_UP_BATCH).await }.boxed()
        });
        let log = &self.inner.log;
        subscribe(read_all, after, log.commits(), log.poll_interval())
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<Option<u64>, StoreError> {
        self.inner.log.stream_version(stream).await
    }

    async fn events_of_command(&self, command_id: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self.inner.log.events_of_command(command_id).await?;
        self.opened(events).await
    }

    async fn head(&self) -> Result<Option<Position>, StoreError> {
        self.inner.log.head().await
    }

    #[tracing::instrument(skip_all, fields(subject = %subject), err)]
    async fn erase_subject(&self, subject: &SubjectId, actor: &str) -> Result<Erasure, StoreError> {
        // The key goes first: once it is destroyed the data is unreadable,
        // whatever happens to the recording below (which a retry completes).
        self.inner.write_keys.forget(subject);
        let key_destroyed = self.inner.vault.destroy_subject_key(subject).await?;
        let stream = StreamId::new("subject", subject)?;
        loop {
            let recorded = self
                .inner
                .log
                .read_stream(&stream, 0, Direction::Forward, usize::MAX)
                .await?;
            if let Some(erased) = recorded.iter().find(|e| {
                e.event_type.as_str()
                    == <SubjectErased as steward_events::domain::DomainEvent>::EVENT_TYPE
            }) {
                return Ok(Erasure {
                    key_destroyed,
                    position: erased.global_position,
                });
            }
            let expected = recorded.last().map_or(ExpectedVersion::NoStream, |e| {
                ExpectedVersion::Exact(e.stream_version)
            });
            let event = NewEvent::from_domain(&SubjectErased {
                subject: subject.clone(),
            })
            .map_err(StoreError::backend)?
            .with_metadata(Metadata {
                actor: actor.to_owned(),
                ..Metadata::default()
            });
            match self.append(&stream, expected, vec![event]).await {
                Ok(appended) => {
                    return Ok(Erasure {
                        key_destroyed,
                        position: appended.last_position,
                    });
                }
                // Someone else recorded it (or something) meanwhile: look again.
                Err(StoreError::WrongExpectedVersion { .. }) => continue,
                Err(error) => return Err(error),
            }
        }
    }
}
