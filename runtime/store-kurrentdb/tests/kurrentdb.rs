//! The KurrentDB backend against the store contract, plus what only it has:
//! namespaces and KurrentDB's own view of the streams.
//!
//! These tests need a server: set `KURRENTDB_URL` (e.g.
//! `kurrentdb://localhost:2113?tls=false`). Without it each test prints why it
//! was skipped and passes. Every test works in a fresh namespace, so they can
//! run side by side on one server, even one holding other data (which only
//! makes the `$all` scans slower).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kurrentdb::{ReadAllOptions, ReadStreamOptions};
use serde_json::json;
use steward_events::{
    Direction, EventStore, EventType, ExpectedVersion, NewEvent, Position, StoreError, StreamId,
};
use steward_store_contract::Harness;
use steward_store_core::{MasterKey, Store, StoreOptions};
use steward_store_kurrentdb::{KurrentLog, KurrentOptions};
use steward_store_sqlite::{SqliteLog, SqliteOptions};
use uuid::Uuid;

struct KurrentHarness {
    url: String,
    namespace: String,
    _dir: tempfile::TempDir,
    vault: PathBuf,
}

/// A fresh namespace on the server at `KURRENTDB_URL` and a fresh SQLite key
/// vault; `None` (after saying so) when no server is configured.
async fn harness() -> Option<KurrentHarness> {
    let Ok(url) = std::env::var("KURRENTDB_URL") else {
        println!(
            "skipped: KURRENTDB_URL is not set, so there is no KurrentDB server to test against \
             (set it to e.g. kurrentdb://localhost:2113?tls=false; see runtime/store-kurrentdb/README.md)"
        );
        return None;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let vault = dir.path().join("vault").join("keys.db");
    Some(KurrentHarness {
        url,
        namespace: format!("t{}", Uuid::now_v7().simple()),
        _dir: dir,
        vault,
    })
}

impl KurrentHarness {
    fn options(&self) -> KurrentOptions {
        KurrentOptions::new(&self.url).with_namespace(&self.namespace)
    }

    async fn log(&self) -> KurrentLog {
        let options = KurrentOptions {
            watch_commits: false,
            ..self.options()
        };
        KurrentLog::connect(&options).await.expect("connects")
    }
}

#[async_trait]
impl Harness for KurrentHarness {
    fn event_ids_unique_across_streams(&self) -> bool {
        false
    }

    async fn open(&self, master: MasterKey) -> Result<Store, StoreError> {
        let vault = Arc::new(SqliteLog::open(&SqliteOptions::new(&self.vault)).await?);
        steward_store_kurrentdb::open_store(&self.options(), vault, master, StoreOptions::steward())
            .await
    }

    async fn at_rest_contains(&self, needle: &str) -> bool {
        let needle = needle.as_bytes();
        let contains = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        // Every record of the server, whatever its stream: names, types,
        // data and metadata, as someone reading the database would.
        let log = self.log().await;
        let mut read = log
            .client()
            .read_all(&ReadAllOptions::default())
            .await
            .expect("reads $all");
        let mut records = 0;
        let mut found = false;
        while let Some(resolved) = read.next().await.expect("reads $all") {
            for record in [resolved.event, resolved.link].into_iter().flatten() {
                records += 1;
                found |= contains(record.stream_id().as_bytes())
                    || contains(record.event_type.as_bytes())
                    || contains(&record.data)
                    || contains(&record.custom_metadata)
                    || record.metadata.values().any(|v| contains(v.as_bytes()));
            }
        }
        assert!(records > 0, "scans the real log");
        // And the key vault's files, WAL included.
        for suffix in ["", "-wal"] {
            let mut file = self.vault.clone().into_os_string();
            file.push(suffix);
            if let Ok(bytes) = std::fs::read(&file) {
                found |= contains(&bytes);
            }
        }
        found
    }
}

steward_store_contract::contract_tests!({
    let Some(harness) = harness().await else {
        return;
    };
    std::future::ready(harness)
});

fn noted(n: u64) -> NewEvent {
    NewEvent::new(EventType::parse("Noted").expect("valid"), json!({ "n": n }))
}

#[tokio::test]
async fn namespaces_keep_stores_apart() {
    let Some(one) = harness().await else {
        return;
    };
    let other = harness().await.expect("the same server");
    let master = MasterKey::generate().expect("key");
    let store = one.open(master.clone()).await.expect("opens");
    let stream = StreamId::parse("errand-1").expect("valid");
    store
        .append(&stream, ExpectedVersion::NoStream, vec![noted(0)])
        .await
        .expect("append");
    let neighbour = other.open(master).await.expect("opens");
    assert_eq!(neighbour.head().await.expect("head"), None);
    assert!(
        neighbour
            .read_all(Position::ORIGIN, 10)
            .await
            .expect("read all")
            .is_empty()
    );
    assert_eq!(
        neighbour.stream_version(&stream).await.expect("version"),
        None
    );
    // The same stream name is free there.
    neighbour
        .append(&stream, ExpectedVersion::NoStream, vec![noted(1)])
        .await
        .expect("its own stream");
}

#[tokio::test]
async fn kurrentdb_sees_steward_streams_events_and_correlation() {
    let Some(harness) = harness().await else {
        return;
    };
    let store = harness
        .open(MasterKey::generate().expect("key"))
        .await
        .expect("opens");
    let stream = StreamId::parse("errand-7").expect("valid");
    let event = noted(7);
    store
        .append(&stream, ExpectedVersion::NoStream, vec![event.clone()])
        .await
        .expect("append");
    let log = harness.log().await;
    let name = format!("{}.errand-7", harness.namespace);
    let mut read = log
        .client()
        .read_stream(name.as_str(), &ReadStreamOptions::default())
        .await
        .expect("reads");
    let record = read
        .next()
        .await
        .expect("reads")
        .and_then(|r| r.event)
        .expect("one event");
    assert_eq!(record.id, event.event_id);
    assert_eq!(record.event_type, "Noted");
    assert!(record.is_json);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&record.data).expect("json"),
        json!({ "n": 7 })
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&record.custom_metadata).expect("json metadata");
    assert_eq!(
        metadata["$correlationId"],
        json!(event.metadata.correlation_id)
    );
    let read = store
        .read_stream(&stream, 0, Direction::Forward, 1)
        .await
        .expect("read");
    assert_eq!(
        (
            read[0].global_position.commit(),
            read[0].global_position.prepare()
        ),
        (record.position.commit, record.position.prepare),
        "positions are KurrentDB's"
    );
}

/// Runs without a server: a store that cannot reach KurrentDB fails to open
/// with a clear backend error instead of hanging.
#[tokio::test]
async fn an_unreachable_server_is_a_clean_backend_error() {
    let options = KurrentOptions::new(
        "kurrentdb://127.0.0.1:1?tls=false&maxDiscoverAttempts=1&discoveryInterval=10",
    );
    let error = tokio::time::timeout(Duration::from_secs(60), KurrentLog::connect(&options))
        .await
        .expect("gives up in time")
        .expect_err("no server there");
    assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
    assert!(
        error.to_string().contains("cannot connect to KurrentDB"),
        "{error}"
    );
}
