//! [`PostgresStore`]: the handle, how it connects, and its [`EventLog`].

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use steward_events::{
    AppendResult, Direction, ExpectedVersion, NewEvent, Position, RecordedEvent, StoreError,
    StreamId,
};
use steward_store_core::{CommitNotifier, EventLog, SnapshotRow};
use tokio::sync::watch;

use crate::error::PostgresError;
use crate::wake::Wakeups;
use crate::{append, read};

/// How a [`PostgresStore`] uses its database.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Most connections in the store's pool. The LISTEN task uses one more,
    /// of its own.
    pub max_connections: u32,
    /// How often a live subscriber reads without having been woken.
    pub poll_interval: Duration,
    /// How long a global read waits for appends in flight before it gives up
    /// with an error (they hold the gate only while they run, so this is
    /// reached only if one hangs).
    pub barrier_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            poll_interval: Duration::from_millis(500),
            barrier_timeout: Duration::from_secs(10),
        }
    }
}

/// Steward's event log and key vault in a PostgreSQL database. Cheap to
/// clone; the background tasks end when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    /// Whether the pool was made by [`PostgresStore::connect`], and so is
    /// closed with the store.
    owns_pool: bool,
    options: PostgresOptions,
    commits: CommitNotifier,
    wakeups: Wakeups,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The wake-up tasks stop with `wakeups`; close our own pool
        // gracefully, when there is a runtime to do it on.
        if self.owns_pool
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let pool = self.pool.clone();
            runtime.spawn(async move { pool.close().await });
        }
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (a `DATABASE_URL` such as
    /// `postgres://steward@localhost/steward`), applies the migrations and
    /// starts listening for other processes' commits.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self, PostgresError> {
        let connect = PgConnectOptions::from_str(url).map_err(PostgresError::Url)?;
        Self::connect_with(connect, options).await
    }

    /// [`PostgresStore::connect`] with parsed connection options.
    pub async fn connect_with(
        connect: PgConnectOptions,
        options: PostgresOptions,
    ) -> Result<Self, PostgresError> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .connect_with(connect)
            .await?;
        Self::open(pool, true, options).await
    }

    /// Uses an existing pool (shared with the rest of the application, which
    /// keeps ownership of it); `options.max_connections` is ignored.
    pub async fn from_pool(pool: PgPool, options: PostgresOptions) -> Result<Self, PostgresError> {
        Self::open(pool, false, options).await
    }

    async fn open(
        pool: PgPool,
        owns_pool: bool,
        options: PostgresOptions,
    ) -> Result<Self, PostgresError> {
        sqlx::migrate!("../../schemas/postgres").run(&pool).await?;
        let commits = CommitNotifier::default();
        let connect = (*pool.connect_options()).clone();
        let wakeups = Wakeups::start(&pool, connect, commits.clone()).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                owns_pool,
                options,
                commits,
                wakeups,
            }),
        })
    }

    /// The store's connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }
}

#[async_trait]
impl EventLog for PostgresStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        let appended = append::append(self.pool(), stream, expected, events).await?;
        if !appended.already_appended {
            self.inner.commits.notify();
            self.inner.wakeups.poke();
        }
        Ok(appended)
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read::read_stream(self.pool(), stream, from, direction, limit).await
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read::read_all(
            self.pool(),
            after,
            limit,
            self.inner.options.barrier_timeout,
        )
        .await
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<Option<u64>, StoreError> {
        read::stream_version(self.pool(), stream).await
    }

    async fn events_of_command(&self, command_id: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        read::events_of_command(self.pool(), command_id).await
    }

    async fn head(&self) -> Result<Option<Position>, StoreError> {
        read::head(self.pool()).await
    }

    fn commits(&self) -> watch::Receiver<u64> {
        self.inner.commits.subscribe()
    }

    fn poll_interval(&self) -> Duration {
        self.inner.options.poll_interval
    }

    async fn save_snapshot(&self, snapshot: SnapshotRow) -> Result<bool, StoreError> {
        crate::snapshot::save(self.pool(), snapshot).await
    }

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<SnapshotRow>, StoreError> {
        crate::snapshot::load(self.pool(), stream).await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        crate::lease::acquire(self.pool(), name, holder, ttl).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        crate::lease::release(self.pool(), name, holder).await
    }

    async fn import(&self, events: Vec<RecordedEvent>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        crate::import::import_events(self.pool(), &events).await?;
        self.inner.commits.notify();
        self.inner.wakeups.poke();
        Ok(())
    }
}
