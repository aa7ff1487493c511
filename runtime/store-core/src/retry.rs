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

/// Decides what a refused append means, given the stream's actual last
/// version and the stored events that carry any of the batch's ids.
///
/// - None of the ids is stored: a plain version conflict.
/// - The whole batch is already in this stream, consecutively and in order,
///   where this same expectation put it when it held: a retry, answered with
///   the original result (`already_appended`) and nothing written.
/// - The whole batch is there, but where this expectation could not have put
///   it: a version conflict.
/// - The ids are used otherwise (another stream, part of another batch):
///   [`StoreError::DuplicateEventId`].
pub fn resolve_refused(
    stream: &StreamId,
    expected: ExpectedVersion,
    actual: Option<u64>,
    batch: &[Uuid],
    existing: &[ExistingEvent],
) -> Result<AppendResult, StoreError> {
    let conflict = || StoreError::WrongExpectedVersion {
        stream: stream.clone(),
        expected,
        actual,
    };
    let Some(first_found) = batch
        .iter()
        .find_map(|id| existing.iter().find(|e| e.event_id == *id))
    else {
        return Err(conflict());
    };
    let duplicate = |event: &ExistingEvent| StoreError::DuplicateEventId {
        event_id: event.event_id,
        stream: event.stream_id.clone(),
    };
    let mut found = Vec::with_capacity(batch.len());
    for id in batch {
        match existing.iter().find(|e| e.event_id == *id) {
            Some(event) if event.stream_id == *stream => found.push(event),
            Some(event) => return Err(duplicate(event)),
            None => return Err(duplicate(first_found)),
        }
    }
    let first = found[0];
    let in_order = found
        .iter()
        .enumerate()
        .all(|(offset, e)| e.stream_version == first.stream_version + offset as u64);
    if !in_order {
        return Err(duplicate(first));
    }
    let same_place = match expected {
        ExpectedVersion::Any => true,
        // The stream existed when the batch was written only if it did not start it.
        ExpectedVersion::StreamExists => first.stream_version >= 1,
        ExpectedVersion::NoStream => first.stream_version == 0,
        ExpectedVersion::Exact(version) => version.checked_add(1) == Some(first.stream_version),
    };
    if !same_place {
        return Err(conflict());
    }
    let last = found[found.len() - 1];
    Ok(AppendResult {
        first_version: first.stream_version,
        last_version: last.stream_version,
        first_position: first.position,
        last_position: last.position,
        already_appended: true,
    })
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
        let resolve = |expected| resolve_refused(&stream, expected, Some(4), &ids, &found);
        let appended = resolve(ExpectedVersion::Exact(2)).expect("retry");
        assert!(appended.already_appended);
        assert_eq!((appended.first_version, appended.last_version), (3, 4));
        assert!(resolve(ExpectedVersion::StreamExists).is_ok());
        for elsewhere in [ExpectedVersion::Exact(7), ExpectedVersion::NoStream] {
            assert!(matches!(
                resolve(elsewhere),
                Err(StoreError::WrongExpectedVersion {
                    actual: Some(4),
                    ..
                })
            ));
        }
        let started = existing("a-1", &ids, 0);
        let resolved = resolve_refused(
            &stream,
            ExpectedVersion::StreamExists,
            Some(1),
            &ids,
            &started,
        );
        assert!(
            resolved.is_err(),
            "the stream did not exist when they were written"
        );
    }

    #[test]
    fn ids_used_elsewhere_are_duplicates() {
        let ids = [Uuid::now_v7(), Uuid::now_v7()];
        let stream = StreamId::parse("a-1").expect("valid");
        let resolve = |found: &[ExistingEvent]| {
            resolve_refused(&stream, ExpectedVersion::Any, None, &ids, found)
        };
        let elsewhere = existing("b-1", &ids, 0);
        assert!(matches!(
            resolve(&elsewhere),
            Err(StoreError::DuplicateEventId { .. })
        ));
        let partial = existing("a-1", &ids[..1], 0);
        assert!(matches!(
            resolve(&partial),
            Err(StoreError::DuplicateEventId { .. })
        ));
        assert!(matches!(
            resolve(&[]),
            Err(StoreError::WrongExpectedVersion { .. })
        ));
    }
}
