//! `steward undo <plan-id>`: proposes the plan that undoes a completed one
//! (see `steward_planner::undoing` for how), as the person who runs it,
//! and prints its steps.

use clap::Args;
use steward_actors::plans::{PlanStep, StepExecutor};
use steward_planner::undo::status_name;
use steward_planner::undoing::{UndoError, UndoOutcome, UndoRequest, propose_undo};

use super::Failure;
use super::command::failure;
use crate::config::Config;
use crate::open::Opened;

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
    let host = super::serve::start_host(config, &opened, 1, &prometheus::Registry::new())?;
    let plan_id = args.plan_id.trim().to_owned();
    let request = UndoRequest {
        plan_id: plan_id.clone(),
        actor: args.actor,
        by: "`steward undo`".to_owned(),
        dry_run: args.dry_run,
    };
    match propose_undo(&host, &opened.store, request).await {
        Ok(UndoOutcome::DryRun(compensation)) => {
            println!(
                "plan {} would undo plan {plan_id} with {} steps (dry run: nothing proposed):",
                compensation.plan_id,
                compensation.steps.len()
            );
            print_steps(&compensation.steps);
        }
        Ok(UndoOutcome::Already {
            plan_id: undo_id,
            status,
            steps,
        }) => {
            println!(
                "plan {undo_id} was proposed already ({}); nothing new proposed. Its steps:",
                status_name(status)
            );
            print_steps(&steps);
        }
        Ok(UndoOutcome::Proposed {
            compensation,
            outcome,
        }) => {
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
        }
        Err(UndoError::Refused(refusal)) if refusal.is_bad_input() => {
            return Err(Failure::Input(refusal.to_string()));
        }
        Err(UndoError::Refused(refusal)) => {
            return Err(Failure::Rejected(format!("cannot undo: {refusal}")));
        }
        Err(UndoError::Host(error)) => return Err(failure(error)),
        Err(other) => return Err(Failure::Other(other.into())),
    }
    Ok(())
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
