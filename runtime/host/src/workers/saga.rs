//! Runs one saga: reads the log after its last record, sends the commands
//! each event calls for, and records what it did in `saga-<name>`.
//!
//! A saga that asks a [`Lookup`] before it reacts (the meeting briefing
//! reads the inbox) gets it answered by the worker's [`InboxLookup`] as of
//! the triggering event; a worker without one stops with
//! [`HostError::LookupUnavailable`] rather than react without the answer.

use std::sync::Arc;

use futures::StreamExt as _;
use steward_actors::CommandEnvelope;
use steward_actors::saga::{Answer, Lookup, Reaction, Saga};
use steward_events::domain::saga::{SagaCheckpointed, SagaCommand, SagaEvent, SagaReacted};
use steward_events::domain::{DomainEvent, EventSet as _, new_event};
use steward_events::{
    Direction, EventStore, ExpectedVersion, Metadata, Position, RecordedEvent, StoreError, StreamId,
};
use steward_store_core::Store;
use tokio_util::sync::CancellationToken;

use super::inbox::InboxLookup;
use super::{send_patiently, settled};
use crate::error::HostError;
use crate::host::Host;

/// Events read without a reaction before the saga records how far it got.
const CHECKPOINT_EVERY: u64 = 1_000;

/// Feeds the log to one saga.
pub struct SagaWorker {
    saga: Arc<dyn Saga>,
    host: Host,
    store: Store,
    stream: StreamId,
    inbox: Option<Arc<dyn InboxLookup>>,
}

impl SagaWorker {
    /// A worker for `saga`, sending its commands through `host`.
    pub fn new(saga: Arc<dyn Saga>, host: Host, store: Store) -> Result<Self, HostError> {
        let stream = StreamId::parse(format!("saga-{}", saga.name())).map_err(StoreError::from)?;
        Ok(Self {
            saga,
            host,
            store,
            stream,
            inbox: None,
        })
    }

    /// The worker, answering the saga's inbox lookups from `inbox`.
    pub fn with_inbox(mut self, inbox: Arc<dyn InboxLookup>) -> Self {
        self.inbox = Some(inbox);
        self
    }

    /// The lease the worker runs under.
    pub fn lease_name(&self) -> String {
        format!("saga:{}", self.saga.name())
    }

    /// Runs until `stop`, or until the store fails.
    pub async fn run(&self, stop: CancellationToken) -> Result<(), HostError> {
        let (mut after, mut version) = self.resume_after().await?;
        let mut events = self.store.subscribe_all(after);
        let mut unrecorded = 0;
        loop {
            let event = tokio::select! {
                biased;
                () = stop.cancelled() => return Ok(()),
                next = events.next() => match next {
                    Some(event) => event?,
                    None => return Ok(()),
                },
            };
            after = event.global_position;
            let wanted = event.stream_id != self.stream
                && self.saga.reacts_to().contains(&event.event_type.as_str());
            let reactions = if wanted {
                match self.reactions(&event, &stop).await? {
                    Some(reactions) => reactions,
                    None => return Ok(()),
                }
            } else {
                Vec::new()
            };
            if reactions.is_empty() {
                unrecorded += 1;
                if unrecorded >= CHECKPOINT_EVERY {
                    version = self
                        .record(&SagaCheckpointed { position: after }, None, version)
                        .await?;
                    unrecorded = 0;
                }
                continue;
            }
            let mut commands = Vec::with_capacity(reactions.len());
            for reaction in reactions {
                let envelope = CommandEnvelope {
                    command_id: reaction.command_id(self.saga.name(), &event),
                    stream_id: reaction.stream_id.clone(),
                    command_type: reaction.command_type.clone(),
                    data: reaction.data,
                    correlation_id: Some(event.metadata.correlation_id),
                    causation_id: Some(event.event_id),
                    actor: format!("saga:{}", self.saga.name()),
                };
                let command_id = envelope.command_id.clone();
                let Some(answer) = send_patiently(&self.host, envelope, &stop).await else {
                    return Ok(());
                };
                let outcome = settled(answer)?;
                commands.push(SagaCommand {
                    command_id,
                    stream_id: reaction.stream_id,
                    command_type: reaction.command_type,
                    outcome,
                });
            }
            let reacted = SagaReacted {
                trigger_event_id: event.event_id,
                trigger_type: event.event_type.to_string(),
                trigger_stream: event.stream_id.clone(),
                trigger_position: after,
                commands,
            };
            version = self.record(&reacted, Some(&event), version).await?;
            unrecorded = 0;
        }
    }

    /// What the saga answers `event` with, after answering its lookup if
    /// it has one. `None` when stopped meanwhile.
    async fn reactions(
        &self,
        event: &RecordedEvent,
        stop: &CancellationToken,
    ) -> Result<Option<Vec<Reaction>>, HostError> {
        let Some(lookup) = self.saga.lookup(event) else {
            return Ok(Some(self.saga.react(event)));
        };
        let answer = match &lookup {
            Lookup::InboxThreads(query) => {
                let inbox = self
                    .inbox
                    .as_ref()
                    .ok_or_else(|| HostError::LookupUnavailable {
                        saga: self.saga.name().to_owned(),
                        lookup: "the inbox".to_owned(),
                    })?;
                let threads = tokio::select! {
                    biased;
                    () = stop.cancelled() => return Ok(None),
                    found = inbox.threads_with(query, event.global_position) => found,
                };
                Answer::InboxThreads(threads.map_err(|error| HostError::Lookup {
                    saga: self.saga.name().to_owned(),
                    reason: error.to_string(),
                })?)
            }
        };
        Ok(Some(self.saga.react_with(event, &answer)))
    }

    /// Where the saga's own stream says it got to, and the stream's version.
    async fn resume_after(&self) -> Result<(Position, Option<u64>), HostError> {
        let Some(version) = self.store.stream_version(&self.stream).await? else {
            return Ok((Position::ORIGIN, None));
        };
        let last = self
            .store
            .read_stream(&self.stream, version, Direction::Backward, 1)
            .await?;
        let position = match last.first() {
            Some(recorded) => SagaEvent::from_recorded(recorded)
                .map_err(|error| HostError::Unreadable {
                    stream: self.stream.clone(),
                    version,
                    reason: error.to_string(),
                })?
                .position(),
            None => Position::ORIGIN,
        };
        Ok((position, Some(version)))
    }

    /// Appends a record after `version`; another runner having written in
    /// between (a lease taken over) is a conflict that stops this one.
    async fn record<E: DomainEvent>(
        &self,
        event: &E,
        trigger: Option<&RecordedEvent>,
        version: Option<u64>,
    ) -> Result<Option<u64>, HostError> {
        let mut new = new_event(event).map_err(StoreError::backend)?;
        new.metadata = Metadata {
            correlation_id: trigger
                .map_or(new.metadata.correlation_id, |t| t.metadata.correlation_id),
            causation_id: trigger.map(|t| t.event_id),
            command_id: None,
            actor: format!("saga:{}", self.saga.name()),
            subjects: Vec::new(),
        };
        let expected = version.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
        let appended = self.store.append(&self.stream, expected, vec![new]).await?;
        Ok(Some(appended.last_version))
    }
}
