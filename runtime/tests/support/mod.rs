//! What the binary's tests share: the `steward` binary run in a directory
//! with a clean environment, and its JSON output.

#![allow(dead_code)]

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// The `steward` binary, run in `dir`, with no `STEWARD_*` variable or
/// `DATABASE_URL` from the test's own environment.
pub(crate) fn steward(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("steward").expect("binary built");
    command
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("STEWARD_MASTER_KEY");
    for (key, _) in std::env::vars() {
        if key.starts_with("STEWARD_") {
            command.env_remove(key);
        }
    }
    command
}

/// One JSON value per line of output.
pub(crate) fn json_lines(output: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON value per line"))
        .collect()
}

/// A fresh PostgreSQL database, dropped when the test ends.
pub(crate) struct FreshDatabase {
    admin_url: String,
    name: String,
    runtime: tokio::runtime::Runtime,
}

impl FreshDatabase {
    pub(crate) fn create() -> Self {
        let admin_url = std::env::var("STEWARD_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let name = format!("steward_cli_{}", uuid::Uuid::now_v7().simple());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let pool = sqlx::PgPool::connect(&admin_url)
                .await
                .expect("PostgreSQL on 127.0.0.1:5432");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&pool)
                .await
                .expect("create database");
        });
        Self {
            admin_url,
            name,
            runtime,
        }
    }

    pub(crate) fn url(&self) -> String {
        let base = self
            .admin_url
            .rsplit_once('/')
            .map_or(self.admin_url.as_str(), |(base, _)| base);
        format!("{base}/{}", self.name)
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        self.runtime.block_on(async move {
            if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&pool)
                .await;
            }
        });
    }
}
