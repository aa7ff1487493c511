//! Sagas: process managers that connect the domains.
//!
//! A saga reads the global log and answers some events with commands to
//! other aggregates (a confirmed reservation goes on the calendar, low stock
//! onto the shopping list). Its reaction is a pure function of the event,
//! tested like an aggregate: given event, then commands. The saga runner in
//! `runtime/` sends each reaction as a command whose id is derived from the
//! saga, the triggering event and the reaction's key (so a reaction sent
//! again after a restart is recognised), with the triggering event as its
//! causation, and records what it did in the saga's own stream, so the audit
//! trail shows why every command was sent.

use serde_json::Value;
use steward_events::{RecordedEvent, StreamId};

/// One command a saga sends in answer to an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Reaction {
    /// Tells apart the reactions to one event (`list`, `plan`, `leg-0`);
    /// part of the command id, so it must not depend on anything but the
    /// event.
    pub key: String,
    /// The aggregate to command.
    pub stream_id: StreamId,
    /// The command.
    pub command_type: String,
    /// Its data.
    pub data: Value,
}

impl Reaction {
    /// A reaction under `key`.
    pub fn new(
        key: impl Into<String>,
        stream_id: StreamId,
        command_type: impl Into<String>,
        data: Value,
    ) -> Self {
        Self {
            key: key.into(),
            stream_id,
            command_type: command_type.into(),
            data,
        }
    }

    /// The command id the runner sends the reaction under.
    pub fn command_id(&self, saga: &str, trigger: &RecordedEvent) -> String {
        format!("saga:{saga}:{}:{}", trigger.event_id, self.key)
    }
}

/// A process manager.
pub trait Saga: Send + Sync + 'static {
    /// Its name (`low_stock`), which names its stream (`saga-low_stock`)
    /// and its worker's lease.
    fn name(&self) -> &'static str;

    /// The event types it answers; the runner hands it no others.
    fn reacts_to(&self) -> &'static [&'static str];

    /// The commands that answer `event` (none if it needs no answer). An
    /// event that does not decode gets none; the runner records that.
    fn react(&self, event: &RecordedEvent) -> Vec<Reaction>;
}
