//! Steward's aggregates as virtual actors on actix, over the event store.
//!
//! A [`Host`] routes each [`CommandEnvelope`](steward_actors::CommandEnvelope)
//! by its stream's category to the actor of that one aggregate instance,
//! starting it on its first command (rehydrated from its stream through the
//! upcasters) and stopping it after an idle timeout. An actor handles one
//! command at a time: it recognises a command id it has seen (the events
//! carry it; the store finds them), decides, appends with
//! `ExpectedVersion::Exact`, and on a conflict catches up and decides again a
//! bounded number of times. A panic in aggregate code answers the caller with
//! an error, writes nothing, and the actor's supervisor restarts it empty.
//!
//! Decisions take the time from a [`Clock`], so tests run on a
//! [`ManualClock`]; [`HostMetrics`] counts commands, latency, conflicts and
//! actors alive for Prometheus.

mod actor;
mod clock;
mod error;
mod execute;
mod host;
mod metrics;
mod snapshots;
pub mod workers;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::HostError;
pub use host::{Host, HostBuilder, HostOptions, Outcome, OutcomeEvent};
pub use metrics::HostMetrics;
pub use snapshots::SnapshotStore;
pub use steward_store_core::Snapshot;
