//! One read of the log for many projections: while several projections
//! catch up together (a fresh start, a rebuild of everything), each would
//! read and decode every page of the log itself. [`SharedReads`] wraps the
//! store so that a page is fetched once and handed to every projection that
//! asks for it, the first asking while the others wait for the same fetch.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use moka::future::Cache;
use steward_events::domain::DomainEvent as _;
use steward_events::domain::subject::SubjectErased;
use steward_events::store::EventStream;
use steward_events::{
    AppendResult, Direction, Erasure, EventStore, ExpectedVersion, NewEvent, Position,
    RecordedEvent, StoreError, StreamId, SubjectId,
};

/// How many pages are kept: enough for projections a few pages apart.
const PAGES: u64 = 64;
/// How long a page is kept; its events never change, but an erasure makes
/// their personal parts read differently.
const KEEP: Duration = Duration::from_secs(30);

/// An event store whose `read_all` pages are shared by concurrent readers.
/// Everything else goes straight to the store underneath.
#[derive(Clone)]
pub struct SharedReads {
    inner: Arc<dyn EventStore>,
    pages: Cache<(Position, usize), Arc<Vec<RecordedEvent>>>,
}

impl std::fmt::Debug for SharedReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedReads")
            .field("pages", &self.pages.entry_count())
            .finish_non_exhaustive()
    }
}

impl SharedReads {
    /// Shares the reads of `inner`.
    pub fn new(inner: Arc<dyn EventStore>) -> Self {
        Self {
            inner,
            pages: Cache::builder()
                .max_capacity(PAGES)
                .time_to_live(KEEP)
                .build(),
        }
    }
}

/// A page that came back empty: never kept, since later events will fill it.
#[derive(Debug)]
enum Fetch {
    Failed(StoreError),
    Empty,
}

#[async_trait]
impl EventStore for SharedReads {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.inner.append(stream, expected, events).await
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(stream, from, direction, limit).await
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let inner = Arc::clone(&self.inner);
        let fetched = self
            .pages
            .try_get_with((after, limit), async move {
                match inner.read_all(after, limit).await {
                    Ok(page) if page.is_empty() => Err(Fetch::Empty),
                    Ok(page) => Ok(Arc::new(page)),
                    Err(error) => Err(Fetch::Failed(error)),
                }
            })
            .await;
        match fetched {
            Ok(page) => {
                if page
                    .iter()
                    .any(|event| event.event_type.as_str() == SubjectErased::EVENT_TYPE)
                {
                    // Pages read before the erasure still hold the data plain.
                    self.pages.invalidate_all();
                }
                Ok(page.as_ref().clone())
            }
            Err(failed) => match Arc::try_unwrap(failed) {
                Ok(Fetch::Empty) => Ok(Vec::new()),
                Ok(Fetch::Failed(error)) => Err(error),
                // Another reader shares this failure: ask again ourselves.
                Err(_) => self.inner.read_all(after, limit).await,
            },
        }
    }

    fn subscribe_all(&self, after: Position) -> EventStream {
        self.inner.subscribe_all(after)
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<Option<u64>, StoreError> {
        self.inner.stream_version(stream).await
    }

    async fn events_of_command(&self, command_id: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.events_of_command(command_id).await
    }

    async fn head(&self) -> Result<Option<Position>, StoreError> {
        self.inner.head().await
    }

    async fn erase_subject(&self, subject: &SubjectId, actor: &str) -> Result<Erasure, StoreError> {
        let erased = self.inner.erase_subject(subject, actor).await;
        self.pages.invalidate_all();
        erased
    }
}
