//! Events of sagas: what each process manager did and why, in its own
//! stream (`saga-<name>`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{DomainEvent, EventSet as _};
use crate::ids::StreamId;
use crate::position::Position;

/// One command a saga sent, and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SagaCommand {
    /// The command's id.
    pub command_id: String,
    /// The aggregate it went to.
    pub stream_id: StreamId,
    /// The command.
    pub command_type: String,
    /// `appended`, `unchanged`, `duplicate` or `rejected (<rule>): …`.
    pub outcome: String,
}

/// A saga answered an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SagaReacted {
    /// The event answered (the commands' causation).
    pub trigger_event_id: Uuid,
    /// Its type.
    pub trigger_type: String,
    /// Its stream.
    pub trigger_stream: StreamId,
    /// Its place in the log: the saga resumes after it.
    pub trigger_position: Position,
    /// The commands sent, in order.
    pub commands: Vec<SagaCommand>,
}

impl DomainEvent for SagaReacted {
    const EVENT_TYPE: &'static str = "SagaReacted";
    const SCHEMA_VERSION: u16 = 1;
}

/// A saga read the log up to a position without needing to answer
/// anything since its last record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SagaCheckpointed {
    /// The last event read.
    pub position: Position,
}

impl DomainEvent for SagaCheckpointed {
    const EVENT_TYPE: &'static str = "SagaCheckpointed";
    const SCHEMA_VERSION: u16 = 1;
}

crate::domain_events! {
    /// What a saga's stream holds.
    pub enum SagaEvent {
        /// It answered an event.
        Reacted(SagaReacted),
        /// It read on.
        Checkpointed(SagaCheckpointed),
    }
}

impl SagaEvent {
    /// The position the saga had read up to when it recorded this.
    pub fn position(&self) -> Position {
        match self {
            SagaEvent::Reacted(e) => e.trigger_position,
            SagaEvent::Checkpointed(e) => e.position,
        }
    }
}

/// The JSON Schema of every event type of sagas.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    SagaEvent::schemas()
}
