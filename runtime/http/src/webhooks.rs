//! Webhook deliveries: the log's events sent to subscribers over HTTP,
//! signed per the Standard Webhooks specification.
//!
//! - [`sign`]: the `webhook-signature` of a message (`v1,` and the base64
//!   HMAC-SHA256 of `id.timestamp.body` under the secret's key);
//!   [`new_secret`] makes a `whsec_…` secret.
//! - [`WebhookWorker`]: one task per subscriber, run under the lease
//!   [`WebhookWorker::LEASE`]. Each task delivers the next matching event
//!   after the subscriber's cursor (kept in `webhooks-main`), one at a time,
//!   so order holds per subscriber; it records every attempt, retries with
//!   exponential back-off over [`RetryPolicy::give_up_after`] (24 h), then
//!   dead-letters the event and moves on. An event is settled only once its
//!   delivery (or dead letter) is in the log, so a worker that stops
//!   meanwhile sends it again: at least once, under the same `webhook-id`,
//!   which receivers deduplicate on. The back-off survives restarts: the
//!   next attempt is due from the last attempt recorded.
//!
//! Personal parts are sent only to subscribers granted them. The
//! `webhooks` stream itself is never delivered (each delivery records an
//! event there).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;
use steward_actors::CommandEnvelope;
use steward_actors::webhooks::{Webhook, Webhooks};
use steward_events::{EventStore, Personal, Position, RecordedEvent, StreamId};
use steward_host::{Host, HostError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The stream every subscriber lives in.
pub fn webhooks_stream() -> StreamId {
    StreamId::new("webhooks", "main").unwrap_or_else(|_| unreachable!("`webhooks-main` is valid"))
}

/// Why a secret cannot sign.
#[derive(Debug, thiserror::Error)]
#[error("a webhook secret is `whsec_` and base64")]
pub struct BadSecret;

/// The `webhook-signature` header of a message: `v1,<base64 HMAC-SHA256
/// of "{id}.{timestamp}.{body}">`, keyed with the secret's base64 part.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, BadSecret> {
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|key| base64::engine::general_purpose::STANDARD.decode(key).ok())
        .ok_or(BadSecret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| BadSecret)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    Ok(format!("v1,{signature}"))
}

/// A new signing secret: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)?;
    Ok(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    ))
}

/// When to try a failing delivery again, and when to give up.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// The pause before the 2nd, 3rd… attempt; the last repeats.
    pub delays: Vec<Duration>,
    /// How long after the first attempt an event is dead-lettered.
    pub give_up_after: Duration,
    /// How often an idle subscriber looks for new events.
    pub poll: Duration,
    /// The longest a request may take, connecting included.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        Self {
            delays: vec![
                Duration::from_secs(5),
                Duration::from_secs(30),
                minutes(2),
                minutes(10),
                minutes(30),
                minutes(60),
                minutes(120),
                minutes(240),
                minutes(480),
            ],
            give_up_after: minutes(24 * 60),
            poll: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The pause after attempt `attempt` (1-based) failed.
    fn delay_after(&self, attempt: u32) -> Duration {
        let index = (attempt as usize).saturating_sub(1);
        self.delays
            .get(index)
            .or(self.delays.last())
            .copied()
            .unwrap_or(Duration::from_secs(5))
    }
}

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
#[error("the webhook HTTP client cannot be built: {0}")]
pub struct ClientError(#[from] reqwest::Error);

struct Inner {
    host: Host,
    store: Arc<dyn EventStore>,
    client: reqwest::Client,
    policy: RetryPolicy,
}

/// Delivers the log's events to every enabled subscriber.
#[derive(Clone)]
pub struct WebhookWorker {
    inner: Arc<Inner>,
}

/// What one attempt came to.
struct Attempt {
    status_code: Option<u16>,
    latency_ms: u64,
    delivered: bool,
    error: Option<String>,
    attempted_at: DateTime<Utc>,
}

impl WebhookWorker {
    /// The lease the worker runs under.
    pub const LEASE: &'static str = "webhooks";

    /// A worker reading `store` and recording through `host`.
    pub fn new(
        host: Host,
        store: Arc<dyn EventStore>,
        policy: RetryPolicy,
    ) -> Result<Self, ClientError> {
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Steward-Webhooks/1")
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                host,
                store,
                client,
                policy,
            }),
        })
    }

    /// Runs until `stop`: keeps one delivery task per subscriber, starting
    /// tasks for new subscribers and restarting any that failed.
    pub async fn run(&self, stop: CancellationToken) -> Result<(), HostError> {
        let mut tasks: HashMap<String, JoinHandle<()>> = HashMap::new();
        loop {
            let (state, _) = self
                .inner
                .host
                .load::<Webhooks>(&webhooks_stream(), true)
                .await?;
            tasks.retain(|_, task| !task.is_finished());
            for webhook_id in state.webhooks.keys() {
                if tasks.contains_key(webhook_id) {
                    continue;
                }
                let inner = Arc::clone(&self.inner);
                let id = webhook_id.clone();
                let stop = stop.child_token();
                tasks.insert(
                    webhook_id.clone(),
                    tokio::spawn(async move {
                        if let Err(error) = inner.serve(&id, &stop).await {
                            tracing::warn!(webhook = %id, %error, "webhook deliveries stopped; starting again");
                        }
                    }),
                );
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(self.inner.policy.poll) => {}
            }
        }
        for (_, task) in tasks {
            let _ = task.await;
        }
        Ok(())
    }
}

impl Inner {
    async fn subscriber(&self, webhook_id: &str) -> Result<Option<Webhook>, HostError> {
        let (state, _) = self.host.load::<Webhooks>(&webhooks_stream(), true).await?;
        Ok(state.webhooks.get(webhook_id).cloned())
    }

    /// Delivers to one subscriber until it is deleted or `stop`.
    #[tracing::instrument(skip_all, fields(webhook = %webhook_id), err)]
    async fn serve(&self, webhook_id: &str, stop: &CancellationToken) -> Result<(), HostError> {
        // How far the log was read without a match since the cursor last
        // stood where it does, so that an idle subscriber does not read
        // the log from its cursor again on every poll.
        let mut scanned: Option<(u64, Position)> = None;
        while !stop.is_cancelled() {
            let Some(hook) = self.subscriber(webhook_id).await? else {
                return Ok(());
            };
            // A redelivery is asked for by hand: it goes even to a
            // disabled subscriber (to check it works again).
            if let Some((delivery_id, position)) = hook.redeliveries.first().cloned() {
                self.redeliver(&hook, &delivery_id, position).await?;
                continue;
            }
            if !hook.enabled {
                self.pause(stop).await;
                continue;
            }
            let from = match scanned {
                Some((cursor, to)) if cursor == hook.cursor => to,
                _ => Position::sequence(hook.cursor),
            };
            match self.next_event(&hook, from).await? {
                (Some(event), _) => {
                    scanned = None;
                    self.deliver(&hook, &event, stop).await?;
                }
                (None, to) => {
                    scanned = Some((hook.cursor, to));
                    self.pause(stop).await;
                }
            }
        }
        Ok(())
    }

    async fn pause(&self, stop: &CancellationToken) {
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(self.policy.poll) => {}
        }
    }

    /// The first event after `after` the subscriber wants, and how far the
    /// log was read.
    async fn next_event(
        &self,
        hook: &Webhook,
        mut after: Position,
    ) -> Result<(Option<RecordedEvent>, Position), HostError> {
        loop {
            let page = self.store.read_all(after, 200).await?;
            let Some(last) = page.last() else {
                return Ok((None, after));
            };
            after = last.global_position;
            if let Some(event) = page
                .into_iter()
                .find(|e| hook.wants(e.stream_id.category(), e.event_type.as_str()))
            {
                return Ok((Some(event), after));
            }
        }
    }

    /// Delivers `event` until it is taken or the retry window closes; the
    /// subscriber's changes (disabled, deleted, replayed) end it early.
    async fn deliver(
        &self,
        hook: &Webhook,
        event: &RecordedEvent,
        stop: &CancellationToken,
    ) -> Result<(), HostError> {
        let delivery_id = delivery_id(event);
        let position = event.global_position.commit();
        let clock = Arc::clone(self.host.clock());
        // A delivery already under way (before a restart) resumes its
        // back-off where the log says it stands; one settled before (a
        // replay) counts its attempts on from where they stopped.
        let (mut attempts, mut first, mut last) = match hook.delivery(&delivery_id) {
            Some(d) if d.status == "pending" && d.position == position => (
                d.attempts,
                Some(d.first_attempt_at),
                Some(d.last_attempt_at),
            ),
            Some(d) => (d.attempts, None, None),
            None => (0, None, None),
        };
        let mut current = hook.clone();
        loop {
            if let (Some(first), Some(last)) = (first, last) {
                let due = last + chrono_duration(self.policy.delay_after(attempts));
                if due > first + chrono_duration(self.policy.give_up_after) {
                    return self
                        .record(
                            hook,
                            "DeadLetter",
                            &format!("dead:{position}:{attempts}"),
                            json!({ "webhook_id": hook.webhook_id, "delivery_id": delivery_id,
                                    "position": position, "attempts": attempts,
                                    "cursor": hook.cursor }),
                        )
                        .await;
                }
                while clock.now() < due {
                    tokio::select! {
                        () = stop.cancelled() => return Ok(()),
                        () = clock.sleep_until(due) => {}
                    }
                }
                // Sent as the subscriber stands now: a URL or a grant
                // changed meanwhile applies to the next attempt.
                match self.subscriber(&hook.webhook_id).await? {
                    Some(now) if now.enabled && now.cursor == hook.cursor => current = now,
                    _ => return Ok(()),
                }
            }
            attempts += 1;
            let outcome = self.send(&current, event, &delivery_id).await;
            first.get_or_insert(outcome.attempted_at);
            last = Some(outcome.attempted_at);
            let delivered = outcome.delivered;
            self.record_attempt(hook, event, &delivery_id, attempts, outcome, false)
                .await?;
            if delivered {
                return Ok(());
            }
        }
    }

    /// Sends a delivery of the log once more, as asked by hand.
    async fn redeliver(
        &self,
        hook: &Webhook,
        delivery_id: &str,
        position: u64,
    ) -> Result<(), HostError> {
        let page = self
            .store
            .read_all(Position::sequence(position).predecessor(), 1)
            .await?;
        let attempt = hook.delivery(delivery_id).map_or(0, |d| d.attempts) + 1;
        match page
            .into_iter()
            .find(|e| e.global_position.commit() == position)
        {
            Some(event) => {
                let outcome = self.send(hook, &event, delivery_id).await;
                self.record_attempt(hook, &event, delivery_id, attempt, outcome, true)
                    .await
            }
            None => {
                // The event is gone from the log (it cannot be, short of a
                // restore): record the failure so the request is settled.
                let attempted_at = self.host.clock().now();
                self.record(
                    hook,
                    "RecordDeliveryAttempt",
                    &format!("manual:{delivery_id}:{attempt}"),
                    json!({ "webhook_id": hook.webhook_id, "delivery_id": delivery_id,
                            "position": position, "event_type": "", "attempt": attempt,
                            "attempted_at": attempted_at, "latency_ms": 0, "delivered": false,
                            "error": "the event is no longer in the log", "manual": true,
                            "cursor": hook.cursor }),
                )
                .await
            }
        }
    }

    async fn record_attempt(
        &self,
        hook: &Webhook,
        event: &RecordedEvent,
        delivery_id: &str,
        attempt: u32,
        outcome: Attempt,
        manual: bool,
    ) -> Result<(), HostError> {
        let tag = if manual { "manual" } else { "attempt" };
        self.record(
            hook,
            "RecordDeliveryAttempt",
            &format!("{tag}:{delivery_id}:{attempt}"),
            json!({ "webhook_id": hook.webhook_id, "delivery_id": delivery_id,
                    "position": event.global_position.commit(),
                    "event_type": event.event_type.as_str(), "attempt": attempt,
                    "attempted_at": outcome.attempted_at, "status_code": outcome.status_code,
                    "latency_ms": outcome.latency_ms, "delivered": outcome.delivered,
                    "error": outcome.error, "manual": manual, "cursor": hook.cursor }),
        )
        .await
    }

    /// Sends a command to `webhooks-main` under a command id of the
    /// worker's own (so a repeat after a crash is recognised). A refusal
    /// (the subscriber deleted meanwhile) is logged, not an error.
    async fn record(
        &self,
        hook: &Webhook,
        command_type: &str,
        key: &str,
        data: Value,
    ) -> Result<(), HostError> {
        let mut envelope =
            CommandEnvelope::new(webhooks_stream(), command_type, data, "system:webhooks");
        envelope.command_id = format!("webhook:{}:{key}", hook.webhook_id);
        match self.host.execute(envelope).await {
            Ok(_) => Ok(()),
            Err(HostError::Rejected(rejection)) => {
                tracing::info!(webhook = %hook.webhook_id, %rejection, "delivery record refused");
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// One signed POST of `event` to the subscriber.
    async fn send(&self, hook: &Webhook, event: &RecordedEvent, delivery_id: &str) -> Attempt {
        let attempted_at = self.host.clock().now();
        let started = Instant::now();
        let failed = |error: String| Attempt {
            status_code: None,
            latency_ms: elapsed_ms(started),
            delivered: false,
            error: Some(error),
            attempted_at,
        };
        let body = match serde_json::to_vec(&payload(event, hook.personal)) {
            Ok(body) => body,
            Err(error) => return failed(format!("the payload does not serialise: {error}")),
        };
        let timestamp = attempted_at.timestamp();
        let signature = match sign(&hook.secret, delivery_id, timestamp, &body) {
            Ok(signature) => signature,
            Err(error) => return failed(error.to_string()),
        };
        let answer = self
            .client
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("webhook-id", delivery_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match answer {
            Ok(response) => {
                let status = response.status();
                Attempt {
                    status_code: Some(status.as_u16()),
                    latency_ms: elapsed_ms(started),
                    delivered: status.is_success(),
                    error: (!status.is_success()).then(|| format!("answered {status}")),
                    attempted_at,
                }
            }
            Err(error) => failed(error.without_url().to_string()),
        }
    }
}

/// The `webhook-id` of an event's delivery: the same on every attempt,
/// redelivery and replay, for receivers to deduplicate on.
pub fn delivery_id(event: &RecordedEvent) -> String {
    format!("msg_{}", event.event_id.simple())
}

/// The body of a delivery: `type`, `timestamp` and `data` as the
/// specification suggests; `data` is the event as stored, its personal
/// part only when `personal` is granted.
pub fn payload(event: &RecordedEvent, personal: bool) -> Value {
    // Credentials (password hashes) in the access domain's events never
    // leave, whatever the grant.
    let credentials = crate::auth::domain_of(event.stream_id.category()) == "access";
    let personal_part = match (&event.personal, personal) {
        (Some(Personal::Plain(value)), true) if !credentials => value.clone(),
        _ => Value::Null,
    };
    json!({
        "type": event.event_type.as_str(),
        "timestamp": event.recorded_at,
        "data": {
            "position": event.global_position.commit(),
            "event_id": event.event_id,
            "stream_id": event.stream_id.as_str(),
            "stream_version": event.stream_version,
            "event_type": event.event_type.as_str(),
            "schema_version": event.schema_version,
            "data": event.data,
            "personal": personal_part,
            "correlation_id": event.metadata.correlation_id,
            "recorded_at": event.recorded_at,
        }
    })
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}
