//! The SQLite backend against the store contract, plus what only SQLite has:
//! several processes sharing one file.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::Row;
use steward_events::StoreError;
use steward_store_contract::Harness;
use steward_store_core::{MasterKey, Store, StoreOptions};
use steward_store_sqlite::{SqliteLog, SqliteOptions};

struct SqliteHarness {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

async fn harness() -> SqliteHarness {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data").join("steward.db");
    SqliteHarness { _dir: dir, path }
}

#[async_trait]
impl Harness for SqliteHarness {
    async fn open(&self, master: MasterKey) -> Result<Store, StoreError> {
        steward_store_sqlite::open_store(
            &SqliteOptions::new(&self.path),
            master,
            StoreOptions::steward(),
        )
        .await
    }

    async fn at_rest_contains(&self, needle: &str) -> bool {
        let log = SqliteLog::open(&SqliteOptions::new(&self.path))
            .await
            .expect("opens");
        // Checkpoint so the main file holds everything, then scan every byte
        // of the database and its WAL, as someone holding the files would.
        sqlx::query("PRAGMA wal_checkpoint(FULL)")
            .execute(log.pool())
            .await
            .expect("checkpoint");
        let tables: Vec<String> =
            sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(log.pool())
                .await
                .expect("tables")
                .iter()
                .map(|row| row.get(0))
                .collect();
        assert!(
            tables.iter().any(|t| t == "events"),
            "scans the real tables: {tables:?}"
        );
        log.close().await;
        let mut haystack = Vec::new();
        for suffix in ["", "-wal"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            if let Ok(bytes) = std::fs::read(&file) {
                haystack.extend(bytes);
            }
        }
        haystack
            .windows(needle.len())
            .any(|window| window == needle.as_bytes())
    }
}

steward_store_contract::contract_tests!(harness());

#[tokio::test]
async fn a_store_is_initialised_once_a_key_check_is_recorded() {
    use steward_store_core::KeyVault;
    let harness = harness().await;
    let has_key_check = || async {
        let log = SqliteLog::open(&SqliteOptions::new(&harness.path))
            .await
            .expect("opens");
        let recorded = log.has_key_check().await.expect("checks");
        log.close().await;
        recorded
    };
    assert!(!has_key_check().await);
    let _store = harness
        .open(MasterKey::generate().expect("key"))
        .await
        .expect("opens");
    assert!(has_key_check().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn separate_pools_on_one_file_wait_for_each_other() {
    use steward_events::{EventStore, EventType, ExpectedVersion, NewEvent, Position, StreamId};
    let harness = Arc::new(harness().await);
    let master = MasterKey::generate().expect("key");
    // Four "processes", each with its own pool, write to the same file at once.
    let mut writers = Vec::new();
    for writer in 0..4 {
        let store = harness.open(master.clone()).await.expect("opens");
        writers.push(tokio::spawn(async move {
            for n in 0..50 {
                let event = NewEvent::new(
                    EventType::parse("Tick").expect("valid"),
                    serde_json::json!({ "n": n }),
                );
                let stream = StreamId::parse(format!("proc-{writer}")).expect("valid");
                store
                    .append(&stream, ExpectedVersion::Any, vec![event])
                    .await
                    .expect("append waits, never fails");
            }
        }));
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    let store = harness.open(master).await.expect("opens");
    let all = store.read_all(Position::ORIGIN, 1000).await.expect("read");
    assert_eq!(all.len(), 200);
}

/// Keys kept for sealing never serve to open: an erasure by another process
/// shows at once on every read, even through a handle that still holds the
/// key for writing (which may seal one more append, unreadable, until its
/// short time-to-live ends).
#[tokio::test]
async fn an_erasure_elsewhere_shows_at_once_to_a_writer_holding_the_key() {
    use serde_json::json;
    use steward_events::{
        Direction, EventStore, EventType, ExpectedVersion, NewEvent, Personal, StreamId, SubjectId,
    };
    let harness = harness().await;
    let master = MasterKey::generate().expect("key");
    let writer = harness.open(master.clone()).await.expect("opens");
    let eraser = harness.open(master).await.expect("opens");
    let subject = SubjectId::parse("person-dana").expect("valid");
    let stream = StreamId::parse("inbox-1").expect("valid");
    let message = || {
        NewEvent::new(
            EventType::parse("MessageReceived").expect("valid"),
            json!({}),
        )
        .with_personal(json!({ "from": "Dana" }), vec![subject.clone()])
    };
    writer
        .append(&stream, ExpectedVersion::Any, vec![message()])
        .await
        .expect("append");
    eraser
        .erase_subject(&subject, "user:owner")
        .await
        .expect("erase");
    let read = writer
        .read_stream(&stream, 0, Direction::Forward, 10)
        .await
        .expect("read");
    assert_eq!(
        read[0].personal,
        Some(Personal::Erased),
        "reads ask the vault"
    );
    if writer
        .append(&stream, ExpectedVersion::Any, vec![message()])
        .await
        .is_ok()
    {
        let read = writer
            .read_stream(&stream, 1, Direction::Forward, 10)
            .await
            .expect("read");
        assert_eq!(
            read[0].personal,
            Some(Personal::Erased),
            "sealed under a destroyed key"
        );
    }
    // The eraser itself refuses at once.
    let refused = eraser
        .append(&stream, ExpectedVersion::Any, vec![message()])
        .await;
    assert!(
        matches!(refused, Err(StoreError::SubjectErased(_))),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_restores_exactly() {
    steward_store_contract::a_backup_restores_exactly(&harness().await, &harness().await).await;
}
