//! Actuations (`actuation-<command_id>`): one command carried out by the
//! actuator through an integration, attempt by attempt.
//!
//! - requested → an attempt starts → it succeeds (done) or fails;
//! - a failure the integration calls transient is retried after an
//!   exponential back-off ([`retry_delay`]) until `max_attempts` are spent;
//!   a permanent failure, or the last attempt's, fails the actuation;
//! - an attempt started but never reported (the process died) must be
//!   recorded as failed (lost) before the next starts, so the command is
//!   carried out at least once, and the id, handed to the integration as
//!   the idempotency key, lets it be carried out once;
//! - a dry run is never attempted: it records what would have been sent;
//! - an action that cannot be carried out at all is refused: the actuation
//!   fails without an attempt.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_events::domain::actuations::{
    ActuationEvent, ActuationFailed, ActuationRequested, ActuationSimulated, ActuationStarted,
    ActuationSucceeded,
};
pub use steward_events::domain::actuations::{PlanStepRef, ReplyRef};

use crate::aggregate::{Aggregate, Context, Rejection, ensure};
use crate::catalog::Visitor;

/// Shows the actuation aggregate to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<Actuation>();
}

/// Attempts when the request does not say.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// The most attempts a request may ask for.
pub const MAX_ATTEMPTS: u32 = 10;
/// The wait after the first failed attempt; it doubles with each attempt.
pub const FIRST_RETRY_DELAY: Duration = Duration::seconds(2);
/// The longest wait between attempts.
pub const LONGEST_RETRY_DELAY: Duration = Duration::minutes(5);

/// How long to wait after failed attempt `attempt` (from 1): 2 s, 4 s, 8 s…
/// up to 5 minutes.
pub fn retry_delay(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    (FIRST_RETRY_DELAY * 2_i32.pow(doublings)).min(LONGEST_RETRY_DELAY)
}

/// Commands to an actuation (`actuation-<command_id>`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum ActuationCommand {
    /// Ask the actuator to carry out an action. Asking again the same
    /// changes nothing.
    RequestActuation {
        /// The integration (`mqtt`, `smtp`, `caldav`, `http`).
        integration: String,
        /// What to do, in the integration's terms.
        action: Value,
        /// The plan step it carries out, if any.
        #[serde(default)]
        plan_step: Option<PlanStepRef>,
        /// The reply it sends, if any: its outcome goes back to the message.
        #[serde(default)]
        reply: Option<ReplyRef>,
        /// Record what would be done; do nothing.
        #[serde(default)]
        dry_run: bool,
        /// Attempts at most, 1 to 10; default 5.
        #[serde(default)]
        max_attempts: Option<u32>,
    },
    /// The actuator begins the next attempt.
    StartAttempt {},
    /// The attempt carried the action out.
    RecordAttemptSucceeded {
        /// The attempt.
        attempt: u32,
        /// What the other side answered.
        #[serde(default)]
        result: Value,
        /// How long it took.
        latency_ms: u64,
    },
    /// The attempt failed.
    RecordAttemptFailed {
        /// The attempt.
        attempt: u32,
        /// What went wrong.
        error: String,
        /// Whether trying again may help (a timeout, a broker down) or not
        /// (a refusal, a bad address).
        transient: bool,
        /// How long it took.
        latency_ms: u64,
    },
    /// A dry run: record what would have been sent.
    RecordSimulation {
        /// What the integration would have sent.
        would: Value,
    },
    /// The action cannot be carried out at all (no such integration, an
    /// action it refuses): the actuation fails without an attempt, dry run
    /// or not.
    RefuseActuation {
        /// Why.
        error: String,
    },
}

/// Where an actuation stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActuationStatus {
    /// Nothing asked yet.
    #[default]
    NotRequested,
    /// Waiting for its next attempt (or its simulation).
    Pending,
    /// An attempt is under way.
    Running,
    /// Carried out.
    Succeeded,
    /// Failed for good.
    Failed,
    /// A dry run, recorded.
    Simulated,
}

impl ActuationStatus {
    fn name(self) -> &'static str {
        match self {
            Self::NotRequested => "not requested",
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Simulated => "simulated",
        }
    }

    /// Whether nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Simulated)
    }
}

/// An actuation: the request and its attempts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Actuation {
    /// Where it stands.
    pub status: ActuationStatus,
    /// The request, once made.
    pub request: Option<ActuationRequested>,
    /// Attempts started so far.
    pub attempts: u32,
    /// When the next attempt is due, after a failure.
    pub retry_at: Option<DateTime<Utc>>,
}

impl Actuation {
    fn requested(&self) -> Result<&ActuationRequested, Rejection> {
        self.request
            .as_ref()
            .ok_or_else(|| Rejection::new("not_requested", "no actuation was requested here"))
    }

    /// Checks that `attempt` is the one under way.
    fn current(&self, attempt: u32) -> Result<(), Rejection> {
        ensure(
            self.status == ActuationStatus::Running && attempt == self.attempts,
            "not_current_attempt",
            || {
                format!(
                    "attempt {attempt} is not under way (the actuation is {}, at attempt {})",
                    self.status.name(),
                    self.attempts
                )
            },
        )
    }
}

impl Aggregate for Actuation {
    const CATEGORY: &'static str = "actuation";
    const DOMAIN: &'static str = "planner";
    const STATE_VERSION: u32 = 1;
    type Command = ActuationCommand;
    type Event = ActuationEvent;

    fn decide(
        &self,
        command: ActuationCommand,
        context: &Context,
    ) -> Result<Vec<ActuationEvent>, Rejection> {
        match command {
            ActuationCommand::RequestActuation {
                integration,
                action,
                plan_step,
                reply,
                dry_run,
                max_attempts,
            } => {
                let integration = integration.trim().to_owned();
                let max_attempts = max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
                if let Some(existing) = &self.request {
                    let same = existing.integration == integration
                        && existing.action == action
                        && existing.plan_step == plan_step
                        && existing.reply == reply
                        && existing.dry_run == dry_run
                        && existing.max_attempts == max_attempts;
                    ensure(same, "actuation_exists", || {
                        "another action was requested under this command id".to_owned()
                    })?;
                    return Ok(Vec::new());
                }
                ensure(!integration.is_empty(), "integration_required", || {
                    "name the integration that carries it out".to_owned()
                })?;
                ensure(
                    (1..=MAX_ATTEMPTS).contains(&max_attempts),
                    "bad_max_attempts",
                    || format!("1 to {MAX_ATTEMPTS} attempts, not {max_attempts}"),
                )?;
                ensure(action.is_object(), "bad_action", || {
                    "the action is a JSON object".to_owned()
                })?;
                Ok(vec![ActuationEvent::Requested(ActuationRequested {
                    integration,
                    action,
                    plan_step,
                    reply,
                    dry_run,
                    max_attempts,
                    requested_at: context.now,
                })])
            }
            ActuationCommand::StartAttempt {} => {
                let request = self.requested()?;
                ensure(!self.status.is_final(), "actuation_finished", || {
                    format!("the actuation {}", self.status.name())
                })?;
                ensure(!request.dry_run, "dry_run", || {
                    "a dry run is simulated, never attempted".to_owned()
                })?;
                ensure(
                    self.status != ActuationStatus::Running,
                    "attempt_running",
                    || {
                        format!(
                            "attempt {} has no outcome yet; record it (as lost, if it was) first",
                            self.attempts
                        )
                    },
                )?;
                ensure(
                    self.attempts < request.max_attempts,
                    "attempts_spent",
                    || format!("all {} attempts were made", request.max_attempts),
                )?;
                if let Some(retry_at) = self.retry_at {
                    ensure(context.now >= retry_at, "retry_not_due", || {
                        format!("the next attempt is due at {retry_at}")
                    })?;
                }
                Ok(vec![ActuationEvent::Started(ActuationStarted {
                    attempt: self.attempts + 1,
                    started_at: context.now,
                })])
            }
            ActuationCommand::RecordAttemptSucceeded {
                attempt,
                result,
                latency_ms,
            } => {
                self.requested()?;
                if self.status == ActuationStatus::Succeeded && attempt == self.attempts {
                    return Ok(Vec::new());
                }
                self.current(attempt)?;
                Ok(vec![ActuationEvent::Succeeded(ActuationSucceeded {
                    attempt,
                    plan_step: self.requested()?.plan_step.clone(),
                    reply: self.requested()?.reply.clone(),
                    result,
                    latency_ms,
                })])
            }
            ActuationCommand::RecordAttemptFailed {
                attempt,
                error,
                transient,
                latency_ms,
            } => {
                let request = self.requested()?;
                let error = error.trim().to_owned();
                ensure(!error.is_empty(), "error_required", || {
                    "say what went wrong".to_owned()
                })?;
                self.current(attempt)?;
                let retry_at = (transient && attempt < request.max_attempts)
                    .then(|| context.now + retry_delay(attempt));
                Ok(vec![ActuationEvent::Failed(ActuationFailed {
                    attempt,
                    plan_step: request.plan_step.clone(),
                    reply: request.reply.clone(),
                    error,
                    retry_at,
                    latency_ms,
                })])
            }
            ActuationCommand::RefuseActuation { error } => {
                let request = self.requested()?;
                if self.status == ActuationStatus::Failed {
                    return Ok(Vec::new());
                }
                ensure(!self.status.is_final(), "actuation_finished", || {
                    format!("the actuation {}", self.status.name())
                })?;
                ensure(
                    self.status != ActuationStatus::Running,
                    "attempt_running",
                    || format!("attempt {} has no outcome yet", self.attempts),
                )?;
                let error = error.trim().to_owned();
                ensure(!error.is_empty(), "error_required", || {
                    "say why it cannot be carried out".to_owned()
                })?;
                Ok(vec![ActuationEvent::Failed(ActuationFailed {
                    attempt: self.attempts,
                    plan_step: request.plan_step.clone(),
                    reply: request.reply.clone(),
                    error,
                    retry_at: None,
                    latency_ms: 0,
                })])
            }
            ActuationCommand::RecordSimulation { would } => {
                let request = self.requested()?;
                ensure(request.dry_run, "not_a_dry_run", || {
                    "only a dry run is simulated".to_owned()
                })?;
                if self.status == ActuationStatus::Simulated {
                    return Ok(Vec::new());
                }
                Ok(vec![ActuationEvent::Simulated(ActuationSimulated {
                    plan_step: request.plan_step.clone(),
                    reply: request.reply.clone(),
                    would,
                })])
            }
        }
    }

    fn apply(&mut self, event: &ActuationEvent) {
        match event {
            ActuationEvent::Requested(request) => {
                self.status = ActuationStatus::Pending;
                self.request = Some(request.clone());
            }
            ActuationEvent::Started(started) => {
                self.status = ActuationStatus::Running;
                self.attempts = started.attempt;
                self.retry_at = None;
            }
            ActuationEvent::Succeeded(_) => self.status = ActuationStatus::Succeeded,
            ActuationEvent::Failed(failed) => {
                self.retry_at = failed.retry_at;
                self.status = if failed.retry_at.is_some() {
                    ActuationStatus::Pending
                } else {
                    ActuationStatus::Failed
                };
            }
            ActuationEvent::Simulated(_) => self.status = ActuationStatus::Simulated,
        }
    }
}
