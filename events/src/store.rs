//! The storage-agnostic event store contract.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use futures::stream::BoxStream;
use uuid::Uuid;

use crate::envelope::{NewEvent, RecordedEvent};
use crate::ids::{IdError, StreamId, SubjectId};
use crate::position::Position;

/// What the writer believes about the stream it appends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must have at least one event.
    StreamExists,
    /// The stream's last event must have exactly this version.
    Exact(u64),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no-stream"),
            ExpectedVersion::StreamExists => f.write_str("stream-exists"),
            ExpectedVersion::Exact(version) => write!(f, "{version}"),
        }
    }
}

/// An expected version that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected version `{0}` is malformed: use a number, `any`, `no-stream` or `stream-exists`")]
pub struct ExpectedVersionParseError(String);

impl FromStr for ExpectedVersion {
    type Err = ExpectedVersionParseError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "any" => Ok(Self::Any),
            "no-stream" => Ok(Self::NoStream),
            "stream-exists" => Ok(Self::StreamExists),
            number => number
                .parse()
                .map(Self::Exact)
                .map_err(|_| ExpectedVersionParseError(value.to_owned())),
        }
    }
}

impl ExpectedVersion {
    /// Whether a stream whose last version is `current` satisfies this
    /// expectation.
    pub fn is_met_by(self, current: Option<u64>) -> bool {
        match (self, current) {
            (ExpectedVersion::Any, _) => true,
            (ExpectedVersion::NoStream, current) => current.is_none(),
            (ExpectedVersion::StreamExists, current) => current.is_some(),
            (ExpectedVersion::Exact(expected), Some(current)) => expected == current,
            (ExpectedVersion::Exact(_), None) => false,
        }
    }
}

/// Which way to read a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From `from` upwards.
    Forward,
    /// From `from` downwards (`u64::MAX` means "from the end").
    Backward,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    /// The stream version of the batch's first event.
    pub first_version: u64,
    /// The stream version of the batch's last event: the expected version for
    /// the next append.
    pub last_version: u64,
    /// The global position of the batch's first event.
    pub first_position: Position,
    /// The global position of the batch's last event.
    pub last_position: Position,
    /// True when these events were already in the stream (a retried append):
    /// nothing was written this time.
    pub already_appended: bool,
}

/// What happened when a subject was erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erasure {
    /// False when the subject had already been erased.
    pub key_destroyed: bool,
    /// Where the `SubjectErased` event stands in the log.
    pub position: Position,
}

/// Every failure of the store, typed so that callers can tell bad input from a
/// conflict from an outage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A stream id, event type or subject id broke its grammar.
    #[error(transparent)]
    InvalidId(#[from] IdError),
    /// An append carried no events.
    #[error("a batch must contain at least one event")]
    EmptyBatch,
    /// An event in a batch was refused; nothing of the batch was written.
    #[error("event {index} of the batch ({event_id}) is invalid: {reason}")]
    InvalidEvent {
        /// Its index in the batch.
        index: usize,
        /// Its id.
        event_id: Uuid,
        /// What is wrong with it.
        reason: String,
    },
    /// An event was larger than the configured limit.
    #[error("event {index} of the batch ({event_id}) is {size} bytes, over the limit of {limit}")]
    EventTooLarge {
        /// Its index in the batch.
        index: usize,
        /// Its id.
        event_id: Uuid,
        /// Its data and personal part, serialised.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The stream was not at the expected version.
    #[error("stream `{stream}` was expected at version {expected} but is at {}", actual.map_or_else(|| "no stream".to_owned(), |v| v.to_string()))]
    WrongExpectedVersion {
        /// The stream.
        stream: StreamId,
        /// What the writer expected.
        expected: ExpectedVersion,
        /// What the stream's last version really is.
        actual: Option<u64>,
    },
    /// An event id is already used by a different event.
    #[error("event id {event_id} is already used in stream `{stream}`")]
    DuplicateEventId {
        /// The id.
        event_id: Uuid,
        /// Where it is used.
        stream: StreamId,
    },
    /// Personal data was offered for a subject who has been erased.
    #[error("subject `{0}` has been erased: no new personal data can be recorded about them")]
    SubjectErased(SubjectId),
    /// The master key does not open this store's keys.
    #[error("the master key does not match this store: {0}")]
    MasterKey(String),
    /// The backend failed (connection lost, disk full…).
    #[error("the event store backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored event could not be read back.
    #[error("stored event {event_id} is corrupt: {reason}")]
    Corrupt {
        /// The event.
        event_id: Uuid,
        /// What is wrong.
        reason: String,
    },
}

/// The broad class of a [`StoreError`], for exit codes and HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The caller's input was refused (exit 2, HTTP 400/422).
    InvalidInput,
    /// Optimistic concurrency lost (exit 3, HTTP 409).
    Conflict,
    /// Anything else (exit 1, HTTP 500/503).
    Failure,
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(error))
    }

    /// The broad class of the error.
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::InvalidId(_)
            | StoreError::EmptyBatch
            | StoreError::InvalidEvent { .. }
            | StoreError::EventTooLarge { .. }
            | StoreError::DuplicateEventId { .. }
            | StoreError::SubjectErased(_) => ErrorClass::InvalidInput,
            StoreError::WrongExpectedVersion { .. } => ErrorClass::Conflict,
            StoreError::MasterKey(_) | StoreError::Backend(_) | StoreError::Corrupt { .. } => {
                ErrorClass::Failure
            }
        }
    }
}

/// A subscription: every event after a position, catching up and then live.
pub type EventStream = BoxStream<'static, Result<RecordedEvent, StoreError>>;

/// The event log every backend provides.
///
/// Contract, checked by one test suite against every backend:
/// - an append is atomic: all of its events or none;
/// - an append whose event ids are already in the stream, under an
///   expectation that held when they were first written, succeeds and writes
///   nothing (`already_appended`);
/// - `read_all` and `subscribe_all` return committed events in global order,
///   never skipping one that commits later and never repeating one;
/// - personal parts come back plain, or erased once a subject is.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends a batch to a stream if it is at the expected version.
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError>;

    /// Reads up to `limit` events of one stream starting at version `from`.
    async fn read_stream(
        &self,
        stream: &StreamId,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Reads up to `limit` events after `after` in global order. A page may
    /// be shorter than `limit` while later events exist (a backend stops
    /// before a hole that an append in flight may still fill): only an empty
    /// page means "nothing more for now".
    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Every event after `after`: first those already stored, then new ones as
    /// they commit.
    fn subscribe_all(&self, after: Position) -> EventStream;

    /// The version of a stream's last event, `None` if it has none.
    async fn stream_version(&self, stream: &StreamId) -> Result<Option<u64>, StoreError>;

    /// The events a command produced, in stream order.
    async fn events_of_command(&self, command_id: &str) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The position of the last committed event.
    async fn head(&self) -> Result<Option<Position>, StoreError>;

    /// Destroys a subject's key, so that their personal data reads as erased
    /// everywhere, and records that as a `SubjectErased` event. Erasing twice
    /// is harmless.
    async fn erase_subject(&self, subject: &SubjectId, actor: &str) -> Result<Erasure, StoreError>;
}
