//! `steward undo <plan-id>`: proposes the plan that undoes a completed one.
//!
//! The original plan is loaded, the home streams its steps touched are
//! folded up to its approval (what the devices held before it), and the
//! planner's [`compensate`] works out the inverse steps. They are proposed
//! as the plan `undo-<plan-id>` under `act` (a person asked, here and now),
//! in the original's correlation and caused by its last event, so
//! `steward serve`'s executor carries them out like any plan and the log
//! links the two. The proposal's command id is the undo plan's, so asking
//! twice proposes once.

use clap::Args;
use serde_json::json;
use steward_actors::CommandEnvelope;
use steward_actors::plans::{Plan, PlanStep, StepExecutor};
use steward_events::domain::EventSet as _;
use steward_events::domain::home::HomeEvent;
use steward_events::domain::plans::{ModelLocation, PlannerModel};
use steward_events::{Direction, EventStore as _, Position, RecordedEvent, StreamId};
use steward_planner::check_plan_id;
use steward_planner::undo::{StatesBefore, compensate, status_name, undo_plan_id};
use steward_store_core::Store;

use super::Failure;
use super::command::failure;
use crate::config::Config;
use crate::open::Opened;

/// Events read per page.
const PAGE: usize = 500;

/// `steward undo <plan-id> [--dry-run]`.
#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The completed plan to undo: its id, without `plan-`.
    plan_id: String,
    /// Print the steps that would undo it; propose nothing.
    #[arg(long)]
    dry_run: bool,
    /// Who asks, as `<kind>:<id>`.
    #[arg(long, default_value = "user:cli")]
    actor: String,
}

/// Proposes (or, in a dry run, prints) the plan undoing `args.plan_id`.
pub(super) async fn run(args: UndoArgs, config: &Config, opened: Opened) -> Result<(), Failure> {
    let plan_id = args.plan_id.trim().to_owned();
    check_plan_id(&plan_id).map_err(|e| Failure::Input(format!("plan id `{plan_id}`: {e}")))?;
    let stream = StreamId::new("plan", &plan_id)
        .map_err(|e| Failure::Input(format!("plan id `{plan_id}`: {e}")))?;
    let host = super::serve::start_host(config, &opened, 1, &prometheus::Registry::new())?;

    let undo_id = undo_plan_id(&plan_id);
    if !args.dry_run
        && let Ok(undo_stream) = StreamId::new("plan", &undo_id)
    {
        let (existing, _) = host
            .load::<Plan>(&undo_stream, false)
            .await
            .map_err(failure)?;
        if let Some(proposal) = &existing.proposal {
            println!(
                "plan {undo_id} was proposed already ({}); nothing new proposed. Its steps:",
                status_name(existing.status)
            );
            print_steps(&proposal.steps);
            return Ok(());
        }
    }

    let (plan, _) = host.load::<Plan>(&stream, false).await.map_err(failure)?;
    let events = read_stream(&opened.store, &stream).await?;
    // Before the approval nothing of the plan was done: the home as it
    // stood then is what to put back.
    let cut_off = events
        .iter()
        .find(|event| event.event_type.as_str() == "PlanApproved")
        .map(|event| event.global_position);
    let before = match (&plan.proposal, cut_off) {
        (Some(proposal), Some(cut_off)) => {
            states_before(&opened.store, &proposal.steps, cut_off).await?
        }
        _ => StatesBefore::default(),
    };
    let compensation = compensate(&plan_id, &plan, &before).map_err(|refusal| {
        if refusal.is_bad_input() {
            Failure::Input(refusal.to_string())
        } else {
            Failure::Rejected(format!("cannot undo: {refusal}"))
        }
    })?;

    if args.dry_run {
        println!(
            "plan {} would undo plan {plan_id} with {} steps (dry run: nothing proposed):",
            compensation.plan_id,
            compensation.steps.len()
        );
        print_steps(&compensation.steps);
        return Ok(());
    }

    let (Some(proposal), Some(first), Some(last)) = (&plan.proposal, events.first(), events.last())
    else {
        return Err(Failure::Input(format!("there is no plan `{plan_id}`")));
    };
    let undo_stream = StreamId::new("plan", &compensation.plan_id)
        .map_err(|e| Failure::Input(format!("plan id `{}`: {e}", compensation.plan_id)))?;
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
            "reason": format!("{} asked for it with `steward undo`", args.actor),
        },
    });
    let mut envelope = CommandEnvelope::new(undo_stream, "ProposePlan", data, args.actor);
    envelope.command_id = compensation.plan_id.clone();
    envelope.correlation_id = Some(first.metadata.correlation_id);
    envelope.causation_id = Some(last.event_id);
    let outcome = host.execute(envelope).await.map_err(failure)?;
    let approved = outcome
        .events
        .iter()
        .any(|event| event.event_type.as_str() == "PlanApproved");
    if outcome.duplicate {
        println!(
            "plan {} was proposed already; nothing new proposed",
            compensation.plan_id
        );
    } else {
        println!(
            "proposed plan {} undoing plan {plan_id}{}: {} steps",
            compensation.plan_id,
            if approved {
                ", approved (`steward serve` carries it out)"
            } else {
                ""
            },
            compensation.steps.len()
        );
    }
    print_steps(&compensation.steps);
    Ok(())
}

/// Every event of `stream`, in order.
async fn read_stream(store: &Store, stream: &StreamId) -> Result<Vec<RecordedEvent>, Failure> {
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
    store: &Store,
    steps: &[PlanStep],
    cut_off: Position,
) -> Result<StatesBefore, Failure> {
    let mut homes: Vec<&str> = steps
        .iter()
        .filter(|step| step.command_type == "RequestDeviceState")
        .map(|step| step.stream_id.as_str())
        .collect();
    homes.sort_unstable();
    homes.dedup();
    let mut before = StatesBefore::default();
    for home in homes {
        let stream = StreamId::parse(home)
            .map_err(|e| Failure::Input(format!("a step's stream `{home}`: {e}")))?;
        for recorded in read_stream(store, &stream).await? {
            if recorded.global_position >= cut_off {
                break;
            }
            let event = HomeEvent::from_recorded(&recorded).map_err(|e| {
                Failure::Other(anyhow::anyhow!(
                    "{home}@{}: unreadable: {e}",
                    recorded.stream_version
                ))
            })?;
            before.apply(home, &event);
        }
    }
    Ok(before)
}

fn print_steps(steps: &[PlanStep]) {
    for (index, step) in steps.iter().enumerate() {
        let by = match &step.executor {
            StepExecutor::Domain {} => "domain".to_owned(),
            StepExecutor::Actuator { integration } => integration.clone(),
        };
        println!(
            "  {index}. {} [{by}] {} {} {}",
            step.summary, step.stream_id, step.command_type, step.data
        );
    }
}
