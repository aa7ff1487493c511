//! The inbox as sagas read it: the threads with some correspondents, from
//! the inbox read model, as of the event a saga reacts to.
//!
//! A read model lags the log. [`ReadModelInbox`] waits (up to its patience)
//! for the inbox projection to have applied the triggering event, so that
//! the answer includes every message recorded before it; a projection that
//! stays behind longer (stopped at an event it cannot apply) is read as it
//! is, with a warning, rather than holding the saga up for good.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use steward_actors::saga::{BriefingConfig, InboxThread, MeetingBriefing, ThreadsQuery};
use steward_events::Position;
use steward_projections::read_models::inbox::{self, ThreadsWith};
use steward_projections::{Generation, ProjectionError, ReadDb, catalog};
use steward_store_core::Store;

use super::saga::SagaWorker;
use crate::error::HostError;
use crate::host::Host;

/// Why the inbox could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The read-model database failed.
    #[error(transparent)]
    ReadModel(#[from] ProjectionError),
    /// The inbox projection has not been built yet.
    #[error("the inbox read model is not built yet")]
    NotBuilt,
}

/// What a saga may ask of the inbox.
#[async_trait]
pub trait InboxLookup: Send + Sync {
    /// The threads `query` asks for, newest first, as of the log up to
    /// `as_of` at least.
    async fn threads_with(
        &self,
        query: &ThreadsQuery,
        as_of: Position,
    ) -> Result<Vec<InboxThread>, LookupError>;
}

/// The inbox read model, as sagas read it.
#[derive(Debug, Clone)]
pub struct ReadModelInbox {
    db: ReadDb,
    patience: Duration,
}

impl ReadModelInbox {
    /// The projection it reads.
    pub const PROJECTION: &'static str = "inbox";

    /// Reads the inbox in `db`, waiting up to 30 seconds for it to catch up.
    pub fn new(db: ReadDb) -> Self {
        Self {
            db,
            patience: Duration::from_secs(30),
        }
    }

    /// Waits up to `patience` for the inbox to catch up before reading it
    /// as it is.
    pub fn with_patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }

    /// The live generation once it has applied `as_of`, or as it is when
    /// patience runs out.
    async fn caught_up(&self, as_of: Position) -> Result<Generation, LookupError> {
        let deadline = tokio::time::Instant::now() + self.patience;
        let mut pause = Duration::from_millis(20);
        loop {
            let live = catalog::live(&self.db, Self::PROJECTION).await?;
            let late = tokio::time::Instant::now() >= deadline;
            match live {
                Some(generation) if generation.position >= as_of => return Ok(generation),
                Some(generation) if late => {
                    tracing::warn!(
                        applied = %generation.position,
                        wanted = %as_of,
                        "the inbox read model is behind; reading it as it is"
                    );
                    return Ok(generation);
                }
                None if late => return Err(LookupError::NotBuilt),
                _ => {}
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }
}

#[async_trait]
impl InboxLookup for ReadModelInbox {
    #[tracing::instrument(skip_all, fields(correspondents = query.correspondents.len(), %as_of), err)]
    async fn threads_with(
        &self,
        query: &ThreadsQuery,
        as_of: Position,
    ) -> Result<Vec<InboxThread>, LookupError> {
        let generation = self.caught_up(as_of).await?;
        let found = inbox::threads_with(
            &self.db,
            &generation.tables(),
            &ThreadsWith {
                correspondents: query.correspondents.clone(),
                since: query.since,
                limit: query.limit,
            },
        )
        .await?;
        Ok(found
            .into_iter()
            .map(|thread| InboxThread {
                account: thread.account,
                thread_id: thread.thread_id,
                subject: thread.subject,
                correspondents: thread.correspondents,
                messages: thread.messages,
                last_message_at: thread.last_message_at,
                awaiting_reply: thread.awaiting_reply,
            })
            .collect())
    }
}

/// The runner of the meeting briefing saga, configured by `config`,
/// sending through `host` and reading the inbox from the read models in
/// `read_models`.
pub fn meeting_briefing_worker(
    config: BriefingConfig,
    host: Host,
    store: Store,
    read_models: ReadDb,
) -> Result<SagaWorker, HostError> {
    let saga = Arc::new(MeetingBriefing::new(config));
    Ok(SagaWorker::new(saga, host, store)?.with_inbox(Arc::new(ReadModelInbox::new(read_models))))
}
