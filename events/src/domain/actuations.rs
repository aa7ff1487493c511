//! Events of actuations (`actuation-<command_id>`): one command the
//! actuator carries out through an integration (an MQTT publish, a mail
//! sent, a CalDAV event created, an HTTP request), attempt by attempt.
//!
//! The stream id is the command's id, which is also the idempotency key
//! handed to the integration: a command is carried out at least once, and
//! an integration that honours the key carries it out once. Each attempt is
//! recorded as started, then succeeded or failed; a failure says whether
//! and when it will be retried (exponential back-off, bounded attempts). A
//! dry run records what would have been done and does nothing.
//!
//! The action and the results can carry personal data (a mail's
//! recipient, an event's title): they are sealed.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::DomainEvent;
use super::inbox::contact_subject;
use crate::ids::SubjectId;

/// The plan step an actuation carries out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanStepRef {
    /// The plan's id.
    pub plan_id: String,
    /// The step's index.
    pub step: u32,
}

/// The reply an actuation sends, so that its outcome goes back to the
/// message replied to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRef {
    /// The message replied to (`message-<message_id>`).
    pub message_id: String,
    /// The reply's draft.
    pub draft_id: String,
}

/// The actuator was asked to carry out an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActuationRequested {
    /// The integration that carries it out (`mqtt`, `smtp`).
    pub integration: String,
    /// What to do, in the integration's terms.
    #[serde(default)]
    pub action: Value,
    /// The plan step it belongs to, if a plan issued it.
    #[serde(default)]
    pub plan_step: Option<PlanStepRef>,
    /// The reply it sends, if it sends one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyRef>,
    /// Record what would be done, do nothing.
    pub dry_run: bool,
    /// How many attempts at most.
    pub max_attempts: u32,
    /// When it was asked.
    pub requested_at: DateTime<Utc>,
}

impl DomainEvent for ActuationRequested {
    const EVENT_TYPE: &'static str = "ActuationRequested";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["action"];

    /// A mail's recipients (`to`, `cc`, `bcc` of an `smtp` action), so that
    /// erasing one of them erases the mail sent to them.
    fn subjects(&self) -> Vec<SubjectId> {
        if self.integration != "smtp" {
            return Vec::new();
        }
        let recipients: BTreeSet<SubjectId> = ["to", "cc", "bcc"]
            .iter()
            .filter_map(|field| self.action.get(field)?.as_array())
            .flatten()
            .filter_map(|recipient| recipient.get("address")?.as_str())
            .filter_map(contact_subject)
            .collect();
        recipients.into_iter().collect()
    }
}

/// An attempt began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActuationStarted {
    /// The attempt, from 1.
    pub attempt: u32,
    /// When.
    pub started_at: DateTime<Utc>,
}

impl DomainEvent for ActuationStarted {
    const EVENT_TYPE: &'static str = "ActuationStarted";
    const SCHEMA_VERSION: u16 = 1;
}

/// An attempt carried the action out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActuationSucceeded {
    /// The attempt.
    pub attempt: u32,
    /// The plan step it carried out, as requested (so that the plan hears
    /// of it from this event alone).
    #[serde(default)]
    pub plan_step: Option<PlanStepRef>,
    /// The reply it sent, as requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyRef>,
    /// What the other side answered (a message id, an HTTP status and body).
    #[serde(default)]
    pub result: Value,
    /// How long the attempt took.
    pub latency_ms: u64,
}

impl DomainEvent for ActuationSucceeded {
    const EVENT_TYPE: &'static str = "ActuationSucceeded";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["result"];
}

/// An attempt failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActuationFailed {
    /// The attempt.
    pub attempt: u32,
    /// The plan step it was to carry out, as requested.
    #[serde(default)]
    pub plan_step: Option<PlanStepRef>,
    /// The reply it was to send, as requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyRef>,
    /// What went wrong (servers' answers may quote addresses: sealed).
    #[serde(default)]
    pub error: String,
    /// When the next attempt is due; `None`: no more attempts, the
    /// actuation failed for good.
    #[serde(default)]
    pub retry_at: Option<DateTime<Utc>>,
    /// How long the attempt took.
    pub latency_ms: u64,
}

impl DomainEvent for ActuationFailed {
    const EVENT_TYPE: &'static str = "ActuationFailed";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["error"];
}

/// A dry run: what would have been done, with nothing done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActuationSimulated {
    /// The plan step it stood for, as requested.
    #[serde(default)]
    pub plan_step: Option<PlanStepRef>,
    /// The reply it stood for, as requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyRef>,
    /// What the integration would have sent, in its words.
    #[serde(default)]
    pub would: Value,
}

impl DomainEvent for ActuationSimulated {
    const EVENT_TYPE: &'static str = "ActuationSimulated";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["would"];
}

crate::domain_events! {
    /// What an actuation stream holds.
    pub enum ActuationEvent {
        /// It was asked for.
        Requested(ActuationRequested),
        /// An attempt began.
        Started(ActuationStarted),
        /// An attempt succeeded.
        Succeeded(ActuationSucceeded),
        /// An attempt failed.
        Failed(ActuationFailed),
        /// A dry run.
        Simulated(ActuationSimulated),
    }
}

/// The JSON Schema of every event type of the domain.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    use super::EventSet as _;
    ActuationEvent::schemas()
}
