//! The log read back from the relay's JetStream stream: the
//! [`EventSource`] of a projection that runs in another process than the
//! store.
//!
//! ```text
//!   JetStream stream ──page: ephemeral consumer from a sequence──▶ read_after ──▶ runner (build)
//!        │           ──durable pull consumer, AckPolicy::All─────▶ follow ─────▶ runner (live)
//!        │                                                          ▲    acknowledge(after commit)
//!        └── Steward-Position header ⇄ stream sequence (binary search, remembered)
//!   personal parts arrive sealed ──▶ Store::open_events (the store's keys) ──▶ plain or erased
//! ```
//!
//! # Exactly once: the checkpoint decides, the consumer follows
//!
//! The read model's checkpoint, committed with its rows, is the one truth
//! about what is applied. The durable consumer's acknowledgements trail it
//! (sent only after the runner's commit) and can disagree with it both ways:
//! behind after a crash between commit and acknowledgement, ahead when the
//! read-model database is restored from a backup or a rebuilt generation is
//! swapped in. So the consumer's own state is never trusted: every
//! [`EventSource::follow`] finds the stream sequence of the checkpoint's
//! position and (re)creates the projection's durable consumer to start just
//! after it (`DeliverPolicy::ByStartSequence`). Trusting a consumer that had
//! delivered past the checkpoint would also wait out `ack_wait` before its
//! unacknowledged messages came again.
//!
//! Why a durable consumer rather than an ephemeral or ordered one: it lives
//! on in the server through client reconnections and server restarts (an
//! ephemeral one is dropped after its inactivity threshold), its pending
//! count is the projection's lag for `nats consumer report`, and its
//! acknowledgements let JetStream redeliver what a lost delivery dropped.
//! Only one process runs a projection at a time (its lease), so recreating
//! the consumer on start races nobody.
//!
//! Within a subscription the source remembers the next stream sequence it
//! expects. A message below it is a redelivery (its `ack_wait` ran out while
//! a transaction was still going): skipped, never handed on. A message above
//! it means a hole: if the missing message is still in the stream, a
//! delivery was lost and the source resubscribes from the hole; if it is not
//! (retention limits, a purge, a deleted message) the subscription fails
//! with [`SourceError::Gap`] rather than skip an event. Failures of NATS
//! itself are logged and retried with a bounded back-off, resuming from the
//! same sequence, as the relay does.
//!
//! The stream sequence is dense and in the log's order because the relay
//! publishes with `Nats-Expected-Last-Sequence`; positions need not be dense
//! (a SQL backend may leave holes), which is why gaps are found by sequence.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::message::Acker;
use async_nats::jetstream::stream::{self, LastRawMessageErrorKind};
use async_nats::jetstream::{self, Context};
use async_trait::async_trait;
use futures::StreamExt;
use steward_events::{Acknowledge, EventSource, Position, RecordedEvent, StoreError, Subscription};
use steward_store_core::Store;

use crate::config::RelayConfig;
use crate::nats::ConnectFailure;
use crate::relay::POSITION_HEADER;

/// How a [`JetStreamSource`] reaches the relay's stream and consumes it. Its
/// `Debug` form shows the NATS URL without credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceConfig {
    /// The NATS server (credentials, if any, as `nats://user:password@host:port`).
    pub nats_url: String,
    /// The relay's JetStream stream.
    pub stream_name: String,
    /// A projection's durable consumer is `<consumer_prefix>_<projection>`.
    pub consumer_prefix: String,
    /// How long a JetStream request may take, and the connection timeout.
    pub request_timeout: Duration,
    /// How long JetStream waits for an acknowledgement before delivering a
    /// message again (the source skips such redeliveries): longer than a
    /// transaction usually takes.
    pub ack_wait: Duration,
    /// How many messages may await their acknowledgement; at least
    /// `fetch_batch`.
    pub max_ack_pending: i64,
    /// How many messages one pull asks for.
    pub fetch_batch: usize,
    /// How often to look again while the stream has not yet reached the
    /// checkpoint (the relay is behind the store the checkpoint came from).
    pub poll_interval: Duration,
    /// The first pause after a NATS failure; it doubles with each further one.
    pub backoff_min: Duration,
    /// The longest pause after a NATS failure.
    pub backoff_max: Duration,
}

/// The default prefix of the projections' durable consumers.
pub const DEFAULT_CONSUMER_PREFIX: &str = "steward_projection";

impl Default for SourceConfig {
    fn default() -> Self {
        Self::from_relay(&RelayConfig::default())
    }
}

impl std::fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceConfig")
            .field("nats_url", &crate::nats::redact(&self.nats_url))
            .field("stream_name", &self.stream_name)
            .field("consumer_prefix", &self.consumer_prefix)
            .field("request_timeout", &self.request_timeout)
            .field("ack_wait", &self.ack_wait)
            .field("max_ack_pending", &self.max_ack_pending)
            .field("fetch_batch", &self.fetch_batch)
            .field("poll_interval", &self.poll_interval)
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .finish()
    }
}

impl SourceConfig {
    /// Reads the stream `relay` writes, on the same server, with defaults
    /// for the rest.
    pub fn from_relay(relay: &RelayConfig) -> Self {
        Self {
            nats_url: relay.nats_url.clone(),
            stream_name: relay.stream_name.clone(),
            consumer_prefix: DEFAULT_CONSUMER_PREFIX.to_owned(),
            request_timeout: relay.request_timeout,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 10_000,
            fetch_batch: 500,
            poll_interval: Duration::from_millis(500),
            backoff_min: relay.backoff_min,
            backoff_max: relay.backoff_max,
        }
    }

    /// Refuses settings the source cannot work with.
    pub fn validate(&self) -> Result<(), SourceError> {
        let invalid = |reason: String| Err(SourceError::InvalidConfig(reason));
        if self.nats_url.trim().is_empty() {
            return invalid("the NATS URL is empty".into());
        }
        for (what, name) in [
            ("stream name", &self.stream_name),
            ("consumer prefix", &self.consumer_prefix),
        ] {
            if !valid_name(name) {
                return invalid(format!(
                    "{what} `{name}` must be non-empty, without `.`, `*`, `>`, slashes or white space"
                ));
            }
        }
        if self.request_timeout.is_zero() || self.ack_wait.is_zero() {
            return invalid("the request timeout and ack wait must be positive".into());
        }
        if self.fetch_batch == 0
            || i64::try_from(self.fetch_batch).map_or(true, |batch| self.max_ack_pending < batch)
        {
            return invalid(format!(
                "the fetch batch ({}) must be at least 1 and at most max ack pending ({})",
                self.fetch_batch, self.max_ack_pending
            ));
        }
        if self.poll_interval.is_zero()
            || self.backoff_min.is_zero()
            || self.backoff_min > self.backoff_max
        {
            return invalid(format!(
                "the poll interval must be positive and back-off bounds satisfy 0 < min ({:?}) <= max ({:?})",
                self.backoff_min, self.backoff_max
            ));
        }
        Ok(())
    }

    /// The durable consumer of `projection`.
    pub fn consumer_name(&self, projection: &str) -> String {
        format!("{}_{projection}", self.consumer_prefix)
    }

    /// The pause before attempt `attempt` (from 1) after consecutive failures.
    fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(20);
        self.backoff_min
            .saturating_mul(1 << doublings)
            .min(self.backoff_max)
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| matches!(c, '.' | '*' | '>' | '/' | '\\') || c.is_whitespace())
}

/// Every failure of a [`JetStreamSource`]. It reaches the runner as a
/// [`StoreError`] (its own store errors unchanged, the others as a backend
/// failure).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The configuration cannot work.
    #[error("invalid projection source configuration: {0}")]
    InvalidConfig(String),
    /// The NATS server could not be reached (the URL shown without credentials).
    #[error("could not connect to NATS at `{url}`: {source}")]
    Connect {
        /// The server.
        url: String,
        /// Why.
        #[source]
        source: async_nats::ConnectError,
    },
    /// A JetStream request failed; retried by a subscription.
    #[error("JetStream stream `{stream}`: {action} failed: {source}")]
    Nats {
        /// The stream.
        stream: String,
        /// What the source was doing.
        action: &'static str,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A message the projection needs is not in the stream: events were
    /// removed from it (retention limits, a purge, a deleted message).
    #[error(
        "JetStream stream `{stream}` lacks message {missing} (its messages now start at \
         {first_available}): events were removed from the stream, so the projection cannot \
         go on from it; rebuild it from the store, or restore the stream"
    )]
    Gap {
        /// The stream.
        stream: String,
        /// The sequence of the first missing message.
        missing: u64,
        /// The stream's first message now.
        first_available: u64,
    },
    /// A checkpoint's position is not in the stream, which holds events
    /// before and after it: the stream is another log's, or events were
    /// removed from it.
    #[error(
        "position {position} is not in JetStream stream `{stream}`: events were removed from \
         the stream or it relays another log; rebuild the projection from the store"
    )]
    NotInStream {
        /// The stream.
        stream: String,
        /// The position looked for.
        position: Position,
    },
    /// A message does not hold what the relay publishes.
    #[error("message {sequence} of JetStream stream `{stream}` is not a relayed event: {reason}")]
    BadMessage {
        /// The stream.
        stream: String,
        /// Its stream sequence.
        sequence: u64,
        /// What is wrong.
        reason: String,
    },
    /// Opening the events (the store's keys) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SourceError {
    /// Whether waiting and trying again may help (NATS away).
    pub fn is_transient(&self) -> bool {
        matches!(self, SourceError::Nats { .. } | SourceError::Connect { .. })
    }
}

impl From<SourceError> for StoreError {
    fn from(error: SourceError) -> Self {
        match error {
            SourceError::Store(error) => error,
            other => StoreError::backend(other),
        }
    }
}

/// Connects to the NATS server of `config`, to be shared by every
/// projection's [`JetStreamSource`].
pub async fn connect(config: &SourceConfig) -> Result<async_nats::Client, SourceError> {
    config.validate()?;
    let backoff = config.clone();
    crate::nats::connect(
        &config.nats_url,
        "steward-projections",
        config.request_timeout,
        move |attempt| backoff.backoff(attempt),
    )
    .await
    .map_err(|failure| match failure {
        ConnectFailure::BadUrl(reason) => SourceError::InvalidConfig(reason),
        ConnectFailure::Unreachable(source) => SourceError::Connect {
            url: crate::nats::redact(&config.nats_url),
            source,
        },
    })
}

/// The most positions whose stream sequence is remembered.
const REMEMBERED: usize = 4_096;
/// How often reading a page is tried again after a NATS failure.
const PAGE_RETRIES: u32 = 3;

/// One projection's view of the relay's stream. Cheap to clone.
#[derive(Clone)]
pub struct JetStreamSource {
    inner: Arc<Inner>,
}

struct Inner {
    context: Context,
    config: SourceConfig,
    store: Store,
    consumer: String,
    /// Stream sequences of positions seen, so that reading on from a page's
    /// last event needs no search.
    sequences: Mutex<BTreeMap<Position, u64>>,
    redeliveries: AtomicU64,
}

impl std::fmt::Debug for JetStreamSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamSource")
            .field("config", &self.inner.config)
            .field("consumer", &self.inner.consumer)
            .finish_non_exhaustive()
    }
}

/// Where reading after a position starts.
enum Start {
    /// At this stream sequence.
    At(u64),
    /// The stream has not reached the position yet.
    Ahead,
}

impl JetStreamSource {
    /// The source of `projection` over `client` (see [`connect`]). `store`
    /// is the store whose log the relay publishes, opened with its master
    /// key: its keys unseal personal parts (or find them erased), and it
    /// upcasts, as reading the store itself would.
    pub fn new(
        client: async_nats::Client,
        config: SourceConfig,
        store: Store,
        projection: &str,
    ) -> Result<Self, SourceError> {
        config.validate()?;
        if !valid_name(projection) {
            return Err(SourceError::InvalidConfig(format!(
                "projection name `{projection}` cannot name a consumer"
            )));
        }
        let context = jetstream::ContextBuilder::new()
            .timeout(config.request_timeout)
            .build(client);
        Ok(Self {
            inner: Arc::new(Inner {
                context,
                consumer: config.consumer_name(projection),
                config,
                store,
                sequences: Mutex::new(BTreeMap::new()),
                redeliveries: AtomicU64::new(0),
            }),
        })
    }

    /// How many redelivered messages were skipped so far.
    pub fn redeliveries_skipped(&self) -> u64 {
        self.inner.redeliveries.load(Ordering::Relaxed)
    }
}

impl Inner {
    fn stream_name(&self) -> &str {
        &self.config.stream_name
    }

    fn nats(
        &self,
        action: &'static str,
    ) -> impl Fn(Box<dyn std::error::Error + Send + Sync>) -> SourceError + '_ {
        move |source| SourceError::Nats {
            stream: self.config.stream_name.clone(),
            action,
            source,
        }
    }

    /// The stream, with its current state.
    async fn stream(&self) -> Result<stream::Stream, SourceError> {
        self.existing_stream().await?.ok_or_else(|| {
            self.nats("getting the stream")("the relay has not created it yet".into())
        })
    }

    /// The stream, with its current state; `None` until the relay creates it.
    async fn existing_stream(&self) -> Result<Option<stream::Stream>, SourceError> {
        match self.context.get_stream(self.stream_name()).await {
            Ok(stream) => Ok(Some(stream)),
            Err(error)
                if matches!(
                    error.kind(),
                    GetStreamErrorKind::JetStream(ref cause)
                        if cause.error_code() == ErrorCode::STREAM_NOT_FOUND
                ) =>
            {
                Ok(None)
            }
            Err(error) => Err(self.nats("getting the stream")(error.into())),
        }
    }

    /// The position of message `sequence`; `None` if it is gone or is not a
    /// relayed event.
    async fn position_at(
        &self,
        stream: &stream::Stream,
        sequence: u64,
    ) -> Result<Option<Position>, SourceError> {
        match stream.get_raw_message(sequence).await {
            Ok(message) => self.position_of(sequence, Some(&message.headers)),
            Err(error) if matches!(error.kind(), LastRawMessageErrorKind::NoMessageFound) => {
                Ok(None)
            }
            Err(error) => Err(self.nats("reading a message")(error.into())),
        }
    }

    /// Whether message `sequence` is still in the stream.
    async fn holds(&self, stream: &stream::Stream, sequence: u64) -> Result<bool, SourceError> {
        match stream.get_raw_message(sequence).await {
            Ok(_) => Ok(true),
            Err(error) if matches!(error.kind(), LastRawMessageErrorKind::NoMessageFound) => {
                Ok(false)
            }
            Err(error) => Err(self.nats("reading a message")(error.into())),
        }
    }

    /// The position header of a message; `None` (with a warning) for a
    /// message something else published.
    fn position_of(
        &self,
        sequence: u64,
        headers: Option<&HeaderMap>,
    ) -> Result<Option<Position>, SourceError> {
        let Some(value) = headers.and_then(|headers| headers.get(POSITION_HEADER)) else {
            tracing::warn!(
                sequence,
                "skipping a message without a `{POSITION_HEADER}` header: something else publishes on the relay's subjects"
            );
            return Ok(None);
        };
        value
            .as_str()
            .parse::<Position>()
            .map(Some)
            .map_err(|_| SourceError::BadMessage {
                stream: self.config.stream_name.clone(),
                sequence,
                reason: format!("malformed `{POSITION_HEADER}` header `{}`", value.as_str()),
            })
    }

    /// The event a message carries, still sealed; `None` for a message
    /// something else published.
    fn decode(
        &self,
        sequence: u64,
        message: &async_nats::Message,
    ) -> Result<Option<RecordedEvent>, SourceError> {
        let Some(position) = self.position_of(sequence, message.headers.as_ref())? else {
            return Ok(None);
        };
        let bad = |reason: String| SourceError::BadMessage {
            stream: self.config.stream_name.clone(),
            sequence,
            reason,
        };
        let event: RecordedEvent = serde_json::from_slice(&message.payload)
            .map_err(|e| bad(format!("the payload is not an event: {e}")))?;
        if event.global_position != position {
            return Err(bad(format!(
                "the header says position {position}, the event {}",
                event.global_position
            )));
        }
        Ok(Some(event))
    }

    fn remember(&self, position: Position, sequence: u64) {
        let mut sequences = self
            .sequences
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sequences.insert(position, sequence);
        if sequences.len() > REMEMBERED {
            sequences.pop_first();
        }
    }

    fn remembered(&self, position: Position) -> Option<u64> {
        self.sequences
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&position)
            .copied()
    }

    /// The stream's first message sequence, or what it would be if empty.
    fn first_available(stream: &stream::Stream) -> u64 {
        let state = &stream.cached_info().state;
        if state.messages == 0 {
            state.last_sequence + 1
        } else {
            state.first_sequence
        }
    }

    /// The stream sequence of the first event after `after`.
    async fn start_after(
        &self,
        stream: &stream::Stream,
        after: Position,
    ) -> Result<Start, SourceError> {
        let first = Self::first_available(stream);
        if after == Position::ORIGIN {
            if first > 1 {
                return Err(SourceError::Gap {
                    stream: self.config.stream_name.clone(),
                    missing: 1,
                    first_available: first,
                });
            }
            return Ok(Start::At(1));
        }
        // Checked, in case the stream was replaced meanwhile.
        if let Some(sequence) = self.remembered(after)
            && self.position_at(stream, sequence).await? == Some(after)
        {
            return Ok(Start::At(sequence + 1));
        }
        let last = stream.cached_info().state.last_sequence;
        match self.last_position(stream, first, last).await? {
            Some((_, newest)) if newest < after => return Ok(Start::Ahead),
            None => return Ok(Start::Ahead),
            Some(_) => {}
        }
        match self.search(stream, after, first, last).await? {
            Some(sequence) => {
                self.remember(after, sequence);
                Ok(Start::At(sequence + 1))
            }
            None => Err(SourceError::NotInStream {
                stream: self.config.stream_name.clone(),
                position: after,
            }),
        }
    }

    /// The last relayed event in `first..=last` and its sequence.
    async fn last_position(
        &self,
        stream: &stream::Stream,
        first: u64,
        last: u64,
    ) -> Result<Option<(u64, Position)>, SourceError> {
        let mut sequence = last;
        while sequence >= first.max(1) {
            if let Some(position) = self.position_at(stream, sequence).await? {
                return Ok(Some((sequence, position)));
            }
            sequence -= 1;
        }
        Ok(None)
    }

    /// The sequence of the message at exactly `position`, by binary search
    /// over `first..=last` (sequence and position grow together). A probe
    /// that lands on a message that is gone or foreign looks further down.
    async fn search(
        &self,
        stream: &stream::Stream,
        position: Position,
        first: u64,
        last: u64,
    ) -> Result<Option<u64>, SourceError> {
        let (mut low, mut high) = (first.max(1), last);
        while low <= high {
            let middle = low + (high - low) / 2;
            let mut probe = middle;
            let mut found = None;
            while probe >= low {
                if let Some(at) = self.position_at(stream, probe).await? {
                    found = Some((probe, at));
                    break;
                }
                probe -= 1;
            }
            match found {
                None => low = middle + 1,
                Some((sequence, at)) => match at.cmp(&position) {
                    std::cmp::Ordering::Equal => return Ok(Some(sequence)),
                    std::cmp::Ordering::Less => low = middle + 1,
                    std::cmp::Ordering::Greater => {
                        if sequence == 0 {
                            break;
                        }
                        high = sequence - 1;
                    }
                },
            }
        }
        Ok(None)
    }

    /// Up to `limit` relayed events after `after`, still sealed, with the
    /// stream sequence of the last message read.
    async fn page(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>, SourceError> {
        let Some(stream) = self.existing_stream().await? else {
            return Ok(Vec::new());
        };
        let mut next = match self.start_after(&stream, after).await? {
            Start::Ahead => return Ok(Vec::new()),
            Start::At(sequence) => sequence,
        };
        let last = stream.cached_info().state.last_sequence;
        let mut events = Vec::new();
        let mut previous = after;
        // Foreign messages are skipped, so one pass may find no event.
        while events.is_empty() && next <= last {
            let wanted = usize::try_from(last - next + 1).map_or(limit, |left| left.min(limit));
            let consumer: PullConsumer = stream
                .create_consumer(pull::Config {
                    deliver_policy: DeliverPolicy::ByStartSequence {
                        start_sequence: next,
                    },
                    ack_policy: AckPolicy::None,
                    inactive_threshold: Duration::from_secs(60),
                    memory_storage: true,
                    ..pull::Config::default()
                })
                .await
                .map_err(|e| self.nats("creating a reading consumer")(e.into()))?;
            let name = consumer.cached_info().name.clone();
            let read = self
                .read_batch(&stream, &consumer, &mut next, wanted, &mut previous)
                .await;
            // Best effort: its inactivity threshold removes it anyway.
            if let Err(error) = stream.delete_consumer(&name).await {
                tracing::debug!(%error, consumer = %name, "could not delete a reading consumer");
            }
            let (read, complete) = read?;
            events.extend(read);
            if !complete {
                break;
            }
        }
        Ok(events)
    }

    /// Reads `wanted` messages from `consumer`, which starts at `next`.
    /// Returns the events and whether all came.
    async fn read_batch(
        &self,
        stream: &stream::Stream,
        consumer: &PullConsumer,
        next: &mut u64,
        wanted: usize,
        previous: &mut Position,
    ) -> Result<(Vec<RecordedEvent>, bool), SourceError> {
        let mut messages = consumer
            .batch()
            .max_messages(wanted)
            .expires(self.config.request_timeout)
            .messages()
            .await
            .map_err(|e| self.nats("fetching messages")(e.into()))?;
        let mut events = Vec::with_capacity(wanted);
        let mut received = 0;
        while received < wanted {
            let Some(message) = messages.next().await else {
                return Ok((events, false));
            };
            let message = message.map_err(|e| self.nats("fetching messages")(e))?;
            let sequence = message
                .info()
                .map_err(|e| self.nats("reading a message's metadata")(e))?
                .stream_sequence;
            if sequence != *next {
                if self.holds(stream, *next).await? {
                    // Not delivered this time: a shorter page.
                    return Ok((events, false));
                }
                return Err(SourceError::Gap {
                    stream: self.config.stream_name.clone(),
                    missing: *next,
                    first_available: sequence,
                });
            }
            received += 1;
            *next += 1;
            if let Some(event) = self.checked(sequence, &message.message, *previous)? {
                *previous = event.global_position;
                events.push(event);
            }
        }
        Ok((events, true))
    }

    /// The event message `sequence` carries, which must come after
    /// `previous`; remembers where it is.
    fn checked(
        &self,
        sequence: u64,
        message: &async_nats::Message,
        previous: Position,
    ) -> Result<Option<RecordedEvent>, SourceError> {
        let Some(event) = self.decode(sequence, message)? else {
            return Ok(None);
        };
        if event.global_position <= previous {
            return Err(SourceError::BadMessage {
                stream: self.config.stream_name.clone(),
                sequence,
                reason: format!(
                    "position {} does not come after {previous}",
                    event.global_position
                ),
            });
        }
        self.remember(event.global_position, sequence);
        Ok(Some(event))
    }

    /// (Re)creates the projection's durable consumer to deliver from stream
    /// sequence `start`, and pulls from it.
    async fn subscribe(&self, start: u64) -> Result<pull::Stream, SourceError> {
        let stream = self.stream().await?;
        let first = Self::first_available(&stream);
        if first > start {
            return Err(SourceError::Gap {
                stream: self.config.stream_name.clone(),
                missing: start,
                first_available: first,
            });
        }
        // Whatever it remembers is at most as good as the checkpoint.
        if let Err(error) = stream.delete_consumer(&self.consumer).await {
            tracing::debug!(%error, consumer = %self.consumer, "no consumer to replace");
        }
        let consumer: PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(self.consumer.clone()),
                description: Some(
                    "a Steward projection; recreated at its checkpoint on every start".to_owned(),
                ),
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: start,
                },
                ack_policy: AckPolicy::All,
                ack_wait: self.config.ack_wait,
                max_ack_pending: self.config.max_ack_pending,
                ..pull::Config::default()
            })
            .await
            .map_err(|e| self.nats("creating the projection's consumer")(e.into()))?;
        tracing::info!(consumer = %self.consumer, start, "following the stream");
        consumer
            .stream()
            .max_messages_per_batch(self.config.fetch_batch)
            .messages()
            .await
            .map_err(|e| self.nats("pulling from the projection's consumer")(e.into()))
    }
}

#[async_trait]
impl EventSource for JetStreamSource {
    #[tracing::instrument(skip_all, fields(consumer = %self.inner.consumer, %after), err)]
    async fn read_after(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        // A short NATS hiccup should not stop a build; a longer outage is
        // the runner's to report.
        let mut failures = 0;
        let sealed = loop {
            match self.inner.page(after, limit.max(1)).await {
                Ok(sealed) => break sealed,
                Err(error) if error.is_transient() && failures < PAGE_RETRIES => {
                    failures += 1;
                    let pause = self.inner.config.backoff(failures);
                    tracing::warn!(%error, failures, "reading a page failed; trying again");
                    tokio::time::sleep(pause).await;
                }
                Err(error) => return Err(error.into()),
            }
        };
        Ok(self.inner.store.open_events(sealed).await?)
    }

    fn follow(&self, after: Position) -> Subscription {
        let pending = Arc::new(Mutex::new(VecDeque::new()));
        let follower = Follower {
            inner: Arc::clone(&self.inner),
            after,
            next: None,
            messages: None,
            pending: Arc::clone(&pending),
            failures: 0,
            ended: false,
        };
        let events = futures::stream::unfold(follower, |mut follower| async move {
            let item = follower.next_event().await?;
            Some((item, follower))
        })
        .boxed();
        Subscription {
            events,
            acknowledge: Box::new(Acknowledgements {
                stream: self.inner.config.stream_name.clone(),
                pending,
            }),
        }
    }

    async fn head(&self) -> Result<Option<Position>, StoreError> {
        let Some(stream) = self.inner.existing_stream().await? else {
            return Ok(None);
        };
        let first = Inner::first_available(&stream);
        let last = stream.cached_info().state.last_sequence;
        Ok(self
            .inner
            .last_position(&stream, first, last)
            .await?
            .map(|(_, position)| position))
    }
}

/// Messages handed on and not yet acknowledged, oldest first.
type Pending = Arc<Mutex<VecDeque<(Position, Acker)>>>;

/// One subscription's progress through the durable consumer.
struct Follower {
    inner: Arc<Inner>,
    /// The last position handed on (or asked to follow).
    after: Position,
    /// The stream sequence expected next, once found.
    next: Option<u64>,
    messages: Option<pull::Stream>,
    pending: Pending,
    failures: u32,
    ended: bool,
}

impl Follower {
    async fn next_event(&mut self) -> Option<Result<RecordedEvent, StoreError>> {
        if self.ended {
            return None;
        }
        loop {
            match self.step().await {
                Ok(Some(event)) => {
                    self.failures = 0;
                    return Some(Ok(event));
                }
                Ok(None) => {}
                Err(error) if error.is_transient() => {
                    self.messages = None;
                    self.failures = self.failures.saturating_add(1);
                    let pause = self.inner.config.backoff(self.failures);
                    tracing::warn!(
                        %error,
                        failures = self.failures,
                        pause_ms = pause.as_millis(),
                        "following the stream was interrupted; resubscribing after a pause"
                    );
                    tokio::time::sleep(pause).await;
                }
                Err(error) => {
                    self.ended = true;
                    return Some(Err(error.into()));
                }
            }
        }
    }

    /// Takes one message: the next event, or `None` for one to skip (or
    /// after waiting for the stream to reach the position followed).
    async fn step(&mut self) -> Result<Option<RecordedEvent>, SourceError> {
        let inner = Arc::clone(&self.inner);
        let next = match self.next {
            Some(next) => next,
            None => {
                let stream = inner.stream().await?;
                match inner.start_after(&stream, self.after).await? {
                    Start::At(next) => *self.next.insert(next),
                    Start::Ahead => {
                        tracing::debug!(after = %self.after, "the stream has not reached the checkpoint yet");
                        tokio::time::sleep(inner.config.poll_interval).await;
                        return Ok(None);
                    }
                }
            }
        };
        let messages = match &mut self.messages {
            Some(messages) => messages,
            None => self.messages.insert(inner.subscribe(next).await?),
        };
        let Some(message) = messages.next().await else {
            return Err(inner.nats("pulling from the projection's consumer")(
                "the consumer's message stream ended".into(),
            ));
        };
        let message =
            message.map_err(|e| inner.nats("pulling from the projection's consumer")(e.into()))?;
        let sequence = message
            .info()
            .map_err(|e| inner.nats("reading a message's metadata")(e))?
            .stream_sequence;
        if sequence < next {
            // Its acknowledgement is still to come (the transaction took
            // longer than ack_wait): handed on already.
            inner.redeliveries.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(sequence, "skipping a redelivered message");
            return Ok(None);
        }
        if sequence > next {
            let stream = inner.stream().await?;
            if inner.holds(&stream, next).await? {
                return Err(inner.nats("receiving messages in order")(
                    format!("message {next} was not delivered before {sequence}").into(),
                ));
            }
            return Err(SourceError::Gap {
                stream: inner.config.stream_name.clone(),
                missing: next,
                first_available: sequence,
            });
        }
        self.next = Some(next + 1);
        let Some(event) = inner.checked(sequence, &message.message, self.after)? else {
            return Ok(None);
        };
        let (_, acker) = message.split();
        let mut opened = inner.store.open_events(vec![event]).await?;
        let Some(event) = opened.pop() else {
            return Ok(None);
        };
        self.after = event.global_position;
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_back((event.global_position, acker));
        Ok(Some(event))
    }
}

/// Acknowledges, once a transaction commits, the last message it applied:
/// the consumer's `AckPolicy::All` takes every message up to it.
struct Acknowledgements {
    stream: String,
    pending: Pending,
}

#[async_trait]
impl Acknowledge for Acknowledgements {
    async fn acknowledge(&self, through: Position) -> Result<(), StoreError> {
        let last = {
            let mut pending = self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut last = None;
            while pending
                .front()
                .is_some_and(|(position, _)| *position <= through)
            {
                last = pending.pop_front();
            }
            last
        };
        if let Some((position, acker)) = last {
            acker.ack().await.map_err(|source| {
                StoreError::backend(SourceError::Nats {
                    stream: self.stream.clone(),
                    action: "acknowledging applied events",
                    source,
                })
            })?;
            tracing::trace!(%position, "acknowledged");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_follow_the_relay() {
        let relay = RelayConfig {
            nats_url: "nats://steward:s3cret@nats:4222".into(),
            stream_name: "EVENTS".into(),
            ..RelayConfig::default()
        };
        let config = SourceConfig::from_relay(&relay);
        assert!(config.validate().is_ok());
        assert_eq!(config.stream_name, "EVENTS");
        assert_eq!(
            config.consumer_name("timeline"),
            "steward_projection_timeline"
        );
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn refuses_what_cannot_work() {
        let broken = [
            SourceConfig {
                consumer_prefix: "a.b".into(),
                ..SourceConfig::default()
            },
            SourceConfig {
                stream_name: String::new(),
                ..SourceConfig::default()
            },
            SourceConfig {
                fetch_batch: 0,
                ..SourceConfig::default()
            },
            SourceConfig {
                fetch_batch: 100,
                max_ack_pending: 10,
                ..SourceConfig::default()
            },
            SourceConfig {
                ack_wait: Duration::ZERO,
                ..SourceConfig::default()
            },
        ];
        for config in broken {
            assert!(
                matches!(config.validate(), Err(SourceError::InvalidConfig(_))),
                "{config:?}"
            );
        }
    }

    #[test]
    fn only_nats_failures_are_retried() {
        let nats = SourceError::Nats {
            stream: "S".into(),
            action: "x",
            source: "down".into(),
        };
        let gap = SourceError::Gap {
            stream: "S".into(),
            missing: 3,
            first_available: 5,
        };
        assert!(nats.is_transient());
        assert!(!gap.is_transient());
        assert!(matches!(StoreError::from(gap), StoreError::Backend(_)));
    }
}
