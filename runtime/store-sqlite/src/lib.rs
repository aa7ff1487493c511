//! Steward's embedded event store on SQLite, the default on a fresh machine.
//!
//! One file holds the log, the subject keys and the master-key check value
//! (schema in `schemas/sqlite/`). WAL mode lets readers run beside the single
//! writer; writes take the write lock up front (`BEGIN IMMEDIATE`) and
//! several processes sharing the file (the CLI beside `steward serve`) wait
//! for each other through SQLite's busy timeout instead of failing.
//!
//! Because there is one writer at a time and positions are assigned inside
//! its transaction, commit order is position order: `read_all` can simply read
//! `position > after`. Subscribers in this process are woken by each append;
//! commits of other processes are found by polling.

mod codec;
mod lease;
mod log;
mod snapshot;
mod vault;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use steward_events::StoreError;
use steward_store_core::{CommitNotifier, MasterKey, Store, StoreOptions};

/// Settings of a SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file; created with its folder if missing.
    pub path: PathBuf,
    /// How long a writer waits for another process's write lock.
    pub busy_timeout: Duration,
    /// How often a live subscriber looks for other processes' commits.
    pub poll_interval: Duration,
    /// Most pooled connections.
    pub max_connections: u32,
}

impl SqliteOptions {
    /// Defaults for a database file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            busy_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(100),
            max_connections: 8,
        }
    }
}

/// The SQLite log and key vault, sharing one connection pool.
#[derive(Debug)]
pub struct SqliteLog {
    pool: SqlitePool,
    commits: CommitNotifier,
    /// One writer at a time within this process (appends, imports, leases,
    /// snapshots, the key vault), taken before a pooled connection: writers
    /// queue here instead of in SQLite's sleeping busy handler, where each
    /// would hold a connection. Parked there, a serve's many lease renewals
    /// and key writes once took every connection while the writer they
    /// waited for needed one, and all stalled for the busy timeout (30 s).
    write_lock: tokio::sync::Mutex<()>,
    poll_interval: Duration,
}

impl SqliteLog {
    /// Opens (creating and migrating if needed) the database file.
    pub async fn open(options: &SqliteOptions) -> Result<Self, StoreError> {
        if let Some(parent) = options.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(StoreError::backend)?;
        }
        let connect = SqliteConnectOptions::new()
            .filename(&options.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // An event store promises durability: sync the WAL on every commit.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .connect_with(connect)
            .await
            .map_err(StoreError::backend)?;
        sqlx::migrate!("../../schemas/sqlite")
            .run(&pool)
            .await
            .map_err(StoreError::backend)?;
        Ok(Self {
            pool,
            commits: CommitNotifier::default(),
            write_lock: tokio::sync::Mutex::new(()),
            poll_interval: options.poll_interval,
        })
    }

    /// The connection pool (for tests and tools that inspect the file).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Opens the public store on a SQLite file.
pub async fn open_store(
    options: &SqliteOptions,
    master: MasterKey,
    store_options: StoreOptions,
) -> Result<Store, StoreError> {
    let log = Arc::new(SqliteLog::open(options).await?);
    Store::open(log.clone(), log, master, store_options).await
}
