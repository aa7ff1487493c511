//! Reads: one stream, the global log (gap-safe), by command, the head.
//!
//! Positions come from a sequence, allocated in order but committed in any
//! order, so a reader may see position 7 while 6 is still in flight. Every
//! append takes the shared gate lock before it allocates a position and holds
//! it until it ends; an append that can still fill a hole below a visible
//! position therefore held the gate when that position became visible, and
//! still holds it, or has ended, when a reader lists the gate's holders. So
//! [`read_all`] returns the contiguous run of positions it finds; when the
//! first wanted position is missing it lists the gate's holders, waits until
//! they are all gone, and reads again: every hole below what it first saw is
//! then permanent (a rolled-back append) and can be passed.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgRow};
use sqlx::{PgConnection, Row};
use steward_events::{Direction, Position, RecordedEvent, StoreError, StreamId};
use tokio::time::Instant;

use crate::error::{PostgresError, query_failed};
use crate::row::{position, recorded_events, select_events};

/// How long a reader sleeps between two looks at the gate's holders.
const BARRIER_POLL: Duration = Duration::from_millis(1);

/// A `usize` limit as a SQL `LIMIT`.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The last sequence number at or before `after` (see
/// [`Position::sequence_floor`]); `None` if no event can follow it.
fn sequence_after(after: Position) -> Option<i64> {
    i64::try_from(after.sequence_floor())
        .ok()
        .filter(|n| *n < i64::MAX)
}

/// Reads one stream, forwards from version `from` or backwards from it
/// (`u64::MAX` being the end).
pub(crate) async fn read_stream(
    pool: &PgPool,
    stream: &StreamId,
    from: u64,
    direction: Direction,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let rows = match direction {
        Direction::Forward => {
            let Ok(from) = i64::try_from(from) else {
                return Ok(Vec::new());
            };
            sqlx::query(select_events!(
                "WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3"
            ))
            .bind(stream.as_str())
            .bind(from)
            .bind(sql_limit(limit))
            .fetch_all(pool)
            .await
        }
        Direction::Backward => {
            let from = i64::try_from(from).unwrap_or(i64::MAX);
            sqlx::query(select_events!(
                "WHERE stream_id = $1 AND stream_version <= $2 \
                 ORDER BY stream_version DESC LIMIT $3"
            ))
            .bind(stream.as_str())
            .bind(from)
            .bind(sql_limit(limit))
            .fetch_all(pool)
            .await
        }
    }
    .map_err(query_failed)?;
    recorded_events(&rows)
}

/// Up to `limit` events after `after`, never past a hole that may still fill.
pub(crate) async fn read_all(
    pool: &PgPool,
    after: Position,
    limit: usize,
    barrier_timeout: Duration,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let Some(after) = sequence_after(after) else {
        return Ok(Vec::new());
    };
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut conn = pool.acquire().await.map_err(query_failed)?;
    let first = fetch_after(&mut conn, after, limit).await?;
    let Some(head) = first.first() else {
        return Ok(Vec::new());
    };
    if position(head)? == after + 1 {
        return recorded_events(&contiguous(first, after, after)?);
    }
    // A hole right after `after`: wait out every append that could fill a
    // hole below the last position seen, then everything up to it is final.
    let seen = first.last().map(position).transpose()?.unwrap_or(after);
    wait_for_gate(&mut conn, barrier_timeout).await?;
    let second = fetch_after(&mut conn, after, limit).await?;
    drop(conn);
    recorded_events(&contiguous(second, after, seen)?)
}

async fn fetch_after(
    conn: &mut PgConnection,
    after: i64,
    limit: usize,
) -> Result<Vec<PgRow>, StoreError> {
    sqlx::query(select_events!(
        "WHERE position > $1 ORDER BY position LIMIT $2"
    ))
    .bind(after)
    .bind(sql_limit(limit))
    .fetch_all(conn)
    .await
    .map_err(query_failed)
}

/// The rows up to position `settled` (known final), then those continuing
/// without a hole. `rows` are in position order, all after `after`.
fn contiguous(rows: Vec<PgRow>, after: i64, settled: i64) -> Result<Vec<PgRow>, StoreError> {
    let mut last = after;
    let mut kept = Vec::with_capacity(rows.len());
    for row in rows {
        let at = position(&row)?;
        if at > settled && at != last + 1 {
            break;
        }
        last = at;
        kept.push(row);
    }
    Ok(kept)
}

/// Waits until no append that holds the gate now still holds it.
async fn wait_for_gate(conn: &mut PgConnection, timeout: Duration) -> Result<(), StoreError> {
    let start = Instant::now();
    let holders: HashSet<String> = gate_holders(conn).await?.into_iter().collect();
    if holders.is_empty() {
        return Ok(());
    }
    tracing::debug!(
        holders = holders.len(),
        "waiting for appends in flight to pass a hole"
    );
    loop {
        tokio::time::sleep(BARRIER_POLL).await;
        let now = gate_holders(conn).await?;
        if !now.iter().any(|holder| holders.contains(holder)) {
            tracing::debug!(waited = ?start.elapsed(), "appends in flight finished");
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(PostgresError::BarrierTimeout(timeout).into());
        }
    }
}

/// The virtual transaction ids of the appends holding the gate.
async fn gate_holders(conn: &mut PgConnection) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar("SELECT steward_gate_holders()")
        .fetch_one(conn)
        .await
        .map_err(query_failed)
}

/// The last version of a stream.
pub(crate) async fn stream_version(
    pool: &PgPool,
    stream: &StreamId,
) -> Result<Option<u64>, StoreError> {
    let version: Option<i64> =
        sqlx::query_scalar("SELECT max(stream_version) FROM events WHERE stream_id = $1")
            .bind(stream.as_str())
            .fetch_one(pool)
            .await
            .map_err(query_failed)?;
    version
        .map(|v| {
            u64::try_from(v).map_err(|_| {
                PostgresError::Unexpected(format!("stream `{stream}` is at version {v}")).into()
            })
        })
        .transpose()
}

/// The events recorded with a command id, in position (and so stream) order.
pub(crate) async fn events_of_command(
    pool: &PgPool,
    command_id: &str,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows = sqlx::query(select_events!("WHERE command_id = $1 ORDER BY position"))
        .bind(command_id)
        .fetch_all(pool)
        .await
        .map_err(query_failed)?;
    recorded_events(&rows)
}

/// The greatest committed position. Never ahead of what [`read_all`] can
/// return: every position up to it is readable (after a barrier at most).
pub(crate) async fn head(pool: &PgPool) -> Result<Option<Position>, StoreError> {
    let row = sqlx::query("SELECT max(position) AS head FROM events")
        .fetch_one(pool)
        .await
        .map_err(query_failed)?;
    let head: Option<i64> = row.try_get("head").map_err(query_failed)?;
    head.map(|n| {
        u64::try_from(n)
            .map(Position::sequence)
            .map_err(|_| PostgresError::Unexpected(format!("negative position {n}")).into())
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_map_to_sequence_numbers() {
        assert_eq!(sequence_after(Position::ORIGIN), Some(0));
        assert_eq!(sequence_after(Position::sequence(9)), Some(9));
        // "From 10 inclusive" is "after 10's predecessor", i.e. after 9.
        assert_eq!(
            sequence_after(Position::sequence(10).predecessor()),
            Some(9)
        );
        assert_eq!(sequence_after(Position::commit_prepare(10, 3)), Some(9));
        assert_eq!(sequence_after(Position::sequence(u64::MAX)), None);
        assert_eq!(sequence_after(Position::sequence(i64::MAX as u64)), None);
    }
}
