//! The timer worker: knows every pending timer (from the log) and sends
//! each one's command when it falls due by the host's clock, then records
//! the firing on the timer.
//!
//! At least once: a timer is pending until its `TimerFired` is in the log,
//! so a worker that stops between sending the command and recording the
//! firing sends it again after a restart, under the same command id, which
//! the target recognises and answers with its first result.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde_json::json;
use steward_actors::CommandEnvelope;
use steward_events::domain::DomainEvent as _;
use steward_events::domain::timers::{TimerCancelled, TimerFired, TimerScheduled};
use steward_events::{EventStore, Position, RecordedEvent, StoreError, StreamId};
use steward_store_core::Store;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{send_patiently, settled};
use crate::error::HostError;
use crate::host::Host;

/// A timer waiting to fire, with what its commands carry.
#[derive(Debug, Clone)]
struct Pending {
    scheduled: TimerScheduled,
    event_id: Uuid,
    correlation_id: Uuid,
}

/// Sends timers' commands when they fall due.
pub struct TimerWorker {
    host: Host,
    store: Store,
}

impl TimerWorker {
    /// The lease the worker runs under.
    pub const LEASE: &'static str = "timers";

    /// A worker sending through `host` (whose clock says when timers are due).
    pub fn new(host: Host, store: Store) -> Self {
        Self { host, store }
    }

    /// Runs until `stop`, or until the store fails. It reads the whole log
    /// first (timers are found from their events), and fires nothing before
    /// it has read up to where the log stood when it started, so that it
    /// never fires a timer cancelled or fired meanwhile.
    pub async fn run(&self, stop: CancellationToken) -> Result<(), HostError> {
        let clock = self.host.clock().clone();
        let caught_up_at = self.store.head().await?.unwrap_or(Position::ORIGIN);
        let mut caught_up = caught_up_at == Position::ORIGIN;
        let mut pending: HashMap<String, Pending> = HashMap::new();
        let mut events = self.store.subscribe_all(Position::ORIGIN);
        loop {
            let next_due = pending.values().map(|p| p.scheduled.due_at).min();
            let wake = async {
                match next_due {
                    Some(due) if caught_up => clock.sleep_until(due).await,
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = stop.cancelled() => return Ok(()),
                next = events.next() => {
                    let event = match next {
                        Some(event) => event?,
                        None => return Ok(()),
                    };
                    caught_up |= event.global_position >= caught_up_at;
                    track(&mut pending, &event)?;
                }
                () = wake => {
                    let now = clock.now();
                    let mut due: Vec<Pending> = pending
                        .values()
                        .filter(|p| p.scheduled.due_at <= now)
                        .cloned()
                        .collect();
                    due.sort_by_key(|p| p.scheduled.due_at);
                    for timer in due {
                        // The lease may have been lost meanwhile: then the
                        // next holder fires the rest.
                        if stop.is_cancelled() || !self.fire(&timer, &stop).await? {
                            return Ok(());
                        }
                        pending.remove(&timer.scheduled.timer_id);
                    }
                }
            }
        }
    }

    /// Sends the timer's command, then records the firing. False if
    /// stopped meanwhile.
    async fn fire(&self, timer: &Pending, stop: &CancellationToken) -> Result<bool, HostError> {
        let scheduled = &timer.scheduled;
        let due = due_tag(scheduled.due_at);
        let command = CommandEnvelope {
            command_id: format!("timer:{}:{due}", scheduled.timer_id),
            stream_id: scheduled.target.clone(),
            command_type: scheduled.command_type.clone(),
            data: scheduled.data.clone(),
            correlation_id: Some(timer.correlation_id),
            causation_id: Some(timer.event_id),
            actor: "system:timers".to_owned(),
        };
        let Some(answer) = send_patiently(&self.host, command, stop).await else {
            return Ok(false);
        };
        let outcome = settled(answer)?;
        tracing::info!(timer = %scheduled.timer_id, target = %scheduled.target, %outcome, "timer fired");
        let fired = CommandEnvelope {
            command_id: format!("timer-fired:{}:{due}", scheduled.timer_id),
            stream_id: StreamId::parse(format!("timer-{}", scheduled.timer_id))
                .map_err(StoreError::from)?,
            command_type: "Fire".to_owned(),
            data: json!({ "outcome": outcome, "due_at": scheduled.due_at }),
            correlation_id: Some(timer.correlation_id),
            causation_id: Some(timer.event_id),
            actor: "system:timers".to_owned(),
        };
        match send_patiently(&self.host, fired, stop).await {
            None => Ok(false),
            Some(answer) => {
                // A timer moved meanwhile refuses or ignores this firing;
                // the worker sees the move in the log and fires it anew.
                let recorded = settled(answer)?;
                if recorded.starts_with("rejected") {
                    tracing::info!(timer = %scheduled.timer_id, %recorded, "the timer changed while firing");
                }
                Ok(true)
            }
        }
    }
}

/// A due instant as it goes into command ids.
fn due_tag(due_at: DateTime<Utc>) -> String {
    due_at.timestamp_millis().to_string()
}

/// Keeps `pending` up to date with one event of the log.
fn track(pending: &mut HashMap<String, Pending>, event: &RecordedEvent) -> Result<(), HostError> {
    if event.stream_id.category() != "timer" {
        return Ok(());
    }
    let unreadable = |error: steward_events::domain::DecodeError| HostError::Unreadable {
        stream: event.stream_id.clone(),
        version: event.stream_version,
        reason: error.to_string(),
    };
    match event.event_type.as_str() {
        TimerScheduled::EVENT_TYPE => {
            let scheduled: TimerScheduled = event.to_domain().map_err(unreadable)?;
            pending.insert(
                scheduled.timer_id.clone(),
                Pending {
                    scheduled,
                    event_id: event.event_id,
                    correlation_id: event.metadata.correlation_id,
                },
            );
        }
        TimerFired::EVENT_TYPE => {
            let fired: TimerFired = event.to_domain().map_err(unreadable)?;
            pending.remove(&fired.timer_id);
        }
        TimerCancelled::EVENT_TYPE => {
            let cancelled: TimerCancelled = event.to_domain().map_err(unreadable)?;
            pending.remove(&cancelled.timer_id);
        }
        _ => {}
    }
    Ok(())
}
