//! The `leases` table (see `schemas/sqlite/0003_leases.sql`).

use std::time::Duration;

use sqlx::SqlitePool;
use steward_events::StoreError;

/// Milliseconds since the Unix epoch by SQLite's clock.
const NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

pub(crate) async fn acquire(
    pool: &SqlitePool,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, StoreError> {
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
    let sql = format!(
        "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, {NOW_MS} + ?3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE leases.holder = excluded.holder OR leases.expires_at < {NOW_MS} \
         RETURNING holder"
    );
    let held: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .bind(holder)
        .bind(ttl_ms)
        .fetch_optional(pool)
        .await
        .map_err(StoreError::backend)?;
    Ok(held.is_some())
}

pub(crate) async fn release(pool: &SqlitePool, name: &str, holder: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM leases WHERE name = ? AND holder = ?")
        .bind(name)
        .bind(holder)
        .execute(pool)
        .await
        .map_err(StoreError::backend)?;
    Ok(())
}
