//! Proposing an undo on the running system: the original plan loaded, the
//! home streams its steps touched folded up to its approval (what the
//! devices held before it), [`compensate`] asked for the inverse steps, and
//! those proposed as the plan `undo-<plan-id>` under `act` (a person asked,
//! by name, here and now), in the original's correlation and caused by its
//! last event, so the executor carries them out like any plan and the log
//! links the two. The proposal's command id is the undo plan's id, so
//! asking twice proposes once. `steward undo` and `POST
//! /api/v1/plans/{plan_id}/undo` both come here.

use serde_json::json;
use steward_actors::CommandEnvelope;
use steward_actors::plans::{Plan, PlanStatus, PlanStep};
use steward_events::domain::EventSet as _;
use steward_events::domain::home::HomeEvent;
use steward_events::domain::plans::{ModelLocation, PlannerModel};
use steward_events::{Direction, EventStore, Position, RecordedEvent, StoreError, StreamId};
use steward_host::{Host, HostError, Outcome};

use crate::check_plan_id;
use crate::undo::{Compensation, StatesBefore, UndoRefusal, compensate, undo_plan_id};

/// Events read per page.
const PAGE: usize = 500;

/// An undo to propose (or, in a dry run, only to work out).
#[derive(Debug, Clone)]
pub struct UndoRequest {
    /// The completed plan to undo.
    pub plan_id: String,
    /// Who asks, as `<kind>:<id>`; the undo plan's events carry it.
    pub actor: String,
    /// How they asked (`steward undo`, the API), for the approval's reason.
    pub by: String,
    /// Work the steps out; propose nothing.
    pub dry_run: bool,
}

/// What became of an undo.
#[derive(Debug)]
pub enum UndoOutcome {
    /// A dry run: the steps that would undo the plan.
    DryRun(Compensation),
    /// The undo plan was proposed now (or the same proposal had been:
    /// `outcome.duplicate`).
    Proposed {
        /// Its steps.
        compensation: Compensation,
        /// The proposal's events.
        outcome: Outcome,
    },
    /// An undo plan exists already; nothing new was proposed.
    Already {
        /// Its id.
        plan_id: String,
        /// Where it stands.
        status: PlanStatus,
        /// Its steps.
        steps: Vec<PlanStep>,
    },
}

/// Why an undo was not proposed.
#[derive(Debug, thiserror::Error)]
pub enum UndoError {
    /// The plan cannot be undone (see [`UndoRefusal::is_bad_input`]).
    #[error(transparent)]
    Refused(#[from] UndoRefusal),
    /// The host refused or failed the proposal.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The log could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A home event before the plan cannot be read.
    #[error("{stream}@{version}: unreadable: {reason}")]
    Unreadable {
        /// Its stream.
        stream: String,
        /// Its version.
        version: u64,
        /// Why.
        reason: String,
    },
}

/// Proposes (or, in a dry run, works out) the plan undoing
/// `request.plan_id`.
pub async fn propose_undo(
    host: &Host,
    store: &dyn EventStore,
    request: UndoRequest,
) -> Result<UndoOutcome, UndoError> {
    let plan_id = request.plan_id.trim().to_owned();
    let bad_id = |reason: String| UndoRefusal::BadId {
        plan_id: plan_id.clone(),
        reason,
    };
    check_plan_id(&plan_id).map_err(bad_id)?;
    let stream = StreamId::new("plan", &plan_id).map_err(|e| bad_id(e.to_string()))?;

    let undo_id = undo_plan_id(&plan_id);
    if !request.dry_run
        && let Ok(undo_stream) = StreamId::new("plan", &undo_id)
    {
        let (existing, _) = host.load::<Plan>(&undo_stream, false).await?;
        if let Some(proposal) = &existing.proposal {
            return Ok(UndoOutcome::Already {
                plan_id: undo_id,
                status: existing.status,
                steps: proposal.steps.clone(),
            });
        }
    }

    let (plan, _) = host.load::<Plan>(&stream, false).await?;
    let events = read_stream(store, &stream).await?;
    // Before the approval nothing of the plan was done: the home as it
    // stood then is what to put back.
    let cut_off = events
        .iter()
        .find(|event| event.event_type.as_str() == "PlanApproved")
        .map(|event| event.global_position);
    let before = match (&plan.proposal, cut_off) {
        (Some(proposal), Some(cut_off)) => states_before(store, &proposal.steps, cut_off).await?,
        _ => StatesBefore::default(),
    };
    let compensation = compensate(&plan_id, &plan, &before)?;
    if request.dry_run {
        return Ok(UndoOutcome::DryRun(compensation));
    }

    let (Some(proposal), Some(first), Some(last)) = (&plan.proposal, events.first(), events.last())
    else {
        return Err(UndoRefusal::UnknownPlan { plan_id }.into());
    };
    let undo_stream =
        StreamId::new("plan", &compensation.plan_id).map_err(|e| bad_id(e.to_string()))?;
    let data = json!({
        "request": format!("undo {plan_id}"),
        "intent": proposal.intent,
        "confidence": 1.0,
        "slots": { "undoes": plan_id },
        "steps": compensation.steps,
        "rationale": compensation.rationale,
        "model": PlannerModel {
            name: "steward-undo".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            location: ModelLocation::Local {},
        },
        // A person asked for this undo by name: nothing is left to approve.
        "approval": {
            "autonomy": "act",
            "reason": format!("{} asked for it with {}", request.actor, request.by),
        },
    });
    let mut envelope = CommandEnvelope::new(undo_stream, "ProposePlan", data, request.actor);
    envelope.command_id = compensation.plan_id.clone();
    envelope.correlation_id = Some(first.metadata.correlation_id);
    envelope.causation_id = Some(last.event_id);
    let outcome = host.execute(envelope).await?;
    Ok(UndoOutcome::Proposed {
        compensation,
        outcome,
    })
}

/// Every event of `stream`, in order.
async fn read_stream(
    store: &dyn EventStore,
    stream: &StreamId,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut events: Vec<RecordedEvent> = Vec::new();
    loop {
        let from = events.last().map_or(0, |event| event.stream_version + 1);
        let page = store
            .read_stream(stream, from, Direction::Forward, PAGE)
            .await?;
        if page.is_empty() {
            return Ok(events);
        }
        events.extend(page);
    }
}

/// The devices of the home streams that `steps` ask device states of, as
/// the events before `cut_off` left them.
async fn states_before(
    store: &dyn EventStore,
    steps: &[PlanStep],
    cut_off: Position,
) -> Result<StatesBefore, UndoError> {
    let mut homes: Vec<&str> = steps
        .iter()
        .filter(|step| step.command_type == "RequestDeviceState")
        .map(|step| step.stream_id.as_str())
        .collect();
    homes.sort_unstable();
    homes.dedup();
    let mut before = StatesBefore::default();
    for home in homes {
        let Ok(stream) = StreamId::parse(home) else {
            continue;
        };
        for recorded in read_stream(store, &stream).await? {
            if recorded.global_position >= cut_off {
                break;
            }
            let event = HomeEvent::from_recorded(&recorded).map_err(|e| UndoError::Unreadable {
                stream: home.to_owned(),
                version: recorded.stream_version,
                reason: e.to_string(),
            })?;
            before.apply(home, &event);
        }
    }
    Ok(before)
}
