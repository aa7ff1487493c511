//! Events of timers: a command to send to an aggregate at a time.
//!
//! One stream per timer (`timer-<timer_id>`). The timer worker sends the
//! command when it falls due (with a command id of the timer's own, so a
//! send repeated after a crash is recognised) and then records the firing.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{DomainEvent, EventSet as _};
use crate::ids::StreamId;

/// A timer was set: at `due_at`, send `command_type` with `data` to
/// `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimerScheduled {
    /// The timer.
    pub timer_id: String,
    /// When it falls due.
    pub due_at: DateTime<Utc>,
    /// The aggregate to send the command to.
    pub target: StreamId,
    /// The command.
    pub command_type: String,
    /// Its data.
    pub data: Value,
}

impl DomainEvent for TimerScheduled {
    const EVENT_TYPE: &'static str = "TimerScheduled";
    const SCHEMA_VERSION: u16 = 1;
}

/// A timer's command was sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimerFired {
    /// The timer.
    pub timer_id: String,
    /// When it was due.
    pub due_at: DateTime<Utc>,
    /// When it was sent.
    pub fired_at: DateTime<Utc>,
    /// What became of the command: `done`, `unchanged` or `rejected: <rule>`.
    pub outcome: String,
}

impl DomainEvent for TimerFired {
    const EVENT_TYPE: &'static str = "TimerFired";
    const SCHEMA_VERSION: u16 = 1;
}

/// A timer was called off before it fell due.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimerCancelled {
    /// The timer.
    pub timer_id: String,
}

impl DomainEvent for TimerCancelled {
    const EVENT_TYPE: &'static str = "TimerCancelled";
    const SCHEMA_VERSION: u16 = 1;
}

crate::domain_events! {
    /// What a timer stream holds.
    pub enum TimerEvent {
        /// It was set (or moved).
        Scheduled(TimerScheduled),
        /// It fired.
        Fired(TimerFired),
        /// It was called off.
        Cancelled(TimerCancelled),
    }
}

/// The JSON Schema of every event type of timers.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    TimerEvent::schemas()
}
