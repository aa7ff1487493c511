//! Catch-up-then-live subscriptions over any global log.

use std::collections::VecDeque;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};
use steward_events::{EventStream, Position, RecordedEvent, StoreError};
use tokio::sync::watch;

/// How many events a subscriber reads at a time while catching up.
pub const CATCH_UP_BATCH: usize = 1_000;

/// Reads the global log after a position; the subscription's only access to
/// the store.
pub type ReadAll = Box<
    dyn Fn(Position) -> BoxFuture<'static, Result<Vec<RecordedEvent>, StoreError>> + Send + Sync,
>;

struct Subscriber {
    read_all: ReadAll,
    cursor: Position,
    buffer: VecDeque<RecordedEvent>,
    commits: watch::Receiver<u64>,
    poll_interval: Duration,
    retry_delay: Duration,
}

/// Every event after `after`: pages through the log, then waits for a commit
/// tick (or the poll interval) and reads again. Because each read starts
/// after the last delivered position, nothing is skipped or repeated as long
/// as `read_all` honours its contract. A failed read is yielded as an error
/// and retried after a pause; dropping the stream ends the subscription.
pub fn subscribe(
    read_all: ReadAll,
    after: Position,
    commits: watch::Receiver<u64>,
    poll_interval: Duration,
) -> EventStream {
    let subscriber = Subscriber {
        read_all,
        cursor: after,
        buffer: VecDeque::new(),
        commits,
        poll_interval,
        retry_delay: Duration::from_millis(100),
    };
    stream::unfold(subscriber, |mut s| async move {
        loop {
            if let Some(event) = s.buffer.pop_front() {
                s.cursor = event.global_position;
                s.retry_delay = Duration::from_millis(100);
                return Some((Ok(event), s));
            }
            // Mark the ticks seen *before* reading, so a commit racing the
            // read still wakes the wait below.
            s.commits.borrow_and_update();
            match (s.read_all)(s.cursor).await {
                Ok(batch) if !batch.is_empty() => s.buffer.extend(batch),
                Ok(_) => {
                    tokio::select! {
                        changed = s.commits.changed() => {
                            if changed.is_err() {
                                tokio::time::sleep(s.poll_interval).await;
                            }
                        }
                        () = tokio::time::sleep(s.poll_interval) => {}
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, cursor = %s.cursor, "subscription read failed; retrying");
                    tokio::time::sleep(s.retry_delay).await;
                    s.retry_delay = (s.retry_delay * 2).min(Duration::from_secs(5));
                    return Some((Err(error), s));
                }
            }
        }
    })
    .boxed()
}
