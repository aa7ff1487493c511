//! One command, start to end: recognise a retry, rehydrate, decide, append
//! under `ExpectedVersion::Exact`, and decide again on a conflict.
//!
//! This is the body of an aggregate actor's message handler, written as a
//! plain async function over the state it is lent, so that the actor stays a
//! thin shell. The state comes back `None` whenever it may no longer match
//! the stream (a store error after which the append's fate is unknown, a
//! panic): the next command then rehydrates from the log.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use steward_actors::{Aggregate, CommandEnvelope, Context};
use steward_events::domain::EventSet;
use steward_events::{
    Direction, EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent, StoreError,
    StreamId, SubjectId,
};
use uuid::Uuid;

use crate::clock::Clock;
use crate::error::HostError;
use crate::host::{Outcome, OutcomeEvent};
use crate::metrics::HostMetrics;
use crate::snapshots::SnapshotPolicy;

/// Events read per page while rehydrating.
const PAGE: usize = 1_000;

/// What every actor of a host shares.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) owner: SubjectId,
    pub(crate) conflict_retries: u32,
    pub(crate) metrics: HostMetrics,
    /// The application's runtime, where the store's I/O runs.
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) snapshots: Option<SnapshotPolicy>,
}

/// An aggregate's state and the version of the last event folded into it.
#[derive(Debug, Clone)]
pub(crate) struct Loaded<A> {
    pub(crate) state: A,
    pub(crate) version: Option<u64>,
    /// The subjects of the personal data folded in, which seal a snapshot.
    pub(crate) subjects: BTreeSet<SubjectId>,
}

impl<A: Aggregate> Loaded<A> {
    /// The state before any event.
    fn empty() -> Self {
        Self {
            state: A::default(),
            version: None,
            subjects: BTreeSet::new(),
        }
    }
}

/// Handles one command. Returns the state to keep (if it is known to match
/// the stream) and the answer.
pub(crate) async fn execute<A: Aggregate>(
    shared: &Shared,
    stream: &StreamId,
    loaded: Option<Loaded<A>>,
    command: A::Command,
    envelope: &CommandEnvelope,
    correlation_id: Uuid,
) -> (Option<Loaded<A>>, Result<Outcome, HostError>) {
    match handled_before(shared, stream, envelope).await {
        Ok(None) => {}
        Ok(Some(answer)) => return (loaded, answer),
        Err(error) => return (loaded, Err(error)),
    }

    let mut loaded = match loaded {
        Some(loaded) => loaded,
        None => match rehydrate::<A>(shared, stream).await {
            Ok(loaded) => loaded,
            Err(error) => return (None, Err(error)),
        },
    };
    let context = Context::new(stream.id(), shared.clock.now());
    let mut attempts = 0;
    loop {
        attempts += 1;
        let decided = catch_unwind(AssertUnwindSafe(|| {
            loaded.state.decide(command.clone(), &context)
        }));
        let events = match decided {
            Err(_) => {
                return (
                    None,
                    Err(HostError::Panicked {
                        stream: stream.clone(),
                        recorded: false,
                    }),
                );
            }
            Ok(Err(rejection)) => return (Some(loaded), Err(HostError::Rejected(rejection))),
            Ok(Ok(events)) if events.is_empty() => {
                let unchanged =
                    Outcome::unchanged(stream, envelope, correlation_id, loaded.version);
                return (Some(loaded), Ok(unchanged));
            }
            Ok(Ok(events)) => events,
        };
        let batch = match to_batch::<A>(shared, envelope, correlation_id, &events) {
            Ok(batch) => batch,
            Err(error) => return (Some(loaded), Err(error)),
        };
        let expected = loaded
            .version
            .map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
        match shared.store.append(stream, expected, batch.clone()).await {
            Ok(appended) => {
                if !fold(&mut loaded.state, &events) {
                    return (
                        None,
                        Err(HostError::Panicked {
                            stream: stream.clone(),
                            recorded: true,
                        }),
                    );
                }
                loaded.version = Some(appended.last_version);
                loaded.subjects.extend(
                    batch
                        .iter()
                        .filter(|e| e.personal.is_some())
                        .flat_map(|e| e.metadata.subjects.iter().cloned()),
                );
                if let Some(policy) = &shared.snapshots
                    && policy.due_after(appended.first_version, appended.last_version)
                {
                    save_snapshot(shared, policy, stream, &loaded);
                }
                let outcome = Outcome::appended(
                    stream,
                    envelope,
                    correlation_id,
                    &batch,
                    appended.first_version,
                    (appended.first_position, appended.last_position),
                );
                return (Some(loaded), Ok(outcome));
            }
            Err(StoreError::WrongExpectedVersion { .. }) if attempts <= shared.conflict_retries => {
                shared
                    .metrics
                    .conflicts
                    .with_label_values(&[A::CATEGORY])
                    .inc();
                if let Err(error) = catch_up(shared, stream, &mut loaded).await {
                    return (None, Err(error));
                }
                // The writer that got in first may have been handling this
                // very command (another actor or process it was sent to).
                match handled_before(shared, stream, envelope).await {
                    Ok(None) => {}
                    Ok(Some(answer)) => return (Some(loaded), answer),
                    Err(error) => return (Some(loaded), Err(error)),
                }
            }
            Err(StoreError::WrongExpectedVersion { .. }) => {
                return (
                    None,
                    Err(HostError::Conflict {
                        stream: stream.clone(),
                        attempts,
                    }),
                );
            }
            Err(error) => {
                // Refused input leaves the stream as it was; after a failure
                // the append may or may not have committed.
                let keep = error.class() == steward_events::ErrorClass::InvalidInput;
                return (keep.then_some(loaded), Err(error.into()));
            }
        }
    }
}

/// The answer to a command already handled: its first result, or a refusal
/// when its id was used for another stream.
async fn handled_before(
    shared: &Shared,
    stream: &StreamId,
    envelope: &CommandEnvelope,
) -> Result<Option<Result<Outcome, HostError>>, HostError> {
    let earlier = shared.store.events_of_command(&envelope.command_id).await?;
    let Some(first) = earlier.first() else {
        return Ok(None);
    };
    Ok(Some(if first.stream_id == *stream {
        Ok(Outcome::duplicate(stream, envelope, &earlier))
    } else {
        Err(HostError::CommandIdReused {
            command_id: envelope.command_id.clone(),
            stream: first.stream_id.clone(),
        })
    }))
}

/// The aggregate's state from its stream: the newest readable snapshot of
/// the current state shape, and the events after it.
pub(crate) async fn rehydrate<A: Aggregate>(
    shared: &Shared,
    stream: &StreamId,
) -> Result<Loaded<A>, HostError> {
    let mut loaded = Loaded::empty();
    if let Some(policy) = &shared.snapshots {
        match policy.store.load(stream).await {
            Ok(Some(snapshot)) => {
                if let Some(state) = SnapshotPolicy::state_of::<A>(stream, &snapshot) {
                    loaded = Loaded {
                        state,
                        version: Some(snapshot.stream_version),
                        subjects: snapshot.subjects.into_iter().collect(),
                    };
                }
            }
            Ok(None) => {}
            // A snapshot is an optimisation: without one, replay.
            Err(error) => tracing::warn!(%stream, %error, "could not load a snapshot; replaying"),
        }
    }
    let folded = catch_up(shared, stream, &mut loaded).await?;
    if let Some(policy) = &shared.snapshots
        && policy.every > 0
        && folded >= policy.every
    {
        save_snapshot(shared, policy, stream, &loaded);
    }
    Ok(loaded)
}

/// The aggregate's state from all of its stream's events.
pub(crate) async fn replay<A: Aggregate>(
    shared: &Shared,
    stream: &StreamId,
) -> Result<Loaded<A>, HostError> {
    let mut loaded = Loaded::empty();
    catch_up(shared, stream, &mut loaded).await?;
    Ok(loaded)
}

/// Saves a snapshot of `loaded` in the background; a failure only costs the
/// next rehydration some time.
fn save_snapshot<A: Aggregate>(
    shared: &Shared,
    policy: &SnapshotPolicy,
    stream: &StreamId,
    loaded: &Loaded<A>,
) {
    let Some(version) = loaded.version else {
        return;
    };
    let Some(snapshot) = SnapshotPolicy::snapshot_of(&loaded.state, version, &loaded.subjects)
    else {
        return;
    };
    let (store, stream) = (Arc::clone(&policy.store), stream.clone());
    shared.runtime.spawn(async move {
        if let Err(error) = store.save(&stream, snapshot).await {
            tracing::warn!(%stream, %error, "could not save a snapshot");
        }
    });
}

/// Folds the stream's events after `loaded.version` into the state;
/// returns how many.
async fn catch_up<A: Aggregate>(
    shared: &Shared,
    stream: &StreamId,
    loaded: &mut Loaded<A>,
) -> Result<u64, HostError> {
    let mut folded = 0;
    loop {
        let from = loaded.version.map_or(0, |v| v + 1);
        let page = shared
            .store
            .read_stream(stream, from, Direction::Forward, PAGE)
            .await?;
        if page.is_empty() {
            shared
                .metrics
                .rehydrated_events
                .with_label_values(&[A::CATEGORY])
                .inc_by(folded);
            return Ok(folded);
        }
        let events = decode::<A>(stream, &page)?;
        if !fold(&mut loaded.state, &events) {
            return Err(HostError::Panicked {
                stream: stream.clone(),
                recorded: false,
            });
        }
        loaded.subjects.extend(
            page.iter()
                .filter(|e| e.personal.is_some())
                .flat_map(|e| e.metadata.subjects.iter().cloned()),
        );
        loaded.version = page.last().map(|e| e.stream_version);
        folded += page.len() as u64;
    }
}

fn decode<A: Aggregate>(
    stream: &StreamId,
    page: &[RecordedEvent],
) -> Result<Vec<A::Event>, HostError> {
    page.iter()
        .map(|recorded| {
            A::Event::from_recorded(recorded).map_err(|error| HostError::Unreadable {
                stream: stream.clone(),
                version: recorded.stream_version,
                reason: error.to_string(),
            })
        })
        .collect()
}

/// Applies events, reporting a panic in the aggregate's code as `false`.
fn fold<A: Aggregate>(state: &mut A, events: &[A::Event]) -> bool {
    catch_unwind(AssertUnwindSafe(|| {
        for event in events {
            state.apply(event);
        }
    }))
    .is_ok()
}

/// The decided events as the store takes them, with the command's metadata
/// and the owner among the subjects of any personal part.
fn to_batch<A: Aggregate>(
    shared: &Shared,
    envelope: &CommandEnvelope,
    correlation_id: Uuid,
    events: &[A::Event],
) -> Result<Vec<NewEvent>, HostError> {
    events
        .iter()
        .map(|event| {
            let mut new = event.to_new_event().map_err(StoreError::backend)?;
            let mut metadata = envelope.metadata(correlation_id);
            if new.personal.is_some() {
                metadata.subjects = std::mem::take(&mut new.metadata.subjects);
                if !metadata.subjects.contains(&shared.owner) {
                    metadata.subjects.push(shared.owner.clone());
                }
            }
            new.metadata = metadata;
            Ok(new)
        })
        .collect()
}

impl Outcome {
    fn duplicate(stream: &StreamId, envelope: &CommandEnvelope, earlier: &[RecordedEvent]) -> Self {
        Self {
            stream_id: stream.clone(),
            command_id: envelope.command_id.clone(),
            correlation_id: earlier
                .first()
                .map_or_else(Uuid::now_v7, |e| e.metadata.correlation_id),
            duplicate: true,
            version: earlier.last().map(|e| e.stream_version),
            positions: earlier
                .first()
                .zip(earlier.last())
                .map(|(first, last)| (first.global_position, last.global_position)),
            events: earlier
                .iter()
                .map(|e| OutcomeEvent {
                    event_id: e.event_id,
                    stream_version: e.stream_version,
                    event_type: e.event_type.to_string(),
                    schema_version: e.schema_version,
                    data: e.data.clone(),
                    personal: e.personal.clone(),
                })
                .collect(),
        }
    }

    fn unchanged(
        stream: &StreamId,
        envelope: &CommandEnvelope,
        correlation_id: Uuid,
        version: Option<u64>,
    ) -> Self {
        Self {
            stream_id: stream.clone(),
            command_id: envelope.command_id.clone(),
            correlation_id,
            duplicate: false,
            version,
            positions: None,
            events: Vec::new(),
        }
    }

    fn appended(
        stream: &StreamId,
        envelope: &CommandEnvelope,
        correlation_id: Uuid,
        batch: &[NewEvent],
        first_version: u64,
        positions: (Position, Position),
    ) -> Self {
        let events: Vec<OutcomeEvent> = batch
            .iter()
            .zip(first_version..)
            .map(|(e, version)| OutcomeEvent {
                event_id: e.event_id,
                stream_version: version,
                event_type: e.event_type.to_string(),
                schema_version: e.schema_version,
                data: e.data.clone(),
                personal: e.personal.clone(),
            })
            .collect();
        Self {
            stream_id: stream.clone(),
            command_id: envelope.command_id.clone(),
            correlation_id,
            duplicate: false,
            version: events.last().map(|e| e.stream_version),
            positions: Some(positions),
            events,
        }
    }
}
