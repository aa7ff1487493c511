//! [`PlanExecutor`]: issues the steps of approved plans, in order.
//!
//! It learns from the log which plans are approved and which steps
//! finished, and for each plan with a step to take it reads the plan and
//! takes the next one:
//!
//! - a step for the actuator becomes the actuation
//!   `actuation-<plan_id>.<step>`, requested with the step's own data as
//!   its action (so what runs is what was approved) and the plan step it
//!   carries out; the [`ActuatorWorker`](crate::ActuatorWorker) carries it
//!   out and the `plan_steps` saga reports back;
//! - a step for a domain is sent as its command; the domain's answer is
//!   the step's outcome at once (accepted: succeeded; refused: failed).
//!
//! The command is sent before the step is recorded as issued, each under
//! an id derived from the plan and the step, so a step sent again after a
//! restart is recognised, and a step is never recorded as issued without
//! its command.

use std::collections::HashMap;

use futures::StreamExt as _;
use serde_json::{Value, json};
use steward_actors::CommandEnvelope;
use steward_actors::plans::{Plan, PlanStatus, StepExecutor};
use steward_events::domain::DomainEvent as _;
use steward_events::domain::plans::{
    PlanApprovalExpired, PlanApproved, PlanCompleted, PlanFailed, PlanRejected, PlanStepSucceeded,
};
use steward_events::{ErrorClass, EventStore as _, Position, RecordedEvent, StoreError, StreamId};
use steward_host::workers::send_patiently;
use steward_host::{Host, HostError, Outcome};
use steward_store_core::Store;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The actor recorded on the executor's commands.
const ACTOR: &str = "system:plans";

/// Whether actuations are carried out or only described.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecutorOptions {
    /// Request every actuation as a dry run: the actuator records what it
    /// would have sent and sends nothing. Domain steps are taken as usual:
    /// they change only Steward's own records.
    pub dry_run: bool,
}

/// A plan with a step to take, and what its commands carry.
#[derive(Debug, Clone)]
struct Ready {
    stream: StreamId,
    correlation_id: Uuid,
    causation_id: Uuid,
}

/// Issues approved plans' steps.
pub struct PlanExecutor {
    host: Host,
    store: Store,
    options: ExecutorOptions,
}

impl PlanExecutor {
    /// The lease the executor runs under.
    pub const LEASE: &'static str = "plans";

    /// An executor sending through `host`.
    pub fn new(host: Host, store: Store, options: ExecutorOptions) -> Self {
        Self {
            host,
            store,
            options,
        }
    }

    /// Runs until `stop`, or until the store fails. It reads the log from
    /// the start and takes no step before it has read up to where the log
    /// stood when it began.
    pub async fn run(&self, stop: CancellationToken) -> Result<(), HostError> {
        let caught_up_at = self.store.head().await?.unwrap_or(Position::ORIGIN);
        let mut caught_up = caught_up_at == Position::ORIGIN;
        let mut ready: HashMap<String, Ready> = HashMap::new();
        let mut events = self.store.subscribe_all(Position::ORIGIN);
        loop {
            if caught_up && !ready.is_empty() {
                let plans: Vec<Ready> = ready.drain().map(|(_, plan)| plan).collect();
                for plan in plans {
                    if stop.is_cancelled() || !self.advance(&plan, &stop).await? {
                        return Ok(());
                    }
                }
                continue;
            }
            tokio::select! {
                biased;
                () = stop.cancelled() => return Ok(()),
                next = events.next() => {
                    let event = match next {
                        Some(event) => event?,
                        None => return Ok(()),
                    };
                    caught_up |= event.global_position >= caught_up_at;
                    track(&mut ready, &event);
                }
            }
        }
    }

    /// Takes the plan's next step if it has one to take now. False if
    /// stopped meanwhile.
    async fn advance(&self, plan: &Ready, stop: &CancellationToken) -> Result<bool, HostError> {
        let (state, _) = self.host.load::<Plan>(&plan.stream, false).await?;
        let Some(proposal) = state.proposal.as_ref() else {
            return Ok(true);
        };
        if state.status != PlanStatus::Approved {
            return Ok(true);
        }
        let next = state.steps.len();
        if let Some(last) = state.steps.last()
            && last.succeeded != Some(true)
        {
            // Still running (its outcome comes back through the log).
            return Ok(true);
        }
        if next >= proposal.step_count as usize {
            return Ok(true);
        }
        let plan_id = plan.stream.id();
        let index = next as u32;
        let Some(step) = proposal.steps.get(next) else {
            // The steps were erased with their subject: nothing is left to
            // carry out, which is the step's failure.
            let issued = format!("plan:{plan_id}:{index}:erased");
            return self
                .record_outcome(
                    plan,
                    index,
                    &issued,
                    Err("the step was erased before it ran".to_owned()),
                    stop,
                )
                .await;
        };

        match &step.executor {
            StepExecutor::Actuator { integration } => {
                let actuation = StreamId::new("actuation", format!("{plan_id}.{index}"))
                    .map_err(StoreError::from)?;
                let request = json!({
                    "integration": integration,
                    "action": step.data,
                    "plan_step": { "plan_id": plan_id, "step": index },
                    "dry_run": self.options.dry_run,
                });
                let command_id = format!("plan:{plan_id}:{index}");
                let Some(answer) = self
                    .send(
                        plan,
                        &actuation,
                        "RequestActuation",
                        request,
                        &command_id,
                        stop,
                    )
                    .await
                else {
                    return Ok(false);
                };
                match answer? {
                    Ok(_) => self.issue(plan, index, actuation.as_str(), stop).await,
                    Err(refusal) => {
                        self.record_outcome(plan, index, actuation.as_str(), Err(refusal), stop)
                            .await
                    }
                }
            }
            StepExecutor::Domain {} => {
                let target = StreamId::parse(step.stream_id.clone()).map_err(StoreError::from)?;
                let command_id = format!("plan:{plan_id}:{index}");
                let Some(answer) = self
                    .send(
                        plan,
                        &target,
                        &step.command_type,
                        step.data.clone(),
                        &command_id,
                        stop,
                    )
                    .await
                else {
                    return Ok(false);
                };
                let outcome = answer?.map(|_| ());
                self.record_outcome(plan, index, &command_id, outcome, stop)
                    .await
            }
        }
    }

    /// Records the step as issued under `command_id`.
    async fn issue(
        &self,
        plan: &Ready,
        step: u32,
        command_id: &str,
        stop: &CancellationToken,
    ) -> Result<bool, HostError> {
        let issued = json!({ "step": step, "command_id": command_id });
        let id = format!("plan:{}:{step}:issued", plan.stream.id());
        sent(
            self.send(plan, &plan.stream, "RecordStepIssued", issued, &id, stop)
                .await,
        )
    }

    /// Records the step as issued and, at once, how it went.
    async fn record_outcome(
        &self,
        plan: &Ready,
        step: u32,
        command_id: &str,
        outcome: Result<(), String>,
        stop: &CancellationToken,
    ) -> Result<bool, HostError> {
        if !self.issue(plan, step, command_id, stop).await? {
            return Ok(false);
        }
        let plan_id = plan.stream.id();
        let (command_type, data, id) = match outcome {
            Ok(()) => (
                "RecordStepSucceeded",
                json!({ "step": step }),
                format!("plan:{plan_id}:{step}:succeeded"),
            ),
            Err(error) => (
                "RecordStepFailed",
                json!({ "step": step, "error": error }),
                format!("plan:{plan_id}:{step}:failed"),
            ),
        };
        sent(
            self.send(plan, &plan.stream, command_type, data, &id, stop)
                .await,
        )
    }

    /// Sends a command for the plan: `None` when stopped meanwhile;
    /// otherwise the command's outcome, or the domain's refusal in words.
    /// Failures that are not refusals (the store away past retries) stop
    /// the executor, which takes the step again when it runs next.
    async fn send(
        &self,
        plan: &Ready,
        stream: &StreamId,
        command_type: &str,
        data: Value,
        command_id: &str,
        stop: &CancellationToken,
    ) -> Option<Result<Result<Outcome, String>, HostError>> {
        let envelope = CommandEnvelope {
            command_id: command_id.to_owned(),
            stream_id: stream.clone(),
            command_type: command_type.to_owned(),
            data,
            correlation_id: Some(plan.correlation_id),
            causation_id: Some(plan.causation_id),
            actor: ACTOR.to_owned(),
        };
        let answer = send_patiently(&self.host, envelope, stop).await?;
        Some(match answer {
            Ok(outcome) => Ok(Ok(outcome)),
            Err(HostError::Rejected(rejection)) => Ok(Err(rejection.to_string())),
            Err(error) if error.class() == ErrorClass::InvalidInput => Ok(Err(error.to_string())),
            Err(error) => Err(error),
        })
    }
}

/// Whether a record was sent (false: stopped meanwhile). A plan that
/// refuses it has moved on (rejected, expired, recorded already), which
/// the log shows; a failure that is not a refusal stops the executor.
fn sent(answer: Option<Result<Result<Outcome, String>, HostError>>) -> Result<bool, HostError> {
    match answer {
        None => Ok(false),
        Some(Err(error)) => Err(error),
        Some(Ok(Err(refusal))) => {
            tracing::info!(%refusal, "the plan refused a record");
            Ok(true)
        }
        Some(Ok(Ok(_))) => Ok(true),
    }
}

/// Keeps `ready` up to date with one event of the log.
fn track(ready: &mut HashMap<String, Ready>, event: &RecordedEvent) {
    if event.stream_id.category() != "plan" {
        return;
    }
    let id = event.stream_id.id().to_owned();
    match event.event_type.as_str() {
        PlanApproved::EVENT_TYPE | PlanStepSucceeded::EVENT_TYPE => {
            ready.insert(
                id,
                Ready {
                    stream: event.stream_id.clone(),
                    correlation_id: event.metadata.correlation_id,
                    causation_id: event.event_id,
                },
            );
        }
        PlanRejected::EVENT_TYPE
        | PlanApprovalExpired::EVENT_TYPE
        | PlanCompleted::EVENT_TYPE
        | PlanFailed::EVENT_TYPE => {
            ready.remove(&id);
        }
        _ => {}
    }
}
