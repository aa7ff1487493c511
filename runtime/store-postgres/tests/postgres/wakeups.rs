//! Commits in another process wake subscribers through NOTIFY, well before
//! their poll interval.

use std::time::Duration;

use futures::StreamExt;
use steward_events::{EventStore, ExpectedVersion, Position, StreamId};
use steward_store_core::MasterKey;
use steward_store_postgres::PostgresOptions;
use tokio::time::Instant;

use crate::harness::{harness, noted};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_pools_commits_wake_a_subscriber_through_notify() {
    let harness = harness().await;
    let master = MasterKey::generate().expect("key");
    let sleepy = PostgresOptions {
        poll_interval: Duration::from_secs(30),
        ..harness.options.clone()
    };
    let reader = harness
        .store_over(harness.log_with(sleepy).await, master.clone())
        .await;
    let writer = harness.store_over(harness.log().await, master).await;
    let mut subscription = reader.subscribe_all(Position::ORIGIN);
    for n in 0..3u64 {
        // The subscriber is waiting (read nothing new, then asleep for 30 s)
        // when the other pool appends.
        let mut next = tokio::spawn(async move {
            let event = subscription.next().await;
            (event, subscription)
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(300), &mut next)
                .await
                .is_err()
        );
        let started = Instant::now();
        let stream = StreamId::new("wake", n).expect("valid");
        let appended = writer
            .append(&stream, ExpectedVersion::Any, vec![noted(n)])
            .await
            .expect("append");
        let (event, rest) = tokio::time::timeout(Duration::from_secs(2), next)
            .await
            .expect("woken by NOTIFY, not by polling")
            .expect("task");
        let event = event.expect("open").expect("no error");
        assert_eq!(event.global_position, appended.last_position);
        eprintln!("woken {:?} after the append began", started.elapsed());
        subscription = rest;
    }
}
