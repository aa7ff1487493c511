//! `plan_steps`: what the actuator did for a plan's step goes back to the
//! plan.
//!
//! | event (`actuation-<c>`) with a `plan_step` | command to `plan-<plan_id>` |
//! |---|---|
//! | `ActuationSucceeded` | `RecordStepSucceeded {step}` |
//! | `ActuationSimulated` (a dry run) | `RecordStepSucceeded {step, simulated: true}` |
//! | `ActuationFailed` with no `retry_at` (failed for good) | `RecordStepFailed {step, error}` |
//!
//! A failure that will be retried changes nothing yet. The error is
//! personal: once erased, the plan records that the actuation failed, with
//! its attempt.

use serde_json::json;
use steward_events::domain::DomainEvent as _;
use steward_events::domain::actuations::{
    ActuationFailed, ActuationSimulated, ActuationSucceeded, PlanStepRef,
};
use steward_events::{RecordedEvent, StreamId};

use super::{Reaction, Saga, decode};
use crate::actuations::Actuation;
use crate::aggregate::Aggregate as _;
use crate::plans::Plan;

/// Reports actuations' outcomes to their plans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanSteps;

impl PlanSteps {
    fn to_plan(
        step: &PlanStepRef,
        command_type: &str,
        data: serde_json::Value,
    ) -> Option<Reaction> {
        let plan = StreamId::new(Plan::CATEGORY, &step.plan_id).ok()?;
        Some(Reaction::new("step", plan, command_type, data))
    }
}

impl Saga for PlanSteps {
    fn name(&self) -> &'static str {
        "plan_steps"
    }

    fn reacts_to(&self) -> &'static [&'static str] {
        &[
            ActuationSucceeded::EVENT_TYPE,
            ActuationSimulated::EVENT_TYPE,
            ActuationFailed::EVENT_TYPE,
        ]
    }

    fn react(&self, event: &RecordedEvent) -> Vec<Reaction> {
        if event.stream_id.category() != Actuation::CATEGORY {
            return Vec::new();
        }
        let reaction = match event.event_type.as_str() {
            ActuationSucceeded::EVENT_TYPE => decode::<ActuationSucceeded>(event)
                .and_then(|e| e.plan_step)
                .and_then(|step| {
                    Self::to_plan(&step, "RecordStepSucceeded", json!({ "step": step.step }))
                }),
            ActuationSimulated::EVENT_TYPE => decode::<ActuationSimulated>(event)
                .and_then(|e| e.plan_step)
                .and_then(|step| {
                    Self::to_plan(
                        &step,
                        "RecordStepSucceeded",
                        json!({ "step": step.step, "simulated": true }),
                    )
                }),
            ActuationFailed::EVENT_TYPE => decode::<ActuationFailed>(event)
                .filter(|failed| failed.retry_at.is_none())
                .and_then(|failed| {
                    let step = failed.plan_step.as_ref()?;
                    let error = if failed.error.trim().is_empty() {
                        format!("the actuation failed at attempt {}", failed.attempt)
                    } else {
                        failed.error.clone()
                    };
                    Self::to_plan(
                        step,
                        "RecordStepFailed",
                        json!({ "step": step.step, "error": error }),
                    )
                }),
            _ => None,
        };
        reaction.into_iter().collect()
    }
}
