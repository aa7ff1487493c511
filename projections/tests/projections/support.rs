//! Stores, read-model databases and a small projection to test the runner.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use steward_events::{
    EventStore, EventType, ExpectedVersion, Metadata, NewEvent, Position, RecordedEvent, StreamId,
    SubjectId,
};
use steward_projections::{
    ApplyContext, ApplyError, Dialect, Projection, ProjectionRunner, ReadDb, RunnerOptions, Tables,
};
use steward_store_core::{MasterKey, Store};
use steward_testkit::{PgDatabase, SqliteDir};

/// Runs an async test once on SQLite and once on PostgreSQL.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::support::Fixture::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::support::Fixture::postgres().await).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;

/// An event store and a read-model database beside it.
pub(crate) struct Fixture {
    pub(crate) store: Store,
    pub(crate) db: ReadDb,
    /// Keeps the temporary directory or database alive.
    _backend: Box<dyn std::any::Any + Send + Sync>,
}

impl Fixture {
    pub(crate) async fn sqlite() -> Self {
        let dir = SqliteDir::create();
        let store = dir.store(MasterKey::generate().expect("key")).await;
        let url = format!("sqlite://{}", dir.path().join("read-models.db").display());
        let db = ReadDb::connect(&url).await.expect("read-model database");
        Self {
            store,
            db,
            _backend: Box::new(dir),
        }
    }

    pub(crate) async fn postgres() -> Self {
        let database = PgDatabase::create().await;
        let store = database.store(MasterKey::generate().expect("key")).await;
        let db = ReadDb::connect(&database.url())
            .await
            .expect("read-model database");
        Self {
            store,
            db,
            _backend: Box::new(database),
        }
    }

    pub(crate) fn events(&self) -> Arc<dyn EventStore> {
        Arc::new(self.store.clone())
    }

    pub(crate) fn runner(&self, projection: Arc<dyn Projection>) -> ProjectionRunner {
        self.runner_with(projection, RunnerOptions::default())
    }

    pub(crate) fn runner_with(
        &self,
        projection: Arc<dyn Projection>,
        options: RunnerOptions,
    ) -> ProjectionRunner {
        ProjectionRunner::new(self.db.clone(), self.events(), projection, options)
    }

    /// Appends one event and returns it as recorded.
    pub(crate) async fn append(
        &self,
        stream: &str,
        event_type: &str,
        data: Value,
    ) -> RecordedEvent {
        self.append_event(stream, NewEvent::new(event_type_of(event_type), data))
            .await
    }

    /// Appends one event with personal data about `subject`.
    pub(crate) async fn append_personal(
        &self,
        stream: &str,
        event_type: &str,
        data: Value,
        personal: Value,
        subject: &str,
    ) -> RecordedEvent {
        let subject = SubjectId::parse(subject).expect("subject id");
        self.append_event(
            stream,
            NewEvent::new(event_type_of(event_type), data).with_personal(personal, vec![subject]),
        )
        .await
    }

    pub(crate) async fn append_event(&self, stream: &str, event: NewEvent) -> RecordedEvent {
        let stream = StreamId::parse(stream).expect("stream id");
        let event = event.with_metadata(Metadata {
            actor: "user:alice".to_owned(),
            ..Metadata::default()
        });
        let appended = self
            .store
            .append(&stream, ExpectedVersion::Any, vec![event])
            .await
            .expect("append");
        let version = appended.last_version;
        self.store
            .read_stream(&stream, version, steward_events::Direction::Forward, 1)
            .await
            .expect("read back")
            .pop()
            .expect("the event just appended")
    }

    pub(crate) async fn head(&self) -> Position {
        self.store
            .head()
            .await
            .expect("head")
            .unwrap_or(Position::ORIGIN)
    }
}

fn event_type_of(name: &str) -> EventType {
    EventType::parse(name).expect("event type")
}

/// Polls `check` until it returns `Some`, for up to ten seconds.
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
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

/// Records the position and type of every event; refuses `Poison` events
/// unless cured, and can be slowed down to make a rebuild last.
pub(crate) struct Ledger {
    pub(crate) version: u32,
    pub(crate) cured: AtomicBool,
    pub(crate) delay: Option<Duration>,
}

impl Ledger {
    pub(crate) fn new(version: u32) -> Self {
        Self {
            version,
            cured: AtomicBool::new(false),
            delay: None,
        }
    }
}

#[async_trait]
impl Projection for Ledger {
    fn name(&self) -> &'static str {
        "ledger"
    }

    fn version(&self) -> u32 {
        self.version
    }

    fn tables(&self) -> &'static [&'static str] {
        &["ledger_events"]
    }

    fn create(&self, _dialect: Dialect, tables: &Tables) -> Vec<String> {
        vec![format!(
            "CREATE TABLE {} (position BIGINT PRIMARY KEY, event_type TEXT NOT NULL)",
            tables.name("ledger_events")
        )]
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        event: &RecordedEvent,
    ) -> Result<(), ApplyError> {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        if event.event_type.as_str() == "Poison" && !self.cured.load(Ordering::SeqCst) {
            return Err(ApplyError::Invalid("poison is not food".to_owned()));
        }
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {} (position, event_type) VALUES ($1, $2)",
            cx.tables.name("ledger_events")
        )))
        .bind(i64::try_from(event.global_position.commit()).expect("small"))
        .bind(event.event_type.as_str())
        .execute(connection)
        .await?;
        Ok(())
    }
}

/// The ledger's rows in `tables`: (position, event type), in order.
pub(crate) async fn ledger_rows(db: &ReadDb, tables: &Tables) -> Vec<(i64, String)> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT position, event_type FROM {} ORDER BY position",
        tables.name("ledger_events")
    )))
    .fetch_all(db.pool())
    .await
    .expect("ledger rows")
    .iter()
    .map(|row| (row.get("position"), row.get("event_type")))
    .collect()
}

/// The ledger's rows in its live tables.
pub(crate) async fn live_ledger(db: &ReadDb) -> Vec<(i64, String)> {
    let tables = steward_projections::live_tables(db, "ledger")
        .await
        .expect("the ledger is built");
    ledger_rows(db, &tables).await
}
