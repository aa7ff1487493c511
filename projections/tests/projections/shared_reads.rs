//! Several projections catching up together read each page of the log once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use serde_json::json;
use steward_events::store::EventStream;
use steward_events::{
    AppendResult, Direction, Erasure, EventStore, ExpectedVersion, NewEvent, Position,
    RecordedEvent, StoreError, StreamId, SubjectId,
};
use steward_projections::{ProjectionRunner, RunnerOptions, SharedReads};

use crate::support::{Fixture, Ledger, on_both_backends};

on_both_backends!(
    concurrent_catch_ups_fetch_each_page_once,
    an_empty_page_is_never_kept,
);

/// Counts the pages with events fetched from the store underneath.
struct Counting {
    inner: Arc<dyn EventStore>,
    pages: AtomicUsize,
}

#[async_trait]
impl EventStore for Counting {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.inner.append(stream, expected, events).await
    }
    async fn read_stream(
        &self,
        stream: &StreamId,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(stream, from, direction, limit).await
    }
    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let page = self.inner.read_all(after, limit).await?;
        if !page.is_empty() {
            self.pages.fetch_add(1, Ordering::SeqCst);
        }
        Ok(page)
    }
    fn subscribe_all(&self, after: Position) -> EventStream {
        self.inner.subscribe_all(after)
    }
    async fn stream_version(&self, stream: &StreamId) -> Result<Option<u64>, StoreError> {
        self.inner.stream_version(stream).await
    }
    async fn events_of_command(&self, command_id: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.events_of_command(command_id).await
    }
    async fn head(&self) -> Result<Option<Position>, StoreError> {
        self.inner.head().await
    }
    async fn erase_subject(&self, subject: &SubjectId, actor: &str) -> Result<Erasure, StoreError> {
        self.inner.erase_subject(subject, actor).await
    }
}

async fn concurrent_catch_ups_fetch_each_page_once(f: Fixture) {
    for n in 0..100 {
        f.append("note-1", "Noted", json!({"n": n})).await;
    }
    let counting = Arc::new(Counting {
        inner: f.events(),
        pages: AtomicUsize::new(0),
    });
    let shared: Arc<dyn EventStore> = Arc::new(SharedReads::new(counting.clone()));
    let projections: Vec<Arc<dyn steward_projections::Projection>> = vec![
        Arc::new(Ledger::new(1)),
        Arc::new(steward_projections::read_models::timeline::Timeline),
        Arc::new(steward_projections::read_models::inbox::Inbox),
        Arc::new(steward_projections::read_models::goals::Goals),
    ];
    let readers = projections.len();
    let mut running = Vec::new();
    for projection in projections {
        let runner = ProjectionRunner::new(
            f.db.clone(),
            Arc::clone(&shared),
            projection,
            RunnerOptions {
                max_batch: 10,
                ..RunnerOptions::default()
            },
        );
        running.push(runner);
    }
    // One after the other, they would fetch 4 × 10 pages.
    let results = futures::future::join_all(running.iter().map(|runner| runner.catch_up())).await;
    let applied: Vec<i64> = results
        .into_iter()
        .map(|generation| generation.expect("caught up").events_applied)
        .collect();
    assert!(applied.iter().all(|n| *n == 100), "{applied:?}");
    assert_eq!(applied.len(), readers);
    assert_eq!(
        counting.pages.load(Ordering::SeqCst),
        10,
        "each page fetched once"
    );
}

async fn an_empty_page_is_never_kept(f: Fixture) {
    let shared = SharedReads::new(f.events());
    assert!(
        shared
            .read_all(Position::ORIGIN, 10)
            .await
            .expect("reads")
            .is_empty()
    );
    let event = f.append("note-1", "Noted", json!({})).await;
    let page = shared.read_all(Position::ORIGIN, 10).await.expect("reads");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].event_id, event.event_id);
}
