//! A failure inside an append, while it holds the session-level alloc lock,
//! must not leave that lock behind to wedge every other appender.

use std::time::Duration;

use sqlx::Executor;
use steward_events::{
    EventStore, EventType, ExpectedVersion, NewEvent, Position, StoreError, StreamId,
};
use steward_store_core::MasterKey;
use steward_store_postgres::PostgresOptions;

use crate::harness::{alloc_lock_released, harness, noted};

fn stream(name: &str) -> StreamId {
    StreamId::parse(name).expect("valid stream id")
}

fn event_of_type(event_type: &str) -> NewEvent {
    NewEvent::new(
        EventType::parse(event_type).expect("valid"),
        serde_json::json!({}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_append_does_not_wedge_other_appenders() {
    let harness = harness().await;
    let mut raw = harness.raw().await;
    let master = MasterKey::generate().expect("key");
    // One connection: were it returned to the pool, it would serve again.
    let single = PostgresOptions {
        max_connections: 1,
        ..harness.options.clone()
    };
    let a = harness
        .store_over(harness.log_with(single).await, master.clone())
        .await;
    let b = harness.store_over(harness.log().await, master).await;

    // A trigger that fails inserts of chosen types: the failure strikes while
    // steward_append holds the alloc lock.
    raw.execute(
        "CREATE FUNCTION steward_test_boom() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
             IF NEW.event_type = 'SlowBoom' THEN PERFORM pg_sleep(0.3); END IF; \
             RAISE EXCEPTION 'boom'; \
         END $$; \
         CREATE TRIGGER steward_test_boom BEFORE INSERT ON events FOR EACH ROW \
         WHEN (NEW.event_type IN ('Boom', 'SlowBoom')) EXECUTE FUNCTION steward_test_boom();",
    )
    .await
    .expect("install the trigger");
    a.append(&stream("lock-a"), ExpectedVersion::Any, vec![noted(0)])
        .await
        .expect("append");
    let error = a
        .append(
            &stream("lock-a"),
            ExpectedVersion::Any,
            vec![noted(1), event_of_type("Boom")],
        )
        .await
        .expect_err("the trigger fails it");
    assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
    alloc_lock_released(&mut raw, Duration::from_secs(5)).await;
    tokio::time::timeout(
        Duration::from_secs(5),
        b.append(&stream("lock-b"), ExpectedVersion::Any, vec![noted(2)]),
    )
    .await
    .expect("another pool is not wedged")
    .expect("append");
    a.append(&stream("lock-a"), ExpectedVersion::Exact(0), vec![noted(3)])
        .await
        .expect("the failed pool appends again, and the failed batch left nothing");

    // The caller gives up while the append is inside the locked section:
    // the append still finishes (and fails) on its own, and closes its session.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(50),
        a.append(
            &stream("lock-a"),
            ExpectedVersion::Any,
            vec![event_of_type("SlowBoom")],
        ),
    )
    .await;
    assert!(gave_up.is_err(), "the caller timed out");
    tokio::time::timeout(
        Duration::from_secs(5),
        b.append(&stream("lock-b"), ExpectedVersion::Any, vec![noted(4)]),
    )
    .await
    .expect("not wedged after a cancelled append")
    .expect("append");
    alloc_lock_released(&mut raw, Duration::from_secs(5)).await;
    a.append(&stream("lock-a"), ExpectedVersion::Exact(1), vec![noted(5)])
        .await
        .expect("append");

    // Conflicts are refused without closing anything, and reads pass the
    // holes the failed appends left.
    let conflict = a
        .append(&stream("lock-a"), ExpectedVersion::NoStream, vec![noted(6)])
        .await
        .expect_err("conflict");
    assert!(matches!(
        conflict,
        StoreError::WrongExpectedVersion {
            actual: Some(2),
            ..
        }
    ));
    let beyond = a
        .append(
            &stream("lock-a"),
            ExpectedVersion::Exact(u64::MAX),
            vec![noted(7)],
        )
        .await
        .expect_err("no stream is that long");
    assert!(matches!(
        beyond,
        StoreError::WrongExpectedVersion {
            actual: Some(2),
            ..
        }
    ));
    // A page stops short of a hole; the next one passes it.
    let mut data = Vec::new();
    let mut after = Position::ORIGIN;
    loop {
        let page = a.read_all(after, 100).await.expect("read all");
        let Some(last) = page.last() else { break };
        after = last.global_position;
        data.extend(page.iter().map(|e| e.data["n"].as_u64().expect("n")));
    }
    assert_eq!(data, [0, 2, 3, 4, 5]);
}
