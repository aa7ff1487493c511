//! Steward's event model.
//!
//! Everything Steward knows is an immutable event in a log. This crate holds the
//! vocabulary of that log and nothing that touches a disk or a network:
//!
//! - [`ids`]: validated names — [`StreamId`] (`<category>-<id>`), [`EventType`],
//!   [`SubjectId`] (a person whose data an event carries).
//! - [`envelope`]: [`NewEvent`] (what a writer hands the store) and
//!   [`RecordedEvent`] (what every backend returns unchanged), with their
//!   [`Metadata`] and the [`Personal`] part that the store seals per subject.
//! - [`position`]: the ordered [`Position`] of an event in the global log.
//! - [`store`]: the [`EventStore`] trait every backend implements, with
//!   [`ExpectedVersion`] for optimistic concurrency and the typed [`StoreError`].
//! - [`source`]: the [`EventSource`] a projection reads, the store itself
//!   ([`StoreSource`]) or a bus that delivers the log to another process.
//! - [`upcast`]: the [`Upcasters`] registry that turns old event shapes into
//!   current ones on every read.
//! - [`domain`]: the typed domain events and their JSON Schemas.
//! - [`schema_files`]: the committed schema files and their drift check.
//!
//! Backends live in `runtime/`; domain logic in `actors/`. Both depend on this
//! crate and never the other way round.

pub mod domain;
pub mod envelope;
pub mod ids;
pub mod position;
pub mod schema_files;
pub mod source;
pub mod store;
pub mod upcast;

pub use envelope::{Metadata, NewEvent, Personal, RecordedEvent};
pub use ids::{EventType, IdError, StreamId, SubjectId};
pub use position::Position;
pub use source::{Acknowledge, EventSource, StoreSource, Subscription};
pub use store::{
    AppendResult, Direction, Erasure, ErrorClass, EventStore, EventStream, ExpectedVersion,
    StoreError,
};
pub use upcast::{UpcastError, Upcasters};

/// What [`domain_events!`] expands to needs, whatever the calling crate
/// depends on.
#[doc(hidden)]
pub mod __private {
    pub use schemars;
    pub use serde_json;
}
