//! [`ActuatorWorker`]: carries out every requested actuation, attempt by
//! attempt, as the `actuation-<command_id>` aggregate allows.
//!
//! It learns of actuations from the log (requested, failed with a retry
//! time, finished) and, when one is due by the host's clock, reads its
//! state and takes the next step: an action no integration here can carry
//! out (none of that name, or one that refuses the action) is refused
//! without an attempt; a dry run is described and recorded as simulated;
//! otherwise an attempt is started, the integration executes
//! the action (the actuation's id is the idempotency key), and the outcome
//! is recorded, transient failures with the retry time the aggregate sets.
//! Each step is a command with an id derived from the actuation and the
//! attempt, so a step sent again after a restart is recognised; an attempt
//! started and never reported is presumed lost and the next one is made.
//!
//! A circuit breaker per integration stops attempts after a run of
//! transient failures: while it is open, due attempts wait until it closes
//! (then one attempt probes; a success closes it, a failure opens it
//! again). It keeps time by the host's clock, so tests move it by hand;
//! that is also why it is a few lines here rather than a crate's, whose
//! breakers read the system clock.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde_json::{Value, json};
use steward_actors::CommandEnvelope;
use steward_actors::actuations::{Actuation, ActuationStatus};
use steward_events::domain::DomainEvent as _;
use steward_events::domain::actuations::{
    ActuationFailed, ActuationRequested, ActuationSimulated, ActuationSucceeded,
};
use steward_events::{EventStore as _, Position, RecordedEvent, StreamId};
use steward_host::workers::{send_patiently, settled};
use steward_host::{Host, HostError};
use steward_store_core::Store;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{Integration, IntegrationError};

/// The actor recorded on the actuator's commands.
const ACTOR: &str = "system:actuator";

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct ActuatorOptions {
    /// The longest one attempt may take, whatever the integration's own
    /// timeout; longer counts as a transient failure.
    pub attempt_timeout: Duration,
    /// Transient failures in a row that open an integration's breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker holds attempts back.
    pub breaker_open_for: chrono::Duration,
}

impl Default for ActuatorOptions {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(30),
            breaker_threshold: 5,
            breaker_open_for: chrono::Duration::seconds(30),
        }
    }
}

/// One integration's circuit breaker.
#[derive(Debug, Clone, Default)]
struct Breaker {
    failures_in_a_row: u32,
    open_until: Option<DateTime<Utc>>,
}

impl Breaker {
    /// `Err(until)` while open.
    fn admits(&self, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        match self.open_until {
            Some(until) if now < until => Err(until),
            _ => Ok(()),
        }
    }

    fn record(&mut self, transient_failure: bool, now: DateTime<Utc>, options: &ActuatorOptions) {
        if transient_failure {
            self.failures_in_a_row += 1;
            if self.failures_in_a_row >= options.breaker_threshold {
                self.open_until = Some(now + options.breaker_open_for);
                tracing::warn!(until = %now + options.breaker_open_for, "circuit open");
            }
        } else {
            self.failures_in_a_row = 0;
            self.open_until = None;
        }
    }
}

/// An actuation waiting for its next step.
#[derive(Debug, Clone)]
struct Pending {
    stream: StreamId,
    due_at: DateTime<Utc>,
    correlation_id: Uuid,
    causation_id: Uuid,
}

/// Carries out requested actuations through the configured integrations.
pub struct ActuatorWorker {
    host: Host,
    store: Store,
    integrations: HashMap<String, Arc<dyn Integration>>,
    options: ActuatorOptions,
}

impl ActuatorWorker {
    /// The lease the worker runs under.
    pub const LEASE: &'static str = "actuator";

    /// A worker recording through `host`, with no integrations yet.
    pub fn new(host: Host, store: Store, options: ActuatorOptions) -> Self {
        Self {
            host,
            store,
            integrations: HashMap::new(),
            options,
        }
    }

    /// Adds an integration under its name.
    pub fn with(mut self, integration: Arc<dyn Integration>) -> Self {
        self.integrations
            .insert(integration.name().to_owned(), integration);
        self
    }

    /// Runs until `stop`, or until the store fails. It reads the log from
    /// the start and acts on nothing before it has read up to where the log
    /// stood when it began, so it never acts on an actuation already done.
    pub async fn run(&self, stop: CancellationToken) -> Result<(), HostError> {
        let clock = self.host.clock().clone();
        let caught_up_at = self.store.head().await?.unwrap_or(Position::ORIGIN);
        let mut caught_up = caught_up_at == Position::ORIGIN;
        let mut pending: HashMap<String, Pending> = HashMap::new();
        let mut breakers: HashMap<String, Breaker> = HashMap::new();
        let mut events = self.store.subscribe_all(Position::ORIGIN);
        loop {
            let next_due = pending.values().map(|p| p.due_at).min();
            let wake = async {
                match next_due {
                    Some(due) if caught_up => clock.sleep_until(due).await,
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = stop.cancelled() => return Ok(()),
                next = events.next() => {
                    let event = match next {
                        Some(event) => event?,
                        None => return Ok(()),
                    };
                    caught_up |= event.global_position >= caught_up_at;
                    track(&mut pending, &event);
                }
                () = wake => {
                    let now = clock.now();
                    let mut due: Vec<(String, Pending)> = pending
                        .iter()
                        .filter(|(_, p)| p.due_at <= now)
                        .map(|(id, p)| (id.clone(), p.clone()))
                        .collect();
                    due.sort_by_key(|(_, p)| p.due_at);
                    for (id, actuation) in due {
                        if stop.is_cancelled() {
                            return Ok(());
                        }
                        match self.step(&id, &actuation, &mut breakers, &stop).await? {
                            Some(due_at) => {
                                if let Some(waiting) = pending.get_mut(&id) {
                                    waiting.due_at = due_at;
                                }
                            }
                            None => {
                                pending.remove(&id);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Takes the actuation's next step; the time of the one after, or
    /// `None` when it is finished (or the worker stopped).
    async fn step(
        &self,
        id: &str,
        actuation: &Pending,
        breakers: &mut HashMap<String, Breaker>,
        stop: &CancellationToken,
    ) -> Result<Option<DateTime<Utc>>, HostError> {
        let now = self.host.clock().now();
        let (state, _) = self
            .host
            .load::<Actuation>(&actuation.stream, false)
            .await?;
        let Some(request) = state.request.clone() else {
            return Ok(None);
        };
        if state.status.is_final() {
            return Ok(None);
        }
        if let Some(retry_at) = state.retry_at.filter(|at| *at > now) {
            return Ok(Some(retry_at));
        }
        let integration = self.integrations.get(&request.integration);

        // Describing checks the action without side effects, so one the
        // integration could never carry out is refused before any attempt.
        let described = match integration {
            Some(integration) => integration.describe(&request.action),
            None => Err(IntegrationError::BadAction(no_integration(
                &request.integration,
            ))),
        };
        match described {
            Err(error) if state.status != ActuationStatus::Running => {
                // Nothing to attempt: the action cannot be carried out here.
                let refusal = json!({ "error": error.to_string() });
                self.send(
                    actuation,
                    format!("actuator:{id}:refuse"),
                    "RefuseActuation",
                    refusal,
                    stop,
                )
                .await?;
                return Ok(None);
            }
            Ok(would) if request.dry_run => {
                self.send(
                    actuation,
                    format!("actuator:{id}:simulate"),
                    "RecordSimulation",
                    json!({ "would": would }),
                    stop,
                )
                .await?;
                return Ok(None);
            }
            _ => {}
        }

        if state.status == ActuationStatus::Running {
            // Started and never reported: the actuator stopped during it.
            // Recorded under the id its outcome would have had: if that
            // outcome was recorded after all, this is answered as its
            // duplicate and changes nothing.
            let attempt = state.attempts;
            let lost = json!({
                "attempt": attempt,
                "error": "the attempt was lost: the actuator stopped before it reported",
                "transient": true,
                "latency_ms": 0,
            });
            self.send(
                actuation,
                format!("actuator:{id}:attempt:{attempt}"),
                "RecordAttemptFailed",
                lost,
                stop,
            )
            .await?;
            return self.next_time(actuation, now).await;
        }

        let breaker = breakers.entry(request.integration.clone()).or_default();
        if let Err(until) = breaker.admits(now) {
            return Ok(Some(until));
        }
        let attempt = state.attempts + 1;
        match self
            .send(
                actuation,
                format!("actuator:{id}:start:{attempt}"),
                "StartAttempt",
                json!({}),
                stop,
            )
            .await?
        {
            None => return Ok(None),
            // Only the start this worker appended is its to carry out: a
            // duplicate means another runner started the attempt.
            Some(answer) if answer.starts_with("appended") => {}
            Some(answer) => {
                tracing::error!(actuation = %id, %answer, "the attempt was not started here; leaving it");
                return Ok(None);
            }
        }

        let started_at = std::time::Instant::now();
        let result = match integration {
            None => Err(IntegrationError::BadAction(no_integration(
                &request.integration,
            ))),
            Some(integration) => tokio::time::timeout(
                self.options.attempt_timeout,
                integration.execute(&request.action, id),
            )
            .await
            .unwrap_or_else(|_| {
                Err(IntegrationError::Unavailable(format!(
                    "no outcome within {:?}",
                    self.options.attempt_timeout
                )))
            }),
        };
        let latency_ms = u64::try_from(started_at.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (command_type, data, transient_failure) = match result {
            Ok(outcome) => (
                "RecordAttemptSucceeded",
                json!({
                    "attempt": attempt,
                    "result": outcome.result,
                    "latency_ms": u64::try_from(outcome.latency.as_millis()).unwrap_or(latency_ms),
                }),
                false,
            ),
            Err(error) => {
                tracing::info!(actuation = %id, attempt, %error, "attempt failed");
                (
                    "RecordAttemptFailed",
                    json!({
                        "attempt": attempt,
                        "error": error.to_string(),
                        "transient": error.is_transient(),
                        "latency_ms": latency_ms,
                    }),
                    error.is_transient(),
                )
            }
        };
        // A refusal says nothing about the integration's health; only
        // transient failures and successes move the breaker.
        if transient_failure || command_type == "RecordAttemptSucceeded" {
            breaker.record(transient_failure, self.host.clock().now(), &self.options);
        }
        if self
            .send(
                actuation,
                format!("actuator:{id}:attempt:{attempt}"),
                command_type,
                data,
                stop,
            )
            .await?
            .is_none()
        {
            return Ok(None);
        }
        self.next_time(actuation, now).await
    }

    /// When the actuation's next step is due, from its state: its retry
    /// time while it waits for one, `None` once finished.
    async fn next_time(
        &self,
        actuation: &Pending,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, HostError> {
        let (state, _) = self
            .host
            .load::<Actuation>(&actuation.stream, false)
            .await?;
        Ok(match state.status {
            ActuationStatus::Pending => Some(state.retry_at.unwrap_or(now)),
            _ => None,
        })
    }

    /// Sends one of the actuation's commands; what it came to, or `None`
    /// when stopped meanwhile.
    async fn send(
        &self,
        actuation: &Pending,
        command_id: String,
        command_type: &str,
        data: Value,
        stop: &CancellationToken,
    ) -> Result<Option<String>, HostError> {
        let envelope = CommandEnvelope {
            command_id,
            stream_id: actuation.stream.clone(),
            command_type: command_type.to_owned(),
            data,
            correlation_id: Some(actuation.correlation_id),
            causation_id: Some(actuation.causation_id),
            actor: ACTOR.to_owned(),
        };
        match send_patiently(&self.host, envelope, stop).await {
            None => Ok(None),
            Some(answer) => settled(answer).map(Some),
        }
    }
}

fn no_integration(name: &str) -> String {
    format!("no integration named `{name}` is configured")
}

/// Keeps `pending` up to date with one event of the log.
fn track(pending: &mut HashMap<String, Pending>, event: &RecordedEvent) {
    if event.stream_id.category() != "actuation" {
        return;
    }
    let id = event.stream_id.id().to_owned();
    let waiting = |due_at| Pending {
        stream: event.stream_id.clone(),
        due_at,
        correlation_id: event.metadata.correlation_id,
        causation_id: event.event_id,
    };
    match event.event_type.as_str() {
        ActuationRequested::EVENT_TYPE => {
            // At once: `recorded_at` is the store's time, not the clock's
            // the actuation's retries are decided by.
            pending.insert(id, waiting(DateTime::<Utc>::MIN_UTC));
        }
        ActuationFailed::EVENT_TYPE => {
            // The retry time is in the data; the error, personal, is not
            // needed here.
            match event
                .data
                .get("retry_at")
                .and_then(|at| serde_json::from_value::<DateTime<Utc>>(at.clone()).ok())
            {
                Some(retry_at) => {
                    pending.insert(id, waiting(retry_at));
                }
                None => {
                    pending.remove(&id);
                }
            }
        }
        ActuationSucceeded::EVENT_TYPE | ActuationSimulated::EVENT_TYPE => {
            pending.remove(&id);
        }
        _ => {}
    }
}
