//! `steward serve`: the long-running process.

use std::time::Duration;

use steward_bus::{Relay, RelayConfig};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Failure;
use crate::config::Config;
use crate::open::Opened;

/// Hosts Steward's workers until interrupted (Ctrl-C or SIGTERM): today the
/// NATS relay, when `nats_url` is configured.
pub(super) async fn run(config: &Config, opened: Opened) -> Result<(), Failure> {
    let shutdown = CancellationToken::new();
    let head = steward_events::EventStore::head(&opened.store).await?;
    tracing::info!(
        head = %head.map_or_else(|| "empty".to_owned(), |p| p.to_string()),
        "steward is running"
    );
    let mut workers = JoinSet::new();
    match &config.nats_url {
        Some(url) => {
            let relay_config = RelayConfig {
                nats_url: url.clone(),
                stream_name: config.nats_stream.clone(),
                subject_prefix: config.nats_subject_prefix.clone(),
                ..RelayConfig::default()
            };
            let relay = Relay::new(opened.store.log().clone(), relay_config);
            let token = shutdown.clone();
            workers.spawn(async move {
                (
                    "nats relay",
                    relay.run(token).await.map_err(anyhow::Error::from),
                )
            });
        }
        None => tracing::info!("no nats_url configured: events stay in process"),
    }

    // A worker ends on its own only when it cannot go on: then so does serve.
    let failed = tokio::select! {
        () = wait_for_signal() => None,
        Some(ended) = workers.join_next() => Some(report(ended)),
    };
    tracing::info!("stopping");
    shutdown.cancel();
    // Give workers a moment to finish what they are doing, then go.
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(ended) = workers.join_next().await {
            report(ended);
        }
    })
    .await;
    tracing::info!("steward stopped");
    match failed {
        Some(reason) => Err(Failure::Other(anyhow::anyhow!(reason))),
        None => Ok(()),
    }
}

/// Logs why a worker ended, and says it in one line.
fn report(ended: Result<(&'static str, anyhow::Result<()>), tokio::task::JoinError>) -> String {
    match ended {
        Ok((worker, Ok(()))) => {
            tracing::info!(worker, "worker stopped");
            format!("the {worker} stopped")
        }
        Ok((worker, Err(error))) => {
            let error = format!("{error:#}");
            tracing::error!(worker, %error, "worker failed");
            format!("the {worker} failed: {error}")
        }
        Err(error) => {
            tracing::error!(%error, "worker panicked");
            format!("a worker panicked: {error}")
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
