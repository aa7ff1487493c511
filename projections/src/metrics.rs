//! Prometheus metrics of the projections, labelled by projection.

use std::time::Duration;

use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};
use steward_events::Position;

use crate::catalog::Generation;

/// The projections' metrics.
#[derive(Debug, Clone)]
pub struct ProjectionMetrics {
    /// Events applied.
    pub events_applied: IntCounterVec,
    /// Time to apply one batch and move the checkpoint.
    pub batch_duration: HistogramVec,
    /// Times a projection stopped at an event it could not apply.
    pub failures: IntCounterVec,
    /// The live generation's checkpoint (commit position).
    pub position: IntGaugeVec,
    /// How far the checkpoint is behind the log's head, in positions.
    pub lag_events: IntGaugeVec,
    /// How long ago the newest applied event was recorded, if any is pending.
    pub lag_seconds: GaugeVec,
}

impl ProjectionMetrics {
    /// The metrics, registered in `registry`.
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let label = &["projection"];
        let metrics = Self {
            events_applied: IntCounterVec::new(
                Opts::new(
                    "steward_projection_events_applied_total",
                    "Events applied to read models",
                ),
                label,
            )?,
            batch_duration: HistogramVec::new(
                HistogramOpts::new(
                    "steward_projection_batch_duration_seconds",
                    "Time to apply a batch of events and move the checkpoint",
                )
                .buckets(prometheus::exponential_buckets(0.0005, 2.0, 14)?),
                label,
            )?,
            failures: IntCounterVec::new(
                Opts::new(
                    "steward_projection_failures_total",
                    "Times a projection stopped at an event it could not apply",
                ),
                label,
            )?,
            position: IntGaugeVec::new(
                Opts::new(
                    "steward_projection_position",
                    "The live read model's checkpoint",
                ),
                label,
            )?,
            lag_events: IntGaugeVec::new(
                Opts::new(
                    "steward_projection_lag_events",
                    "Positions between the read model's checkpoint and the log's head",
                ),
                label,
            )?,
            lag_seconds: GaugeVec::new(
                Opts::new(
                    "steward_projection_lag_seconds",
                    "Age of the last applied event while newer ones wait",
                ),
                label,
            )?,
        };
        registry.register(Box::new(metrics.events_applied.clone()))?;
        registry.register(Box::new(metrics.batch_duration.clone()))?;
        registry.register(Box::new(metrics.failures.clone()))?;
        registry.register(Box::new(metrics.position.clone()))?;
        registry.register(Box::new(metrics.lag_events.clone()))?;
        registry.register(Box::new(metrics.lag_seconds.clone()))?;
        Ok(metrics)
    }

    pub(crate) fn applied(&self, projection: &str, events: usize, took: Duration) {
        self.events_applied
            .with_label_values(&[projection])
            .inc_by(u64::try_from(events).unwrap_or(u64::MAX));
        self.batch_duration
            .with_label_values(&[projection])
            .observe(took.as_secs_f64());
    }

    pub(crate) fn failed(&self, projection: &str) {
        self.failures.with_label_values(&[projection]).inc();
    }

    pub(crate) fn position(&self, projection: &str, live: &Generation, head: Position) {
        let at = live.position.commit();
        self.position
            .with_label_values(&[projection])
            .set(i64::try_from(at).unwrap_or(i64::MAX));
        let behind = head.commit().saturating_sub(at);
        self.lag_events
            .with_label_values(&[projection])
            .set(i64::try_from(behind).unwrap_or(i64::MAX));
        let seconds = match live.last_recorded_at {
            Some(last) if behind > 0 => (chrono::Utc::now() - last).as_seconds_f64().max(0.0),
            _ => 0.0,
        };
        self.lag_seconds
            .with_label_values(&[projection])
            .set(seconds);
    }
}
