//! Waking subscribers: in this process at once, in others through NOTIFY.
//!
//! NOTIFY is never sent inside an append's transaction (it would serialise
//! every commit on PostgreSQL's notification lock). After an append commits
//! the store ticks its [`CommitNotifier`] and pokes the notifier task, which
//! sends one `pg_notify` for however many appends poked it meanwhile. The
//! listener task LISTENs on its own connection and ticks the notifier for
//! every notification from another store handle (each handle tags its own
//! with a random instance id, to skip its echoes), and after every reconnect,
//! since notifications sent meanwhile are lost. Subscribers poll as well, so a
//! lost tick only delays them.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use steward_store_core::CommitNotifier;
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::error::PostgresError;

/// The channel every store handle notifies and listens on.
pub(crate) const CHANNEL: &str = "steward_events";

/// How long a background task waits after a failure, at most.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const MIN_BACKOFF: Duration = Duration::from_millis(50);

/// The running wake-up tasks; dropping this ends them.
#[derive(Debug)]
pub(crate) struct Wakeups {
    poke: Arc<Notify>,
    _stop: DropGuard,
}

impl Wakeups {
    /// Starts listening (before returning, so that no later commit of another
    /// handle goes unnoticed) and starts the notifier.
    pub(crate) async fn start(
        pool: &PgPool,
        connect: PgConnectOptions,
        commits: CommitNotifier,
    ) -> Result<Self, PostgresError> {
        let instance = uuid::Uuid::now_v7().simple().to_string();
        let stop = CancellationToken::new();
        // The listener's own one-connection pool, so it never takes one of
        // the appenders' connections; the pool reconnects it.
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_with(connect)
            .await?;
        let mut listener = PgListener::connect_with(&listen_pool).await?;
        listener.listen(CHANNEL).await?;
        tokio::spawn(listen(
            listener,
            listen_pool,
            commits,
            instance.clone(),
            stop.clone(),
        ));

        let poke = Arc::new(Notify::new());
        tokio::spawn(notify(
            pool.clone(),
            Arc::clone(&poke),
            instance,
            stop.clone(),
        ));
        Ok(Self {
            poke,
            _stop: stop.drop_guard(),
        })
    }

    /// Asks the notifier to tell other processes about a commit.
    pub(crate) fn poke(&self) {
        self.poke.notify_one();
    }
}

/// Sleeps for `backoff` unless stopped first; returns false if stopped.
async fn pause(stop: &CancellationToken, backoff: Duration) -> bool {
    tokio::select! {
        () = stop.cancelled() => false,
        () = tokio::time::sleep(backoff) => true,
    }
}

async fn listen(
    mut listener: PgListener,
    pool: PgPool,
    commits: CommitNotifier,
    instance: String,
    stop: CancellationToken,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => break,
            received = listener.try_recv() => received,
        };
        match received {
            Ok(Some(notification)) => {
                backoff = MIN_BACKOFF;
                if notification.payload() != instance {
                    commits.notify();
                }
            }
            // The connection was lost and remade: anything may have
            // committed meanwhile.
            Ok(None) => commits.notify(),
            Err(error) => {
                tracing::warn!(%error, ?backoff, "listening for commits failed; retrying");
                commits.notify();
                if !pause(&stop, backoff).await {
                    break;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    drop(listener);
    pool.close().await;
}

async fn notify(pool: PgPool, poke: Arc<Notify>, instance: String, stop: CancellationToken) {
    let mut backoff = MIN_BACKOFF;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = poke.notified() => {}
        }
        // Pokes arriving while this runs leave one permit: one more NOTIFY
        // covers them all. NOTIFY makes its transaction take an id, so its
        // commit would wait for a WAL flush like an append's, doubling the
        // flushes of a lone writer. A notification is only a hint about
        // appends already durable (a listener that misses one catches up on
        // its next read), so its commit need not wait.
        let send =
            sqlx::query("SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(&instance);
        let sent = tokio::select! {
            () = stop.cancelled() => break,
            sent = send.execute(&pool) => sent,
        };
        match sent {
            Ok(_) => backoff = MIN_BACKOFF,
            Err(error) => {
                tracing::warn!(%error, ?backoff, "notifying other processes of commits failed; retrying");
                poke.notify_one();
                if !pause(&stop, backoff).await {
                    break;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
