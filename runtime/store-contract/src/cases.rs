//! The contract cases. Each takes a harness on empty storage.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use steward_events::domain::DomainEvent;
use steward_events::domain::home::DeviceStateReported;
use steward_events::domain::subject::SubjectErased;
use steward_events::{
    Direction, EventStore, EventType, ExpectedVersion, Metadata, NewEvent, Personal, Position,
    RecordedEvent, StoreError, StreamId, SubjectId,
};
use steward_store_core::{MasterKey, Store};
use uuid::Uuid;

use crate::Harness;

fn stream(name: &str) -> StreamId {
    StreamId::parse(name).expect("valid stream id")
}

fn noted(n: u64) -> NewEvent {
    NewEvent::new(EventType::parse("Noted").expect("valid"), json!({ "n": n }))
}

fn subject(name: &str) -> SubjectId {
    SubjectId::parse(name).expect("valid subject id")
}

async fn open(harness: &impl Harness) -> (Store, MasterKey) {
    let master = MasterKey::generate().expect("master key");
    let store = harness.open(master.clone()).await.expect("store opens");
    (store, master)
}

/// Positions strictly increase and `recorded_at` never decreases.
fn assert_global_order(events: &[RecordedEvent]) {
    for pair in events.windows(2) {
        assert!(
            pair[0].global_position < pair[1].global_position,
            "positions must increase: {} then {}",
            pair[0].global_position,
            pair[1].global_position
        );
        assert!(
            pair[0].recorded_at <= pair[1].recorded_at,
            "recorded_at must not decrease"
        );
    }
}

/// Appended events read back unchanged, forwards and backwards, in pages.
pub async fn appends_and_reads_a_stream(harness: &impl Harness) {
    let (store, _) = open(harness).await;
    let orders = stream("errand-42");
    let metadata = Metadata {
        correlation_id: Uuid::now_v7(),
        causation_id: Some(Uuid::now_v7()),
        command_id: Some("cmd-1".into()),
        actor: "user:alice".into(),
        subjects: vec![],
    };
    let batch: Vec<NewEvent> = (0..5)
        .map(|n| noted(n).with_metadata(metadata.clone()))
        .collect();
    let appended = store
        .append(&orders, ExpectedVersion::NoStream, batch.clone())
        .await
        .expect("append");
    assert_eq!((appended.first_version, appended.last_version), (0, 4));
    assert!(!appended.already_appended);
    assert!(appended.first_position < appended.last_position);

    let read = store
        .read_stream(&orders, 0, Direction::Forward, 100)
        .await
        .expect("read");
    assert_eq!(read.len(), 5);
    for (n, (event, sent)) in read.iter().zip(&batch).enumerate() {
        assert_eq!(event.event_id, sent.event_id);
        assert_eq!(event.stream_id, orders);
        assert_eq!(event.stream_version, n as u64);
        assert_eq!(event.event_type, sent.event_type);
        assert_eq!(event.schema_version, 1);
        assert_eq!(event.data, json!({ "n": n }));
        assert_eq!(event.metadata, metadata);
        assert_eq!(event.personal, None);
    }
    assert_eq!(read[0].global_position, appended.first_position);
    assert_eq!(read[4].global_position, appended.last_position);
    assert_global_order(&read);

    let page = store
        .read_stream(&orders, 2, Direction::Forward, 2)
        .await
        .expect("read");
    assert_eq!(
        page.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        [2, 3]
    );
    let back = store
        .read_stream(&orders, u64::MAX, Direction::Backward, 3)
        .await
        .expect("read");
    assert_eq!(
        back.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        [4, 3, 2]
    );
    let back = store
        .read_stream(&orders, 1, Direction::Backward, 10)
        .await
        .expect("read");
    assert_eq!(
        back.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        [1, 0]
    );

    assert_eq!(
        store.stream_version(&orders).await.expect("version"),
        Some(4)
    );
    assert_eq!(
        store
            .stream_version(&stream("errand-none"))
            .await
            .expect("version"),
        None
    );
    assert!(
        store
            .read_stream(&stream("errand-none"), 0, Direction::Forward, 10)
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(
        store.head().await.expect("head"),
        Some(appended.last_position)
    );
}

/// Every `ExpectedVersion` admits exactly the stream states it names.
pub async fn expected_versions_are_enforced(harness: &impl Harness) {
    let (store, _) = open(harness).await;
    let s = stream("list-groceries");
    let conflict = |result: Result<_, StoreError>, want_actual: Option<u64>| match result {
        Err(StoreError::WrongExpectedVersion { actual, stream, .. }) => {
            assert_eq!(actual, want_actual);
            assert_eq!(stream.as_str(), "list-groceries");
        }
        other => panic!("expected a version conflict, got {other:?}"),
    };
    conflict(
        store
            .append(&s, ExpectedVersion::StreamExists, vec![noted(0)])
            .await,
        None,
    );
    conflict(
        store
            .append(&s, ExpectedVersion::Exact(0), vec![noted(0)])
            .await,
        None,
    );
    store
        .append(&s, ExpectedVersion::NoStream, vec![noted(0)])
        .await
        .expect("creates");
    conflict(
        store
            .append(&s, ExpectedVersion::NoStream, vec![noted(1)])
            .await,
        Some(0),
    );
    conflict(
        store
            .append(&s, ExpectedVersion::Exact(5), vec![noted(1)])
            .await,
        Some(0),
    );
    store
        .append(&s, ExpectedVersion::Exact(0), vec![noted(1)])
        .await
        .expect("exact");
    store
        .append(&s, ExpectedVersion::StreamExists, vec![noted(2)])
        .await
        .expect("exists");
    let any = store
        .append(&s, ExpectedVersion::Any, vec![noted(3), noted(4)])
        .await
        .expect("any");
    assert_eq!((any.first_version, any.last_version), (3, 4));
    store
        .append(&stream("list-new"), ExpectedVersion::Any, vec![noted(0)])
        .await
        .expect("any creates");
    let error = store
        .append(&s, ExpectedVersion::Exact(1), vec![noted(5)])
        .await
        .expect_err("stale");
    assert_eq!(error.class(), steward_events::ErrorClass::Conflict);
}

/// Appending the same event ids again succeeds once and writes nothing twice.
pub async fn retried_appends_are_idempotent(harness: &impl Harness) {
    let (store, _) = open(harness).await;
    let s = stream("inbox-main");
    let batch = vec![noted(0), noted(1)];
    let first = store
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .expect("append");
    // The reply was lost; the writer retries exactly the same append.
    let retry = store
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .expect("retry succeeds");
    assert!(retry.already_appended);
    assert_eq!(
        (retry.first_version, retry.last_version),
        (first.first_version, first.last_version)
    );
    assert_eq!(retry.last_position, first.last_position);

    let next = vec![noted(2)];
    let second = store
        .append(&s, ExpectedVersion::Exact(1), next.clone())
        .await
        .expect("append");
    let retry = store
        .append(&s, ExpectedVersion::Exact(1), next.clone())
        .await
        .expect("retry");
    assert!(retry.already_appended);
    assert_eq!(retry.last_position, second.last_position);
    let retry = store
        .append(&s, ExpectedVersion::Any, next)
        .await
        .expect("retry with any");
    assert!(retry.already_appended);

    assert_eq!(
        store
            .read_stream(&s, 0, Direction::Forward, 100)
            .await
            .expect("read")
            .len(),
        3
    );
    assert_eq!(
        store
            .read_all(Position::ORIGIN, 100)
            .await
            .expect("read all")
            .len(),
        3
    );

    // The same event id in another stream is not a retry: refused where ids
    // are unique across the log (KurrentDB keeps them unique per stream).
    let reused = store
        .append(
            &stream("inbox-other"),
            ExpectedVersion::Any,
            vec![batch[0].clone()],
        )
        .await;
    let expected_total = if harness.event_ids_unique_across_streams() {
        let error = reused.expect_err("id taken");
        assert!(
            matches!(error, StoreError::DuplicateEventId { .. }),
            "{error:?}"
        );
        3
    } else {
        reused.expect("ids are unique per stream only");
        4
    };
    // Part of an earlier batch plus a new event is not a retry either.
    let error = store
        .append(&s, ExpectedVersion::Any, vec![batch[1].clone(), noted(9)])
        .await
        .expect_err("partial overlap");
    assert!(
        matches!(error, StoreError::DuplicateEventId { .. }),
        "{error:?}"
    );
    assert_eq!(
        store
            .read_all(Position::ORIGIN, 100)
            .await
            .expect("read all")
            .len(),
        expected_total
    );
}

/// A batch refused for any reason leaves no trace.
pub async fn a_rejected_batch_writes_nothing(harness: &impl Harness) {
    let (store, _) = open(harness).await;
    let s = stream("goal-run");
    let mut bad = noted(1);
    bad.data = json!("not an object");
    let error = store
        .append(&s, ExpectedVersion::Any, vec![noted(0), bad])
        .await
        .expect_err("invalid");
    assert!(error.to_string().contains("event 1"), "{error}");
    store
        .append(&s, ExpectedVersion::NoStream, vec![noted(0)])
        .await
        .expect("append");
    store
        .append(&s, ExpectedVersion::NoStream, vec![noted(1), noted(2)])
        .await
        .expect_err("conflict");
    // A batch that collides on an event id half-way is refused whole.
    let taken = store
        .read_stream(&s, 0, Direction::Forward, 1)
        .await
        .expect("read")[0]
        .event_id;
    let error = store
        .append(
            &s,
            ExpectedVersion::Any,
            vec![noted(3), noted(4).with_event_id(taken)],
        )
        .await
        .expect_err("duplicate id");
    assert!(
        matches!(error, StoreError::DuplicateEventId { .. }),
        "{error:?}"
    );
    let all = store
        .read_all(Position::ORIGIN, 100)
        .await
        .expect("read all");
    assert_eq!(all.len(), 1, "only the one good append is stored: {all:?}");
    assert_eq!(store.stream_version(&s).await.expect("version"), Some(0));
}

/// Malformed ids, empty batches and oversized events get typed errors naming the problem.
pub async fn bad_input_is_refused_by_name(harness: &impl Harness) {
    let (store, _) = open(harness).await;
    for bad in ["", "nodash", "-id", "cat-", "has space-1", "cat-has space"] {
        let error = StreamId::parse(bad).expect_err("malformed stream id");
        assert!(error.to_string().contains("stream id"), "{error}");
    }
    for bad in ["", "has.dot", "has space", "star*"] {
        let error = EventType::parse(bad).expect_err("malformed event type");
        assert!(error.to_string().contains("event type"), "{error}");
    }
    let s = stream("home-1");
    let error = store
        .append(&s, ExpectedVersion::Any, vec![])
        .await
        .expect_err("empty");
    assert!(matches!(error, StoreError::EmptyBatch));
    let mut huge = noted(0);
    huge.data = json!({ "blob": "x".repeat(1024 * 1024) });
    let error = store
        .append(&s, ExpectedVersion::Any, vec![huge])
        .await
        .expect_err("too large");
    assert!(
        matches!(
            error,
            StoreError::EventTooLarge {
                index: 0,
                limit: 1_048_576,
                ..
            }
        ),
        "{error}"
    );
    let mut sealed_by_writer = noted(0).with_personal(json!({}), vec![subject("person-1")]);
    sealed_by_writer.personal = Some(Personal::Erased);
    let error = store
        .append(&s, ExpectedVersion::Any, vec![sealed_by_writer])
        .await
        .expect_err("not plain");
    assert!(error.to_string().contains("plain personal data"), "{error}");
    assert_eq!(error.class(), steward_events::ErrorClass::InvalidInput);
    // NUL cannot be stored by every backend, so none accepts it.
    let mut nul = noted(0);
    nul.data = json!({ "text": "a\u{0}b" });
    let error = store
        .append(&s, ExpectedVersion::Any, vec![nul])
        .await
        .expect_err("NUL");
    assert!(error.to_string().contains("NUL"), "{error}");
    assert_eq!(error.class(), steward_events::ErrorClass::InvalidInput);
    assert_eq!(
        store.head().await.expect("head"),
        None,
        "nothing was written"
    );
}

/// 16 writers racing for one stream: exactly one wins each version.
pub async fn concurrent_writers_each_win_one_version(harness: &impl Harness) {
    const WRITERS: usize = 16;
    const ROUNDS: u64 = 8;
    let (store, _) = open(harness).await;
    let s = stream("calendar-shared");
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = Arc::clone(&store);
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut wins = Vec::new();
            for _ in 0..ROUNDS {
                // Every writer races for the same next version.
                loop {
                    let current = store.stream_version(&s).await.expect("version");
                    let expected =
                        current.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
                    let event = NewEvent::new(
                        EventType::parse("Claimed").expect("valid"),
                        json!({ "writer": writer }),
                    );
                    match store.append(&s, expected, vec![event]).await {
                        Ok(appended) => {
                            wins.push(appended.first_version);
                            break;
                        }
                        Err(StoreError::WrongExpectedVersion { .. }) => continue,
                        Err(error) => panic!("writer {writer}: {error}"),
                    }
                }
            }
            wins
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.extend(task.await.expect("writer task"));
    }
    versions.sort_unstable();
    let expected: Vec<u64> = (0..WRITERS as u64 * ROUNDS).collect();
    assert_eq!(versions, expected, "each version won by exactly one writer");
    let read = store
        .read_stream(&s, 0, Direction::Forward, 1000)
        .await
        .expect("read");
    assert_eq!(read.len(), expected.len());
    assert!(
        read.iter()
            .enumerate()
            .all(|(n, e)| e.stream_version == n as u64)
    );
}

/// Writers appending to one stream with `Any` all succeed: racing for a
/// version is no conflict when no version was expected.
pub async fn concurrent_any_appends_to_one_stream_all_land(harness: &impl Harness) {
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let (store, _) = open(harness).await;
    let s = stream("list-shared");
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let (store, s) = (store.clone(), s.clone());
        tasks.push(tokio::spawn(async move {
            let mut versions = Vec::new();
            for n in 0..EACH {
                let appended = store
                    .append(
                        &s,
                        ExpectedVersion::Any,
                        vec![noted((writer * EACH + n) as u64)],
                    )
                    .await
                    .unwrap_or_else(|e| panic!("writer {writer}: {e}"));
                versions.push(appended.first_version);
            }
            versions
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.extend(task.await.expect("writer task"));
    }
    versions.sort_unstable();
    assert_eq!(versions, (0..(WRITERS * EACH) as u64).collect::<Vec<_>>());
}

/// `read_all` pages through every stream in global order.
pub async fn read_all_pages_in_global_order(harness: &impl Harness) {
    let (store, _) = open(harness).await;
    let mut sent = Vec::new();
    for n in 0..30u64 {
        let event = noted(n);
        sent.push(event.event_id);
        let s = stream(&format!("trip-{}", n % 4));
        store
            .append(&s, ExpectedVersion::Any, vec![event])
            .await
            .expect("append");
    }
    let mut seen = Vec::new();
    let mut after = Position::ORIGIN;
    loop {
        let page = store.read_all(after, 7).await.expect("read all");
        assert!(page.len() <= 7);
        let Some(last) = page.last() else { break };
        after = last.global_position;
        seen.extend(page);
    }
    assert_global_order(&seen);
    assert_eq!(seen.iter().map(|e| e.event_id).collect::<Vec<_>>(), sent);
    let from_middle = store
        .read_all(seen[9].global_position, 5)
        .await
        .expect("read all");
    assert_eq!(from_middle[0].event_id, seen[10].event_id);
    // "From P inclusive" is "after P's predecessor".
    let inclusive = store
        .read_all(seen[9].global_position.predecessor(), 1)
        .await
        .expect("read all");
    assert_eq!(inclusive[0].event_id, seen[9].event_id);
    assert!(
        store
            .read_all(seen[29].global_position, 5)
            .await
            .expect("read all")
            .is_empty()
    );
}

/// A subscription delivers 10,000+ events, old and new, each once and in order, while writers run.
pub async fn subscription_catches_up_then_goes_live_with_writers_running(harness: &impl Harness) {
    const BEFORE: u64 = 5_000;
    const WRITERS: u64 = 4;
    const PER_WRITER: u64 = 1_250;
    const TOTAL: usize = (BEFORE + WRITERS * PER_WRITER) as usize;
    let (store, _) = open(harness).await;
    for chunk in 0..(BEFORE / 100) {
        let batch = (0..100).map(|n| noted(chunk * 100 + n)).collect();
        store
            .append(
                &stream(&format!("bulk-{chunk}")),
                ExpectedVersion::NoStream,
                batch,
            )
            .await
            .expect("append");
    }
    let mut subscription = store.subscribe_all(Position::ORIGIN);
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for n in 0..PER_WRITER {
                // A mix of single events and small batches across streams.
                let s = stream(&format!("live-{writer}-{}", n % 10));
                let batch = if n % 5 == 0 {
                    vec![noted(n), noted(n)]
                } else {
                    vec![noted(n)]
                };
                store
                    .append(&s, ExpectedVersion::Any, batch)
                    .await
                    .expect("append");
            }
        }));
    }
    let collect = async {
        let mut seen: Vec<RecordedEvent> = Vec::with_capacity(TOTAL * 2);
        let expected_total = TOTAL + (WRITERS * PER_WRITER / 5) as usize;
        while seen.len() < expected_total {
            let event = subscription
                .next()
                .await
                .expect("stream stays open")
                .expect("no error");
            seen.push(event);
        }
        seen
    };
    let seen = tokio::time::timeout(Duration::from_secs(120), collect)
        .await
        .expect("caught up in time");
    for writer in writers {
        writer.await.expect("writer");
    }
    assert_global_order(&seen);
    let ids: HashSet<Uuid> = seen.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), seen.len(), "no event twice");
    let mut all = Vec::new();
    let mut after = Position::ORIGIN;
    loop {
        let page = store.read_all(after, 1000).await.expect("read all");
        let Some(last) = page.last() else { break };
        after = last.global_position;
        all.extend(page.into_iter().map(|e| e.event_id));
    }
    assert_eq!(
        seen.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        all,
        "exactly the log, in order"
    );
    // Nothing more arrives until something is appended; then it does.
    let quiet = tokio::time::timeout(Duration::from_millis(300), subscription.next()).await;
    assert!(quiet.is_err(), "no phantom events");
    let last = store
        .append(&stream("late-1"), ExpectedVersion::Any, vec![noted(0)])
        .await
        .expect("append");
    let event = tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .expect("live event arrives")
        .expect("open")
        .expect("no error");
    assert_eq!(event.global_position, last.last_position);
}

/// Closing and reopening the store keeps its data and continues its positions.
pub async fn a_reopened_store_continues_positions(harness: &impl Harness) {
    let (store, master) = open(harness).await;
    let s = stream("maintenance-boiler");
    let before = store
        .append(
            &s,
            ExpectedVersion::NoStream,
            vec![noted(0).with_personal(json!({ "owner": "Dana" }), vec![subject("person-dana")])],
        )
        .await
        .expect("append");
    drop(store);
    let store = harness.open(master).await.expect("reopens");
    let read = store
        .read_stream(&s, 0, Direction::Forward, 10)
        .await
        .expect("read");
    assert_eq!(read.len(), 1);
    assert_eq!(
        read[0].personal,
        Some(Personal::Plain(json!({ "owner": "Dana" })))
    );
    let after = store
        .append(&s, ExpectedVersion::Exact(0), vec![noted(1)])
        .await
        .expect("append");
    assert!(
        after.first_position > before.last_position,
        "positions continue after a restart"
    );
    assert_eq!(after.first_version, 1);
}

/// Two handles on one storage (two processes) see each other's commits.
pub async fn another_handle_sees_commits(harness: &impl Harness) {
    let (writer, master) = open(harness).await;
    let reader = harness.open(master).await.expect("second handle");
    let mut subscription = reader.subscribe_all(Position::ORIGIN);
    let appended = writer
        .append(&stream("home-2"), ExpectedVersion::Any, vec![noted(7)])
        .await
        .expect("append");
    let event = tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .expect("the other handle's commit arrives")
        .expect("open")
        .expect("no error");
    assert_eq!(event.global_position, appended.last_position);
    // And the second handle writes to the same log, conflicts included.
    let error = reader
        .append(&stream("home-2"), ExpectedVersion::NoStream, vec![noted(8)])
        .await
        .expect_err("the stream exists");
    assert!(matches!(
        error,
        StoreError::WrongExpectedVersion {
            actual: Some(0),
            ..
        }
    ));
}

const SECRET_NAME: &str = "Zanzibar-Quigley";
const SECRET_BODY: &str = "meet me at the old mill at noon";

fn personal_event() -> NewEvent {
    noted(0).with_personal(
        json!({ "from": SECRET_NAME, "body": SECRET_BODY }),
        vec![subject("person-zq"), subject("person-owner")],
    )
}

/// Personal parts are ciphertext in storage and plain through the store.
pub async fn personal_data_is_ciphertext_at_rest(harness: &impl Harness) {
    let (store, _) = open(harness).await;
    let event = personal_event();
    store
        .append(
            &stream("inbox-zq"),
            ExpectedVersion::Any,
            vec![event.clone()],
        )
        .await
        .expect("append");
    let read = store
        .read_stream(&stream("inbox-zq"), 0, Direction::Forward, 1)
        .await
        .expect("read");
    assert_eq!(
        read[0].personal, event.personal,
        "reads back plain through the store"
    );
    assert!(
        harness.at_rest_contains("\"n\"").await,
        "the raw check sees ordinary data"
    );
    assert!(
        !harness.at_rest_contains(SECRET_NAME).await,
        "no personal plaintext at rest"
    );
    assert!(
        !harness.at_rest_contains(SECRET_BODY).await,
        "no personal plaintext at rest"
    );
}

/// After erasure, every read path shows the personal part as erased; the rest stays readable.
pub async fn erased_subjects_read_as_erased_everywhere(harness: &impl Harness) {
    let (store, master) = open(harness).await;
    let s = stream("inbox-zq");
    let mut sealed = personal_event();
    sealed.metadata.command_id = Some("cmd-erase-test".into());
    let unrelated =
        noted(1).with_personal(json!({ "name": "Owner" }), vec![subject("person-owner")]);
    store
        .append(&s, ExpectedVersion::Any, vec![sealed.clone(), unrelated])
        .await
        .expect("append");
    let mut subscription = store.subscribe_all(Position::ORIGIN);

    let erasure = store
        .erase_subject(&subject("person-zq"), "user:owner")
        .await
        .expect("erase");
    assert!(erasure.key_destroyed);

    let check = |event: &RecordedEvent| {
        assert_eq!(event.personal, Some(Personal::Erased));
        assert_eq!(
            event.data,
            json!({ "n": 0 }),
            "everything else stays readable"
        );
        assert_eq!(event.metadata.subjects, sealed.metadata.subjects);
    };
    let read = store
        .read_stream(&s, 0, Direction::Forward, 10)
        .await
        .expect("read");
    check(&read[0]);
    assert_eq!(
        read[1].personal,
        Some(Personal::Plain(json!({ "name": "Owner" }))),
        "other subjects unaffected"
    );
    check(
        &store
            .read_all(Position::ORIGIN, 10)
            .await
            .expect("read all")[0],
    );
    check(
        &store
            .events_of_command("cmd-erase-test")
            .await
            .expect("by command")[0],
    );
    check(&subscription.next().await.expect("open").expect("no error"));
    let reopened = harness.open(master).await.expect("reopens");
    check(
        &reopened
            .read_stream(&s, 0, Direction::Forward, 1)
            .await
            .expect("read")[0],
    );

    let recorded = store
        .read_stream(&stream("subject-person-zq"), 0, Direction::Forward, 10)
        .await
        .expect("read");
    assert_eq!(recorded.len(), 1, "the erasure is itself an event");
    assert_eq!(recorded[0].event_type.as_str(), SubjectErased::EVENT_TYPE);
    assert_eq!(recorded[0].metadata.actor, "user:owner");
    assert_eq!(recorded[0].global_position, erasure.position);

    let again = store
        .erase_subject(&subject("person-zq"), "user:owner")
        .await
        .expect("erase twice");
    assert!(!again.key_destroyed);
    assert_eq!(again.position, erasure.position, "recorded once");

    let error = store
        .append(&s, ExpectedVersion::Any, vec![personal_event()])
        .await
        .expect_err("no new data about an erased subject");
    assert!(matches!(error, StoreError::SubjectErased(_)), "{error:?}");
}

/// Opening with another master key is a clear error, never new keys.
pub async fn a_wrong_master_key_is_refused(harness: &impl Harness) {
    let (store, _) = open(harness).await;
    store
        .append(
            &stream("inbox-zq"),
            ExpectedVersion::Any,
            vec![personal_event()],
        )
        .await
        .expect("append");
    let error = harness
        .open(MasterKey::generate().expect("key"))
        .await
        .expect_err("wrong key");
    assert!(matches!(error, StoreError::MasterKey(_)), "{error:?}");
    assert!(
        error.to_string().contains("different master key"),
        "{error}"
    );
}

/// The events a command produced are found by its id.
pub async fn events_are_found_by_command_id(harness: &impl Harness) {
    let (store, _) = open(harness).await;
    let metadata = Metadata {
        command_id: Some("book-dentist-1".into()),
        ..Metadata::default()
    };
    let batch = vec![
        noted(0).with_metadata(metadata.clone()),
        noted(1).with_metadata(metadata),
    ];
    store
        .append(
            &stream("appointment-1"),
            ExpectedVersion::Any,
            batch.clone(),
        )
        .await
        .expect("append");
    store
        .append(
            &stream("appointment-2"),
            ExpectedVersion::Any,
            vec![noted(2)],
        )
        .await
        .expect("append");
    let found = store
        .events_of_command("book-dentist-1")
        .await
        .expect("found");
    assert_eq!(
        found.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        batch.iter().map(|e| e.event_id).collect::<Vec<_>>()
    );
    assert!(
        store
            .events_of_command("never-sent")
            .await
            .expect("none")
            .is_empty()
    );
}

/// Old event shapes come back upcast; the log keeps what was written.
pub async fn old_event_shapes_are_upcast_on_read(harness: &impl Harness) {
    let (store, _) = open(harness).await;
    let v1 = NewEvent::new(
        DeviceStateReported::event_type(),
        json!({ "device_id": "lamp", "on": false }),
    );
    store
        .append(&stream("device-lamp"), ExpectedVersion::Any, vec![v1])
        .await
        .expect("append v1");
    let read = store.read_all(Position::ORIGIN, 1).await.expect("read");
    assert_eq!(read[0].schema_version, 2);
    let report: DeviceStateReported = read[0].to_domain().expect("current shape");
    assert_eq!(report.attributes.get("power"), Some(&json!("off")));
    // The log itself keeps what was written.
    let raw = store
        .log()
        .read_all(Position::ORIGIN, 1)
        .await
        .expect("raw read");
    assert_eq!(
        (raw[0].schema_version, &raw[0].data),
        (1, &json!({ "device_id": "lamp", "on": false }))
    );
}
