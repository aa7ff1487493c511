//! What can go wrong while projecting, and which failures are worth retrying.

use steward_events::StoreError;
use steward_events::domain::DecodeError;

/// An error of the projection machinery.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The read-model database failed.
    #[error("read-model database: {0}")]
    Database(#[from] sqlx::Error),
    /// Its catalog could not be brought up to date.
    #[error("read-model database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The event store failed.
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    /// The read-model database URL names no database this build supports.
    #[error("unsupported read-model database URL {url:?}: use sqlite://… or postgres://…")]
    UnsupportedUrl {
        /// The URL given.
        url: String,
    },
    /// No projection has this name.
    #[error("no projection named {name:?} (known: {known})")]
    UnknownProjection {
        /// The name asked for.
        name: String,
        /// The names there are, comma-separated.
        known: String,
    },
    /// The projection has no live generation yet.
    #[error("the read model {projection} is not built yet")]
    NotBuilt {
        /// The projection.
        projection: String,
    },
    /// Another process moved this projection's checkpoint under us: two
    /// runners at once, which the lease should have prevented.
    #[error("the checkpoint of {projection} generation {generation} moved under this runner")]
    CheckpointMoved {
        /// The projection.
        projection: String,
        /// Its generation.
        generation: i64,
    },
}

/// Why a projection could not apply one event.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A read-model statement failed.
    #[error("read-model statement: {0}")]
    Database(#[from] sqlx::Error),
    /// The event does not decode as its type says.
    #[error("event does not decode: {0}")]
    Decode(#[from] DecodeError),
    /// The event is well-formed but makes no sense for this read model.
    #[error("{0}")]
    Invalid(String),
}

impl ApplyError {
    /// Whether trying the same event again later may succeed: the database
    /// was unreachable rather than the event unacceptable. Anything else
    /// stops the projection at the event, so it is never skipped silently.
    pub fn is_transient(&self) -> bool {
        match self {
            ApplyError::Database(error) => is_transient(error),
            ApplyError::Decode(_) | ApplyError::Invalid(_) => false,
        }
    }
}

/// Whether a database error is about reaching the database rather than
/// about the statement.
pub(crate) fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => match error.code().as_deref() {
            // SQLite reports extended result codes (a number): busy or
            // locked, whatever the variant (SQLITE_BUSY_SNAPSHOT is 517).
            Some(code) if code.len() < 5 => code
                .parse::<i64>()
                .is_ok_and(|code| matches!(code & 0xff, 5 | 6)),
            // PostgreSQL: serialization failure, deadlock, read-only after a
            // failover, out of resources, lock timeout, cancelled, shutting
            // down.
            Some(sqlstate) => matches!(
                sqlstate,
                "40001"
                    | "40P01"
                    | "25006"
                    | "53100"
                    | "53200"
                    | "53300"
                    | "55P03"
                    | "57014"
                    | "57P01"
                    | "57P02"
                    | "57P03"
            ),
            None => false,
        },
        _ => false,
    }
}
