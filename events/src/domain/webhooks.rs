//! Events of webhooks: subscribers that get the log's events over HTTP,
//! signed per the Standard Webhooks specification.
//!
//! One stream per installation (`webhooks-main`), administered like
//! `access-main`. A subscriber names a URL and a filter (categories, event
//! types), and whether it may see personal parts. Its signing secret
//! (`whsec_…`) must stay usable by the sender, so it cannot be kept as a
//! digest: it travels in the sealed personal part under the subscriber's own
//! subject (`webhook:<id>`), so erasing that subject destroys it.
//!
//! The delivery worker records every attempt (status, latency, response
//! code), each event it gave up on after the retry window (dead letter), and
//! moves the subscriber's cursor: the position of the last event settled.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DomainEvent, EventSet as _};
use crate::ids::SubjectId;

/// The data subject a subscriber's secret is sealed under.
pub fn webhook_subject(webhook_id: &str) -> Option<SubjectId> {
    SubjectId::parse(format!("webhook:{webhook_id}")).ok()
}

/// A subscriber was registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRegistered {
    /// The subscriber.
    pub webhook_id: String,
    /// Where deliveries go (`http` or `https`).
    pub url: String,
    /// The stream categories it gets; all when empty.
    pub categories: Vec<String>,
    /// The event types it gets; all when empty.
    pub event_types: Vec<String>,
    /// Whether deliveries carry events' personal parts.
    pub personal: bool,
    /// The global position after which deliveries start (the log's head
    /// when it was registered).
    pub after: u64,
    /// The signing secret (`whsec_` and base64).
    #[serde(default)]
    pub secret: String,
}

impl DomainEvent for WebhookRegistered {
    const EVENT_TYPE: &'static str = "WebhookRegistered";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["secret"];

    fn subjects(&self) -> Vec<SubjectId> {
        webhook_subject(&self.webhook_id).into_iter().collect()
    }
}

/// A subscriber's URL, filter or grant changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookUpdated {
    /// The subscriber.
    pub webhook_id: String,
    /// Where deliveries go.
    pub url: String,
    /// The stream categories it gets; all when empty.
    pub categories: Vec<String>,
    /// The event types it gets; all when empty.
    pub event_types: Vec<String>,
    /// Whether deliveries carry personal parts.
    pub personal: bool,
}

impl DomainEvent for WebhookUpdated {
    const EVENT_TYPE: &'static str = "WebhookUpdated";
    const SCHEMA_VERSION: u16 = 1;
}

/// A subscriber was disabled: nothing is delivered until it is enabled.
/// `failing` means the worker disabled it after dead letters in a row; the
/// owner sees this event (and its reason) in the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookDisabled {
    /// The subscriber.
    pub webhook_id: String,
    /// `by_admin` or `failing: <n> dead letters in a row`.
    pub reason: String,
}

impl DomainEvent for WebhookDisabled {
    const EVENT_TYPE: &'static str = "WebhookDisabled";
    const SCHEMA_VERSION: u16 = 1;
}

/// A subscriber was enabled again; deliveries resume at its cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEnabled {
    /// The subscriber.
    pub webhook_id: String,
}

impl DomainEvent for WebhookEnabled {
    const EVENT_TYPE: &'static str = "WebhookEnabled";
    const SCHEMA_VERSION: u16 = 1;
}

/// A subscriber was deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookDeleted {
    /// The subscriber.
    pub webhook_id: String,
}

impl DomainEvent for WebhookDeleted {
    const EVENT_TYPE: &'static str = "WebhookDeleted";
    const SCHEMA_VERSION: u16 = 1;
}

/// One attempt to deliver one event to one subscriber.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookDeliveryAttempted {
    /// The subscriber.
    pub webhook_id: String,
    /// The delivery (`webhook-id` on the wire): the same for every attempt
    /// at one event.
    pub delivery_id: String,
    /// The event's global position.
    pub position: u64,
    /// The event's type.
    pub event_type: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When it was sent.
    pub attempted_at: DateTime<Utc>,
    /// The response's status code, if one came.
    pub status_code: Option<u16>,
    /// How long the answer took, in milliseconds.
    pub latency_ms: u64,
    /// Whether the subscriber took it (a 2xx answer).
    pub delivered: bool,
    /// What went wrong, when it did.
    pub error: Option<String>,
    /// Whether it was asked for by hand (a redelivery), so it does not move
    /// the cursor.
    pub manual: bool,
    /// The subscriber's cursor when the delivery began: a delivery moves
    /// the cursor only from there, so a replay asked for meanwhile wins.
    pub cursor: u64,
}

impl DomainEvent for WebhookDeliveryAttempted {
    const EVENT_TYPE: &'static str = "WebhookDeliveryAttempted";
    const SCHEMA_VERSION: u16 = 1;
}

/// The worker gave up on an event after the retry window and moved on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookDeadLettered {
    /// The subscriber.
    pub webhook_id: String,
    /// The delivery.
    pub delivery_id: String,
    /// The event's global position.
    pub position: u64,
    /// How many attempts were made.
    pub attempts: u32,
    /// The subscriber's cursor when the delivery began.
    pub cursor: u64,
}

impl DomainEvent for WebhookDeadLettered {
    const EVENT_TYPE: &'static str = "WebhookDeadLettered";
    const SCHEMA_VERSION: u16 = 1;
}

/// A delivery is to be sent again, by hand (a dead letter, or one the
/// subscriber lost).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRedeliveryRequested {
    /// The subscriber.
    pub webhook_id: String,
    /// The delivery.
    pub delivery_id: String,
    /// The event's global position.
    pub position: u64,
}

impl DomainEvent for WebhookRedeliveryRequested {
    const EVENT_TYPE: &'static str = "WebhookRedeliveryRequested";
    const SCHEMA_VERSION: u16 = 1;
}

/// The subscriber's cursor was moved back: every matching event after
/// `after` is delivered again, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookReplayed {
    /// The subscriber.
    pub webhook_id: String,
    /// Deliveries resume after this global position.
    pub after: u64,
}

impl DomainEvent for WebhookReplayed {
    const EVENT_TYPE: &'static str = "WebhookReplayed";
    const SCHEMA_VERSION: u16 = 1;
}

crate::domain_events! {
    /// What the webhooks stream holds.
    pub enum WebhookEvent {
        /// A subscriber was registered.
        Registered(WebhookRegistered),
        /// A subscriber changed.
        Updated(WebhookUpdated),
        /// A subscriber was disabled.
        Disabled(WebhookDisabled),
        /// A subscriber was enabled.
        Enabled(WebhookEnabled),
        /// A subscriber was deleted.
        Deleted(WebhookDeleted),
        /// A delivery was attempted.
        DeliveryAttempted(WebhookDeliveryAttempted),
        /// A delivery was given up.
        DeadLettered(WebhookDeadLettered),
        /// A delivery is to be sent again.
        RedeliveryRequested(WebhookRedeliveryRequested),
        /// The cursor moved back.
        Replayed(WebhookReplayed),
    }
}

/// The JSON Schema of every event type of webhooks.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    WebhookEvent::schemas()
}
