//! The `leases` table (see `schemas/postgres/0003_leases.sql`).

use std::time::Duration;

use sqlx::PgPool;
use steward_events::StoreError;

use crate::error::query_failed;

pub(crate) async fn acquire(
    pool: &PgPool,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, StoreError> {
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
    let held: Option<String> = sqlx::query_scalar(
        "INSERT INTO leases (name, holder, expires_at) \
         VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond') \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE leases.holder = excluded.holder OR leases.expires_at < clock_timestamp() \
         RETURNING holder",
    )
    .bind(name)
    .bind(holder)
    .bind(ttl_ms)
    .fetch_optional(pool)
    .await
    .map_err(query_failed)?;
    Ok(held.is_some())
}

pub(crate) async fn release(pool: &PgPool, name: &str, holder: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(pool)
        .await
        .map_err(query_failed)?;
    Ok(())
}
