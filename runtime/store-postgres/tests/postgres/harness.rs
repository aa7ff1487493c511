//! A fresh database per test, and helpers shared by the PostgreSQL tests.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};
use steward_events::{EventType, NewEvent, StoreError};
use steward_store_contract::Harness;
use steward_store_core::{MasterKey, Store, StoreOptions};
use steward_store_postgres::{PostgresOptions, PostgresStore};
use steward_testkit::PgDatabase;
use uuid::Uuid;

/// A database of its own for one test, dropped when this is dropped.
pub(crate) struct PgHarness {
    _database: PgDatabase,
    /// Connects to the test's database.
    pub(crate) connect: PgConnectOptions,
    /// The options every store opened by [`Harness::open`] gets.
    pub(crate) options: PostgresOptions,
}

/// A harness on a new, empty database.
pub(crate) async fn harness() -> PgHarness {
    let database = PgDatabase::create().await;
    let connect = database.connect.clone();
    let options = PostgresOptions {
        max_connections: 5,
        ..PostgresOptions::default()
    };
    PgHarness {
        _database: database,
        connect,
        options,
    }
}

impl PgHarness {
    /// A log on this database with the harness's options.
    pub(crate) async fn log(&self) -> PostgresStore {
        self.log_with(self.options.clone()).await
    }

    /// A log on this database (its own pool, as another process would have).
    pub(crate) async fn log_with(&self, options: PostgresOptions) -> PostgresStore {
        PostgresStore::connect_with(self.connect.clone(), options)
            .await
            .expect("connects")
    }

    /// A store over `log`.
    pub(crate) async fn store_over(&self, log: PostgresStore, master: MasterKey) -> Store {
        let log = Arc::new(log);
        Store::open(log.clone(), log, master, StoreOptions::steward())
            .await
            .expect("store opens")
    }

    /// A raw connection to this database.
    pub(crate) async fn raw(&self) -> PgConnection {
        PgConnection::connect_with(&self.connect)
            .await
            .expect("raw connection")
    }
}

#[async_trait]
impl Harness for PgHarness {
    async fn open(&self, master: MasterKey) -> Result<Store, StoreError> {
        let log = Arc::new(
            PostgresStore::connect_with(self.connect.clone(), self.options.clone()).await?,
        );
        Store::open(log.clone(), log, master, StoreOptions::steward()).await
    }

    async fn at_rest_contains(&self, needle: &str) -> bool {
        let mut conn = self.raw().await;
        let columns = sqlx::query(
            "SELECT table_name::text, column_name::text, data_type::text \
             FROM information_schema.columns WHERE table_schema = 'public'",
        )
        .fetch_all(&mut conn)
        .await
        .expect("list columns");
        for column in columns {
            let table: String = column.get(0);
            let name: String = column.get(1);
            let data_type: String = column.get(2);
            let condition = if data_type == "bytea" {
                format!("position(convert_to($1, 'UTF8') IN \"{name}\") > 0")
            } else {
                format!("strpos(\"{name}\"::text, $1) > 0")
            };
            let sql = format!("SELECT EXISTS (SELECT 1 FROM \"{table}\" WHERE {condition})");
            let found: bool = sqlx::query_scalar(AssertSqlSafe(sql))
                .bind(needle)
                .fetch_one(&mut conn)
                .await
                .expect("scan column");
            if found {
                return true;
            }
        }
        false
    }
}

/// A plain event numbered `n`.
pub(crate) fn noted(n: u64) -> NewEvent {
    NewEvent::new(EventType::parse("Noted").expect("valid"), json!({ "n": n }))
}

/// Calls `steward_append` directly (as `Any`), on a connection the test
/// controls, so that it can hold the transaction open or roll it back.
/// Returns the batch's ids and its first and last positions.
pub(crate) async fn raw_append(
    conn: &mut PgConnection,
    stream: &str,
    events: usize,
) -> (Vec<Uuid>, i64, i64) {
    let ids: Vec<Uuid> = (0..events).map(|_| Uuid::now_v7()).collect();
    let row = sqlx::query(
        "SELECT o_first_position, o_last_position FROM steward_append($1, -1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(stream)
    .bind(&ids)
    .bind(vec!["Noted".to_owned(); events])
    .bind(vec![1i32; events])
    .bind((0..events).map(|n| json!({ "n": n })).collect::<Vec<Value>>())
    .bind(vec![None::<Vec<u8>>; events])
    .bind((0..events).map(|_| Uuid::now_v7()).collect::<Vec<Uuid>>())
    .bind(vec![None::<Uuid>; events])
    .bind(vec![None::<String>; events])
    .bind(vec!["test:raw".to_owned(); events])
    .bind(vec![json!([]); events])
    .fetch_one(conn)
    .await
    .expect("raw append");
    (ids, row.get(0), row.get(1))
}

/// Waits until no session holds the alloc lock (a failed append's connection
/// is closed in the background), failing after `within`.
pub(crate) async fn alloc_lock_released(conn: &mut PgConnection, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let held: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND classid = 1398036292::oid AND objid = 2::oid AND objsubid = 2",
        )
        .fetch_one(&mut *conn)
        .await
        .expect("pg_locks");
        if held == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the alloc lock is still held"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
