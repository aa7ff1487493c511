//! The log half of the SQLite backend.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use sqlx::{Row, Sqlite, Transaction};
use steward_events::{
    AppendResult, Direction, ExpectedVersion, NewEvent, Personal, Position, RecordedEvent,
    StoreError, StreamId,
};
use steward_store_core::retry::{ExistingEvent, resolve_refused};
use steward_store_core::{EventLog, SnapshotRow};
use tokio::sync::watch;
use uuid::Uuid;

use crate::SqliteLog;
use crate::codec::{COLUMNS, decode, micros};

fn db(error: sqlx::Error) -> StoreError {
    StoreError::backend(error)
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

async fn current_version(
    tx: &mut Transaction<'_, Sqlite>,
    stream: &StreamId,
) -> Result<Option<u64>, StoreError> {
    let version: Option<i64> =
        sqlx::query_scalar("SELECT max(stream_version) FROM events WHERE stream_id = ?")
            .bind(stream.as_str())
            .fetch_one(&mut **tx)
            .await
            .map_err(db)?;
    Ok(version.and_then(|v| u64::try_from(v).ok()))
}

impl SqliteLog {
    /// Inserts the batch inside one write transaction. `Ok(Err(..))` means the
    /// batch was refused (conflict or duplicate id) and nothing was written.
    async fn try_append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<Result<AppendResult, Refusal>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let current = current_version(&mut tx, stream).await?;
        if !expected.is_met_by(current) {
            return Ok(Err(Refusal::Version(current)));
        }
        let last_recorded: Option<i64> =
            sqlx::query_scalar("SELECT recorded_at FROM events ORDER BY position DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        // Never earlier than the last event, even if the clock stepped back.
        let recorded_at = micros(Utc::now()).max(last_recorded.unwrap_or(i64::MIN));
        let first_version = current.map_or(0, |v| v + 1);
        let mut positions = Vec::with_capacity(events.len());
        for (offset, event) in events.iter().enumerate() {
            let personal = match &event.personal {
                Some(Personal::Sealed(sealed)) => Some(sealed.0.as_slice()),
                _ => None,
            };
            let subjects =
                serde_json::to_string(&event.metadata.subjects).map_err(StoreError::backend)?;
            let inserted = sqlx::query(
                "INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version, \
                 data, personal, correlation_id, causation_id, command_id, actor, subjects, recorded_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING position",
            )
            .bind(event.event_id.to_string())
            .bind(stream.as_str())
            .bind(to_i64(first_version + offset as u64))
            .bind(event.event_type.as_str())
            .bind(i64::from(event.schema_version))
            .bind(event.data.to_string())
            .bind(personal)
            .bind(event.metadata.correlation_id.to_string())
            .bind(event.metadata.causation_id.map(|id| id.to_string()))
            .bind(event.metadata.command_id.as_deref())
            .bind(&event.metadata.actor)
            .bind(subjects)
            .bind(recorded_at)
            .fetch_one(&mut *tx)
            .await;
            match inserted {
                Ok(row) => positions.push(row.try_get::<i64, _>(0).map_err(db)?),
                Err(error) if is_unique_violation(&error) => {
                    return Ok(Err(Refusal::DuplicateId(current)));
                }
                Err(error) => return Err(db(error)),
            }
        }
        tx.commit().await.map_err(db)?;
        let position = |p: i64| Position::sequence(u64::try_from(p).unwrap_or_default());
        Ok(Ok(AppendResult {
            first_version,
            last_version: first_version + events.len() as u64 - 1,
            first_position: position(positions[0]),
            last_position: position(positions[positions.len() - 1]),
            already_appended: false,
        }))
    }

    async fn existing(&self, ids: &[Uuid]) -> Result<Vec<ExistingEvent>, StoreError> {
        let ids = serde_json::to_string(ids).map_err(StoreError::backend)?;
        let rows = sqlx::query(
            "SELECT event_id, stream_id, stream_version, position FROM events \
             WHERE event_id IN (SELECT value FROM json_each(?))",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut existing = Vec::with_capacity(rows.len());
        for row in rows {
            let event_id: String = row.try_get(0).map_err(db)?;
            let corrupt = |reason: String| StoreError::Corrupt {
                event_id: Uuid::parse_str(&event_id).unwrap_or_default(),
                reason,
            };
            let version: i64 = row.try_get(2).map_err(db)?;
            let position: i64 = row.try_get(3).map_err(db)?;
            existing.push(ExistingEvent {
                event_id: Uuid::parse_str(&event_id).map_err(|e| corrupt(e.to_string()))?,
                stream_id: StreamId::parse(row.try_get::<String, _>(1).map_err(db)?)?,
                stream_version: u64::try_from(version).map_err(|e| corrupt(e.to_string()))?,
                position: Position::sequence(
                    u64::try_from(position).map_err(|e| corrupt(e.to_string()))?,
                ),
            });
        }
        Ok(existing)
    }

    /// Runs a query built from [`COLUMNS`] and constant SQL only.
    async fn fetch(&self, sql: String, binds: Binds<'_>) -> Result<Vec<RecordedEvent>, StoreError> {
        let query = sqlx::query(sqlx::AssertSqlSafe(sql));
        let query = match binds {
            Binds::After(after, n) => query.bind(after).bind(n),
            Binds::Stream(stream, from, n) => query.bind(stream).bind(from).bind(n),
            Binds::Command(command) => query.bind(command),
        };
        let rows = query.fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(decode).collect()
    }
}

enum Binds<'a> {
    After(i64, i64),
    Stream(&'a str, i64, i64),
    Command(&'a str),
}

/// Why a batch was refused inside the transaction.
enum Refusal {
    Version(Option<u64>),
    DuplicateId(Option<u64>),
}

#[async_trait]
impl EventLog for SqliteLog {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        let outcome = {
            let _writer = self.write_lock.lock().await;
            self.try_append(stream, expected, &events).await?
        };
        match outcome {
            Ok(appended) => {
                self.commits.notify();
                Ok(appended)
            }
            Err(Refusal::Version(actual) | Refusal::DuplicateId(actual)) => {
                let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
                let existing = self.existing(&ids).await?;
                resolve_refused(stream, expected, actual, &ids, &existing)
            }
        }
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from: u64,
        direction: Direction,
        n: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = match direction {
            Direction::Forward => format!(
                "SELECT {COLUMNS} FROM events WHERE stream_id = ? AND stream_version >= ? \
                 ORDER BY stream_version LIMIT ?"
            ),
            Direction::Backward => format!(
                "SELECT {COLUMNS} FROM events WHERE stream_id = ? AND stream_version <= ? \
                 ORDER BY stream_version DESC LIMIT ?"
            ),
        };
        self.fetch(sql, Binds::Stream(stream.as_str(), to_i64(from), limit(n)))
            .await
    }

    async fn read_all(&self, after: Position, n: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?");
        self.fetch(sql, Binds::After(to_i64(after.sequence_floor()), limit(n)))
            .await
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<Option<u64>, StoreError> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT max(stream_version) FROM events WHERE stream_id = ?")
                .bind(stream.as_str())
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
        Ok(version.and_then(|v| u64::try_from(v).ok()))
    }

    async fn events_of_command(&self, command_id: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM events WHERE command_id = ? ORDER BY position");
        self.fetch(sql, Binds::Command(command_id)).await
    }

    async fn head(&self) -> Result<Option<Position>, StoreError> {
        let head: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM events")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(head
            .and_then(|p| u64::try_from(p).ok())
            .map(Position::sequence))
    }

    fn commits(&self) -> watch::Receiver<u64> {
        self.commits.subscribe()
    }

    fn poll_interval(&self) -> Duration {
        self.poll_interval
    }

    async fn save_snapshot(&self, snapshot: SnapshotRow) -> Result<bool, StoreError> {
        let _writer = self.write_lock.lock().await;
        crate::snapshot::save(&self.pool, snapshot).await
    }

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<SnapshotRow>, StoreError> {
        crate::snapshot::load(&self.pool, stream).await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let _writer = self.write_lock.lock().await;
        crate::lease::acquire(&self.pool, name, holder, ttl).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let _writer = self.write_lock.lock().await;
        crate::lease::release(&self.pool, name, holder).await
    }

    async fn import(&self, events: Vec<RecordedEvent>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        {
            let _writer = self.write_lock.lock().await;
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
            for event in &events {
                let personal = match &event.personal {
                    None => None,
                    Some(Personal::Sealed(sealed)) => Some(sealed.0.as_slice()),
                    Some(Personal::Plain(_) | Personal::Erased) => {
                        return Err(StoreError::Corrupt {
                            event_id: event.event_id,
                            reason: "an imported personal part must be sealed".into(),
                        });
                    }
                };
                let subjects =
                    serde_json::to_string(&event.metadata.subjects).map_err(StoreError::backend)?;
                // The position is kept: a restore writes into an empty log, in
                // the archive's (increasing) order.
                sqlx::query(
                    "INSERT INTO events (position, event_id, stream_id, stream_version, event_type, \
                     schema_version, data, personal, correlation_id, causation_id, command_id, actor, \
                     subjects, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(to_i64(event.global_position.sequence_floor()))
                .bind(event.event_id.to_string())
                .bind(event.stream_id.as_str())
                .bind(to_i64(event.stream_version))
                .bind(event.event_type.as_str())
                .bind(i64::from(event.schema_version))
                .bind(event.data.to_string())
                .bind(personal)
                .bind(event.metadata.correlation_id.to_string())
                .bind(event.metadata.causation_id.map(|id| id.to_string()))
                .bind(event.metadata.command_id.as_deref())
                .bind(&event.metadata.actor)
                .bind(subjects)
                .bind(micros(event.recorded_at))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
        }
        self.commits.notify();
        Ok(())
    }
}
