//! The read-model database: PostgreSQL or SQLite behind one pool, so that
//! every projection is written once and runs on both.

use std::str::FromStr;

use std::sync::Arc;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};
use tokio::sync::OwnedMutexGuard;

use crate::error::ProjectionError;

/// Which SQL the read-model database speaks, for the few statements that
/// differ (full-text search, upserts of generated columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

/// A position or count as stored: both dialects have signed 64-bit integers
/// only (no position comes near the top of the range).
pub(crate) fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored position or count read back.
pub(crate) fn from_sql_int(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A stored instant (milliseconds since the Unix epoch) read back; the
/// epoch if out of range, which no stored value is.
pub(crate) fn instant(millis: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

impl Dialect {
    /// The `VALUES` list of a multi-row insert: `($1, $2), ($3, $4)` for
    /// `rows` rows of `columns` parameters, the statement's only ones.
    ///
    /// SQLite gets anonymous `?`s, bound in the same order: it keeps `$n`
    /// as names and sqlx looks each one up in that list as it binds, so a
    /// statement of 3,000 numbered parameters took quadratic time.
    pub fn value_rows(self, rows: usize, columns: usize) -> String {
        let mut text = String::with_capacity(rows * columns * 6);
        for row in 0..rows {
            text.push_str(if row == 0 { "(" } else { ", (" });
            for column in 0..columns {
                if column > 0 {
                    text.push_str(", ");
                }
                match self {
                    Dialect::Sqlite => text.push('?'),
                    Dialect::Postgres => {
                        text.push('$');
                        text.push_str(&(row * columns + column + 1).to_string());
                    }
                }
            }
            text.push(')');
        }
        text
    }
}

/// A connection pool to the read-model database, with its catalog in place.
#[derive(Debug, Clone)]
pub struct ReadDb {
    pool: AnyPool,
    dialect: Dialect,
    /// SQLite has one writer at a time, and its busy handler lets whoever
    /// retries at the right moment win: a projection rebuilding batch after
    /// batch would starve the others. Writers of this process queue here,
    /// first come first served.
    writers: Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction, holding this process's turn to write on SQLite.
/// Dereferences to the connection; commit or roll back as a transaction.
pub struct WriteTransaction {
    tx: Transaction<'static, Any>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTransaction {
    /// Commits, then lets the next writer go.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Rolls back, then lets the next writer go.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for WriteTransaction {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTransaction {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

impl ReadDb {
    /// Connects to `url` (`postgres://…`, or `sqlite://path`, created if
    /// missing) and brings its catalog up to date.
    pub async fn connect(url: &str) -> Result<Self, ProjectionError> {
        let dialect = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::Postgres
        } else if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else {
            return Err(ProjectionError::UnsupportedUrl {
                url: url.to_owned(),
            });
        };
        install_default_drivers();
        let url = match dialect {
            Dialect::Sqlite if !url.contains("mode=") => {
                let separator = if url.contains('?') { '&' } else { '?' };
                format!("{url}{separator}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = sqlx::any::AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // Durable at checkpoints rather than per commit, as
                        // the event store does: a read model can be rebuilt.
                        connection.execute("PRAGMA synchronous = NORMAL").await?;
                        // Projections take turns writing; a catching-up one
                        // holds the lock for a whole batch.
                        connection.execute("PRAGMA busy_timeout = 30000").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        if dialect == Dialect::Sqlite {
            // Readers beside the one writer; the mode sticks to the file.
            pool.execute("PRAGMA journal_mode = WAL").await?;
        }
        let db = Self {
            pool,
            dialect,
            writers: Arc::new(tokio::sync::Mutex::new(())),
        };
        db.migrate().await?;
        Ok(db)
    }

    /// The pool, for queries on read models.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction that will write. On SQLite it takes the write
    /// lock at once (`BEGIN IMMEDIATE`): a transaction that reads first and
    /// writes later fails outright, without waiting, if another writer
    /// committed in between, and several projections write side by side.
    pub async fn begin_write(&self) -> Result<WriteTransaction, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => {
                let turn = Arc::clone(&self.writers).lock_owned().await;
                Ok(WriteTransaction {
                    tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _turn: Some(turn),
                })
            }
            Dialect::Postgres => {
                let mut tx = self.pool.begin().await?;
                // A crash may lose the last commits, but rows and checkpoint
                // go together: the runner applies those events again. So
                // no commit needs to wait for its WAL flush.
                tx.execute("SET LOCAL synchronous_commit = off").await?;
                Ok(WriteTransaction { tx, _turn: None })
            }
        }
    }

    /// The SQL the database speaks.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    async fn migrate(&self) -> Result<(), ProjectionError> {
        // The read models may share a PostgreSQL database with the event
        // store, whose migrations keep sqlx's default table.
        const TABLE: &str = "_steward_read_model_migrations";
        let mut migrator = match self.dialect {
            Dialect::Postgres => sqlx::migrate!("../schemas/read-models/postgres"),
            Dialect::Sqlite => sqlx::migrate!("../schemas/read-models/sqlite"),
        };
        migrator.dangerous_set_table_name(TABLE);
        migrator.run(&self.pool).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_rows_number_parameters_in_binding_order() {
        assert_eq!(Dialect::Postgres.value_rows(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(Dialect::Sqlite.value_rows(2, 3), "(?, ?, ?), (?, ?, ?)");
    }
}
