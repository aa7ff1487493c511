//! Building a projection as of a point of the log into temporary tables:
//! what Steward knew at that moment, for the audit console.

use sqlx::AssertSqlSafe;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use steward_events::{EventStore, Position, RecordedEvent};
use uuid::Uuid;

use crate::catalog;
use crate::db::ReadDb;
use crate::error::{ApplyError, ProjectionError};
use crate::projection::{ApplyContext, Projection};
use crate::tables::Tables;

/// The point of the log a replay stops at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// Every event up to and including this position.
    Position(Position),
    /// Every event recorded at or before this instant.
    Time(DateTime<Utc>),
}

impl AsOf {
    fn includes(&self, event: &RecordedEvent) -> bool {
        match self {
            AsOf::Position(position) => event.global_position <= *position,
            AsOf::Time(time) => event.recorded_at <= *time,
        }
    }
}

/// A projection built as of a point, in tables of its own. Query it through
/// [`Replay::tables`], then [`Replay::discard`] it; one left behind by a
/// crash is dropped by [`tidy_replays`].
pub struct Replay {
    db: ReadDb,
    projection: Arc<dyn Projection>,
    tables: Tables,
    reached: Option<Position>,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("projection", &self.projection.name())
            .field("tables", &self.tables)
            .field("reached", &self.reached)
            .finish_non_exhaustive()
    }
}

/// Why a replay could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The machinery failed.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// The projection cannot apply an event before the point asked for.
    #[error("the projection cannot apply the event at {position} ({event_id}): {error}")]
    Apply {
        /// The event's position.
        position: Position,
        /// The event's id.
        event_id: Uuid,
        /// Why.
        error: ApplyError,
    },
}

impl From<sqlx::Error> for ReplayError {
    fn from(error: sqlx::Error) -> Self {
        ReplayError::Projection(error.into())
    }
}

/// How many events a replay applies per transaction.
const BATCH: usize = 1_000;

/// Builds `projection` from the beginning of the log up to `as_of`.
pub async fn replay(
    db: &ReadDb,
    store: &dyn EventStore,
    projection: Arc<dyn Projection>,
    as_of: AsOf,
) -> Result<Replay, ReplayError> {
    let id = Uuid::now_v7().simple().to_string();
    let tables = Tables::replay(&id);
    catalog::register_replay(db, tables.suffix(), projection.name()).await?;
    let mut replay = Replay {
        db: db.clone(),
        projection,
        tables,
        reached: None,
    };
    match replay.build(store, as_of).await {
        Ok(()) => Ok(replay),
        Err(error) => {
            if let Err(drop_error) = replay.drop_tables().await {
                tracing::warn!(%drop_error, "could not drop a failed replay's tables");
            }
            Err(error)
        }
    }
}

impl Replay {
    /// The tables to query.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// The last event it includes; `None` if none.
    pub fn reached(&self) -> Option<Position> {
        self.reached
    }

    /// Drops its tables.
    pub async fn discard(self) -> Result<(), ProjectionError> {
        self.drop_tables().await
    }

    async fn build(&mut self, store: &dyn EventStore, as_of: AsOf) -> Result<(), ReplayError> {
        let mut tx = self.db.begin_write().await?;
        for statement in self.projection.create(self.db.dialect(), &self.tables) {
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let cx = ApplyContext {
            tables: &self.tables,
            dialect: self.db.dialect(),
        };
        let mut after = Position::ORIGIN;
        loop {
            let page = store
                .read_all(after, BATCH)
                .await
                .map_err(ProjectionError::from)?;
            let Some(last) = page.last() else { break };
            after = last.global_position;
            let mut tx = self.db.begin_write().await?;
            let mut finished = false;
            for event in &page {
                if !as_of.includes(event) {
                    finished = true;
                    break;
                }
                self.projection
                    .apply(&mut tx, cx, event)
                    .await
                    .map_err(|error| ReplayError::Apply {
                        position: event.global_position,
                        event_id: event.event_id,
                        error,
                    })?;
                self.reached = Some(event.global_position);
            }
            tx.commit().await?;
            if finished {
                break;
            }
        }
        let mut tx = self.db.begin_write().await?;
        for statement in self
            .projection
            .create_indexes(self.db.dialect(), &self.tables)
        {
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn drop_tables(&self) -> Result<(), ProjectionError> {
        drop_copy(&self.db, self.projection.as_ref(), &self.tables).await
    }
}

async fn drop_copy(
    db: &ReadDb,
    projection: &dyn Projection,
    tables: &Tables,
) -> Result<(), ProjectionError> {
    let mut tx = db.begin_write().await?;
    for statement in crate::drop_statements(projection, tables) {
        sqlx::query(AssertSqlSafe(statement))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    catalog::forget_replay(db, tables.suffix()).await
}

/// Drops the tables of replays started before `before` (left behind by a
/// process that died), for the projections given.
pub async fn tidy_replays(
    db: &ReadDb,
    projections: &[Arc<dyn Projection>],
    before: DateTime<Utc>,
) -> Result<usize, ProjectionError> {
    let mut dropped = 0;
    for (suffix, name) in catalog::replays_before(db, before).await? {
        if let Some(projection) = projections.iter().find(|p| p.name() == name) {
            drop_copy(db, projection.as_ref(), &Tables::with_suffix(&suffix)).await?;
            dropped += 1;
        }
    }
    Ok(dropped)
}
