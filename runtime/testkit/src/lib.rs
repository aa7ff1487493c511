//! Test support shared by Steward's crates: a PostgreSQL database of its own
//! for each test, the public store over SQLite or PostgreSQL, and Mosquitto
//! brokers, Radicale CalDAV servers and mail servers (Dovecot and aiosmtpd)
//! of a test's own.
//!
//! The server is `STEWARD_TEST_PG_URL` (default the local one, as CI runs
//! it). Helpers panic on failure: they are for tests only.

#![allow(clippy::unwrap_used)]

use std::str::FromStr as _;
use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection as _, Executor as _, PgConnection};
use steward_store_core::{MasterKey, Store, StoreOptions};
use steward_store_postgres::{PostgresOptions, PostgresStore};
use steward_store_sqlite::SqliteOptions;
use uuid::Uuid;

mod mail;
mod mosquitto;
mod radicale;

pub use mail::{MAIL_PASSWORD, MAIL_RECIPIENT, MailServer};
pub use mosquitto::{Mosquitto, free_port};
pub use radicale::{RADICALE_PASSWORD, RADICALE_USER, Radicale};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database of its own for one test, dropped (with any connections left)
/// when this is dropped.
#[derive(Debug)]
pub struct PgDatabase {
    admin: PgConnectOptions,
    name: String,
    /// Connects to the database.
    pub connect: PgConnectOptions,
}

impl PgDatabase {
    /// A new, empty database named `steward_test_<random>`.
    pub async fn create() -> Self {
        let url = std::env::var("STEWARD_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let admin = PgConnectOptions::from_str(&url).expect("STEWARD_TEST_PG_URL parses");
        let name = format!("steward_test_{}", Uuid::now_v7().simple());
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .expect("connect to the test server");
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create database");
        conn.close().await.expect("close");
        let connect = admin.clone().database(&name);
        Self {
            admin,
            name,
            connect,
        }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL for the database (for a CLI under test).
    pub fn url(&self) -> String {
        let host = self.connect.get_host();
        let port = self.connect.get_port();
        let user = self.connect.get_username();
        format!("postgres://{user}@{host}:{port}/{}", self.name)
    }

    /// A store log on the database, with its own pool.
    pub async fn log(&self, options: PostgresOptions) -> PostgresStore {
        PostgresStore::connect_with(self.connect.clone(), options)
            .await
            .expect("connects")
    }

    /// The public store on the database.
    pub async fn store(&self, master: MasterKey) -> Store {
        let log = Arc::new(
            self.log(PostgresOptions {
                max_connections: 5,
                ..PostgresOptions::default()
            })
            .await,
        );
        Store::open(log.clone(), log, master, StoreOptions::steward())
            .await
            .expect("store opens")
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop may run inside the test's runtime: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let mut conn = PgConnection::connect_with(&admin).await?;
                conn.execute(AssertSqlSafe(sql)).await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}

/// A SQLite store in a temporary directory, removed when this is dropped.
pub struct SqliteDir {
    dir: tempfile::TempDir,
}

impl SqliteDir {
    /// A new, empty directory.
    pub fn create() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// The directory.
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The public store on `events.db` in the directory.
    pub async fn store(&self, master: MasterKey) -> Store {
        steward_store_sqlite::open_store(
            &SqliteOptions::new(self.dir.path().join("events.db")),
            master,
            StoreOptions::steward(),
        )
        .await
        .expect("store opens")
    }
}
