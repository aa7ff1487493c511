//! The relay task: the log, in order, into one JetStream stream.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use async_nats::jetstream::context::PublishError;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::stream::{self, LastRawMessageErrorKind, StorageType};
use async_nats::jetstream::{self, Context};
use futures::FutureExt;
use steward_events::{Position, RecordedEvent};
use steward_store_core::EventLog;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::RelayConfig;
use crate::error::RelayError;
use crate::nats::ConnectFailure;

/// The header that carries an event's global position (its
/// [`Position`] display form), read back to find where to resume.
pub const POSITION_HEADER: &str = "Steward-Position";

/// The subject an event is published on:
/// `<prefix>.<category>.<event_type>`.
///
/// Both tokens are valid NATS subject tokens by construction: a stream
/// category and an event type are letters, digits and `_`.
pub fn subject_for(event: &RecordedEvent, prefix: &str) -> String {
    format!(
        "{prefix}.{}.{}",
        event.stream_id.category(),
        event.event_type
    )
}

/// What the relay reports about itself, for readiness and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RelayStatus {
    /// True while the relay is in step with the stream: it has found where
    /// to resume and nothing has failed since.
    pub connected: bool,
    /// The position of the last event known to be in the stream (found on
    /// resuming, then each acknowledged publish); `None` before the first.
    pub last_published: Option<Position>,
}

/// Publishes every committed event of a log to a JetStream stream, exactly
/// once and in global order. See the [crate docs](crate) for how.
pub struct Relay {
    log: Arc<dyn EventLog>,
    config: RelayConfig,
    status: watch::Sender<RelayStatus>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("config", &self.config)
            .field("status", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}

type AckFuture = Pin<Box<dyn Future<Output = Result<PublishAck, PublishError>> + Send>>;

/// A publish that was sent.
#[derive(Debug, Clone, Copy)]
struct Sent {
    event_id: Uuid,
    position: Position,
    /// The stream sequence it must be stored at.
    sequence: u64,
}

/// A publish awaiting its acknowledgement.
struct InFlight {
    sent: Sent,
    ack: AckFuture,
}

/// Where a session starts: the stream's last sequence and the position of
/// the last event in it.
struct ResumePoint {
    last_sequence: u64,
    after: Option<Position>,
}

impl Relay {
    /// A relay of `log` (the store's raw log, so personal parts stay sealed:
    /// [`Store::log`](steward_store_core::Store::log)).
    pub fn new(log: Arc<dyn EventLog>, config: RelayConfig) -> Self {
        Self {
            log,
            config,
            status: watch::Sender::new(RelayStatus::default()),
        }
    }

    /// The relay's status, updated as it goes.
    pub fn status(&self) -> watch::Receiver<RelayStatus> {
        self.status.subscribe()
    }

    /// Relays until `shutdown` is cancelled. Failures (NATS down, the log
    /// unreadable, a refused publish) are logged and retried after a bounded
    /// exponential back-off, each time resuming from the stream's real last
    /// message; only an invalid configuration ends the relay with an error.
    #[tracing::instrument(skip_all, fields(stream = %self.config.stream_name, nats = %self.config.nats_url_redacted()))]
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), RelayError> {
        self.config.validate()?;
        let mut client = None;
        let mut failures: u32 = 0;
        loop {
            let outcome = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                outcome = self.session(&mut client, &mut failures) => outcome,
            };
            let Err(error) = outcome;
            self.status.send_modify(|s| s.connected = false);
            if error.is_fatal() {
                tracing::error!(%error, "relay stopped");
                return Err(error);
            }
            failures = failures.saturating_add(1);
            let pause = self.config.backoff(failures);
            tracing::warn!(
                %error,
                failures,
                pause_ms = pause.as_millis(),
                "relay interrupted; resuming from the stream's last message after a pause"
            );
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!("relay stopped: shutdown requested");
        Ok(())
    }

    /// One stretch of relaying: connect, find where the stream stands,
    /// publish from there until something fails.
    async fn session(
        &self,
        client: &mut Option<async_nats::Client>,
        failures: &mut u32,
    ) -> Result<Infallible, RelayError> {
        let client = match client {
            Some(client) => client.clone(),
            None => client.insert(self.connect().await?).clone(),
        };
        let timeout = self.config.request_timeout;
        // A fresh context per session, so that permits held by publishes
        // abandoned in a failed session never stall this one.
        let context = jetstream::ContextBuilder::new()
            .timeout(timeout)
            .ack_timeout(timeout)
            .max_ack_inflight(self.config.max_in_flight)
            .backpressure_on_inflight(true)
            .build(client);
        let mut stream = self.ensure_stream(&context).await?;
        let resume = self.resume_point(&mut stream).await?;
        let mut cursor = resume.after.unwrap_or(Position::ORIGIN);
        let mut last_sequence = resume.last_sequence;
        if let Some(head) = self.log.head().await?
            && head < cursor
        {
            tracing::error!(
                %head, stream_at = %cursor,
                "the stream holds events beyond the log's head: was the store replaced? \
                 nothing is published until the log passes the stream"
            );
        }
        tracing::info!(after = %cursor, last_sequence, "relay in step with the stream");
        self.status.send_modify(|s| {
            s.connected = true;
            s.last_published = resume.after;
        });

        let mut in_flight: VecDeque<InFlight> = VecDeque::new();
        let mut commits = self.log.commits();
        loop {
            // Mark ticks seen before reading, so a commit racing the read
            // still wakes the wait below.
            commits.borrow_and_update();
            let batch = self.log.read_all(cursor, self.config.batch_size).await?;
            if batch.is_empty() {
                while let Some(pending) = in_flight.pop_front() {
                    self.confirm(pending.sent, pending.ack.await)?;
                }
                *failures = 0;
                let poll = self.log.poll_interval();
                tokio::select! {
                    changed = commits.changed() => {
                        if changed.is_err() {
                            tokio::time::sleep(poll).await;
                        }
                    }
                    () = tokio::time::sleep(poll) => {}
                }
                continue;
            }
            for event in batch {
                while in_flight.len() >= self.config.max_in_flight {
                    if let Some(pending) = in_flight.pop_front() {
                        self.confirm(pending.sent, pending.ack.await)?;
                        *failures = 0;
                    }
                }
                let ack = self.publish(&context, &event, last_sequence).await?;
                last_sequence += 1;
                cursor = event.global_position;
                let sent = Sent {
                    event_id: event.event_id,
                    position: event.global_position,
                    sequence: last_sequence,
                };
                in_flight.push_back(InFlight { sent, ack });
            }
            // Take in whatever has been acknowledged meanwhile, without waiting.
            while let Some(front) = in_flight.front_mut() {
                let Some(result) = (&mut front.ack).now_or_never() else {
                    break;
                };
                if let Some(pending) = in_flight.pop_front() {
                    self.confirm(pending.sent, result)?;
                }
                *failures = 0;
            }
        }
    }

    async fn connect(&self) -> Result<async_nats::Client, RelayError> {
        let backoff = self.config.clone();
        crate::nats::connect(
            &self.config.nats_url,
            "steward-bus-relay",
            self.config.request_timeout,
            move |attempt| backoff.backoff(attempt),
        )
        .await
        .map_err(|failure| match failure {
            ConnectFailure::BadUrl(reason) => RelayError::InvalidConfig(reason),
            ConnectFailure::Unreachable(source) => RelayError::Connect {
                url: self.config.nats_url_redacted(),
                source,
            },
        })
    }

    /// Gets the stream, creating it if missing, and checks that it captures
    /// the relay's subjects with the configured duplicate window.
    async fn ensure_stream(&self, context: &Context) -> Result<stream::Stream, RelayError> {
        let name = &self.config.stream_name;
        let subjects = self.config.stream_subjects();
        let failed = |action: &'static str| {
            move |source: Box<dyn std::error::Error + Send + Sync>| RelayError::Stream {
                stream: name.clone(),
                action,
                source,
            }
        };
        let stream = context
            .get_or_create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![subjects.clone()],
                storage: StorageType::File,
                duplicate_window: self.config.duplicate_window,
                ..stream::Config::default()
            })
            .await
            .map_err(|e| failed("getting or creating the stream")(e.into()))?;
        let config = &stream.cached_info().config;
        if !config.subjects.contains(&subjects) {
            return Err(RelayError::StreamSubjects {
                stream: name.clone(),
                subjects: config.subjects.clone(),
                expected: subjects,
            });
        }
        if config.duplicate_window != self.config.duplicate_window {
            tracing::info!(
                from = ?config.duplicate_window,
                to = ?self.config.duplicate_window,
                "updating the stream's duplicate window"
            );
            let mut updated = config.clone();
            updated.duplicate_window = self.config.duplicate_window;
            context
                .update_stream(updated)
                .await
                .map_err(|e| failed("updating the duplicate window")(e.into()))?;
        }
        Ok(stream)
    }

    /// Finds the last message the relay published (the stream's last message
    /// carrying a position header; anything else is skipped with a warning).
    async fn resume_point(&self, stream: &mut stream::Stream) -> Result<ResumePoint, RelayError> {
        let name = &self.config.stream_name;
        let failed = |action: &'static str| {
            move |source: Box<dyn std::error::Error + Send + Sync>| RelayError::Stream {
                stream: name.clone(),
                action,
                source,
            }
        };
        let state = stream
            .info()
            .await
            .map_err(|e| failed("reading the stream's state")(e.into()))?
            .state
            .clone();
        let last_sequence = state.last_sequence;
        if state.messages == 0 {
            if last_sequence > 0 {
                tracing::warn!(
                    last_sequence,
                    "the stream is empty but has held messages (purged?): publishing from the start of the log"
                );
            }
            return Ok(ResumePoint {
                last_sequence,
                after: None,
            });
        }
        let mut sequence = last_sequence;
        while sequence >= state.first_sequence.max(1) {
            match stream.get_raw_message(sequence).await {
                Ok(message) => match message.headers.get(POSITION_HEADER) {
                    Some(value) => {
                        let position = value.as_str().parse::<Position>().map_err(|_| {
                            RelayError::BadPositionHeader {
                                stream: name.clone(),
                                sequence,
                                header: POSITION_HEADER,
                                value: value.as_str().to_owned(),
                            }
                        })?;
                        return Ok(ResumePoint {
                            last_sequence,
                            after: Some(position),
                        });
                    }
                    None => tracing::warn!(
                        sequence,
                        subject = %message.subject,
                        "skipping a message without a `{POSITION_HEADER}` header: something else publishes on the relay's subjects"
                    ),
                },
                Err(error) if matches!(error.kind(), LastRawMessageErrorKind::NoMessageFound) => {}
                Err(error) => return Err(failed("reading its last message")(error.into())),
            }
            sequence -= 1;
        }
        Ok(ResumePoint {
            last_sequence,
            after: None,
        })
    }

    /// Sends one event, to be stored only directly after stream sequence
    /// `last_sequence`.
    async fn publish(
        &self,
        context: &Context,
        event: &RecordedEvent,
        last_sequence: u64,
    ) -> Result<AckFuture, RelayError> {
        let payload = serde_json::to_vec(event).map_err(|source| RelayError::Encode {
            event_id: event.event_id,
            source,
        })?;
        // Publishing it would fail the same way forever: stop and say why.
        let max_payload = context.client().server_info().max_payload;
        if max_payload > 0 && payload.len() > max_payload {
            return Err(RelayError::TooLarge {
                event_id: event.event_id,
                position: event.global_position,
                size: payload.len(),
                max_payload,
            });
        }
        let message = PublishMessage::build()
            .payload(payload.into())
            .message_id(event.event_id.to_string())
            .header(POSITION_HEADER, event.global_position.to_string())
            .expected_stream(&self.config.stream_name)
            .expected_last_sequence(last_sequence);
        let ack = context
            .send_publish(subject_for(event, &self.config.subject_prefix), message)
            .await
            .map_err(|source| RelayError::Publish {
                event_id: event.event_id,
                position: event.global_position,
                source,
            })?;
        Ok(ack.into_future())
    }

    /// Checks an acknowledgement: the event must be in the relay's stream at
    /// exactly the sequence it was sent for.
    fn confirm(
        &self,
        sent: Sent,
        result: Result<PublishAck, PublishError>,
    ) -> Result<(), RelayError> {
        let Sent {
            event_id,
            position,
            sequence,
        } = sent;
        let ack = result.map_err(|source| RelayError::Publish {
            event_id,
            position,
            source,
        })?;
        if ack.stream != self.config.stream_name || ack.sequence != sequence {
            return Err(RelayError::OutOfStep {
                event_id,
                position,
                stream: ack.stream,
                sequence: ack.sequence,
                expected_stream: self.config.stream_name.clone(),
                expected_sequence: sequence,
            });
        }
        if ack.duplicate {
            tracing::debug!(%event_id, %position, sequence, "already in the stream");
        }
        self.status
            .send_modify(|s| s.last_published = Some(position));
        Ok(())
    }
}
