//! Snapshots of aggregate state, sealed like the events they were folded
//! from: a state that holds personal data is sealed under the keys of its
//! subjects, so erasing any of them makes the snapshot unreadable (it is then
//! ignored and the stream replayed, with the personal parts erased).

use chrono::Utc;
use steward_events::{StoreError, StreamId, SubjectId};
use uuid::Uuid;

use crate::log::SnapshotRow;
use crate::seal::{self, SecretKey};
use crate::store::Store;

/// An aggregate's state after the event at `stream_version`.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The version of the last event folded into the state.
    pub stream_version: u64,
    /// The shape version of the state; a reader ignores other shapes.
    pub state_version: u32,
    /// The people whose personal data the state holds.
    pub subjects: Vec<SubjectId>,
    /// The state, serialised.
    pub state: Vec<u8>,
}

impl Store {
    /// Keeps `snapshot` for `stream` (sealed under its subjects' keys),
    /// unless a newer one is kept. Returns false when the backend keeps no
    /// snapshots, or when a subject was erased (the state holds personal
    /// data no longer to be kept).
    pub async fn save_snapshot(
        &self,
        stream: &StreamId,
        snapshot: Snapshot,
    ) -> Result<bool, StoreError> {
        let snapshot_id = Uuid::now_v7();
        let mut subjects = snapshot.subjects;
        subjects.sort();
        subjects.dedup();
        let state = if subjects.is_empty() {
            snapshot.state
        } else {
            let keys = match self.keys_for_writing(subjects.clone()).await {
                Ok(keys) => keys,
                Err(StoreError::SubjectErased(_)) => return Ok(false),
                Err(error) => return Err(error),
            };
            let canonical = seal::canonical_subjects(&subjects);
            let ordered: Vec<&SecretKey> = canonical.iter().filter_map(|s| keys.get(*s)).collect();
            seal::seal_personal(snapshot_id, &canonical, &ordered, &snapshot.state)
                .map_err(StoreError::backend)?
                .0
        };
        self.log()
            .save_snapshot(SnapshotRow {
                stream_id: stream.clone(),
                stream_version: snapshot.stream_version,
                state_version: snapshot.state_version,
                snapshot_id,
                subjects,
                state,
                taken_at: Utc::now(),
            })
            .await
    }

    /// The stream's snapshot, opened; `None` when none is kept or one of
    /// its subjects was erased.
    pub async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        let Some(row) = self.log().load_snapshot(stream).await? else {
            return Ok(None);
        };
        let state = if row.subjects.is_empty() {
            row.state
        } else {
            // An erased subject has no key left: the snapshot is unreadable.
            let keys = self.keys_for_reading(&row.subjects).await?;
            let canonical = seal::canonical_subjects(&row.subjects);
            let Some(ordered) = canonical
                .iter()
                .map(|s| keys.get(*s))
                .collect::<Option<Vec<&SecretKey>>>()
            else {
                return Ok(None);
            };
            let sealed = steward_events::envelope::SealedBox(row.state);
            seal::open_personal(row.snapshot_id, &canonical, &ordered, &sealed)
                .map_err(StoreError::backend)?
                .to_vec()
        };
        Ok(Some(Snapshot {
            stream_version: row.stream_version,
            state_version: row.state_version,
            subjects: row.subjects,
            state,
        }))
    }
}
