//! What a projection is: a name, a code version, tables, and how one event
//! changes them.

use async_trait::async_trait;
use sqlx::AnyConnection;
use steward_events::RecordedEvent;

use crate::db::Dialect;
use crate::error::ApplyError;
use crate::tables::Tables;

/// Where an event is being applied.
#[derive(Debug, Clone, Copy)]
pub struct ApplyContext<'a> {
    /// The copy of the projection's tables being written.
    pub tables: &'a Tables,
    /// The SQL the database speaks.
    pub dialect: Dialect,
}

/// A read model built from the event log.
///
/// The runner calls [`Projection::apply`] for every event in global order,
/// inside the transaction that also moves the projection's checkpoint, so
/// `apply` must do all its work on the connection it is given and nothing
/// else (no other connection, no network): then each event takes effect
/// exactly once. Events it has no use for are simply ignored.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Its unique name, e.g. `timeline`.
    fn name(&self) -> &'static str;

    /// Its code version. Changing it (new columns, a different reading of
    /// some event) makes the runner rebuild it from the beginning, beside
    /// the old tables, which keep serving until the new ones catch up.
    fn version(&self) -> u32;

    /// The logical names of its tables, so a copy of them can be dropped.
    fn tables(&self) -> &'static [&'static str];

    /// The statements that create one copy of its tables (and the indexes
    /// its `apply` needs to find rows).
    fn create(&self, dialect: Dialect, tables: &Tables) -> Vec<String>;

    /// Indexes only readers need, created when a new copy has caught up
    /// with the log, just before readers get it: building an index over a
    /// million rows at once is much faster than keeping it up to date while
    /// they go in one batch at a time.
    fn create_indexes(&self, _dialect: Dialect, _tables: &Tables) -> Vec<String> {
        Vec::new()
    }

    /// Applies one event to the tables in `cx`.
    async fn apply(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        event: &RecordedEvent,
    ) -> Result<(), ApplyError>;

    /// Applies consecutive events, in order, as [`Projection::apply`] would
    /// one by one. Projections that see every event (or many) override it
    /// with multi-row statements: one round trip per batch instead of one
    /// per event is what makes rebuilds fast. If it fails, the runner finds
    /// the event at fault by applying the batch one event at a time.
    async fn apply_batch(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), ApplyError> {
        for event in events {
            self.apply(connection, cx, event).await?;
        }
        Ok(())
    }
}
