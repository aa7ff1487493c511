//! What can go wrong handling a command, and what each means to a caller.

use steward_actors::{CommandError, Rejection};
use steward_events::{ErrorClass, StoreError, StreamId};

/// Why a command produced no result.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The envelope is malformed or does not fit the aggregate.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The domain refused the command.
    #[error("the command was rejected: {0}")]
    Rejected(Rejection),
    /// The command id was already used for a command to another stream.
    #[error("command id `{command_id}` was already used for `{stream}`; choose a new id")]
    CommandIdReused {
        /// The id.
        command_id: String,
        /// The stream it was first used for.
        stream: StreamId,
    },
    /// Other writers kept appending to the stream while the decision was
    /// retried.
    #[error("`{stream}` kept changing under the command: gave up after {attempts} attempts")]
    Conflict {
        /// The stream.
        stream: StreamId,
        /// How many decisions were tried.
        attempts: u32,
    },
    /// The event store failed or refused the events.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored event cannot be read by the aggregate.
    #[error("`{stream}` holds an event the aggregate cannot read at version {version}: {reason}")]
    Unreadable {
        /// The stream.
        stream: StreamId,
        /// The event's version.
        version: u64,
        /// Why.
        reason: String,
    },
    /// The aggregate's code panicked; its actor was restarted empty.
    #[error(
        "the `{stream}` actor failed {}; it was restarted",
        if *recorded { "after the command's events were recorded (the command is done)" }
        else { "before anything was written" }
    )]
    Panicked {
        /// The stream.
        stream: StreamId,
        /// Whether the command's events had been appended when it failed
        /// (folding them into the state panicked).
        recorded: bool,
    },
    /// The actor system could not start.
    #[error("the actor host could not start: {0}")]
    Startup(String),
    /// A saga asked the read models something its runner cannot answer.
    #[error("the `{saga}` saga reads {lookup}, which its runner was not given")]
    LookupUnavailable {
        /// The saga.
        saga: String,
        /// What it reads.
        lookup: String,
    },
    /// The read models failed to answer a saga's lookup.
    #[error("the read models did not answer the `{saga}` saga: {reason}")]
    Lookup {
        /// The saga.
        saga: String,
        /// Why.
        reason: String,
    },
    /// The actor's stopped taking commands (the host is shutting down).
    #[error("`{stream}` is not taking commands now; retry later")]
    Busy {
        /// The stream.
        stream: StreamId,
    },
    /// No answer came in time: the command may still be applied. Sending
    /// it again under the same id is safe.
    #[error(
        "no answer from `{stream}` in time: the command may still be applied; \
         send it again with command id `{command_id}` to learn its outcome"
    )]
    OutcomeUnknown {
        /// The stream.
        stream: StreamId,
        /// The id to send it again under.
        command_id: String,
    },
}

impl HostError {
    /// How a caller should treat the error.
    pub fn class(&self) -> ErrorClass {
        match self {
            HostError::Command(_) | HostError::CommandIdReused { .. } => ErrorClass::InvalidInput,
            HostError::Rejected(_) => ErrorClass::InvalidInput,
            HostError::Conflict { .. } => ErrorClass::Conflict,
            HostError::Store(error) => error.class(),
            HostError::Unreadable { .. }
            | HostError::Panicked { .. }
            | HostError::Busy { .. }
            | HostError::OutcomeUnknown { .. }
            | HostError::Startup(_)
            | HostError::LookupUnavailable { .. }
            | HostError::Lookup { .. } => ErrorClass::Failure,
        }
    }
}
