//! One process at a time runs each worker: the one holding its lease.

use std::future::Future;
use std::time::Duration;

use steward_store_core::Store;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::HostError;

/// How long a lease lasts unless renewed; it is renewed every third of it.
#[derive(Debug, Clone)]
pub struct LeaseOptions {
    /// The lease's time to live.
    pub ttl: Duration,
    /// How long to wait before running a worker again after it failed.
    pub retry_after: Duration,
}

impl Default for LeaseOptions {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(15),
            retry_after: Duration::from_secs(5),
        }
    }
}

/// Consecutive failures of a worker after which it is given up.
const MAX_FAILURES: u32 = 8;

/// A worker that failed after running this long was working: its failure
/// is the first of a new row.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Runs `work` whenever this process holds the lease `name`, until `stop`.
///
/// `work` is handed a token that is cancelled when the lease is lost (or
/// `stop` comes); it should return soon after. A failed `work` gives the
/// lease up (so another process may take over) and runs again after a
/// pause that doubles with each failure in a row; after
/// [`MAX_FAILURES`] in a row the last error is returned.
pub async fn hold_lease_and_run<F, Fut>(
    store: Store,
    name: String,
    options: LeaseOptions,
    stop: CancellationToken,
    mut work: F,
) -> Result<(), HostError>
where
    F: FnMut(CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), HostError>>,
{
    let holder = Uuid::now_v7().to_string();
    let renew_every = options.ttl / 3;
    let mut failures = 0;
    loop {
        // Wait for the lease.
        loop {
            match store.log().acquire_lease(&name, &holder, options.ttl).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(error) => tracing::warn!(lease = %name, %error, "could not ask for the lease"),
            }
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                () = tokio::time::sleep(renew_every) => {}
            }
        }
        tracing::info!(lease = %name, "holding the lease: running");
        let lost = stop.child_token();
        // Renewing runs in this task, beside the work, so that whatever
        // ends this task (a panic, an abort) ends the renewing too.
        let started = tokio::time::Instant::now();
        let working = async {
            let result = work(lost.clone()).await;
            lost.cancel();
            result
        };
        let renewing = renew(&store, &name, &holder, options.ttl, &lost);
        let (result, ()) = tokio::join!(working, renewing);
        if let Err(error) = store.log().release_lease(&name, &holder).await {
            tracing::warn!(lease = %name, %error, "could not give the lease up; it will expire");
        }
        if stop.is_cancelled() {
            return Ok(());
        }
        let pause = match result {
            Ok(()) => {
                failures = 0;
                renew_every
            }
            Err(error) => {
                // Failures count "in a row" only while the worker cannot
                // get going: one that ran well for a while starts afresh.
                if started.elapsed() >= HEALTHY_RUN {
                    failures = 0;
                }
                failures += 1;
                if failures >= MAX_FAILURES {
                    tracing::error!(lease = %name, %error, failures, "worker failed again: giving up");
                    return Err(error);
                }
                let pause = options.retry_after * 2u32.pow(failures - 1);
                tracing::error!(lease = %name, %error, ?pause, "worker failed; it runs again later");
                pause
            }
        };
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// Runs `work` once when the lease `name` is free, holding it meanwhile;
/// `None` if another process still holds it after one lease's time to live
/// (long enough for the lease of a holder that died to expire). For
/// one-off jobs (a CLI catching a read model up) that must not run beside
/// the long-running worker.
///
/// `work` is handed a token that is cancelled if the lease is lost.
pub async fn run_once_under_lease<F, Fut, T>(
    store: &Store,
    name: &str,
    options: &LeaseOptions,
    work: F,
) -> Result<Option<T>, HostError>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = T>,
{
    let holder = Uuid::now_v7().to_string();
    let give_up = tokio::time::Instant::now() + options.ttl + options.ttl / 3;
    while !store
        .log()
        .acquire_lease(name, &holder, options.ttl)
        .await
        .map_err(HostError::Store)?
    {
        if tokio::time::Instant::now() >= give_up {
            return Ok(None);
        }
        tokio::time::sleep(options.ttl / 10).await;
    }
    let lost = CancellationToken::new();
    let working = async {
        let result = work(lost.clone()).await;
        lost.cancel();
        result
    };
    let (result, ()) = tokio::join!(working, renew(store, name, &holder, options.ttl, &lost));
    if let Err(error) = store.log().release_lease(name, &holder).await {
        tracing::warn!(lease = %name, %error, "could not give the lease up; it will expire");
    }
    Ok(Some(result))
}

/// Renews the lease until it is lost or `lost` is cancelled; cancels `lost`
/// when the lease is gone or cannot be renewed before it expires.
async fn renew(store: &Store, name: &str, holder: &str, ttl: Duration, lost: &CancellationToken) {
    let every = ttl / 3;
    let mut last_renewed = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = lost.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let asked = tokio::time::Instant::now();
        // A renewal still unanswered when the lease would expire is lost.
        let left = ttl.saturating_sub(last_renewed.elapsed());
        let renewed = tokio::time::timeout(left, store.log().acquire_lease(name, holder, ttl))
            .await
            .unwrap_or_else(|_| {
                Err(steward_events::StoreError::backend(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "renewing the lease took until it expired",
                )))
            });
        match renewed {
            Ok(true) => last_renewed = asked,
            Ok(false) => {
                tracing::warn!(lease = %name, "the lease was taken over: stopping");
                lost.cancel();
                return;
            }
            Err(error) if last_renewed.elapsed() + every >= ttl => {
                tracing::warn!(lease = %name, %error, "cannot renew the lease before it expires: stopping");
                lost.cancel();
                return;
            }
            Err(error) => {
                tracing::warn!(lease = %name, %error, "could not renew the lease; trying again")
            }
        }
    }
}
