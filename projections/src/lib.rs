//! Steward's read models: the event log projected into SQL tables that
//! people, the API and the planner read, and a vector memory.
//!
//! - [`Projection`] is one read model: a name, a code version, its tables
//!   and how one event changes them. The ones Steward runs are in
//!   [`read_models`].
//! - [`ProjectionRunner`] keeps a projection up to date, applying events in
//!   global order and moving its checkpoint in the same transaction, so
//!   each event takes effect exactly once across crashes. A new code
//!   version (or a request) builds a new *generation* of the tables beside
//!   the live one, which keeps serving until the new one has caught up and
//!   a single catalog update swaps them.
//! - [`replay()`] builds a projection as of a position or instant into
//!   temporary tables: what Steward knew then.
//! - [`status()`] says how far each projection has got.
//!
//! The same projections run on PostgreSQL and SQLite through one pool
//! ([`ReadDb`]); [`Dialect`] marks the few statements that differ.

pub mod catalog;
mod db;
mod error;
mod inspect;
pub mod memory;
mod metrics;
mod projection;
pub mod read_models;
mod replay;
mod runner;
mod shared_reads;
mod status;
mod tables;

use std::sync::Arc;

pub use catalog::{Failure, Generation, GenerationState, Request};
pub use db::{Dialect, ReadDb, WriteTransaction};
pub use error::{ApplyError, ProjectionError};
pub use inspect::table_rows;
pub use memory::{Embedder, EmbedderConfig, Embedding, MemoryError, VectorIndex};
pub use metrics::ProjectionMetrics;
pub use projection::{ApplyContext, Projection};
pub use replay::{AsOf, Replay, ReplayError, replay, tidy_replays};
pub use runner::{ProjectionRunner, RunnerOptions};
pub use shared_reads::SharedReads;
pub use status::{ProjectionStatus, Rebuild, State, status};
pub use tables::Tables;

/// The tables readers should query for `projection`: its live generation.
///
/// A generation replaced by a rebuild stays readable for a grace period, so
/// a reader that looked it up just before the swap still gets whole answers.
pub async fn live_tables(db: &ReadDb, projection: &str) -> Result<Tables, ProjectionError> {
    catalog::live(db, projection)
        .await?
        .map(|live| live.tables())
        .ok_or_else(|| ProjectionError::NotBuilt {
            projection: projection.to_owned(),
        })
}

/// The projection named `name` among `projections`.
pub fn find(
    projections: &[Arc<dyn Projection>],
    name: &str,
) -> Result<Arc<dyn Projection>, ProjectionError> {
    projections
        .iter()
        .find(|projection| projection.name() == name)
        .cloned()
        .ok_or_else(|| ProjectionError::UnknownProjection {
            name: name.to_owned(),
            known: projections
                .iter()
                .map(|projection| projection.name())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The statements that drop one copy of a projection's tables.
pub(crate) fn drop_statements(projection: &dyn Projection, tables: &Tables) -> Vec<String> {
    projection
        .tables()
        .iter()
        .map(|table| format!("DROP TABLE IF EXISTS {}", tables.name(table)))
        .collect()
}
