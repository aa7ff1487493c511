//! Webhooks: the subscribers that get the log's events over HTTP
//! (`webhooks-main`), their cursors and their delivery log.
//!
//! Administered like access (domain `access`, so only admins send these
//! commands). The delivery worker in `runtime/` reads a subscriber's state,
//! delivers the next matching event after its cursor, and records each
//! attempt here; a delivered event (or a dead letter) moves the cursor, so
//! delivery is at least once and in order per subscriber.
//!
//! Rules: a URL is `http` or `https`; a secret is `whsec_` and base64 of 24
//! to 64 bytes; after [`DISABLE_AFTER`] dead letters in a row the
//! subscriber is disabled (`WebhookDisabled`, reason `failing…`) so the
//! owner sees it; a redelivery names a delivery in the log; a replay moves
//! the cursor back only.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_events::domain::webhooks::{
    WebhookDeadLettered, WebhookDeleted, WebhookDeliveryAttempted, WebhookDisabled, WebhookEnabled,
    WebhookEvent, WebhookRedeliveryRequested, WebhookRegistered, WebhookReplayed, WebhookUpdated,
};

use crate::aggregate::{Aggregate, Context, Rejection, ensure};
use crate::catalog::Visitor;

/// Dead letters in a row after which a subscriber is disabled.
pub const DISABLE_AFTER: u32 = 3;

/// Deliveries kept per subscriber in the state (the stream keeps all).
pub const DELIVERIES_KEPT: usize = 200;

/// Shows the webhooks aggregate to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<Webhooks>();
}

/// Commands to the webhooks stream.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum WebhookCommand {
    /// Register a subscriber. Registering the same one again changes
    /// nothing.
    RegisterWebhook {
        /// Its id (letters, digits, `-` and `_`; at most 64).
        webhook_id: String,
        /// Where deliveries go (`http://` or `https://`).
        url: String,
        /// The stream categories it gets; all when empty.
        #[serde(default)]
        categories: Vec<String>,
        /// The event types it gets; all when empty.
        #[serde(default)]
        event_types: Vec<String>,
        /// Whether deliveries carry personal parts.
        #[serde(default)]
        personal: bool,
        /// The global position after which deliveries start.
        #[serde(default)]
        after: u64,
        /// The signing secret (`whsec_` and base64 of 24 to 64 bytes).
        secret: String,
    },
    /// Change a subscriber's URL, filter or grant.
    UpdateWebhook {
        /// The subscriber.
        webhook_id: String,
        /// Where deliveries go.
        url: String,
        /// The stream categories it gets; all when empty.
        #[serde(default)]
        categories: Vec<String>,
        /// The event types it gets; all when empty.
        #[serde(default)]
        event_types: Vec<String>,
        /// Whether deliveries carry personal parts.
        #[serde(default)]
        personal: bool,
    },
    /// Stop deliveries to a subscriber.
    DisableWebhook {
        /// The subscriber.
        webhook_id: String,
    },
    /// Resume deliveries at the subscriber's cursor.
    EnableWebhook {
        /// The subscriber.
        webhook_id: String,
    },
    /// Delete a subscriber; deleting it again changes nothing.
    DeleteWebhook {
        /// The subscriber.
        webhook_id: String,
    },
    /// Record an attempt to deliver an event (sent by the worker).
    RecordDeliveryAttempt {
        /// The subscriber.
        webhook_id: String,
        /// The delivery.
        delivery_id: String,
        /// The event's global position.
        position: u64,
        /// The event's type.
        event_type: String,
        /// 1 for the first attempt.
        attempt: u32,
        /// When it was sent.
        attempted_at: DateTime<Utc>,
        /// The response's status code, if one came.
        #[serde(default)]
        status_code: Option<u16>,
        /// How long the answer took, in milliseconds.
        latency_ms: u64,
        /// Whether the subscriber took it.
        delivered: bool,
        /// What went wrong.
        #[serde(default)]
        error: Option<String>,
        /// Whether it was a redelivery asked for by hand.
        #[serde(default)]
        manual: bool,
        /// The subscriber's cursor when the delivery began.
        cursor: u64,
    },
    /// Give an event up after the retry window (sent by the worker).
    DeadLetter {
        /// The subscriber.
        webhook_id: String,
        /// The delivery.
        delivery_id: String,
        /// The event's global position.
        position: u64,
        /// How many attempts were made.
        attempts: u32,
        /// The subscriber's cursor when the delivery began.
        cursor: u64,
    },
    /// Send a delivery of the log again.
    Redeliver {
        /// The subscriber.
        webhook_id: String,
        /// The delivery.
        delivery_id: String,
    },
    /// Deliver every matching event after `after` again, in order.
    Replay {
        /// The subscriber.
        webhook_id: String,
        /// The global position to resume after (before the cursor).
        after: u64,
    },
}

/// One delivery as the log keeps it: its latest attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The delivery (`webhook-id` on the wire).
    pub delivery_id: String,
    /// The event's global position.
    pub position: u64,
    /// The event's type.
    pub event_type: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the first attempt was sent.
    pub first_attempt_at: DateTime<Utc>,
    /// When the latest attempt was sent.
    pub last_attempt_at: DateTime<Utc>,
    /// The latest response's status code.
    pub status_code: Option<u16>,
    /// The latest attempt's latency in milliseconds.
    pub latency_ms: u64,
    /// `pending` (retrying), `delivered` or `dead_letter`.
    pub status: String,
    /// What went wrong last.
    pub error: Option<String>,
}

/// A subscriber as the webhooks stream knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    /// Its id.
    pub webhook_id: String,
    /// Where deliveries go.
    pub url: String,
    /// Categories it gets; all when empty.
    pub categories: Vec<String>,
    /// Event types it gets; all when empty.
    pub event_types: Vec<String>,
    /// Whether deliveries carry personal parts.
    pub personal: bool,
    /// The signing secret.
    pub secret: String,
    /// Whether deliveries are on.
    pub enabled: bool,
    /// Why it was disabled, if it is.
    pub disabled_reason: Option<String>,
    /// The global position of the last event settled (delivered or dead).
    pub cursor: u64,
    /// Dead letters in a row.
    pub dead_letters_in_a_row: u32,
    /// Deliveries asked for by hand, in order: (delivery id, position).
    pub redeliveries: Vec<(String, u64)>,
    /// The latest deliveries, oldest first.
    pub deliveries: Vec<Delivery>,
}

impl Webhook {
    /// Whether an event of `category` and `event_type` is for it. The
    /// webhooks stream itself is never delivered: each delivery records
    /// an event there, which would be delivered in turn.
    pub fn wants(&self, category: &str, event_type: &str) -> bool {
        category != Webhooks::CATEGORY
            && (self.categories.is_empty() || self.categories.iter().any(|c| c == category))
            && (self.event_types.is_empty() || self.event_types.iter().any(|t| t == event_type))
    }

    /// The delivery of the log with this id.
    pub fn delivery(&self, delivery_id: &str) -> Option<&Delivery> {
        self.deliveries
            .iter()
            .rev()
            .find(|d| d.delivery_id == delivery_id)
    }
}

/// Every subscriber of an installation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Webhooks {
    /// The subscribers, by id (deleted ones are dropped).
    pub webhooks: BTreeMap<String, Webhook>,
}

impl Webhooks {
    fn webhook(&self, webhook_id: &str) -> Result<&Webhook, Rejection> {
        self.webhooks.get(webhook_id).ok_or_else(|| {
            Rejection::new(
                "unknown_webhook",
                format!("there is no webhook `{webhook_id}`"),
            )
        })
    }
}

fn check_url(url: &str) -> Result<String, Rejection> {
    let url = url.trim();
    ensure(
        (url.starts_with("http://") || url.starts_with("https://"))
            && url.len() > "https://".len()
            && url.len() <= 2000
            && !url.chars().any(char::is_whitespace),
        "invalid_url",
        || format!("`{url}` is not an http or https URL"),
    )?;
    Ok(url.to_owned())
}

fn check_id(webhook_id: &str) -> Result<(), Rejection> {
    ensure(
        !webhook_id.is_empty()
            && webhook_id.len() <= 64
            && webhook_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "invalid_webhook_id",
        || "a webhook id is 1 to 64 letters, digits, `-` and `_`".to_owned(),
    )
}

fn check_secret(secret: &str) -> Result<(), Rejection> {
    use base64::Engine as _;
    let bytes = secret
        .strip_prefix("whsec_")
        .and_then(|key| base64::engine::general_purpose::STANDARD.decode(key).ok());
    ensure(
        bytes.is_some_and(|b| (24..=64).contains(&b.len())),
        "invalid_secret",
        || "a secret is `whsec_` and the base64 of 24 to 64 bytes".to_owned(),
    )
}

fn cleaned(values: Vec<String>) -> Vec<String> {
    let mut values: Vec<String> = values
        .into_iter()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    values.sort();
    values.dedup();
    values
}

impl Aggregate for Webhooks {
    const CATEGORY: &'static str = "webhooks";
    const DOMAIN: &'static str = "access";
    const STATE_VERSION: u32 = 1;
    type Command = WebhookCommand;
    type Event = WebhookEvent;

    fn decide(
        &self,
        command: WebhookCommand,
        _context: &Context,
    ) -> Result<Vec<WebhookEvent>, Rejection> {
        match command {
            WebhookCommand::RegisterWebhook {
                webhook_id,
                url,
                categories,
                event_types,
                personal,
                after,
                secret,
            } => {
                check_id(&webhook_id)?;
                check_secret(&secret)?;
                let registered = WebhookRegistered {
                    webhook_id,
                    url: check_url(&url)?,
                    categories: cleaned(categories),
                    event_types: cleaned(event_types),
                    personal,
                    after,
                    secret,
                };
                if let Some(existing) = self.webhooks.get(&registered.webhook_id) {
                    ensure(
                        existing.url == registered.url && existing.secret == registered.secret,
                        "webhook_exists",
                        || format!("a webhook `{}` exists", registered.webhook_id),
                    )?;
                    return Ok(Vec::new());
                }
                Ok(vec![WebhookEvent::Registered(registered)])
            }
            WebhookCommand::UpdateWebhook {
                webhook_id,
                url,
                categories,
                event_types,
                personal,
            } => {
                let current = self.webhook(&webhook_id)?;
                let updated = WebhookUpdated {
                    webhook_id,
                    url: check_url(&url)?,
                    categories: cleaned(categories),
                    event_types: cleaned(event_types),
                    personal,
                };
                if current.url == updated.url
                    && current.categories == updated.categories
                    && current.event_types == updated.event_types
                    && current.personal == updated.personal
                {
                    return Ok(Vec::new());
                }
                Ok(vec![WebhookEvent::Updated(updated)])
            }
            WebhookCommand::DisableWebhook { webhook_id } => {
                let current = self.webhook(&webhook_id)?;
                if !current.enabled {
                    return Ok(Vec::new());
                }
                Ok(vec![WebhookEvent::Disabled(WebhookDisabled {
                    webhook_id,
                    reason: "by_admin".to_owned(),
                })])
            }
            WebhookCommand::EnableWebhook { webhook_id } => {
                let current = self.webhook(&webhook_id)?;
                if current.enabled {
                    return Ok(Vec::new());
                }
                Ok(vec![WebhookEvent::Enabled(WebhookEnabled { webhook_id })])
            }
            WebhookCommand::DeleteWebhook { webhook_id } => {
                if !self.webhooks.contains_key(&webhook_id) {
                    return Ok(Vec::new());
                }
                Ok(vec![WebhookEvent::Deleted(WebhookDeleted { webhook_id })])
            }
            WebhookCommand::RecordDeliveryAttempt {
                webhook_id,
                delivery_id,
                position,
                event_type,
                attempt,
                attempted_at,
                status_code,
                latency_ms,
                delivered,
                error,
                manual,
                cursor,
            } => {
                let current = self.webhook(&webhook_id)?;
                // A repeat of a recorded attempt (a worker restarted
                // between recording and moving on) changes nothing.
                if current
                    .delivery(&delivery_id)
                    .is_some_and(|d| d.attempts >= attempt && !manual)
                {
                    return Ok(Vec::new());
                }
                Ok(vec![WebhookEvent::DeliveryAttempted(
                    WebhookDeliveryAttempted {
                        webhook_id,
                        delivery_id,
                        position,
                        event_type,
                        attempt,
                        attempted_at,
                        status_code,
                        latency_ms,
                        delivered,
                        error,
                        manual,
                        cursor,
                    },
                )])
            }
            WebhookCommand::DeadLetter {
                webhook_id,
                delivery_id,
                position,
                attempts,
                cursor,
            } => {
                let current = self.webhook(&webhook_id)?;
                // Already given up, or a replay moved the cursor meanwhile.
                if current.cursor != cursor || position <= cursor {
                    return Ok(Vec::new());
                }
                let mut events = vec![WebhookEvent::DeadLettered(WebhookDeadLettered {
                    webhook_id: webhook_id.clone(),
                    delivery_id,
                    position,
                    attempts,
                    cursor,
                })];
                let in_a_row = current.dead_letters_in_a_row + 1;
                if in_a_row >= DISABLE_AFTER && current.enabled {
                    events.push(WebhookEvent::Disabled(WebhookDisabled {
                        webhook_id,
                        reason: format!("failing: {in_a_row} dead letters in a row"),
                    }));
                }
                Ok(events)
            }
            WebhookCommand::Redeliver {
                webhook_id,
                delivery_id,
            } => {
                let current = self.webhook(&webhook_id)?;
                let delivery = current.delivery(&delivery_id).ok_or_else(|| {
                    Rejection::new(
                        "unknown_delivery",
                        format!(
                            "webhook `{webhook_id}` has no delivery `{delivery_id}` in its log"
                        ),
                    )
                })?;
                if current
                    .redeliveries
                    .iter()
                    .any(|(id, _)| *id == delivery_id)
                {
                    return Ok(Vec::new());
                }
                Ok(vec![WebhookEvent::RedeliveryRequested(
                    WebhookRedeliveryRequested {
                        webhook_id,
                        position: delivery.position,
                        delivery_id,
                    },
                )])
            }
            WebhookCommand::Replay { webhook_id, after } => {
                let current = self.webhook(&webhook_id)?;
                ensure(after <= current.cursor, "replay_ahead", || {
                    format!(
                        "a replay goes back: the cursor is at {}, not before {after}",
                        current.cursor
                    )
                })?;
                Ok(vec![WebhookEvent::Replayed(WebhookReplayed {
                    webhook_id,
                    after,
                })])
            }
        }
    }

    fn apply(&mut self, event: &WebhookEvent) {
        match event {
            WebhookEvent::Registered(e) => {
                self.webhooks.insert(
                    e.webhook_id.clone(),
                    Webhook {
                        webhook_id: e.webhook_id.clone(),
                        url: e.url.clone(),
                        categories: e.categories.clone(),
                        event_types: e.event_types.clone(),
                        personal: e.personal,
                        secret: e.secret.clone(),
                        enabled: true,
                        disabled_reason: None,
                        cursor: e.after,
                        dead_letters_in_a_row: 0,
                        redeliveries: Vec::new(),
                        deliveries: Vec::new(),
                    },
                );
            }
            WebhookEvent::Updated(e) => {
                if let Some(hook) = self.webhooks.get_mut(&e.webhook_id) {
                    hook.url.clone_from(&e.url);
                    hook.categories.clone_from(&e.categories);
                    hook.event_types.clone_from(&e.event_types);
                    hook.personal = e.personal;
                }
            }
            WebhookEvent::Disabled(e) => {
                if let Some(hook) = self.webhooks.get_mut(&e.webhook_id) {
                    hook.enabled = false;
                    hook.disabled_reason = Some(e.reason.clone());
                }
            }
            WebhookEvent::Enabled(e) => {
                if let Some(hook) = self.webhooks.get_mut(&e.webhook_id) {
                    hook.enabled = true;
                    hook.disabled_reason = None;
                    hook.dead_letters_in_a_row = 0;
                }
            }
            WebhookEvent::Deleted(e) => {
                self.webhooks.remove(&e.webhook_id);
            }
            WebhookEvent::DeliveryAttempted(e) => {
                let Some(hook) = self.webhooks.get_mut(&e.webhook_id) else {
                    return;
                };
                let status = if e.delivered { "delivered" } else { "pending" };
                match hook
                    .deliveries
                    .iter_mut()
                    .rev()
                    .find(|d| d.delivery_id == e.delivery_id)
                {
                    Some(delivery) => {
                        // A settled delivery sent again by a replay starts
                        // a new retry window.
                        if !e.manual && delivery.status != "pending" {
                            delivery.first_attempt_at = e.attempted_at;
                        }
                        delivery.attempts = delivery.attempts.max(e.attempt);
                        delivery.last_attempt_at = e.attempted_at;
                        delivery.status_code = e.status_code;
                        delivery.latency_ms = e.latency_ms;
                        if !(e.manual && !e.delivered && delivery.status != "pending") {
                            delivery.status = status.to_owned();
                        }
                        delivery.error.clone_from(&e.error);
                    }
                    None => {
                        hook.deliveries.push(Delivery {
                            delivery_id: e.delivery_id.clone(),
                            position: e.position,
                            event_type: e.event_type.clone(),
                            attempts: e.attempt,
                            first_attempt_at: e.attempted_at,
                            last_attempt_at: e.attempted_at,
                            status_code: e.status_code,
                            latency_ms: e.latency_ms,
                            status: status.to_owned(),
                            error: e.error.clone(),
                        });
                        if hook.deliveries.len() > DELIVERIES_KEPT {
                            hook.deliveries.remove(0);
                        }
                    }
                }
                if e.manual {
                    hook.redeliveries.retain(|(id, _)| *id != e.delivery_id);
                } else if e.delivered && e.position > hook.cursor && hook.cursor == e.cursor {
                    hook.cursor = e.position;
                    hook.dead_letters_in_a_row = 0;
                }
            }
            WebhookEvent::DeadLettered(e) => {
                let Some(hook) = self.webhooks.get_mut(&e.webhook_id) else {
                    return;
                };
                if let Some(delivery) = hook
                    .deliveries
                    .iter_mut()
                    .rev()
                    .find(|d| d.delivery_id == e.delivery_id)
                {
                    "dead_letter".clone_into(&mut delivery.status);
                }
                if hook.cursor == e.cursor {
                    hook.cursor = hook.cursor.max(e.position);
                }
                hook.dead_letters_in_a_row += 1;
            }
            WebhookEvent::RedeliveryRequested(e) => {
                if let Some(hook) = self.webhooks.get_mut(&e.webhook_id) {
                    hook.redeliveries.push((e.delivery_id.clone(), e.position));
                }
            }
            WebhookEvent::Replayed(e) => {
                if let Some(hook) = self.webhooks.get_mut(&e.webhook_id) {
                    hook.cursor = e.after;
                }
            }
        }
    }
}
