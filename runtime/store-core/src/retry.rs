//! Recognising a retried append, for backends.

use steward_events::{AppendResult, ExpectedVersion, Position, StoreError, StreamId};
use uuid::Uuid;

/// An event already in the log that carries one of a batch's ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingEvent {
    /// Its id.
    pub event_id: Uuid,
    /// Its stream.
    pub stream_id: StreamId,
    /// Its version in that stream.
    pub stream_version: u64,
    /// Its global position.
    pub position: Position,
}

/// Decides what an append whose ids (some or all) are already stored means.
///
/// - `None`: none of the ids is stored, so the failure was something else.
/// - `Some(Ok(..))`: the whole batch is already in this stream, in order,
///   where the same expectation would have put it: a retry, answered with the
///   original result and nothing written.
/// - `Some(Err(DuplicateEventId))`: the ids are used otherwise (another
///   stream, part of another batch, another place in the stream).
pub fn resolve_retry(
    stream: &StreamId,
    expected: ExpectedVersion,
    batch: &[Uuid],
    existing: &[ExistingEvent],
) -> Option<Result<AppendResult, StoreError>> {
    let first_found = batch
        .iter()
        .find_map(|id| existing.iter().find(|e| e.event_id == *id))?;
    let duplicate = |event: &ExistingEvent| StoreError::DuplicateEventId {
        event_id: event.event_id,
        stream: event.stream_id.clone(),
    };
    let mut found = Vec::with_capacity(batch.len());
    for id in batch {
        match existing.iter().find(|e| e.event_id == *id) {
            Some(event) if event.stream_id == *stream => found.push(event),
            Some(event) => return Some(Err(duplicate(event))),
            None => return Some(Err(duplicate(first_found))),
        }
    }
    let first = found[0];
    let in_order = found
        .iter()
        .enumerate()
        .all(|(offset, e)| e.stream_version == first.stream_version + offset as u64);
    let same_place = match expected {
        ExpectedVersion::Any | ExpectedVersion::StreamExists => true,
        ExpectedVersion::NoStream => first.stream_version == 0,
        ExpectedVersion::Exact(version) => first.stream_version == version + 1,
    };
    if !in_order || !same_place {
        return Some(Err(duplicate(first)));
    }
    let last = found[found.len() - 1];
    Some(Ok(AppendResult {
        first_version: first.stream_version,
        last_version: last.stream_version,
        first_position: first.position,
        last_position: last.position,
        already_appended: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn existing(stream: &str, ids: &[Uuid], first_version: u64) -> Vec<ExistingEvent> {
        ids.iter()
            .enumerate()
            .map(|(n, id)| ExistingEvent {
                event_id: *id,
                stream_id: StreamId::parse(stream).expect("valid"),
                stream_version: first_version + n as u64,
                position: Position::sequence(10 + n as u64),
            })
            .collect()
    }

    #[test]
    fn a_whole_batch_in_place_is_a_retry() {
        let ids = [Uuid::now_v7(), Uuid::now_v7()];
        let stream = StreamId::parse("a-1").expect("valid");
        let found = existing("a-1", &ids, 3);
        let result = resolve_retry(&stream, ExpectedVersion::Exact(2), &ids, &found);
        let appended = result.expect("some").expect("retry");
        assert!(appended.already_appended);
        assert_eq!((appended.first_version, appended.last_version), (3, 4));
        assert!(
            resolve_retry(&stream, ExpectedVersion::Exact(7), &ids, &found)
                .expect("some")
                .is_err()
        );
        assert!(
            resolve_retry(&stream, ExpectedVersion::NoStream, &ids, &found)
                .expect("some")
                .is_err()
        );
    }

    #[test]
    fn ids_used_elsewhere_are_duplicates() {
        let ids = [Uuid::now_v7(), Uuid::now_v7()];
        let stream = StreamId::parse("a-1").expect("valid");
        let elsewhere = existing("b-1", &ids, 0);
        assert!(matches!(
            resolve_retry(&stream, ExpectedVersion::Any, &ids, &elsewhere),
            Some(Err(StoreError::DuplicateEventId { .. }))
        ));
        let partial = existing("a-1", &ids[..1], 0);
        assert!(matches!(
            resolve_retry(&stream, ExpectedVersion::Any, &ids, &partial),
            Some(Err(StoreError::DuplicateEventId { .. }))
        ));
        assert!(resolve_retry(&stream, ExpectedVersion::Any, &ids, &[]).is_none());
    }
}
