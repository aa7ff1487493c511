//! How far each projection has got, for the CLI, the API and people.

use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;
use steward_events::{EventStore, Position};

use crate::catalog::{self, Failure, GenerationState};
use crate::db::ReadDb;
use crate::error::ProjectionError;
use crate::projection::Projection;

/// What a projection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// No generation has been built yet.
    NotBuilt,
    /// Up to date with the log, or within a second of it.
    Live,
    /// Applying events that are already stored.
    CatchingUp,
    /// Building a new generation while the old one serves.
    Rebuilding,
    /// Stopped at an event it cannot apply.
    Failed,
}

/// A new generation being built beside the live one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rebuild {
    /// Its generation number.
    pub generation: i64,
    /// How far it has got.
    pub position: Position,
    /// Its code version.
    pub version: i64,
}

/// One projection's status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectionStatus {
    /// The projection.
    pub name: String,
    /// The version of its code in this build.
    pub code_version: u32,
    /// What it is doing.
    pub state: State,
    /// The generation readers use, if any.
    pub generation: Option<i64>,
    /// Its checkpoint.
    pub position: Position,
    /// The log's head.
    pub head: Position,
    /// Positions between the checkpoint and the head (on SQL backends,
    /// events, give or take numbers an aborted append used up).
    pub lag_events: u64,
    /// How long the oldest event not yet applied has waited, in seconds.
    pub lag_seconds: f64,
    /// Events the live generation has applied.
    pub events_applied: i64,
    /// Where it stopped, if it did.
    pub failure: Option<Failure>,
    /// A generation being built, if any.
    pub rebuild: Option<Rebuild>,
}

/// Below this, waiting events count as live traffic, not catching up.
const LIVE_WITHIN_SECONDS: f64 = 1.0;

/// The status of each of `projections`.
pub async fn status(
    db: &ReadDb,
    store: &dyn EventStore,
    projections: &[Arc<dyn Projection>],
) -> Result<Vec<ProjectionStatus>, ProjectionError> {
    let head = store.head().await?.unwrap_or(Position::ORIGIN);
    let mut statuses = Vec::with_capacity(projections.len());
    for projection in projections {
        let generations = catalog::generations(db, projection.name()).await?;
        let live = generations
            .iter()
            .find(|g| g.state == GenerationState::Live);
        let building = generations
            .iter()
            .find(|g| g.state == GenerationState::Building);
        let position = live.map_or(Position::ORIGIN, |live| live.position);
        let lag_seconds = match store.read_all(position, 1).await?.first() {
            Some(next) => (Utc::now() - next.recorded_at).as_seconds_f64().max(0.0),
            None => 0.0,
        };
        let failure = live
            .and_then(|live| live.failure.clone())
            .or_else(|| building.and_then(|building| building.failure.clone()));
        // A rebuild that failed beside a healthy live generation is a
        // rebuild in trouble (its failure is shown), not a failed model.
        let live_failed = match live {
            Some(live) => live.failure.is_some(),
            None => failure.is_some(),
        };
        let state = if live_failed {
            State::Failed
        } else if building.is_some() {
            State::Rebuilding
        } else if live.is_none() {
            State::NotBuilt
        } else if lag_seconds > LIVE_WITHIN_SECONDS {
            State::CatchingUp
        } else {
            State::Live
        };
        statuses.push(ProjectionStatus {
            name: projection.name().to_owned(),
            code_version: projection.version(),
            state,
            generation: live.map(|live| live.generation),
            position,
            head,
            lag_events: head.commit().saturating_sub(position.commit()),
            lag_seconds,
            events_applied: live.map_or(0, |live| live.events_applied),
            failure,
            rebuild: building.map(|building| Rebuild {
                generation: building.generation,
                position: building.position,
                version: building.version,
            }),
        });
    }
    Ok(statuses)
}
