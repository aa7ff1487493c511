//! Where a projection reads the log from: the store itself, or a copy of the
//! log that a bus delivers to another process.
//!
//! A projection runner needs only three things from its source: a page of
//! events after a position (to build a generation), every event after a
//! position as it commits (to stay live), and the head (for its lag). The
//! in-process path is [`StoreSource`] over any [`EventStore`]; the bus crate
//! implements the trait over a NATS JetStream consumer.
//!
//! Exactly once stays the runner's business: it writes its read model and its
//! checkpoint in one transaction, and on every start asks the source for what
//! comes *after that checkpoint*. A source that delivers at least once (a
//! message bus) learns through [`Acknowledge`] what is durably applied, and
//! must never hand the runner the same position twice in one subscription.

use std::sync::Arc;

use async_trait::async_trait;

use crate::envelope::RecordedEvent;
use crate::position::Position;
use crate::store::{EventStore, EventStream, StoreError};

/// Tells a source that events are durably applied, so it may stop keeping
/// them for redelivery.
#[async_trait]
pub trait Acknowledge: Send + Sync {
    /// Every event of the subscription up to and including `through` is
    /// applied and its checkpoint committed. Losing an acknowledgement must
    /// be harmless: the checkpoint, not the source, decides what is applied.
    async fn acknowledge(&self, through: Position) -> Result<(), StoreError>;
}

/// A live subscription to a source: its events, and where to say which of
/// them are applied.
pub struct Subscription {
    /// Every event after the position asked for, in global order, each
    /// once: first those already there, then new ones as they come.
    pub events: EventStream,
    /// Where the runner reports each committed transaction.
    pub acknowledge: Box<dyn Acknowledge>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

/// What a projection reads: the global log, in order.
#[async_trait]
pub trait EventSource: Send + Sync + 'static {
    /// Up to `limit` events after `after` in global order, as
    /// [`EventStore::read_all`]: a page may be short while later events
    /// exist; only an empty page means "nothing more for now".
    async fn read_after(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Every event after `after`: those already there, then new ones as they
    /// come. Nothing happens until the stream is polled; dropping it ends
    /// the subscription.
    fn follow(&self, after: Position) -> Subscription;

    /// The position of the last event the source holds.
    async fn head(&self) -> Result<Option<Position>, StoreError>;
}

/// The in-process source: an event store read directly.
#[derive(Clone)]
pub struct StoreSource {
    store: Arc<dyn EventStore>,
}

impl std::fmt::Debug for StoreSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSource").finish_non_exhaustive()
    }
}

impl StoreSource {
    /// Reads `store`.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self { store }
    }
}

/// Nothing to acknowledge: the store redelivers nothing.
struct NothingToAcknowledge;

#[async_trait]
impl Acknowledge for NothingToAcknowledge {
    async fn acknowledge(&self, _through: Position) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl EventSource for StoreSource {
    async fn read_after(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.store.read_all(after, limit).await
    }

    fn follow(&self, after: Position) -> Subscription {
        Subscription {
            events: self.store.subscribe_all(after),
            acknowledge: Box::new(NothingToAcknowledge),
        }
    }

    async fn head(&self) -> Result<Option<Position>, StoreError> {
        self.store.head().await
    }
}
