//! Background workers: the timer worker and one runner per saga, each run
//! by one process at a time under a lease in the database.
//!
//! - [`hold_lease_and_run`]: runs a worker only while this process holds
//!   its lease, renewing it; a holder that dies lets it expire and another
//!   process takes over; [`run_once_under_lease`] runs a one-off job only
//!   if no one holds the lease.
//! - [`SagaWorker`]: feeds the log to a saga and sends its reactions.
//! - [`TimerWorker`]: sends each timer's command when it falls due.
//! - [`send_patiently`] and [`settled`]: how a worker sends a command and
//!   reads its answer (the actuator's worker does the same).
//! - [`InboxLookup`]: what a saga may ask of the inbox, answered from the
//!   read models by [`ReadModelInbox`]; [`meeting_briefing_worker`] runs
//!   the meeting briefing saga with it.

mod inbox;
mod lease;
mod saga;
mod timers;

pub use inbox::{InboxLookup, LookupError, ReadModelInbox, meeting_briefing_worker};
pub use lease::{LeaseOptions, hold_lease_and_run, run_once_under_lease};
pub use saga::SagaWorker;
pub use timers::TimerWorker;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::HostError;
use crate::host::{Host, Outcome};
use steward_actors::CommandEnvelope;

/// How often a command that failed for want of a working store is sent
/// again before the worker records the failure and moves on.
const ATTEMPTS: u32 = 5;

/// Sends `envelope`, again after failures that may pass (the store away, the
/// actor busy). `None` when stopped meanwhile.
pub async fn send_patiently(
    host: &Host,
    envelope: CommandEnvelope,
    stop: &CancellationToken,
) -> Option<Result<Outcome, HostError>> {
    let mut backoff = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        let answer = host.execute(envelope.clone()).await;
        match &answer {
            Err(error)
                if error.class() == steward_events::ErrorClass::Failure && attempt < ATTEMPTS =>
            {
                tracing::warn!(%error, attempt, command_id = %envelope.command_id, "command failed; sending it again");
            }
            _ => return Some(answer),
        }
        tokio::select! {
            () = stop.cancelled() => return None,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
        attempt += 1;
    }
}

/// What a worker records of a command's answer: the outcome in a few
/// words when the answer is final (done, or refused by the domain or as
/// input), or the error when it is not (the store failing, a conflict that
/// outlasted the retries), which the worker must not record as done: it
/// stops, and runs again later from its last record.
pub fn settled(answer: Result<Outcome, HostError>) -> Result<String, HostError> {
    match answer {
        Ok(outcome) if outcome.duplicate => Ok("duplicate".to_owned()),
        Ok(outcome) if outcome.events.is_empty() => Ok("unchanged".to_owned()),
        Ok(outcome) => Ok(format!("appended {}", outcome.events.len())),
        Err(HostError::Rejected(rejection)) => Ok(format!(
            "rejected ({}): {}",
            rejection.rule, rejection.message
        )),
        Err(error) if error.class() == steward_events::ErrorClass::InvalidInput => {
            Ok(format!("refused: {error}"))
        }
        Err(error) => Err(error),
    }
}
