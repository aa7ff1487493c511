//! What can go wrong while relaying.

use async_nats::jetstream::context::PublishError;
use steward_events::{Position, StoreError};
use uuid::Uuid;

/// Every failure of the relay. Only [`RelayError::InvalidConfig`] ends
/// [`Relay::run`](crate::Relay::run); the others are logged, and the relay
/// backs off, resynchronises with the stream and carries on.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// An event's envelope is larger than the NATS server accepts: the relay
    /// cannot go past it until the server's `max_payload` is raised, and
    /// keeps trying (it learns the limit anew on every reconnection).
    #[error(
        "event {event_id} at position {position} is {size} bytes as an envelope, over the \
         NATS server's max_payload of {max_payload}: raise max_payload (and the stream's \
         max_msg_size) above it; the relay goes on from this event once it fits"
    )]
    TooLarge {
        /// The event.
        event_id: uuid::Uuid,
        /// Its position.
        position: steward_events::Position,
        /// Its envelope's size.
        size: usize,
        /// What the server accepts.
        max_payload: usize,
    },
    /// The configuration cannot work.
    #[error("invalid relay configuration: {0}")]
    InvalidConfig(String),
    /// The NATS server could not be reached (the URL shown without credentials).
    #[error("could not connect to NATS at `{url}`: {source}")]
    Connect {
        /// The server.
        url: String,
        /// Why.
        #[source]
        source: async_nats::ConnectError,
    },
    /// A JetStream request about the stream failed (creating it, reading its
    /// state or its last message).
    #[error("JetStream stream `{stream}`: {action} failed: {source}")]
    Stream {
        /// The stream.
        stream: String,
        /// What the relay was doing.
        action: &'static str,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The stream exists but does not capture the relay's subjects.
    #[error("JetStream stream `{stream}` captures {subjects:?}, not `{expected}`")]
    StreamSubjects {
        /// The stream.
        stream: String,
        /// The subjects it captures.
        subjects: Vec<String>,
        /// The subject filter the relay needs.
        expected: String,
    },
    /// A message of the stream carries a position header that does not parse.
    #[error("message {sequence} of stream `{stream}` has a malformed `{header}` header `{value}`")]
    BadPositionHeader {
        /// The stream.
        stream: String,
        /// The message's stream sequence.
        sequence: u64,
        /// The header's name.
        header: &'static str,
        /// Its value.
        value: String,
    },
    /// The event log could not be read.
    #[error("reading the event log failed: {0}")]
    Store(#[from] StoreError),
    /// An event could not be serialised.
    #[error("event {event_id} could not be serialised: {source}")]
    Encode {
        /// The event.
        event_id: Uuid,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// Publishing an event failed or was refused (after an outage, typically
    /// `wrong last sequence`: the stream is not where this publish expected
    /// it, and the relay resumes from where it really is).
    #[error("publishing event {event_id} (position {position}) failed: {source}")]
    Publish {
        /// The event.
        event_id: Uuid,
        /// Its global position.
        position: Position,
        /// Why.
        #[source]
        source: PublishError,
    },
    /// JetStream stored an event somewhere other than where the relay put it
    /// (another stream, or another sequence): something else writes to the
    /// relay's subjects.
    #[error(
        "event {event_id} (position {position}) landed in stream `{stream}` at sequence \
         {sequence}, expected `{expected_stream}` at {expected_sequence}"
    )]
    OutOfStep {
        /// The event.
        event_id: Uuid,
        /// Its global position.
        position: Position,
        /// The stream that acknowledged it.
        stream: String,
        /// The sequence it was acknowledged at.
        sequence: u64,
        /// The relay's stream.
        expected_stream: String,
        /// The sequence the relay expected.
        expected_sequence: u64,
    },
}

impl RelayError {
    /// Whether retrying cannot help, so that [`Relay::run`](crate::Relay::run)
    /// gives up.
    pub fn is_fatal(&self) -> bool {
        matches!(self, RelayError::InvalidConfig(_))
    }
}
