//! Runs one projection: keeps its live generation up to date with the log,
//! builds a new generation when its code version changes or a rebuild is
//! asked for, and stops at an event it cannot apply.
//!
//! It reads the log through an [`EventSource`]: the store in process
//! ([`ProjectionRunner::new`]) or, in another process, a bus that delivers
//! the log ([`ProjectionRunner::from_source`]). Whatever the source, the
//! checkpoint committed with the rows is where reading resumes, so a source
//! that delivers at least once still has each event take effect once; the
//! source is told of each commit only after it.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use futures::future::OptionFuture;
use steward_events::{EventSource, EventStore, Position, RecordedEvent, StoreSource};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use crate::catalog::{self, Generation, GenerationState, Request};
use crate::db::{Dialect, ReadDb};
use crate::error::{ApplyError, ProjectionError};
use crate::metrics::ProjectionMetrics;
use crate::projection::{ApplyContext, Projection};

/// How a runner batches and how often it looks for requests.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// The most events applied in one transaction. While catching up every
    /// transaction is this full; live, events come one at a time.
    pub max_batch: usize,
    /// How often a running projection looks for rebuild and retry requests
    /// and tidies up retired generations.
    pub housekeeping_every: Duration,
    /// How long a retired generation's tables are kept for readers that
    /// looked the live one up just before a swap.
    pub retired_grace: Duration,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            max_batch: 500,
            housekeeping_every: Duration::from_secs(1),
            retired_grace: Duration::from_secs(60),
        }
    }
}

/// Why following the log ended.
enum Followed {
    Stopped,
    /// A rebuilt generation is live now.
    Swapped,
    Failed,
}

type BuildResult = Result<Generation, ProjectionError>;

/// What applying a batch came to.
enum Batch {
    Applied(Generation),
    /// Stopped at an event; the events before it are applied.
    Failed(Generation),
}

/// Runs one projection against one event source and read-model database.
#[derive(Clone)]
pub struct ProjectionRunner {
    db: ReadDb,
    source: Arc<dyn EventSource>,
    projection: Arc<dyn Projection>,
    options: RunnerOptions,
    metrics: Option<ProjectionMetrics>,
}

impl ProjectionRunner {
    /// A runner; nothing happens until [`ProjectionRunner::run`] or
    /// [`ProjectionRunner::catch_up`].
    pub fn new(
        db: ReadDb,
        store: Arc<dyn EventStore>,
        projection: Arc<dyn Projection>,
        options: RunnerOptions,
    ) -> Self {
        Self::from_source(db, Arc::new(StoreSource::new(store)), projection, options)
    }

    /// A runner that reads the log from `source` (for instance a bus that
    /// delivers it to this process) instead of the store itself.
    pub fn from_source(
        db: ReadDb,
        source: Arc<dyn EventSource>,
        projection: Arc<dyn Projection>,
        options: RunnerOptions,
    ) -> Self {
        Self {
            db,
            source,
            projection,
            options,
            metrics: None,
        }
    }

    /// Reports progress to these metrics.
    pub fn with_metrics(mut self, metrics: ProjectionMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn name(&self) -> &'static str {
        self.projection.name()
    }

    /// Keeps the projection up to date until `stop`. Only one process may
    /// run a projection at a time: call this under its lease.
    ///
    /// Returns an error only for failures worth retrying later (the store or
    /// the database unreachable); an event the projection cannot apply
    /// stops it there, recorded, until a retry is asked for or `stop`.
    #[tracing::instrument(skip_all, fields(projection = self.name()), err)]
    pub async fn run(&self, stop: CancellationToken) -> Result<(), ProjectionError> {
        // A rebuild asked for while live is built beside the live
        // generation, which keeps following the log (see `follow`); one
        // asked for while stopped at a failure is built at once.
        let mut rebuild_now = false;
        loop {
            let current = self
                .current_generation(&stop, std::mem::take(&mut rebuild_now))
                .await?;
            if stop.is_cancelled() {
                return Ok(());
            }
            let followed = if current.state == GenerationState::Live {
                self.follow(current, &stop).await?
            } else {
                // A new generation stopped at a failure while being built;
                // readers keep the old one meanwhile.
                Followed::Failed
            };
            match followed {
                Followed::Stopped => return Ok(()),
                Followed::Swapped => {}
                Followed::Failed => {
                    if !self.wait_for_retry(&stop).await? {
                        return Ok(());
                    }
                    rebuild_now = true;
                }
            }
        }
    }

    /// Brings the projection up to date with the log as it is now, then
    /// returns its generation (for the CLI and tests; a server uses
    /// [`ProjectionRunner::run`]). Stops early at an event it cannot apply,
    /// with the failure recorded in the generation returned.
    pub async fn catch_up(&self) -> Result<Generation, ProjectionError> {
        self.catch_up_until(&CancellationToken::new()).await
    }

    /// [`ProjectionRunner::catch_up`], stopping early (between transactions)
    /// when `stop` comes. A generation still being built is then returned
    /// unfinished, and readers keep the previous one.
    pub async fn catch_up_until(
        &self,
        stop: &CancellationToken,
    ) -> Result<Generation, ProjectionError> {
        // This tries a failed event again anyway: a retry asked for is done.
        catalog::clear_request(&self.db, self.name(), Request::Retry).await?;
        let current = self.current_generation(stop, true).await?;
        if current.state == GenerationState::Live {
            // Live already: what came since.
            return self.build_until_caught_up(current, stop).await;
        }
        self.build_and_promote(current, stop).await
    }

    /// The live generation, after building a new one first if there is none
    /// yet, its version is not this code's, or (with `honour_requests`) a
    /// rebuild was asked for. If `stop` comes during a build, the
    /// unfinished generation is returned.
    async fn current_generation(
        &self,
        stop: &CancellationToken,
        honour_requests: bool,
    ) -> Result<Generation, ProjectionError> {
        let live = catalog::live(&self.db, self.name()).await?;
        let rebuild = honour_requests
            && catalog::is_requested(&self.db, self.name(), Request::Rebuild).await?;
        if let Some(live) = &live
            && live.version == i64::from(self.projection.version())
            && !rebuild
        {
            return Ok(live.clone());
        }
        // A new version cannot update the old tables: they keep serving as
        // they are until the new generation is live.
        let building = self.building_generation().await?;
        self.build_and_promote(building, stop).await
    }

    /// Builds `generation` until it is live: events appended between its
    /// last page and the swap are applied before trying again. Returns it
    /// unfinished if it stopped at a failure or `stop` came.
    async fn build_and_promote(
        &self,
        mut generation: Generation,
        stop: &CancellationToken,
    ) -> Result<Generation, ProjectionError> {
        loop {
            let built = self.build_until_caught_up(generation, stop).await?;
            generation = self.promote_if_caught_up(built).await?;
            if generation.state == GenerationState::Live
                || generation.failure.is_some()
                || stop.is_cancelled()
            {
                return Ok(generation);
            }
        }
    }

    /// A generation of this code version being built: the one a stop
    /// interrupted, or a new one. Builds of other versions are dropped.
    async fn building_generation(&self) -> Result<Generation, ProjectionError> {
        let version = i64::from(self.projection.version());
        let mut building = None;
        for generation in catalog::generations(&self.db, self.name())
            .await?
            .into_iter()
            .filter(|generation| generation.state == GenerationState::Building)
        {
            if generation.version == version && building.is_none() {
                building = Some(generation);
            } else {
                self.discard(&generation).await?;
            }
        }
        let building = match building {
            Some(building) => building,
            None => self.create_generation().await?,
        };
        tracing::info!(
            generation = building.generation,
            version,
            "building the projection from the beginning of the log"
        );
        Ok(building)
    }

    /// Makes a generation being built live once it has caught up with the
    /// log. Until then (or while it is stopped at a failure) readers keep
    /// the previous one.
    async fn promote_if_caught_up(
        &self,
        generation: Generation,
    ) -> Result<Generation, ProjectionError> {
        if generation.state != GenerationState::Building
            || generation.failure.is_some()
            || !self.caught_up(&generation).await?
        {
            return Ok(generation);
        }
        let tables = generation.tables();
        let mut statements = self.projection.create_indexes(self.db.dialect(), &tables);
        if self.db.dialect() == Dialect::Postgres {
            // Statistics for the planner before the first reader comes:
            // without them PostgreSQL guesses from an empty table and may
            // pick a plan that scans a whole category for one stream.
            // Autovacuum keeps them fresh from there.
            // Not every logical table exists in every dialect (the text
            // index is SQLite's own), hence the check.
            statements.extend(self.projection.tables().iter().map(|table| {
                let name = tables.name(table);
                format!(
                    "DO $$ BEGIN IF to_regclass('{name}') IS NOT NULL \
                     THEN ANALYZE {name}; END IF; END $$"
                )
            }));
        }
        let live = catalog::promote(&self.db, &generation, statements).await?;
        tracing::info!(generation = live.generation, "the new generation is live");
        Ok(live)
    }

    async fn create_generation(&self) -> Result<Generation, ProjectionError> {
        let projection = self.projection.as_ref();
        let dialect = self.db.dialect();
        catalog::create_generation(&self.db, self.name(), projection.version(), |tables| {
            (
                crate::drop_statements(projection, tables),
                projection.create(dialect, tables),
            )
        })
        .await
    }

    async fn discard(&self, generation: &Generation) -> Result<(), ProjectionError> {
        let drop = crate::drop_statements(self.projection.as_ref(), &generation.tables());
        catalog::discard(&self.db, generation, drop).await
    }

    /// Applies stored events page by page until a page comes back empty.
    async fn build_until_caught_up(
        &self,
        mut generation: Generation,
        stop: &CancellationToken,
    ) -> Result<Generation, ProjectionError> {
        while !stop.is_cancelled() {
            let page = self
                .source
                .read_after(generation.position, self.options.max_batch)
                .await?;
            if page.is_empty() {
                break;
            }
            match self.apply_batch(generation, &page).await? {
                Batch::Applied(next) => generation = next,
                Batch::Failed(failed) => return Ok(failed),
            }
        }
        Ok(generation)
    }

    async fn caught_up(&self, generation: &Generation) -> Result<bool, ProjectionError> {
        Ok(self
            .source
            .read_after(generation.position, 1)
            .await?
            .is_empty())
    }

    /// Applies new events to the live generation as they commit. A rebuild
    /// asked for meanwhile is built beside it, while it keeps following the
    /// log, and swapped in once it has caught up.
    async fn follow(
        &self,
        mut live: Generation,
        stop: &CancellationToken,
    ) -> Result<Followed, ProjectionError> {
        // A failure recorded before is tried again: the code may be fixed.
        let subscription = self.source.follow(live.position);
        let acknowledge = subscription.acknowledge;
        let mut events = subscription.events.ready_chunks(self.options.max_batch);
        let mut housekeeping = tokio::time::interval(self.options.housekeeping_every);
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The new generation is built in a task of its own: on SQLite, a
        // build's transaction polled from this loop would hold the write
        // lock while the live generation waits for it. Whatever ends this
        // loop ends the build too, so two builds never write one generation.
        let mut rebuilding: Option<AbortOnDropHandle<BuildResult>> = None;
        // A rebuild that stopped at an event waits for a retry request.
        let mut rebuild_failed = false;
        loop {
            tokio::select! {
                () = stop.cancelled() => return Ok(Followed::Stopped),
                _ = housekeeping.tick() => {
                    if rebuilding.is_none() && self.rebuild_due(&mut rebuild_failed).await? {
                        let building = self.building_generation().await?;
                        rebuilding = Some(self.spawn_build(building, stop));
                    }
                    self.drop_retired().await?;
                    self.report(&live).await;
                }
                Some(built) = OptionFuture::from(rebuilding.as_mut()), if rebuilding.is_some() => {
                    rebuilding = None;
                    let built = built.map_err(|error| {
                        ProjectionError::Store(steward_events::StoreError::backend(error))
                    })??;
                    if built.failure.is_some() {
                        rebuild_failed = true;
                        continue;
                    }
                    // Nothing is applied to the live generation meanwhile:
                    // this arm holds the loop.
                    let promoted = self.promote_if_caught_up(built).await?;
                    if promoted.state == GenerationState::Live {
                        return Ok(Followed::Swapped);
                    }
                    // Events came in since its last page: a little more.
                    rebuilding = Some(self.spawn_build(promoted, stop));
                }
                chunk = events.next() => {
                    let Some(chunk) = chunk else {
                        return Err(ProjectionError::Store(steward_events::StoreError::backend(
                            SubscriptionEnded,
                        )));
                    };
                    let mut batch = Vec::with_capacity(chunk.len());
                    let mut broken = None;
                    for event in chunk {
                        match event {
                            Ok(event) => batch.push(event),
                            Err(error) => {
                                broken = Some(error);
                                break;
                            }
                        }
                    }
                    match self.apply_batch(live, &batch).await? {
                        Batch::Applied(next) => live = next,
                        Batch::Failed(_) => return Ok(Followed::Failed),
                    }
                    // Only now is the batch durable. A lost acknowledgement
                    // costs a redelivery, which the source skips: the
                    // checkpoint, not the acknowledgement, says what is applied.
                    if !batch.is_empty()
                        && let Err(error) = acknowledge.acknowledge(live.position).await
                    {
                        tracing::warn!(%error, position = %live.position, "could not acknowledge applied events");
                    }
                    if let Some(error) = broken {
                        return Err(error.into());
                    }
                }
            }
        }
    }

    /// Builds `generation` until it has caught up, in a task of its own.
    fn spawn_build(
        &self,
        generation: Generation,
        stop: &CancellationToken,
    ) -> AbortOnDropHandle<BuildResult> {
        let builder = self.clone();
        let stop = stop.child_token();
        AbortOnDropHandle::new(tokio::spawn(async move {
            builder.build_until_caught_up(generation, &stop).await
        }))
    }

    /// Whether to start building a new generation now: a rebuild is asked
    /// for and the last attempt did not fail (or a retry is asked for).
    async fn rebuild_due(&self, failed: &mut bool) -> Result<bool, ProjectionError> {
        if !catalog::is_requested(&self.db, self.name(), Request::Rebuild).await? {
            return Ok(false);
        }
        if *failed {
            if !catalog::is_requested(&self.db, self.name(), Request::Retry).await? {
                return Ok(false);
            }
            catalog::clear_request(&self.db, self.name(), Request::Retry).await?;
            *failed = false;
        }
        Ok(true)
    }

    /// Parks a failed projection until a retry or rebuild is asked for;
    /// `false` if stopped instead.
    async fn wait_for_retry(&self, stop: &CancellationToken) -> Result<bool, ProjectionError> {
        let failed_at = catalog::generations(&self.db, self.name())
            .await?
            .iter()
            .filter_map(|generation| generation.failure.as_ref().map(|failure| failure.at))
            .max();
        let every = self.options.housekeeping_every;
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                () = stop.cancelled() => return Ok(false),
                _ = ticks.tick() => {
                    // A rebuild asked for before this failure already failed.
                    let rebuild = catalog::requested_at(&self.db, self.name(), Request::Rebuild).await?;
                    if rebuild.is_some_and(|at| failed_at.is_none_or(|failed| at > failed)) {
                        return Ok(true);
                    }
                    if catalog::is_requested(&self.db, self.name(), Request::Retry).await? {
                        catalog::clear_request(&self.db, self.name(), Request::Retry).await?;
                        tracing::info!("retrying the event the projection stopped at");
                        return Ok(true);
                    }
                }
            }
        }
    }

    /// Applies `events` and moves the checkpoint in one transaction. If one
    /// event cannot be applied, those before it are applied and the failure
    /// is recorded; a transient failure is returned as an error instead.
    async fn apply_batch(
        &self,
        generation: Generation,
        events: &[RecordedEvent],
    ) -> Result<Batch, ProjectionError> {
        if events.is_empty() {
            return Ok(Batch::Applied(generation));
        }
        let started = std::time::Instant::now();
        let (index, error) = match self.try_apply(&generation, events).await? {
            Ok(next) => {
                if let Some(metrics) = &self.metrics {
                    metrics.applied(self.name(), events.len(), started.elapsed());
                }
                return Ok(Batch::Applied(next));
            }
            Err(failed) => failed,
        };
        if error.is_transient() {
            return Err(match error {
                ApplyError::Database(error) => ProjectionError::Database(error),
                other => ProjectionError::Database(sqlx::Error::Protocol(other.to_string())),
            });
        }
        let mut generation = generation;
        if index > 0 {
            match self.try_apply(&generation, &events[..index]).await? {
                Ok(next) => generation = next,
                Err((_, error)) => {
                    // The same events applied a moment ago: the database
                    // is what changed.
                    return Err(ProjectionError::Database(sqlx::Error::Protocol(
                        error.to_string(),
                    )));
                }
            }
        }
        let event = &events[index];
        tracing::error!(
            position = %event.global_position,
            event_id = %event.event_id,
            event_type = %event.event_type,
            %error,
            "the projection stopped at an event it cannot apply"
        );
        if let Some(metrics) = &self.metrics {
            metrics.failed(self.name());
        }
        let failed =
            catalog::record_failure(&self.db, &generation, event, &error.to_string()).await?;
        Ok(Batch::Failed(failed))
    }

    /// One transaction: apply every event, then move the checkpoint. The
    /// inner error names the index of the event that could not be applied.
    async fn try_apply(
        &self,
        generation: &Generation,
        events: &[RecordedEvent],
    ) -> Result<Result<Generation, (usize, ApplyError)>, ProjectionError> {
        let tables = generation.tables();
        let cx = ApplyContext {
            tables: &tables,
            dialect: self.db.dialect(),
        };
        let mut tx = self.db.begin_write().await?;
        catalog::claim(&mut tx, generation).await?;
        if let Err(error) = self.projection.apply_batch(&mut tx, cx, events).await {
            tx.rollback().await?;
            if error.is_transient() || events.len() == 1 {
                return Ok(Err((0, error)));
            }
            // Which event? One at a time, in a transaction of their own.
            tx = self.db.begin_write().await?;
            catalog::claim(&mut tx, generation).await?;
            for (index, event) in events.iter().enumerate() {
                if let Err(error) = self.projection.apply(&mut tx, cx, event).await {
                    tx.rollback().await?;
                    return Ok(Err((index, error)));
                }
            }
            tracing::warn!(
                events = events.len(),
                %error,
                "a batch failed that applies event by event: keeping the latter"
            );
        }
        // The exactly-once tests crash the process here: read model
        // written, checkpoint not yet.
        fail::fail_point!("projection-before-checkpoint", |_| std::process::abort());
        let next = catalog::advance(&mut tx, generation, events).await?;
        tx.commit().await?;
        Ok(Ok(next))
    }

    /// Drops retired generations nobody can still be reading.
    async fn drop_retired(&self) -> Result<(), ProjectionError> {
        let grace = chrono::Duration::from_std(self.options.retired_grace).unwrap_or_default();
        for generation in catalog::generations(&self.db, self.name()).await? {
            if generation.state == GenerationState::Retired
                && generation.updated_at + grace < Utc::now()
            {
                self.discard(&generation).await?;
            }
        }
        Ok(())
    }

    async fn report(&self, live: &Generation) {
        let Some(metrics) = &self.metrics else { return };
        match self.source.head().await {
            Ok(head) => metrics.position(self.name(), live, head.unwrap_or(Position::ORIGIN)),
            Err(error) => tracing::warn!(%error, "could not read the log's head for metrics"),
        }
    }
}

/// The subscription to the log ended, which it never does while the store
/// is up.
#[derive(Debug, thiserror::Error)]
#[error("the subscription to the event log ended")]
struct SubscriptionEnded;
