//! Steward's event log on KurrentDB, for installations that already run one
//! (or want its projections, UI and clustering).
//!
//! [`KurrentLog`] implements [`steward_store_core::EventLog`] over the
//! official `kurrentdb` gRPC client. Subject keys do **not** live in KurrentDB:
//! its streams cannot forget a key for sure (a deleted or truncated event
//! lingers until a scavenge, and in backups), so the log is paired with any
//! [`KeyVault`], for instance the SQLite one (`steward_store_sqlite::SqliteLog`
//! implements it), and [`open_store`] puts the two together into a
//! [`Store`]. Destroying a key in the vault is what erases a subject; the
//! sealed personal parts left in KurrentDB are unreadable from then on.
//!
//! # How events are stored
//!
//! [`mapping`] holds the whole translation, as pure functions:
//! - **Streams** keep their Steward names, `<category>-<id>`, KurrentDB's own
//!   convention, so `$ce-<category>` and `$et-<type>` work. An optional
//!   namespace (`ns.<category>-<id>`) lets several stores, or test runs,
//!   share one server.
//! - **Events**: KurrentDB's event id is Steward's `event_id`, its event type
//!   `event_type`, the content type JSON, the data `data`; the custom metadata
//!   ([`mapping::EventMetadata`], JSON) carries the schema version,
//!   correlation (as KurrentDB's `$correlationId`), causation
//!   (`$causationId`), command id, actor, subjects and the sealed personal
//!   part (base64).
//! - **Positions** are KurrentDB's `$all` positions, commit and prepare parts
//!   both kept, compared as KurrentDB does.
//! - **`recorded_at`** is KurrentDB's `created` time, to the 100 ns tick. It is
//!   stamped by the leader's single storage writer as it writes each record,
//!   in log order, so it never decreases along `$all` as long as the leader's
//!   clock does not step back (or a new leader's clock lag the old one's). A
//!   writer-supplied time could not promise even that: writers in several
//!   processes race and their clocks differ.
//!
//! # Reading and writing
//!
//! - **Appends** map [`ExpectedVersion`](steward_events::ExpectedVersion) to
//!   KurrentDB's `StreamState` (`Any`, `NoStream`, `StreamExists`,
//!   `StreamRevision(n)`), so KurrentDB checks the expectation atomically; its
//!   conflicts become `StoreError::WrongExpectedVersion` with the actual
//!   version it reports. After a write, the batch is read back for the
//!   positions of its first and last events (KurrentDB answers with one
//!   position only).
//! - **Retries**: KurrentDB is idempotent on event ids only within a stream,
//!   and for `Any` only within a cache window; and it answers a retry it
//!   recognises with a plain success. So before writing, the log looks for
//!   the batch's ids in the stream itself; if any is there, the append is
//!   decided by [`resolve_refused`](steward_store_core::retry::resolve_refused)
//!   as the SQL backends decide a refused insert: the whole batch in place is
//!   a retry, answered `already_appended` without writing; a partial overlap
//!   is a `DuplicateEventId`. The search reads the stream backwards only as
//!   far as the ids' UUIDv7 timestamps less [`KurrentOptions::max_clock_skew`]
//!   (the whole stream for ids without a timestamp): for fresh ids, the
//!   stream's events of the last couple of seconds. **Not enforced:** an event id already used in
//!   *another* stream. KurrentDB has no index of event ids, and scanning
//!   `$all` on every append would cost too much; ids are UUIDv7s minted by
//!   the writer, so a clash means a writer bug.
//! - **`read_all`** reads `$all` forwards from `after` (KurrentDB's read is
//!   inclusive, so an event at `after` is dropped), leaving out system events
//!   (`$`-prefixed streams and types) and other namespaces, with a
//!   server-side filter and again on arrival. KurrentDB assigns positions in
//!   its single writer and serves `$all` only up to the last indexed
//!   position, so a read never skips an event that commits later.
//! - **`head`** reads `$all` backwards from the end to the first event of this
//!   store.
//! - **`events_of_command`** is a documented slow path: KurrentDB has no
//!   secondary index, so it scans this store's events in `$all` from the
//!   start, parsing only their metadata. It costs a pass over the log; fine for
//!   occasional lookups, not for a hot path.
//! - **Subscriptions** use the generic catch-up-then-live machinery of
//!   `steward-store-core`: a [`CommitNotifier`] ticks after every append of
//!   this process and, unless [`KurrentOptions::watch_commits`] is off, on
//!   every event a background `$all` subscription sees (so other processes'
//!   commits arrive at once); polling every
//!   [`KurrentOptions::poll_interval`] covers a lost tick.
//!
//! # Requirements
//!
//! KurrentDB (or EventStoreDB) 22.6 or later, which reports an event's
//! `$all` position on stream reads, and a user allowed to read `$all`
//! (admins and ops by default). KurrentDB refuses an append larger than its
//! `MaxAppendSize` (1 MiB by default) as a whole: raise it to the largest
//! batch Steward may write (sealing and base64 make an event's stored size
//! larger than what [`Limits`](steward_store_core::Limits) counts), or such
//! appends fail as backend errors. No server runs in this repository's CI: the
//! mapping is unit-tested, and the contract suite (`tests/kurrentdb.rs`) runs
//! only when `KURRENTDB_URL` points at a server.

mod error;
mod log;
pub mod mapping;

use std::sync::Arc;
use std::time::Duration;

use kurrentdb::{Client, ClientSettings, ReadAllOptions, StreamPosition};
use steward_events::StoreError;
use steward_store_core::{CommitNotifier, KeyVault, MasterKey, Store, StoreOptions};
use tokio::task::JoinHandle;

pub use error::KurrentError;
use error::redact;
use mapping::StreamNames;

/// Settings of a KurrentDB log.
#[derive(Clone)]
pub struct KurrentOptions {
    /// The connection string, e.g. `kurrentdb://localhost:2113?tls=false`.
    pub url: String,
    /// Prefix of every stream, `<namespace>.<category>-<id>`; `None` keeps
    /// Steward's names as-is. See [`mapping::StreamNames`].
    pub namespace: Option<String>,
    /// How often a live subscriber looks for new events without a tick.
    pub poll_interval: Duration,
    /// Whether a background `$all` subscription wakes subscribers on other
    /// processes' commits.
    pub watch_commits: bool,
    /// How far the server's clock may lag a writer's: bounds the search for a
    /// retried batch's ids (see the crate documentation). Too small, and a
    /// retry is left to KurrentDB's own idempotency (answered as a fresh
    /// append, or for `Any` outside its cache window written twice); too
    /// large, and appends to a busy stream read more of it.
    pub max_clock_skew: Duration,
}

impl KurrentOptions {
    /// Defaults for the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            namespace: None,
            poll_interval: Duration::from_millis(500),
            watch_commits: true,
            max_clock_skew: Duration::from_secs(2),
        }
    }

    /// Puts every stream in `namespace`.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }
}

impl std::fmt::Debug for KurrentOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KurrentOptions")
            .field("url", &redact(&self.url))
            .field("namespace", &self.namespace)
            .field("poll_interval", &self.poll_interval)
            .field("watch_commits", &self.watch_commits)
            .field("max_clock_skew", &self.max_clock_skew)
            .finish()
    }
}

/// The event log on a KurrentDB server.
pub struct KurrentLog {
    client: Client,
    names: StreamNames,
    commits: CommitNotifier,
    poll_interval: Duration,
    max_clock_skew: Duration,
    watcher: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for KurrentLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KurrentLog")
            .field("names", &self.names)
            .field("poll_interval", &self.poll_interval)
            .field("watching", &self.watcher.is_some())
            .finish_non_exhaustive()
    }
}

impl KurrentLog {
    /// Connects to the server, checking that it answers and lets this user
    /// read `$all`. Must be called within a Tokio runtime.
    pub async fn connect(options: &KurrentOptions) -> Result<Self, StoreError> {
        let names = StreamNames::new(options.namespace.as_deref()).map_err(KurrentError::from)?;
        let url = redact(&options.url);
        let settings: ClientSettings =
            options
                .url
                .parse()
                .map_err(|e: kurrentdb::ClientSettingsParseError| {
                    KurrentError::InvalidUrl(format!("{url}: {}", e.message()))
                })?;
        let connect = |reason: String| KurrentError::Connect {
            url: url.clone(),
            reason,
        };
        let client = Client::new(settings).map_err(|e| connect(e.to_string()))?;
        // One cheap read: fails now, with a clear message, if the server is
        // unreachable or `$all` is off limits.
        let probe = ReadAllOptions::default()
            .position(StreamPosition::End)
            .max_count(1);
        let mut read = client
            .read_all(&probe)
            .await
            .map_err(|e| connect(e.to_string()))?;
        read.next().await.map_err(|e| connect(e.to_string()))?;
        let commits = CommitNotifier::default();
        let watcher = options
            .watch_commits
            .then(|| log::watch_commits(client.clone(), names.filter(), commits.clone()));
        Ok(Self {
            client,
            names,
            commits,
            poll_interval: options.poll_interval,
            max_clock_skew: options.max_clock_skew,
            watcher,
        })
    }

    /// The KurrentDB client (for tools and tests that inspect the server).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// How Steward streams are named on the server.
    pub fn names(&self) -> &StreamNames {
        &self.names
    }
}

impl Drop for KurrentLog {
    fn drop(&mut self) {
        if let Some(watcher) = &self.watcher {
            watcher.abort();
        }
    }
}

/// Opens the public store on a KurrentDB log, with subject keys in `vault`.
pub async fn open_store(
    options: &KurrentOptions,
    vault: Arc<dyn KeyVault>,
    master: MasterKey,
    store_options: StoreOptions,
) -> Result<Store, StoreError> {
    let log = Arc::new(KurrentLog::connect(options).await?);
    Store::open(log, vault, master, store_options).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_never_print_credentials() {
        let options =
            KurrentOptions::new("kurrentdb://admin:changeit@db:2113").with_namespace("t1");
        let printed = format!("{options:?}");
        assert!(!printed.contains("changeit"), "{printed}");
        assert!(printed.contains("db:2113"), "{printed}");
    }

    #[tokio::test]
    async fn bad_settings_are_refused_before_connecting() {
        let error = KurrentLog::connect(
            &KurrentOptions::new("kurrentdb://localhost:2113").with_namespace("has.dot"),
        )
        .await
        .expect_err("bad namespace");
        assert!(error.to_string().contains("namespace"), "{error}");
        let error = KurrentLog::connect(&KurrentOptions::new("http://u:secret@localhost"))
            .await
            .expect_err("bad url");
        assert!(error.to_string().contains("connection string"), "{error}");
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}
