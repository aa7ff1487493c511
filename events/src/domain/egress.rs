//! Events of the egress ledger (`egress-<yyyy-mm>`): every call Steward
//! makes to a model outside the machine, written before the call goes out
//! and settled with what came back, so that what left, for whom and where
//! can always be shown.
//!
//! What was sent and received is the person's words: personal and sealed.
//! The endpoint, the model, the purpose, the privacy class and the timing
//! are not, and stay after an erasure.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::DomainEvent;

/// A call is about to leave the machine. Nothing is sent until this is
/// recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EgressSent {
    /// The call's id (UUIDv7).
    pub call_id: String,
    /// Where it goes: the endpoint's base URL, never a key.
    pub endpoint: String,
    /// The model asked.
    pub model: String,
    /// What for (`interpret_request`).
    pub purpose: String,
    /// The privacy class the request was given (`ordinary`): only these
    /// may leave.
    pub privacy: String,
    /// The plan it was for, if any.
    #[serde(default)]
    pub plan_id: Option<String>,
    /// The request body, exactly as sent (null once erased).
    #[serde(default)]
    pub sent: Value,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
}

impl DomainEvent for EgressSent {
    const EVENT_TYPE: &'static str = "EgressSent";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["sent"];
}

/// The endpoint answered a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EgressAnswered {
    /// The call.
    pub call_id: String,
    /// The HTTP status.
    pub status: u16,
    /// What came back (null once erased).
    #[serde(default)]
    pub received: Value,
    /// How long the call took.
    pub latency_ms: u64,
}

impl DomainEvent for EgressAnswered {
    const EVENT_TYPE: &'static str = "EgressAnswered";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["received"];
}

/// A call got no answer (unreachable, timed out): what was sent may or
/// may not have arrived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EgressFailed {
    /// The call.
    pub call_id: String,
    /// What went wrong.
    pub error: String,
    /// How long until it was given up.
    pub latency_ms: u64,
}

impl DomainEvent for EgressFailed {
    const EVENT_TYPE: &'static str = "EgressFailed";
    const SCHEMA_VERSION: u16 = 1;
}

crate::domain_events! {
    /// What an egress ledger stream holds.
    pub enum EgressEvent {
        /// A call went out.
        Sent(EgressSent),
        /// It was answered.
        Answered(EgressAnswered),
        /// It failed.
        Failed(EgressFailed),
    }
}

/// The JSON Schema of every event type of the egress ledger.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    use super::EventSet as _;
    EgressEvent::schemas()
}
