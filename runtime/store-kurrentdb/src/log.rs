//! [`EventLog`] over the KurrentDB client.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use kurrentdb::{
    AppendToStreamOptions, Client, EventData, ReadAllOptions, ReadStream, ReadStreamOptions,
    StreamPosition, SubscribeToAllOptions, SubscriptionEvent, SubscriptionFilter,
};
use steward_events::{
    AppendResult, Direction, ExpectedVersion, NewEvent, Position, RecordedEvent, StoreError,
    StreamId,
};
use steward_store_core::retry::{ExistingEvent, resolve_refused};
use steward_store_core::{CommitNotifier, EventLog};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::KurrentLog;
use crate::error::KurrentError;
use crate::mapping::{self, Proposed, Raw};

/// The next record of a read; `None` at its end, or when the stream does not
/// exist.
async fn next(
    read: &mut ReadStream,
    operation: &'static str,
) -> Result<Option<kurrentdb::RecordedEvent>, StoreError> {
    loop {
        match read.next().await {
            // Links are not resolved, so the record read is `event`.
            Ok(Some(resolved)) => {
                if let Some(event) = resolved.event.or(resolved.link) {
                    return Ok(Some(event));
                }
            }
            Ok(None) | Err(kurrentdb::Error::ResourceNotFound) => return Ok(None),
            Err(error) => return Err(KurrentError::request(operation)(error).into()),
        }
    }
}

fn event_data(proposed: Proposed) -> Result<EventData, StoreError> {
    EventData::json(&proposed.event_type, &proposed.data)
        .and_then(|event| event.metadata_as_json(&proposed.metadata))
        .map(|event| event.id(proposed.event_id))
        .map_err(StoreError::backend)
}

fn position_of(event: &kurrentdb::RecordedEvent) -> Result<Position, StoreError> {
    mapping::event_position(event.id, event.position)
}

impl KurrentLog {
    async fn read_stream_raw(
        &self,
        name: &str,
        options: &ReadStreamOptions,
    ) -> Result<Option<ReadStream>, StoreError> {
        match self.client.read_stream(name, options).await {
            Ok(read) => Ok(Some(read)),
            Err(kurrentdb::Error::ResourceNotFound) => Ok(None),
            Err(error) => Err(KurrentError::request("read stream")(error).into()),
        }
    }

    async fn read_all_raw(&self, options: &ReadAllOptions) -> Result<ReadStream, StoreError> {
        self.client
            .read_all(options)
            .await
            .map_err(|error| KurrentError::request("read $all")(error).into())
    }

    /// Up to `limit` events of a stream read, decoded.
    async fn decoded_stream(
        &self,
        name: &str,
        options: &ReadStreamOptions,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let Some(mut read) = self.read_stream_raw(name, options).await? else {
            return Ok(Vec::new());
        };
        let mut events = Vec::new();
        while events.len() < limit {
            let Some(event) = next(&mut read, "read stream").await? else {
                break;
            };
            events.push(mapping::decode(&self.names, &Raw::of(&event))?);
        }
        Ok(events)
    }

    /// The stream's last version, and its events carrying any of `ids`,
    /// searched backwards from the end as far as the ids' timestamps allow
    /// (see [`mapping::retry_scan_floor`]).
    async fn existing_in_stream(
        &self,
        name: &str,
        stream: &StreamId,
        ids: &[Uuid],
    ) -> Result<(Option<u64>, Vec<ExistingEvent>), StoreError> {
        let floor = mapping::retry_scan_floor(ids, self.max_clock_skew);
        let wanted: HashSet<&Uuid> = ids.iter().collect();
        let options = ReadStreamOptions::default().position(StreamPosition::End);
        let Some(mut read) = self.read_stream_raw(name, &options).await? else {
            return Ok((None, Vec::new()));
        };
        let mut last_version = None;
        let mut found = Vec::new();
        while let Some(event) = next(&mut read, "read stream").await? {
            last_version = last_version.or(Some(event.revision));
            if wanted.contains(&event.id) {
                found.push(ExistingEvent {
                    event_id: event.id,
                    stream_id: stream.clone(),
                    stream_version: event.revision,
                    position: position_of(&event)?,
                });
                if found.len() == ids.len() {
                    break;
                }
            }
            let created = mapping::created_at(&event.metadata, event.created);
            if floor.is_some_and(|floor| created < floor) {
                break;
            }
        }
        Ok((last_version, found))
    }

    /// The positions of a batch just written at versions `first..`, checking
    /// that it is there.
    async fn read_back(
        &self,
        name: &str,
        first: u64,
        ids: &[Uuid],
    ) -> Result<(Position, Position), StoreError> {
        let read_back = |reason: String| KurrentError::ReadBack {
            stream: name.to_owned(),
            reason,
        };
        let options = ReadStreamOptions::default()
            .position(StreamPosition::Position(first))
            .forwards()
            .max_count(ids.len());
        let Some(mut read) = self.read_stream_raw(name, &options).await? else {
            return Err(read_back("the stream does not exist".into()).into());
        };
        let mut positions = Vec::with_capacity(ids.len());
        while let Some(event) = next(&mut read, "read back").await? {
            let offset = positions.len();
            if ids.get(offset) != Some(&event.id) {
                return Err(read_back(format!(
                    "version {} holds event {}, not the batch's",
                    event.revision, event.id
                ))
                .into());
            }
            positions.push(position_of(&event)?);
        }
        match (positions.first(), positions.last()) {
            (Some(first), Some(last)) if positions.len() == ids.len() => Ok((*first, *last)),
            _ => {
                Err(read_back(format!("{} of {} events found", positions.len(), ids.len())).into())
            }
        }
    }
}

#[async_trait]
impl EventLog for KurrentLog {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        if events.is_empty() {
            return Err(StoreError::EmptyBatch);
        }
        let proposed = events
            .iter()
            .enumerate()
            .map(|(index, event)| mapping::propose(index, event))
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
        let name = self.names.kurrent(stream);

        // KurrentDB would answer a retry with a plain success (or, for `Any`
        // outside its cache window, write it again): a batch whose ids are
        // already in the stream is resolved from what is stored instead, as
        // the SQL backends resolve a refused insert.
        let (actual, existing) = self.existing_in_stream(&name, stream, &ids).await?;
        if !existing.is_empty() {
            return resolve_refused(stream, expected, actual, &ids, &existing);
        }

        let data = proposed
            .into_iter()
            .map(event_data)
            .collect::<Result<Vec<_>, _>>()?;
        let options =
            AppendToStreamOptions::default().stream_state(mapping::stream_state(expected));
        let written = match self
            .client
            .append_to_stream(name.as_str(), &options, data)
            .await
        {
            Ok(written) => written,
            Err(kurrentdb::Error::WrongExpectedVersion { current, .. }) => {
                return Err(StoreError::WrongExpectedVersion {
                    stream: stream.clone(),
                    expected,
                    actual: mapping::current_version(current),
                });
            }
            Err(error) => return Err(KurrentError::request("append")(error).into()),
        };
        self.commits.notify();
        let last_version = written.next_expected_version;
        let first_version = (last_version + 1)
            .checked_sub(ids.len() as u64)
            .ok_or_else(|| KurrentError::ReadBack {
                stream: name.clone(),
                reason: format!(
                    "the server reports version {last_version} after writing {} events",
                    ids.len()
                ),
            })?;
        let (first_position, last_position) = self.read_back(&name, first_version, &ids).await?;
        Ok(AppendResult {
            first_version,
            last_version,
            first_position,
            last_position,
            already_appended: false,
        })
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        // KurrentDB numbers revisions with signed 64-bit integers.
        let beyond = from > i64::MAX as u64;
        let options = match direction {
            _ if limit == 0 => return Ok(Vec::new()),
            Direction::Forward if beyond => return Ok(Vec::new()),
            Direction::Forward => ReadStreamOptions::default()
                .position(StreamPosition::Position(from))
                .forwards(),
            Direction::Backward if beyond => {
                ReadStreamOptions::default().position(StreamPosition::End)
            }
            Direction::Backward => ReadStreamOptions::default()
                .position(StreamPosition::Position(from))
                .backwards(),
        }
        .max_count(limit);
        let name = self.names.kurrent(stream);
        let events = self.decoded_stream(&name, &options, limit).await?;
        if events.is_empty() && direction == Direction::Backward && !beyond {
            // A backward read from past the stream's end starts at its end on
            // KurrentDB (since 20.6.1); should a server return nothing
            // instead, read from the end.
            if self
                .stream_version(stream)
                .await?
                .is_some_and(|last| last < from)
            {
                let options = ReadStreamOptions::default()
                    .position(StreamPosition::End)
                    .max_count(limit);
                return self.decoded_stream(&name, &options, limit).await;
            }
        }
        Ok(events)
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // No count: the read goes on (past system events, other namespaces
        // and the event at `after`) until enough are found, then is dropped.
        let options = ReadAllOptions::default()
            .position(mapping::read_all_start(after))
            .forwards()
            .filter(self.names.filter());
        let mut read = self.read_all_raw(&options).await?;
        let mut events = Vec::new();
        while let Some(event) = next(&mut read, "read $all").await? {
            if self
                .names
                .owns(event.stream_id(), &event.event_type)
                .is_none()
            {
                continue;
            }
            let recorded = mapping::decode(&self.names, &Raw::of(&event))?;
            if mapping::is_after(recorded.global_position, after) {
                events.push(recorded);
                if events.len() == limit {
                    break;
                }
            }
        }
        Ok(events)
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<Option<u64>, StoreError> {
        let options = ReadStreamOptions::default()
            .position(StreamPosition::End)
            .max_count(1);
        let name = self.names.kurrent(stream);
        let Some(mut read) = self.read_stream_raw(&name, &options).await? else {
            return Ok(None);
        };
        Ok(next(&mut read, "read stream")
            .await?
            .map(|event| event.revision))
    }

    /// Slow path: scans every event of this store in `$all` (see the crate
    /// documentation), parsing only the metadata of those it does not return.
    async fn events_of_command(&self, command_id: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        let options = ReadAllOptions::default()
            .position(StreamPosition::Start)
            .filter(self.names.filter());
        let mut read = self.read_all_raw(&options).await?;
        let mut events = Vec::new();
        while let Some(event) = next(&mut read, "read $all").await? {
            if self
                .names
                .owns(event.stream_id(), &event.event_type)
                .is_none()
            {
                continue;
            }
            if mapping::command_id_of(event.id, &event.custom_metadata)?.as_deref()
                == Some(command_id)
            {
                events.push(mapping::decode(&self.names, &Raw::of(&event))?);
            }
        }
        Ok(events)
    }

    async fn head(&self) -> Result<Option<Position>, StoreError> {
        let options = ReadAllOptions::default()
            .position(StreamPosition::End)
            .filter(self.names.filter());
        let mut read = self.read_all_raw(&options).await?;
        while let Some(event) = next(&mut read, "read $all").await? {
            if self
                .names
                .owns(event.stream_id(), &event.event_type)
                .is_some()
            {
                return position_of(&event).map(Some);
            }
        }
        Ok(None)
    }

    fn commits(&self) -> watch::Receiver<u64> {
        self.commits.subscribe()
    }

    fn poll_interval(&self) -> Duration {
        self.poll_interval
    }
}

/// Ticks `commits` for every event of this store that any process commits,
/// from a live `$all` subscription; resubscribes after a failure (ticking, in
/// case something was missed meanwhile). Runs until aborted.
pub(crate) fn watch_commits(
    client: Client,
    filter: SubscriptionFilter,
    commits: CommitNotifier,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let options = SubscribeToAllOptions::default()
                .position(StreamPosition::End)
                .filter(filter.clone());
            let mut subscription = client.subscribe_to_all(&options).await;
            loop {
                match subscription.next_subscription_event().await {
                    Ok(SubscriptionEvent::EventAppeared(_)) => commits.notify(),
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "KurrentDB commit watch dropped; resubscribing");
                        commits.notify();
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}
