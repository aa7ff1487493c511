//! Prometheus metrics of the actor host.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

/// The host's metrics, labelled by stream category.
#[derive(Debug, Clone)]
pub struct HostMetrics {
    /// Commands handled, by category and outcome (`appended`, `unchanged`,
    /// `duplicate`, `rejected`, `conflict`, `invalid`, `failed`).
    pub commands: IntCounterVec,
    /// Time from a command reaching its actor to its answer.
    pub latency: HistogramVec,
    /// Appends that found the stream moved on and decided again.
    pub conflicts: IntCounterVec,
    /// Aggregate actors in memory.
    pub actors_alive: IntGaugeVec,
    /// Actors restarted by their supervisor after a panic.
    pub restarts: IntCounterVec,
    /// Events folded while rehydrating actors (after their snapshot).
    pub rehydrated_events: IntCounterVec,
}

impl HostMetrics {
    /// The metrics, registered in `registry`.
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self {
            commands: IntCounterVec::new(
                Opts::new(
                    "steward_commands_total",
                    "Commands handled by aggregate actors",
                ),
                &["category", "outcome"],
            )?,
            latency: HistogramVec::new(
                HistogramOpts::new(
                    "steward_command_duration_seconds",
                    "Time to handle a command in its actor",
                )
                .buckets(prometheus::exponential_buckets(0.0005, 2.0, 14)?),
                &["category"],
            )?,
            conflicts: IntCounterVec::new(
                Opts::new(
                    "steward_command_conflicts_total",
                    "Appends that lost to another writer and decided again",
                ),
                &["category"],
            )?,
            actors_alive: IntGaugeVec::new(
                Opts::new("steward_actors_alive", "Aggregate actors in memory"),
                &["category"],
            )?,
            restarts: IntCounterVec::new(
                Opts::new(
                    "steward_actor_restarts_total",
                    "Aggregate actors restarted after a panic",
                ),
                &["category"],
            )?,
            rehydrated_events: IntCounterVec::new(
                Opts::new(
                    "steward_rehydrated_events_total",
                    "Events folded while rehydrating aggregate actors",
                ),
                &["category"],
            )?,
        };
        registry.register(Box::new(metrics.rehydrated_events.clone()))?;
        registry.register(Box::new(metrics.commands.clone()))?;
        registry.register(Box::new(metrics.latency.clone()))?;
        registry.register(Box::new(metrics.conflicts.clone()))?;
        registry.register(Box::new(metrics.actors_alive.clone()))?;
        registry.register(Box::new(metrics.restarts.clone()))?;
        Ok(metrics)
    }
}
