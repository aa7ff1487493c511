//! Steward's bus relay: every committed event of the log, published to a
//! NATS JetStream stream exactly once and in global order.
//!
//! ```text
//!   EventLog (sealed personal parts) ──read_all(after, batch)──▶ Relay ──publish──▶ JetStream stream
//!        ▲  commits() tick / poll_interval                          │        subject <prefix>.<category>.<event_type>
//!        └──────────────────────────────────────────────────────────┘        body    the RecordedEvent as JSON
//!                                   resume after the stream's last message   headers Nats-Msg-Id = event id,
//!                                                                                    Steward-Position = global position
//! ```
//!
//! - [`config`] holds [`RelayConfig`] (server, stream name, subject prefix,
//!   duplicate window, batch and in-flight sizes, timeouts, back-off bounds).
//! - [`relay`] holds the [`Relay`] task, its [`RelayStatus`] and
//!   [`subject_for`].
//! - [`error`] holds [`RelayError`].
//! - [`source`] reads the stream back for projections in another process:
//!   [`JetStreamSource`], an [`EventSource`] over a durable consumer, with
//!   its [`SourceConfig`] and [`SourceError`]. See its docs for how each
//!   event still takes effect exactly once.
//!
//! The relay reads the backend's raw log ([`Store::log`]), so an event's
//! personal part travels still sealed, exactly as stored.
//!
//! # Exactly once, in order
//!
//! The relay keeps no state of its own. Each time it (re)starts — at launch,
//! or after any failure, following a bounded exponential back-off — it asks
//! JetStream for the stream's last message, reads the `Steward-Position`
//! header there and resumes the log after that position. So a crash between
//! a publish and its acknowledgement republishes nothing that is already in
//! the stream, however long NATS was away: the duplicate window is a second
//! line of defence, not the mechanism.
//!
//! Publishes are pipelined (up to [`RelayConfig::max_in_flight`] awaiting
//! their acknowledgement). Each carries `Nats-Expected-Last-Sequence`: the
//! stream sequence the previous event got (or, for the first of a session,
//! the stream's last sequence when the session began), and
//! `Nats-Expected-Stream`. JetStream stores a message only if the stream
//! ends exactly where the relay believes, so when one publish is lost every
//! later one in flight is refused rather than stored out of order, and a
//! stale publish delivered late (say, buffered by the client across a
//! reconnection) can never land in the wrong place. The relay also checks
//! that each acknowledgement names the expected sequence.
//!
//! Why not `Nats-Expected-Last-Msg-Id`: JetStream rebuilds the last message
//! id after a restart only from messages inside the duplicate window, so after
//! an outage longer than the window the header would be refused forever. The
//! sequence survives any restart.
//!
//! The stream must not be written by anything else: a foreign message makes
//! the relay's expected sequence fail (it then resynchronises, skipping
//! messages without the position header when looking for where to resume).
//!
//! [`Store::log`]: steward_store_core::Store::log
//! [`EventSource`]: steward_events::EventSource

pub mod config;
pub mod error;
mod nats;
pub mod relay;
pub mod source;

pub use config::RelayConfig;
pub use error::RelayError;
pub use relay::{POSITION_HEADER, Relay, RelayStatus, subject_for};
pub use source::{JetStreamSource, SourceConfig, SourceError};
