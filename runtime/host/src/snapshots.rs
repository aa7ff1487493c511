//! Where actors keep snapshots of their state.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use steward_actors::Aggregate;
use steward_events::{StoreError, StreamId, SubjectId};
use steward_store_core::{Snapshot, Store};

/// Keeps one snapshot per stream (see [`Store::save_snapshot`]).
#[async_trait]
pub trait SnapshotStore: Send + Sync + 'static {
    /// Keeps `snapshot` unless a newer one is kept.
    async fn save(&self, stream: &StreamId, snapshot: Snapshot) -> Result<bool, StoreError>;
    /// The stream's snapshot, if a readable one is kept.
    async fn load(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError>;
}

#[async_trait]
impl SnapshotStore for Store {
    async fn save(&self, stream: &StreamId, snapshot: Snapshot) -> Result<bool, StoreError> {
        self.save_snapshot(stream, snapshot).await
    }

    async fn load(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        self.load_snapshot(stream).await
    }
}

/// How a host snapshots: where, and every how many events.
#[derive(Clone)]
pub(crate) struct SnapshotPolicy {
    pub(crate) store: Arc<dyn SnapshotStore>,
    pub(crate) every: u64,
}

impl SnapshotPolicy {
    /// Whether an append of versions `first..=last` passed a multiple of
    /// `every`.
    pub(crate) fn due_after(&self, first: u64, last: u64) -> bool {
        self.every > 0 && (last + 1) / self.every > first / self.every
    }

    /// The state as a snapshot, or `None` if it does not serialise.
    pub(crate) fn snapshot_of<A: Aggregate>(
        state: &A,
        version: u64,
        subjects: &BTreeSet<SubjectId>,
    ) -> Option<Snapshot> {
        match serde_json::to_vec(state) {
            Ok(bytes) => Some(Snapshot {
                stream_version: version,
                state_version: A::STATE_VERSION,
                subjects: subjects.iter().cloned().collect(),
                state: bytes,
            }),
            Err(error) => {
                tracing::warn!(%error, category = A::CATEGORY, "the state does not serialise; no snapshot");
                None
            }
        }
    }

    /// A snapshot's state, if it has the current shape and reads.
    pub(crate) fn state_of<A: Aggregate>(stream: &StreamId, snapshot: &Snapshot) -> Option<A> {
        if snapshot.state_version != A::STATE_VERSION {
            tracing::info!(%stream, found = snapshot.state_version, current = A::STATE_VERSION,
                "ignoring a snapshot of an older state shape");
            return None;
        }
        match serde_json::from_slice(&snapshot.state) {
            Ok(state) => Some(state),
            Err(error) => {
                tracing::warn!(%stream, %error, "ignoring a snapshot that does not read");
                None
            }
        }
    }
}
