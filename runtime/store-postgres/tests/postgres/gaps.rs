//! Positions commit out of order; readers must neither skip nor repeat.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use sqlx::{Executor, PgConnection};
use steward_events::{EventStore, ExpectedVersion, Position, RecordedEvent, StreamId};
use steward_store_core::{EventLog, MasterKey, Store};
use uuid::Uuid;

use crate::harness::{harness, noted, raw_append};

fn stream(name: &str) -> StreamId {
    StreamId::parse(name).expect("valid stream id")
}

fn positions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.global_position.commit()).collect()
}

/// Every event of the log, paging with `read_all`.
async fn whole_log(store: &Store) -> Vec<RecordedEvent> {
    let mut all = Vec::new();
    let mut after = Position::ORIGIN;
    loop {
        let page = store.read_all(after, 500).await.expect("read all");
        let Some(last) = page.last() else { return all };
        after = last.global_position;
        all.extend(page);
    }
}

/// A reader that finds a hole waits for the append that owns it, and then
/// returns its events too: a late commit is never skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_late_commit_below_a_visible_position_is_not_skipped() {
    let harness = harness().await;
    let log = harness.log().await;
    let store = harness
        .store_over(log.clone(), MasterKey::generate().expect("key"))
        .await;
    store
        .append(&stream("gap-a"), ExpectedVersion::Any, vec![noted(1)])
        .await
        .expect("append");

    let mut slow = harness.raw().await;
    slow.execute("BEGIN").await.expect("begin");
    let (_, slow_first, slow_last) = raw_append(&mut slow, "gap-slow", 2).await;
    assert_eq!((slow_first, slow_last), (2, 3));
    let later = store
        .append(&stream("gap-b"), ExpectedVersion::Any, vec![noted(4)])
        .await
        .expect("append");
    assert_eq!(
        later.last_position,
        Position::sequence(4),
        "committed past the open append"
    );

    // The contiguous prefix comes back at once.
    let prefix = log.read_all(Position::ORIGIN, 100).await.expect("read");
    assert_eq!(positions(&prefix), [1]);
    // Past the hole, the reader waits for the open append.
    let reader = log.clone();
    let mut waiting =
        tokio::spawn(async move { reader.read_all(Position::sequence(1), 100).await });
    let early = tokio::time::timeout(Duration::from_millis(300), &mut waiting).await;
    assert!(
        early.is_err(),
        "must not answer while a lower position may still commit: {early:?}"
    );
    slow.execute("COMMIT").await.expect("commit");
    let read = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("answers once the append commits")
        .expect("task")
        .expect("read");
    assert_eq!(positions(&read), [2, 3, 4]);
    let all = whole_log(&store).await;
    assert_eq!(positions(&all), [1, 2, 3, 4]);
    for pair in all.windows(2) {
        assert!(
            pair[0].recorded_at <= pair[1].recorded_at,
            "recorded_at never decreases"
        );
    }
}

/// A rolled-back append leaves a permanent hole; readers wait for it once
/// and then pass it, and subscriptions carry on past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolled_back_append_leaves_a_gap_that_readers_pass() {
    let harness = harness().await;
    let log = harness.log().await;
    let store = harness
        .store_over(log.clone(), MasterKey::generate().expect("key"))
        .await;
    let mut subscription = store.subscribe_all(Position::ORIGIN);
    store
        .append(&stream("gap-a"), ExpectedVersion::Any, vec![noted(1)])
        .await
        .expect("append");
    let first = subscription.next().await.expect("open").expect("event");
    assert_eq!(first.global_position, Position::sequence(1));

    let mut doomed = harness.raw().await;
    doomed.execute("BEGIN").await.expect("begin");
    let (doomed_ids, _, _) = raw_append(&mut doomed, "gap-doomed", 3).await;
    store
        .append(&stream("gap-b"), ExpectedVersion::Any, vec![noted(5)])
        .await
        .expect("append");
    let reader = log.clone();
    let mut waiting =
        tokio::spawn(async move { reader.read_all(Position::sequence(1), 100).await });
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut waiting)
            .await
            .is_err()
    );
    doomed.execute("ROLLBACK").await.expect("rollback");
    let read = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("answers once the append is gone")
        .expect("task")
        .expect("read");
    assert_eq!(
        positions(&read),
        [5],
        "positions 2 to 4 are a permanent hole"
    );

    let next = tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .expect("the subscription passes the hole")
        .expect("open")
        .expect("event");
    assert_eq!(next.global_position, Position::sequence(5));
    store
        .append(&stream("gap-c"), ExpectedVersion::Any, vec![noted(6)])
        .await
        .expect("append");
    let after = subscription.next().await.expect("open").expect("event");
    assert_eq!(after.global_position, Position::sequence(6));
    let all = whole_log(&store).await;
    assert_eq!(positions(&all), [1, 5, 6]);
    assert!(all.iter().all(|e| !doomed_ids.contains(&e.event_id)));
    assert_eq!(
        store.head().await.expect("head"),
        Some(Position::sequence(6))
    );
}

/// Holds appends open (committing most, rolling some back) while the test runs.
async fn slow_appends(mut conn: PgConnection, rounds: usize) -> (Vec<Uuid>, Vec<Uuid>) {
    let (mut committed, mut rolled_back) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        conn.execute("BEGIN").await.expect("begin");
        let (ids, _, _) = raw_append(&mut conn, &format!("slow-{}", round % 3), 2).await;
        tokio::time::sleep(Duration::from_millis(50 + 50 * (round as u64 % 4))).await;
        if round % 3 == 2 {
            conn.execute("ROLLBACK").await.expect("rollback");
            rolled_back.extend(ids);
        } else {
            conn.execute("COMMIT").await.expect("commit");
            committed.extend(ids);
        }
    }
    (committed, rolled_back)
}

/// 16 writers on four pools, plus appends held open for up to 200 ms and some
/// rolled back: two subscribers (one on a pool of its own) see every
/// committed event exactly once, in strictly increasing positions, and
/// exactly the final log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subscribers_see_every_commit_once_under_concurrent_writers() {
    const WRITERS: usize = 16;
    const PER_WRITER: usize = 300;
    const SLOW_ROUNDS: usize = 12;
    let harness = harness().await;
    let master = MasterKey::generate().expect("key");
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(
            harness
                .store_over(harness.log().await, master.clone())
                .await,
        );
    }
    let watcher = harness
        .store_over(harness.log().await, master.clone())
        .await;
    // Subscribers read while the writers run, until the sentinel appended at
    // the end comes by.
    let sentinel = noted(u64::MAX);
    let sentinel_id = sentinel.event_id;
    let mut subscribers = Vec::new();
    for store in [&watcher, &stores[0]] {
        let mut subscription = store.subscribe_all(Position::ORIGIN);
        subscribers.push(tokio::spawn(async move {
            let mut seen: Vec<RecordedEvent> = Vec::new();
            let collect = async {
                loop {
                    let event = subscription.next().await.expect("open").expect("no error");
                    let done = event.event_id == sentinel_id;
                    seen.push(event);
                    if done {
                        break;
                    }
                }
            };
            tokio::time::timeout(Duration::from_secs(120), collect)
                .await
                .expect("in time");
            let quiet = tokio::time::timeout(Duration::from_millis(200), subscription.next()).await;
            assert!(quiet.is_err(), "nothing after the sentinel");
            seen
        }));
    }

    let slow = tokio::spawn(slow_appends(harness.raw().await, SLOW_ROUNDS));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let store = stores[writer % stores.len()].clone();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(PER_WRITER);
            let mut n = 0;
            while ids.len() < PER_WRITER {
                let size = if n % 4 == 0 {
                    3.min(PER_WRITER - ids.len())
                } else {
                    1
                };
                let batch: Vec<_> = (0..size).map(|k| noted((n + k) as u64)).collect();
                ids.extend(batch.iter().map(|e| e.event_id));
                let s = stream(&format!("load-{writer}-{}", n % 5));
                store
                    .append(&s, ExpectedVersion::Any, batch)
                    .await
                    .expect("append");
                n += size;
            }
            ids
        }));
    }
    let mut written = HashSet::new();
    for writer in writers {
        written.extend(writer.await.expect("writer"));
    }
    let (committed, rolled_back) = slow.await.expect("slow appends");
    written.extend(committed);
    written.insert(sentinel_id);
    stores[1]
        .append(&stream("done-1"), ExpectedVersion::NoStream, vec![sentinel])
        .await
        .expect("sentinel");

    let log = whole_log(&watcher).await;
    assert_eq!(
        log.len(),
        written.len(),
        "the log holds every committed event"
    );
    assert!(log.iter().all(|e| written.contains(&e.event_id)));
    assert!(log.iter().all(|e| !rolled_back.contains(&e.event_id)));
    for pair in log.windows(2) {
        assert!(pair[0].global_position < pair[1].global_position);
        assert!(
            pair[0].recorded_at <= pair[1].recorded_at,
            "recorded_at never decreases"
        );
    }
    let log_ids: Vec<Uuid> = log.iter().map(|e| e.event_id).collect();
    for subscriber in subscribers {
        let seen = subscriber.await.expect("subscriber");
        for pair in seen.windows(2) {
            assert!(
                pair[0].global_position < pair[1].global_position,
                "strictly increasing"
            );
        }
        let ids: Vec<Uuid> = seen.iter().map(|e| e.event_id).collect();
        assert_eq!(ids.len(), log_ids.len(), "as many events as the log");
        assert_eq!(ids, log_ids, "exactly the log");
    }
}
