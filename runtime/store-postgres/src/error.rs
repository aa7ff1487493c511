//! What can go wrong in the PostgreSQL backend.

use std::time::Duration;

use steward_events::StoreError;

/// A failure of the PostgreSQL backend. Every one reaches callers of the
/// store traits as [`StoreError::Backend`].
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// The database URL could not be parsed.
    #[error("the PostgreSQL URL is malformed: {0}")]
    Url(#[source] sqlx::Error),
    /// The migrations in `schemas/postgres/` could not be applied.
    #[error("could not migrate the PostgreSQL event store: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed (connection lost, server error…).
    #[error("a PostgreSQL query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// Appends holding the gate lock did not finish in time for a reader
    /// waiting to look past a hole in the positions.
    #[error("appends in flight held the gate for more than {0:?}; try reading again")]
    BarrierTimeout(Duration),
    /// The task running an append failed.
    #[error("the append task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The database answered something this crate did not expect.
    #[error("PostgreSQL answered unexpectedly: {0}")]
    Unexpected(String),
}

impl From<PostgresError> for StoreError {
    fn from(error: PostgresError) -> Self {
        StoreError::backend(error)
    }
}

/// A failed query as a [`StoreError`].
pub(crate) fn query_failed(error: sqlx::Error) -> StoreError {
    PostgresError::Query(error).into()
}
