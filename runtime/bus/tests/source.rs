//! Projections fed from the relay's JetStream stream, on the local NATS
//! server (127.0.0.1:4222, or `STEWARD_TEST_NATS_URL`), each test with a
//! stream and subject prefix of its own, a SQLite store and SQLite read
//! models in a temporary directory: the same read model as in process,
//! exactly once across restarts and redeliveries, and gaps refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use async_trait::async_trait;
use serde_json::json;
use sqlx::{AnyConnection, AssertSqlSafe, Row as _};
use steward_bus::{JetStreamSource, Relay, RelayConfig, SourceConfig};
use steward_events::{
    EventSource, EventStore, EventType, ExpectedVersion, NewEvent, Position, RecordedEvent,
    StreamId, SubjectId,
};
use steward_projections::{
    ApplyContext, ApplyError, Dialect, Projection, ProjectionRunner, ReadDb, RunnerOptions, Tables,
    catalog, live_tables,
};
use steward_store_core::{MasterKey, Store, StoreOptions};
use steward_store_sqlite::SqliteOptions;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The longest any single wait in these tests may take.
const WAIT: Duration = Duration::from_secs(30);

fn nats_url() -> String {
    std::env::var("STEWARD_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Polls `check` until it returns `Some`.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A store, its relay to a stream of this test's own, and read-model
/// databases beside it; the stream is deleted on drop.
struct Fixture {
    dir: tempfile::TempDir,
    store: Store,
    relay: RelayConfig,
    client: async_nats::Client,
    stop: CancellationToken,
    relaying: JoinHandle<()>,
}

impl Fixture {
    async fn start() -> Self {
        init_tracing();
        let dir = tempfile::tempdir().expect("temp dir");
        let store = steward_store_sqlite::open_store(
            &SqliteOptions::new(dir.path().join("steward.db")),
            MasterKey::generate().expect("master key"),
            StoreOptions::steward(),
        )
        .await
        .expect("opens the store");
        let unique = Uuid::now_v7().simple().to_string();
        let relay = RelayConfig {
            nats_url: nats_url(),
            stream_name: format!("SOURCE_TEST_{unique}"),
            subject_prefix: format!("steward.source_test.{unique}"),
            duplicate_window: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_millis(500),
            batch_size: 50,
            ..RelayConfig::default()
        };
        let client = steward_bus::source::connect(&SourceConfig::from_relay(&relay))
            .await
            .expect("connects to the local NATS server");
        let stop = CancellationToken::new();
        let relaying = tokio::spawn({
            let relay = Relay::new(store.log().clone(), relay.clone());
            let stop = stop.clone();
            async move { relay.run(stop).await.expect("relays") }
        });
        Self {
            dir,
            store,
            relay,
            client,
            stop,
            relaying,
        }
    }

    fn source_config(&self) -> SourceConfig {
        SourceConfig {
            fetch_batch: 20,
            ..SourceConfig::from_relay(&self.relay)
        }
    }

    fn source(&self, config: SourceConfig) -> JetStreamSource {
        JetStreamSource::new(self.client.clone(), config, self.store.clone(), "entries")
            .expect("a source")
    }

    async fn read_models(&self, name: &str) -> ReadDb {
        let url = format!("sqlite://{}", self.dir.path().join(name).display());
        ReadDb::connect(&url).await.expect("read-model database")
    }

    async fn append(&self, stream: &str, event: NewEvent) -> RecordedEvent {
        let stream = StreamId::parse(stream).expect("stream id");
        let appended = self
            .store
            .append(&stream, ExpectedVersion::Any, vec![event])
            .await
            .expect("appends");
        self.store
            .read_all(appended.last_position.predecessor(), 1)
            .await
            .expect("reads back")
            .pop()
            .expect("the event just appended")
    }

    /// Appends `count` events of `event_type` over a few streams, every
    /// third with a personal part about one of `subjects` in turn.
    async fn append_many(&self, event_type: &str, count: usize) {
        self.append_about(event_type, count, &["alice", "bob"])
            .await;
    }

    async fn append_about(&self, event_type: &str, count: usize, subjects: &[&str]) {
        for n in 0..count {
            let mut event = NewEvent::new(
                EventType::parse(event_type).expect("event type"),
                json!({ "n": n }),
            );
            if n % 3 == 0 {
                let who = subjects[(n / 3) % subjects.len()];
                event = event.with_personal(
                    json!({ "name": who }),
                    vec![SubjectId::parse(who).expect("subject")],
                );
            }
            self.append(&format!("note-{}", n % 4), event).await;
        }
    }

    async fn head(&self) -> Position {
        self.store
            .head()
            .await
            .expect("head")
            .unwrap_or(Position::ORIGIN)
    }

    async fn jetstream_stream(&self) -> jetstream::stream::Stream {
        jetstream::new(self.client.clone())
            .get_stream(&self.relay.stream_name)
            .await
            .expect("the relay's stream")
    }

    /// Waits until the relay has published the whole log.
    async fn relayed(&self) {
        let head = self.head().await;
        eventually("the relay to publish the log", || async {
            let source = self.source(self.source_config());
            (source.head().await.ok()?.unwrap_or(Position::ORIGIN) == head).then_some(())
        })
        .await;
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.stop.cancel();
        self.relaying.abort();
        let context = jetstream::new(self.client.clone());
        let stream = self.relay.stream_name.clone();
        // The tests run on a multi-threaded runtime, so this may block here;
        // a stream left behind (say, by a timeout) only takes disk space.
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(5), context.delete_stream(stream))
                    .await;
            });
        });
    }
}

/// One row per event: where it stands, its type, its data and its
/// personal part as read. The primary key makes applying an event twice
/// fail, which stops the projection.
struct Entries {
    /// Applying an event of this type takes this long.
    slow: Option<(&'static str, Duration)>,
    applied: AtomicU64,
}

impl Entries {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            slow: None,
            applied: AtomicU64::new(0),
        })
    }
}

#[async_trait]
impl Projection for Entries {
    fn name(&self) -> &'static str {
        "entries"
    }

    fn version(&self) -> u32 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        &["entries"]
    }

    fn create(&self, _dialect: Dialect, tables: &Tables) -> Vec<String> {
        vec![format!(
            "CREATE TABLE {} (event_id TEXT PRIMARY KEY, position BIGINT NOT NULL, \
             event_type TEXT NOT NULL, data TEXT NOT NULL, personal TEXT NOT NULL)",
            tables.name("entries")
        )]
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        event: &RecordedEvent,
    ) -> Result<(), ApplyError> {
        if let Some((event_type, pause)) = self.slow
            && event.event_type.as_str() == event_type
        {
            tokio::time::sleep(pause).await;
        }
        let personal = serde_json::to_string(&event.personal).unwrap_or_default();
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {} (event_id, position, event_type, data, personal) \
             VALUES ($1, $2, $3, $4, $5)",
            cx.tables.name("entries")
        )))
        .bind(event.event_id.to_string())
        .bind(i64::try_from(event.global_position.commit()).unwrap_or(i64::MAX))
        .bind(event.event_type.as_str())
        .bind(event.data.to_string())
        .bind(personal)
        .execute(connection)
        .await?;
        self.applied.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// The live rows, in order.
async fn entries(db: &ReadDb) -> Vec<(i64, String, String, String)> {
    let Ok(tables) = live_tables(db, "entries").await else {
        return Vec::new();
    };
    sqlx::query(AssertSqlSafe(format!(
        "SELECT position, event_type, data, personal FROM {} ORDER BY position",
        tables.name("entries")
    )))
    .fetch_all(db.pool())
    .await
    .expect("rows")
    .iter()
    .map(|row| {
        (
            row.get("position"),
            row.get("event_type"),
            row.get("data"),
            row.get("personal"),
        )
    })
    .collect()
}

/// The live generation's checkpoint and count of events applied.
async fn checkpoint(db: &ReadDb) -> Option<(Position, i64)> {
    let live = catalog::live(db, "entries").await.ok()??;
    assert_eq!(live.failure, None, "the projection stopped at an event");
    Some((live.position, live.events_applied))
}

fn options(max_batch: usize) -> RunnerOptions {
    RunnerOptions {
        max_batch,
        housekeeping_every: Duration::from_millis(100),
        ..RunnerOptions::default()
    }
}

fn spawn_runner(
    runner: ProjectionRunner,
    stop: &CancellationToken,
) -> JoinHandle<Result<(), steward_projections::ProjectionError>> {
    let stop = stop.clone();
    tokio::spawn(async move { runner.run(stop).await })
}

/// Waits until the projection in `db` has applied the log up to `head`.
async fn caught_up(db: &ReadDb, head: Position) -> i64 {
    eventually("the projection to reach the head", || async {
        checkpoint(db)
            .await
            .and_then(|(position, applied)| (position == head).then_some(applied))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_fed_from_jetstream_matches_one_fed_in_process() {
    let f = Fixture::start().await;
    f.append_many("Noted", 45).await;
    // Erased before the projections read it: both must see it erased.
    f.store
        .erase_subject(&SubjectId::parse("bob").expect("subject"), "user:test")
        .await
        .expect("erases bob");
    f.relayed().await;

    let in_process = f.read_models("in-process.db").await;
    ProjectionRunner::new(
        in_process.clone(),
        Arc::new(f.store.clone()),
        Entries::new(),
        options(10),
    )
    .catch_up()
    .await
    .expect("catches up in process");

    // Built from pages of the stream, then following the durable consumer.
    let from_nats = f.read_models("from-nats.db").await;
    let source = f.source(f.source_config());
    let stop = CancellationToken::new();
    let running = spawn_runner(
        ProjectionRunner::from_source(
            from_nats.clone(),
            Arc::new(source.clone()),
            Entries::new(),
            options(7),
        ),
        &stop,
    );
    caught_up(&from_nats, f.head().await).await;
    f.append_about("Followed", 12, &["alice", "carol"]).await;
    let head = f.head().await;
    let applied = caught_up(&from_nats, head).await;

    ProjectionRunner::new(
        in_process.clone(),
        Arc::new(f.store.clone()),
        Entries::new(),
        options(10),
    )
    .catch_up()
    .await
    .expect("catches up in process");
    let expected = entries(&in_process).await;
    assert_eq!(expected.len(), 45 + 1 + 12, "the erasure is an event too");
    assert_eq!(i64::try_from(expected.len()).expect("small"), applied);
    assert_eq!(entries(&from_nats).await, expected);
    let rows = entries(&from_nats).await;
    assert!(
        rows.iter().any(|row| row.3.contains("alice")),
        "personal parts arrive sealed and are opened with the store's keys"
    );
    assert!(
        !rows.iter().any(|row| row.3.contains("bob")),
        "an erased subject's data reads as erased"
    );
    stop.cancel();
    running.await.expect("joins").expect("runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_way_applies_each_event_once() {
    let f = Fixture::start().await;
    f.append_many("Noted", 20).await;
    f.relayed().await;
    let db = f.read_models("from-nats.db").await;
    // Each followed event takes a little while, so that the process
    // certainly dies part way through them however fast the machine.
    let runner = |source: JetStreamSource| {
        let entries = Arc::new(Entries {
            slow: Some(("Followed", Duration::from_millis(2))),
            applied: AtomicU64::new(0),
        });
        ProjectionRunner::from_source(db.clone(), Arc::new(source), entries, options(5))
    };

    let stop = CancellationToken::new();
    let first = spawn_runner(runner(f.source(f.source_config())), &stop);
    caught_up(&db, f.head().await).await;
    // Live now: these come through the durable consumer, five per
    // transaction, and the process dies somewhere among them.
    f.append_many("Followed", 1_500).await;
    eventually("the live projection to be part way", || async {
        let (_, applied) = checkpoint(&db).await?;
        (applied > 60).then_some(())
    })
    .await;
    first.abort();
    let _ = first.await;
    let (crashed_at, _) = checkpoint(&db).await.expect("a live generation");
    assert!(crashed_at < f.head().await, "stopped part way");

    // A new process: a new source, the consumer left as the crash left it.
    let again = spawn_runner(runner(f.source(f.source_config())), &stop);
    let head = f.head().await;
    let applied = caught_up(&db, head).await;
    assert_eq!(applied, 1_520, "each event applied exactly once");
    let rows = entries(&db).await;
    assert_eq!(rows.len(), 1_520);
    let expected: Vec<i64> = f
        .store
        .read_all(Position::ORIGIN, 2_000)
        .await
        .expect("the log")
        .iter()
        .map(|event| i64::try_from(event.global_position.commit()).expect("small"))
        .collect();
    assert_eq!(
        rows.iter().map(|row| row.0).collect::<Vec<_>>(),
        expected,
        "in order, none missing"
    );
    stop.cancel();
    again.await.expect("joins").expect("runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_messages_are_not_applied_twice() {
    let f = Fixture::start().await;
    f.append_many("Noted", 5).await;
    f.relayed().await;
    let db = f.read_models("from-nats.db").await;
    // JetStream delivers again whatever is not acknowledged within a
    // second, and one event takes longer than that to apply.
    let source = f.source(SourceConfig {
        ack_wait: Duration::from_secs(1),
        ..f.source_config()
    });
    let projection = Arc::new(Entries {
        slow: Some(("Slow", Duration::from_millis(2_500))),
        applied: AtomicU64::new(0),
    });
    let stop = CancellationToken::new();
    let running = spawn_runner(
        ProjectionRunner::from_source(
            db.clone(),
            Arc::new(source.clone()),
            projection.clone(),
            options(3),
        ),
        &stop,
    );
    caught_up(&db, f.head().await).await;
    f.append(
        "note-1",
        NewEvent::new(EventType::parse("Slow").expect("type"), json!({})),
    )
    .await;
    f.append_many("Followed", 30).await;
    let applied = caught_up(&db, f.head().await).await;

    assert!(
        source.redeliveries_skipped() > 0,
        "JetStream delivered unacknowledged messages again"
    );
    assert_eq!(applied, 36);
    assert_eq!(projection.applied.load(Ordering::SeqCst), 36);
    assert_eq!(entries(&db).await.len(), 36);
    stop.cancel();
    running.await.expect("joins").expect("runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_missing_from_the_stream_stops_the_projection() {
    let f = Fixture::start().await;
    f.append_many("Noted", 3).await;
    f.relayed().await;
    let db = f.read_models("from-nats.db").await;
    let runner = ProjectionRunner::from_source(
        db.clone(),
        Arc::new(f.source(f.source_config())),
        Entries::new(),
        options(10),
    );
    runner.catch_up().await.expect("catches up");

    f.append_many("Noted", 5).await;
    f.relayed().await;
    let stream = f.jetstream_stream().await;
    assert!(stream.delete_message(5).await.expect("deletes message 5"));

    // Following: message 4 is applied, then the hole is refused.
    let stop = CancellationToken::new();
    let error = tokio::time::timeout(WAIT, runner.run(stop))
        .await
        .expect("stops by itself")
        .expect_err("a gap is an error");
    assert!(error.to_string().contains("lacks message 5"), "{error}");
    let (_, applied) = checkpoint(&db).await.expect("live");
    assert_eq!(applied, 4, "everything before the hole, nothing after");

    // Building from the beginning meets the same hole.
    let fresh = f.read_models("fresh.db").await;
    let error = ProjectionRunner::from_source(
        fresh,
        Arc::new(f.source(f.source_config())),
        Entries::new(),
        options(10),
    )
    .catch_up()
    .await
    .expect_err("a gap is an error");
    assert!(error.to_string().contains("lacks message 5"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_the_stream_has_not_reached_waits_for_the_relay() {
    let f = Fixture::start().await;
    f.append_many("Noted", 4).await;
    f.relayed().await;
    let db = f.read_models("read-models.db").await;
    // In process first, with the relay stopped: the checkpoint runs ahead
    // of the stream.
    f.stop.cancel();
    f.append_many("Noted", 6).await;
    ProjectionRunner::new(
        db.clone(),
        Arc::new(f.store.clone()),
        Entries::new(),
        options(10),
    )
    .catch_up()
    .await
    .expect("catches up in process");
    let source = f.source(f.source_config());
    assert_eq!(
        source.read_after(f.head().await, 10).await.expect("reads"),
        Vec::<RecordedEvent>::new(),
        "nothing after a position the stream has not reached"
    );

    // Then from NATS: it waits for the relay, then goes on from there.
    let stop = CancellationToken::new();
    let running = spawn_runner(
        ProjectionRunner::from_source(db.clone(), Arc::new(source), Entries::new(), options(10)),
        &stop,
    );
    f.append_many("Followed", 3).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let relay_again = CancellationToken::new();
    let relaying = tokio::spawn({
        let relay = Relay::new(f.store.log().clone(), f.relay.clone());
        let stop = relay_again.clone();
        async move { relay.run(stop).await }
    });
    let applied = caught_up(&db, f.head().await).await;
    assert_eq!(applied, 13);
    assert_eq!(entries(&db).await.len(), 13);
    stop.cancel();
    running.await.expect("joins").expect("runs");
    relay_again.cancel();
    relaying.await.expect("joins").expect("relays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_relay_creates_its_stream_there_is_nothing_to_read() {
    let f = Fixture::start().await;
    let source = f.source(SourceConfig {
        stream_name: format!("NOT_YET_{}", Uuid::now_v7().simple()),
        ..f.source_config()
    });
    assert_eq!(
        source
            .read_after(Position::ORIGIN, 10)
            .await
            .expect("reads"),
        Vec::<RecordedEvent>::new()
    );
    assert_eq!(source.head().await.expect("head"), None);
}
