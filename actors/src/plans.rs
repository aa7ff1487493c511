//! Plans (`plan-<plan_id>`): what the planner proposes to do for a request
//! or an event, and the life of that proposal.
//!
//! - proposed under `act` → approved by the policy at once;
//! - proposed under `ask` → awaiting approval until `expires_at`: approved
//!   or rejected by one of its approvers, or lapsed (the timer worker sends
//!   [`PlanCommand::ExpireApproval`] then);
//! - proposed under `suggest` → shown; a person may still approve or
//!   reject it, and it never lapses;
//! - approved → its steps are issued in order, each reported back as
//!   succeeded (the last one completes the plan; a plan with a step only
//!   simulated, in a dry run, completes as simulated) or failed (which
//!   fails the plan; later steps are never issued).
//!
//! Every rule holds after an erasure: the steps' contents are personal and
//! may be gone, so the plan follows its steps by count and index only.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
pub use steward_events::domain::plans::{
    ApprovalPolicy, Autonomy, MemoryReference, ModelLocation, PlanStep, PlanTrigger, PlannerModel,
    StepExecutor,
};
use steward_events::domain::plans::{
    Approver, PlanApprovalExpired, PlanApproved, PlanCompleted, PlanEvent, PlanFailed,
    PlanProposed, PlanRejected, PlanStepFailed, PlanStepIssued, PlanStepSucceeded,
};
use steward_events::{EventType, StreamId};

use crate::aggregate::{Aggregate, Context, Rejection, ensure, is_snake_name};
use crate::catalog::Visitor;

/// Shows the plan aggregate to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<Plan>();
}

/// The most steps one plan may have.
pub const MAX_STEPS: usize = 20;

/// The longest request, rationale, summary or reason, in characters.
const MAX_TEXT_CHARS: usize = 4_000;

/// Commands to a plan (`plan-<id>`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
// Commands are decoded one at a time and moved once: boxing the proposal
// would save nothing.
#[allow(clippy::large_enum_variant)]
pub enum PlanCommand {
    /// The planner proposes the plan. Proposing the same again changes
    /// nothing.
    ProposePlan {
        /// What the person asked; exactly one of `request` and `trigger`.
        #[serde(default)]
        request: Option<String>,
        /// The event it answers.
        #[serde(default)]
        trigger: Option<PlanTrigger>,
        /// The recognised intent, `<domain>.<action>`.
        intent: String,
        /// The classifier's probability for it, from 0 to 1.
        confidence: f64,
        /// The resolved slots.
        #[serde(default)]
        slots: BTreeMap<String, Value>,
        /// The commands, in order: 1 to 20.
        steps: Vec<PlanStep>,
        /// Why these steps.
        #[serde(default)]
        rationale: String,
        /// The model that made it.
        model: PlannerModel,
        /// The memory items it used.
        #[serde(default)]
        memory_items: Vec<MemoryReference>,
        /// The policy it falls under; `ask` needs `expires_at`, in the future.
        approval: ApprovalPolicy,
    },
    /// A user approves the plan: one of its approvers (any, if it names
    /// none), before its approval lapses.
    ApprovePlan {
        /// The user's id.
        user_id: String,
    },
    /// A user rejects the plan, on the same terms as approving.
    RejectPlan {
        /// The user's id.
        user_id: String,
        /// Why, if said.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Timer: the approval's `expires_at` came. Lapses an unanswered
    /// approval; changes nothing otherwise.
    ExpireApproval {},
    /// A step was issued as a command; steps are issued in order.
    RecordStepIssued {
        /// The step's index, from 0.
        step: u32,
        /// The command's id.
        command_id: String,
    },
    /// An issued step was carried out.
    RecordStepSucceeded {
        /// The step's index.
        step: u32,
        /// It was only simulated (a dry run).
        #[serde(default)]
        simulated: bool,
    },
    /// An issued step failed for good.
    RecordStepFailed {
        /// The step's index.
        step: u32,
        /// What went wrong.
        error: String,
    },
}

/// Where a plan stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Nothing proposed yet.
    #[default]
    NotProposed,
    /// Shown to the person (`suggest`).
    Suggested,
    /// Waiting for an approver (`ask`).
    AwaitingApproval,
    /// Approved; its steps are being carried out.
    Approved,
    /// A user rejected it.
    Rejected,
    /// Nobody answered in time.
    Expired,
    /// Every step was carried out.
    Completed,
    /// A step failed.
    Failed,
}

impl PlanStatus {
    fn name(self) -> &'static str {
        match self {
            Self::NotProposed => "not proposed",
            Self::Suggested => "suggested",
            Self::AwaitingApproval => "awaiting approval",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// Whether a person may still approve or reject it.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Suggested | Self::AwaitingApproval)
    }
}

/// What happened to one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProgress {
    /// The id of the command it was issued as.
    pub command_id: String,
    /// Whether it was carried out; `None` while it runs.
    pub succeeded: Option<bool>,
    /// Whether it was only simulated (a dry run).
    pub simulated: bool,
}

/// A plan: its proposal, who answered it and how its steps went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Where it stands.
    pub status: PlanStatus,
    /// The proposal, once made.
    pub proposal: Option<PlanProposed>,
    /// The issued steps, in order.
    pub steps: Vec<StepProgress>,
    /// Who approved it.
    pub approver: Option<Approver>,
    /// Who rejected it.
    pub rejected_by: Option<String>,
}

impl Plan {
    fn proposal(&self) -> Result<&PlanProposed, Rejection> {
        self.proposal
            .as_ref()
            .ok_or_else(|| Rejection::new("not_proposed", "no plan was proposed here"))
    }

    /// Checks that `user_id` may answer the plan now.
    fn answerable_by(&self, user_id: &str, context: &Context) -> Result<(), Rejection> {
        let proposal = self.proposal()?;
        ensure(self.status.is_open(), "plan_closed", || {
            format!(
                "the plan is {}, no longer open to answer",
                self.status.name()
            )
        })?;
        let approvers = &proposal.approval.approvers;
        ensure(
            approvers.is_empty() || approvers.iter().any(|a| a == user_id),
            "not_an_approver",
            || format!("{user_id} may not answer this plan; its approvers are {approvers:?}"),
        )?;
        if let Some(expires_at) = proposal.approval.expires_at {
            ensure(context.now < expires_at, "approval_expired", || {
                format!("the approval lapsed at {expires_at}")
            })?;
        }
        Ok(())
    }

    fn step(&self, step: u32) -> Result<&StepProgress, Rejection> {
        self.steps.get(step as usize).ok_or_else(|| {
            Rejection::new(
                "step_not_issued",
                format!("step {step} was not issued; {} were", self.steps.len()),
            )
        })
    }
}

impl Aggregate for Plan {
    const CATEGORY: &'static str = "plan";
    const DOMAIN: &'static str = "planner";
    const STATE_VERSION: u32 = 2;
    type Command = PlanCommand;
    type Event = PlanEvent;

    fn decide(&self, command: PlanCommand, context: &Context) -> Result<Vec<PlanEvent>, Rejection> {
        match command {
            PlanCommand::ProposePlan {
                request,
                trigger,
                intent,
                confidence,
                slots,
                steps,
                rationale,
                model,
                memory_items,
                approval,
            } => {
                let request = request
                    .as_deref()
                    .map(|text| required_text(text, "request_empty", "say what was asked"))
                    .transpose()?;
                let proposal = PlanProposed {
                    step_count: steps.len() as u32,
                    request,
                    trigger,
                    intent: intent.trim().to_owned(),
                    confidence,
                    slots,
                    steps,
                    rationale: within_limit(rationale.trim())?,
                    model,
                    memory_items,
                    approval,
                    proposed_at: context.now,
                };
                if let Some(existing) = &self.proposal {
                    let same = PlanProposed {
                        proposed_at: existing.proposed_at,
                        ..proposal
                    };
                    ensure(*existing == same, "plan_exists", || {
                        "another plan was proposed here; propose it under a new id".to_owned()
                    })?;
                    return Ok(Vec::new());
                }
                check_proposal(&proposal, context)?;
                let act = proposal.approval.autonomy == Autonomy::Act;
                let mut events = vec![PlanEvent::Proposed(proposal)];
                if act {
                    events.push(PlanEvent::Approved(PlanApproved {
                        approver: Approver::Policy {},
                        approved_at: context.now,
                    }));
                }
                Ok(events)
            }
            PlanCommand::ApprovePlan { user_id } => {
                let user = Approver::User {
                    user_id: user_id.clone(),
                };
                if self.approver.as_ref() == Some(&user) {
                    return Ok(Vec::new());
                }
                self.answerable_by(&user_id, context)?;
                Ok(vec![PlanEvent::Approved(PlanApproved {
                    approver: user,
                    approved_at: context.now,
                })])
            }
            PlanCommand::RejectPlan { user_id, reason } => {
                if self.rejected_by.as_deref() == Some(user_id.as_str()) {
                    return Ok(Vec::new());
                }
                self.answerable_by(&user_id, context)?;
                let reason = reason
                    .as_deref()
                    .map(str::trim)
                    .filter(|reason| !reason.is_empty())
                    .map(within_limit)
                    .transpose()?;
                Ok(vec![PlanEvent::Rejected(PlanRejected {
                    user_id,
                    reason,
                    rejected_at: context.now,
                })])
            }
            PlanCommand::ExpireApproval {} => {
                let proposal = self.proposal()?;
                let due = proposal
                    .approval
                    .expires_at
                    .is_some_and(|expires_at| expires_at <= context.now);
                if self.status != PlanStatus::AwaitingApproval || !due {
                    return Ok(Vec::new());
                }
                Ok(vec![PlanEvent::ApprovalExpired(PlanApprovalExpired {
                    expired_at: context.now,
                })])
            }
            PlanCommand::RecordStepIssued { step, command_id } => {
                let proposal = self.proposal()?;
                let command_id = command_id.trim().to_owned();
                ensure(!command_id.is_empty(), "command_id_required", || {
                    "name the command the step was issued as".to_owned()
                })?;
                if let Some(issued) = self.steps.get(step as usize) {
                    ensure(issued.command_id == command_id, "step_issued", || {
                        format!("step {step} was issued as {}", issued.command_id)
                    })?;
                    return Ok(Vec::new());
                }
                ensure(self.status == PlanStatus::Approved, "not_approved", || {
                    format!(
                        "the plan is {}; only an approved plan's steps are issued",
                        self.status.name()
                    )
                })?;
                ensure(step < proposal.step_count, "no_such_step", || {
                    format!("the plan has {} steps", proposal.step_count)
                })?;
                ensure(
                    step as usize == self.steps.len(),
                    "step_out_of_order",
                    || {
                        format!(
                            "steps are issued in order; step {} is next",
                            self.steps.len()
                        )
                    },
                )?;
                if let Some(previous) = self.steps.last() {
                    ensure(
                        previous.succeeded == Some(true),
                        "previous_step_running",
                        || format!("step {} has not succeeded", self.steps.len() - 1),
                    )?;
                }
                Ok(vec![PlanEvent::StepIssued(PlanStepIssued {
                    step,
                    command_id,
                })])
            }
            PlanCommand::RecordStepSucceeded { step, simulated } => {
                let proposal = self.proposal()?;
                match self.step(step)?.succeeded {
                    Some(true) => return Ok(Vec::new()),
                    Some(false) => {
                        return Err(Rejection::new(
                            "step_failed",
                            format!("step {step} was recorded as failed"),
                        ));
                    }
                    None => {}
                }
                let mut events = vec![PlanEvent::StepSucceeded(PlanStepSucceeded {
                    step,
                    simulated,
                })];
                if step + 1 == proposal.step_count {
                    let simulated = simulated || self.steps.iter().any(|s| s.simulated);
                    events.push(PlanEvent::Completed(PlanCompleted {
                        completed_at: context.now,
                        simulated,
                    }));
                }
                Ok(events)
            }
            PlanCommand::RecordStepFailed { step, error } => {
                self.proposal()?;
                match self.step(step)?.succeeded {
                    Some(false) => return Ok(Vec::new()),
                    Some(true) => {
                        return Err(Rejection::new(
                            "step_succeeded",
                            format!("step {step} was recorded as carried out"),
                        ));
                    }
                    None => {}
                }
                Ok(vec![
                    PlanEvent::StepFailed(PlanStepFailed {
                        step,
                        error: required_text(&error, "error_required", "say what went wrong")?,
                    }),
                    PlanEvent::Failed(PlanFailed {
                        step,
                        failed_at: context.now,
                    }),
                ])
            }
        }
    }

    fn apply(&mut self, event: &PlanEvent) {
        match event {
            PlanEvent::Proposed(proposal) => {
                self.status = match proposal.approval.autonomy {
                    Autonomy::Suggest => PlanStatus::Suggested,
                    // `act` is approved in the same decision.
                    Autonomy::Ask | Autonomy::Act => PlanStatus::AwaitingApproval,
                };
                self.proposal = Some(proposal.clone());
            }
            PlanEvent::Approved(approved) => {
                self.status = PlanStatus::Approved;
                self.approver = Some(approved.approver.clone());
            }
            PlanEvent::Rejected(rejected) => {
                self.status = PlanStatus::Rejected;
                self.rejected_by = Some(rejected.user_id.clone());
            }
            PlanEvent::ApprovalExpired(_) => self.status = PlanStatus::Expired,
            PlanEvent::StepIssued(issued) => self.steps.push(StepProgress {
                command_id: issued.command_id.clone(),
                succeeded: None,
                simulated: false,
            }),
            PlanEvent::StepSucceeded(done) => {
                if let Some(step) = self.steps.get_mut(done.step as usize) {
                    step.succeeded = Some(true);
                    step.simulated = done.simulated;
                }
            }
            PlanEvent::StepFailed(failed) => {
                if let Some(step) = self.steps.get_mut(failed.step as usize) {
                    step.succeeded = Some(false);
                }
            }
            PlanEvent::Completed(_) => self.status = PlanStatus::Completed,
            PlanEvent::Failed(_) => self.status = PlanStatus::Failed,
        }
    }
}

/// The rules a new proposal must keep.
fn check_proposal(proposal: &PlanProposed, context: &Context) -> Result<(), Rejection> {
    ensure(
        proposal.request.is_some() != proposal.trigger.is_some(),
        "one_origin",
        || "a plan answers either a request or a trigger event, exactly one".to_owned(),
    )?;
    ensure(is_intent_label(&proposal.intent), "bad_intent", || {
        format!("intent `{}` is not `<domain>.<action>`", proposal.intent)
    })?;
    ensure(
        (0.0..=1.0).contains(&proposal.confidence),
        "bad_confidence",
        || format!("confidence {} is not between 0 and 1", proposal.confidence),
    )?;
    ensure(
        (1..=MAX_STEPS).contains(&proposal.steps.len()),
        "bad_step_count",
        || {
            format!(
                "a plan has 1 to {MAX_STEPS} steps, not {}",
                proposal.steps.len()
            )
        },
    )?;
    for (index, step) in proposal.steps.iter().enumerate() {
        check_step(index, step)?;
    }
    let approval = &proposal.approval;
    ensure(
        approval.approvers.iter().all(|a| !a.trim().is_empty()),
        "bad_approver",
        || "an approver's user id is empty".to_owned(),
    )?;
    if approval.autonomy == Autonomy::Ask {
        let expires_at = approval.expires_at.ok_or_else(|| {
            Rejection::new(
                "expiry_required",
                "a plan that asks for approval says when the question lapses",
            )
        })?;
        ensure(expires_at > context.now, "expiry_in_past", || {
            format!("the approval would lapse at {expires_at}, which has passed")
        })?;
    }
    Ok(())
}

/// Whether `label` is `<domain>.<action>`, each a snake-case name.
pub fn is_intent_label(label: &str) -> bool {
    label
        .split_once('.')
        .is_some_and(|(domain, action)| is_snake_name(domain) && is_snake_name(action))
}

fn check_step(index: usize, step: &PlanStep) -> Result<(), Rejection> {
    let bad = |rule: &'static str, message: String| {
        Rejection::new(rule, format!("step {index}: {message}"))
    };
    StreamId::parse(step.stream_id.clone()).map_err(|e| {
        bad(
            "bad_step_stream",
            format!("stream `{}`: {e}", step.stream_id),
        )
    })?;
    EventType::parse(step.command_type.clone()).map_err(|e| {
        bad(
            "bad_step_command",
            format!("command type `{}`: {e}", step.command_type),
        )
    })?;
    if let StepExecutor::Actuator { integration } = &step.executor {
        ensure(
            !integration.trim().is_empty(),
            "bad_step_integration",
            || format!("step {index}: name the integration that carries it out"),
        )?;
    }
    required_text(
        &step.summary,
        "step_summary_required",
        "say what the step does",
    )
    .map_err(|rejection| bad(rejection.rule, rejection.message))?;
    Ok(())
}

fn required_text(value: &str, rule: &'static str, ask: &str) -> Result<String, Rejection> {
    let text = value.trim();
    ensure(!text.is_empty(), rule, || ask.to_owned())?;
    within_limit(text)
}

fn within_limit(text: &str) -> Result<String, Rejection> {
    ensure(
        text.chars().count() <= MAX_TEXT_CHARS,
        "text_too_long",
        || {
            format!(
                "a request, rationale, summary or reason has at most {MAX_TEXT_CHARS} characters"
            )
        },
    )?;
    Ok(text.to_owned())
}
