//! Events of plans (`plan-<plan_id>`): what the planner proposed for a
//! request or an event, who approved or rejected it, and how its steps went.
//!
//! A plan is proposed with everything needed to explain it later: the
//! request (or the event that triggered it), the recognised intent and its
//! confidence, the slots, the steps (commands to domain actors or to the
//! actuator), the rationale, the model that made it and where it ran, and
//! the memory items it used. Whether it needs a person's approval follows
//! the policy in force, recorded with it. Each step's command carries the
//! plan as its causation, and the actuator reports each outcome back here.
//!
//! The request, slots, steps and rationale can name people, places and
//! times of the owner's life: they are personal and sealed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::DomainEvent;

/// The event that made the planner plan, when no person asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanTrigger {
    /// The event's id.
    pub event_id: Uuid,
    /// Its stream.
    pub stream_id: String,
    /// Its type (`MessageReceived`, `DeviceWentOffline`).
    pub event_type: String,
}

/// Where the model that made a plan ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "ran", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelLocation {
    /// On this machine.
    Local {},
    /// At an OpenAI-compatible endpoint the policy allowed; the egress
    /// ledger has what was sent.
    Remote {
        /// The endpoint's base URL.
        endpoint: String,
    },
}

/// The model that made a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlannerModel {
    /// Its name (`steward-intent`).
    pub name: String,
    /// Its version.
    pub version: String,
    /// Where it ran.
    pub location: ModelLocation,
}

/// A memory item the planner used, and how close it was to the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryReference {
    /// The event the memory item was made from.
    pub event_id: Uuid,
    /// Its similarity to the request, from -1 to 1.
    pub score: f64,
}

/// Who carries a step out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "by", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepExecutor {
    /// A domain actor, with a command to its stream.
    Domain {},
    /// The actuator, through an integration (`mqtt`, `smtp`, `caldav`,
    /// `http`), acting on the world outside.
    Actuator {
        /// The integration.
        integration: String,
    },
}

/// One command of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanStep {
    /// The stream the command goes to (`shoppinglist-home`).
    pub stream_id: String,
    /// The command type (`ListItem`).
    pub command_type: String,
    /// The command's data.
    pub data: Value,
    /// Who carries it out.
    pub executor: StepExecutor,
    /// What it does, in words, for the approval screen.
    pub summary: String,
}

/// How much a plan may do on its own, as the policy for its domain and
/// action says.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Autonomy {
    /// Only show it; a person may adopt it.
    Suggest,
    /// Ask a person and wait, until the approval times out.
    Ask,
    /// Carry it out at once.
    Act,
}

/// The policy a plan was proposed under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalPolicy {
    /// How much it may do alone.
    pub autonomy: Autonomy,
    /// The users who may approve or reject it; empty: any owner.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// When an unanswered approval lapses.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Why the policy asks (`locks always need confirmation`), if a rule did.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The planner proposed a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanProposed {
    /// What the person asked, in their words; absent for an event's plan.
    #[serde(default)]
    pub request: Option<String>,
    /// The event it answers; absent for a person's request.
    #[serde(default)]
    pub trigger: Option<PlanTrigger>,
    /// The recognised intent (`home.set_device`).
    pub intent: String,
    /// The classifier's probability for it, from 0 to 1.
    pub confidence: f64,
    /// The slots, resolved (`{"device": "light.living_room", "at": …}`).
    #[serde(default)]
    pub slots: BTreeMap<String, Value>,
    /// The commands, in order.
    #[serde(default)]
    pub steps: Vec<PlanStep>,
    /// How many steps: the steps are personal and gone after an erasure,
    /// but the plan's outcomes still need to be followed.
    pub step_count: u32,
    /// Why these steps, in words.
    #[serde(default)]
    pub rationale: String,
    /// The model that made it.
    pub model: PlannerModel,
    /// The memory items it used.
    #[serde(default)]
    pub memory_items: Vec<MemoryReference>,
    /// The policy it falls under.
    pub approval: ApprovalPolicy,
    /// When it was proposed.
    pub proposed_at: DateTime<Utc>,
}

impl DomainEvent for PlanProposed {
    const EVENT_TYPE: &'static str = "PlanProposed";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["request", "slots", "steps", "rationale"];
}

/// Who approved a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "by", rename_all = "snake_case", deny_unknown_fields)]
pub enum Approver {
    /// A user, on the approval screen or through the API.
    User {
        /// The user's id.
        user_id: String,
    },
    /// The policy: the plan's autonomy was `act`.
    Policy {},
}

/// A plan was approved: its steps may be issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanApproved {
    /// Who approved it.
    pub approver: Approver,
    /// When.
    pub approved_at: DateTime<Utc>,
}

impl DomainEvent for PlanApproved {
    const EVENT_TYPE: &'static str = "PlanApproved";
    const SCHEMA_VERSION: u16 = 1;
}

/// A user rejected a plan: none of its steps will be issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRejected {
    /// The user's id.
    pub user_id: String,
    /// Why, if said.
    #[serde(default)]
    pub reason: Option<String>,
    /// When.
    pub rejected_at: DateTime<Utc>,
}

impl DomainEvent for PlanRejected {
    const EVENT_TYPE: &'static str = "PlanRejected";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["reason"];
}

/// Nobody answered a plan's approval in time: it will not be carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanApprovalExpired {
    /// When the approval lapsed.
    pub expired_at: DateTime<Utc>,
}

impl DomainEvent for PlanApprovalExpired {
    const EVENT_TYPE: &'static str = "PlanApprovalExpired";
    const SCHEMA_VERSION: u16 = 1;
}

/// One of a plan's steps was issued as a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanStepIssued {
    /// The step's index, from 0.
    pub step: u32,
    /// The command's id: the idempotency key of its execution.
    pub command_id: String,
}

impl DomainEvent for PlanStepIssued {
    const EVENT_TYPE: &'static str = "PlanStepIssued";
    const SCHEMA_VERSION: u16 = 1;
}

/// One of a plan's steps was carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanStepSucceeded {
    /// The step's index.
    pub step: u32,
    /// It was only simulated (a dry run): nothing outside was done.
    #[serde(default)]
    pub simulated: bool,
}

impl DomainEvent for PlanStepSucceeded {
    const EVENT_TYPE: &'static str = "PlanStepSucceeded";
    const SCHEMA_VERSION: u16 = 1;
}

/// One of a plan's steps failed for good (its retries are spent, or the
/// domain refused it); the plan fails with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanStepFailed {
    /// The step's index.
    pub step: u32,
    /// What went wrong (servers' answers may quote addresses: sealed).
    #[serde(default)]
    pub error: String,
}

impl DomainEvent for PlanStepFailed {
    const EVENT_TYPE: &'static str = "PlanStepFailed";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["error"];
}

/// Every step of a plan was carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanCompleted {
    /// When the last step succeeded.
    pub completed_at: DateTime<Utc>,
    /// Some step was only simulated (a dry run): the plan did not act.
    #[serde(default)]
    pub simulated: bool,
}

impl DomainEvent for PlanCompleted {
    const EVENT_TYPE: &'static str = "PlanCompleted";
    const SCHEMA_VERSION: u16 = 1;
}

/// A plan stopped at a failed step; the steps after it were not issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanFailed {
    /// The step that failed.
    pub step: u32,
    /// When.
    pub failed_at: DateTime<Utc>,
}

impl DomainEvent for PlanFailed {
    const EVENT_TYPE: &'static str = "PlanFailed";
    const SCHEMA_VERSION: u16 = 1;
}

crate::domain_events! {
    /// What a plan stream holds.
    // A plan's stream is short and read once per command: boxing the
    // proposal would save nothing worth its noise in every match.
    #[allow(clippy::large_enum_variant)]
    pub enum PlanEvent {
        /// The planner proposed it.
        Proposed(PlanProposed),
        /// It was approved.
        Approved(PlanApproved),
        /// A user rejected it.
        Rejected(PlanRejected),
        /// Its approval lapsed.
        ApprovalExpired(PlanApprovalExpired),
        /// A step was issued.
        StepIssued(PlanStepIssued),
        /// A step was carried out.
        StepSucceeded(PlanStepSucceeded),
        /// A step failed for good.
        StepFailed(PlanStepFailed),
        /// Every step was carried out.
        Completed(PlanCompleted),
        /// It stopped at a failed step.
        Failed(PlanFailed),
    }
}

/// The JSON Schema of every event type of the domain.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    use super::EventSet as _;
    PlanEvent::schemas()
}
