//! Shadow replay: the planner as it is now, run over the requests it
//! planned before, without side effects, and what it would do differently.
//!
//! Each past `PlanProposed` with a request is planned again at the moment
//! it was made ("tomorrow" is the day after the request, not after the
//! replay) against what Steward knows now, and the decision is compared
//! with what was proposed then: the same steps, other steps, another
//! intent, or no plan at all (a question, an answer, a decline). Nothing is
//! written: the replay only reads the log and the read models.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use steward_events::RecordedEvent;
use steward_events::domain::plans::PlanStep;

use crate::Decision;

/// A plan as it was proposed, from its `PlanProposed` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PastPlan {
    /// Its id.
    pub plan_id: String,
    /// The request, as the person said it.
    pub request: String,
    /// The intent it was planned as.
    pub intent: String,
    /// The steps proposed.
    pub steps: Vec<PlanStep>,
    /// The model that planned it (`<name> <version>`).
    pub model: String,
    /// When it was proposed.
    pub proposed_at: DateTime<Utc>,
}

impl PastPlan {
    /// The plan `event` proposed, if it is a `PlanProposed` for a request
    /// whose words can still be read (not erased, not a trigger's plan).
    pub fn from_event(event: &RecordedEvent) -> Option<Self> {
        if event.event_type.as_str() != "PlanProposed" {
            return None;
        }
        let personal = event.personal.as_ref()?.plain()?;
        let request = personal.get("request")?.as_str()?.to_owned();
        let steps = serde_json::from_value(personal.get("steps")?.clone()).ok()?;
        let model = &event.data["model"];
        Some(Self {
            plan_id: event.stream_id.id().to_owned(),
            request,
            intent: text(event.data.get("intent")).to_owned(),
            steps,
            model: format!("{} {}", text(model.get("name")), text(model.get("version"))),
            proposed_at: event.recorded_at,
        })
    }
}

fn text(value: Option<&Value>) -> &str {
    value.and_then(Value::as_str).unwrap_or_default()
}

/// How the planner now differs from what it proposed then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The same intent and the same steps.
    Same,
    /// The same intent, other steps (other devices, another time).
    OtherSteps,
    /// Another intent.
    OtherIntent,
    /// It would ask first.
    NowAsks,
    /// It would answer from a read model.
    NowAnswers,
    /// It would do nothing.
    NowDeclines,
}

impl Verdict {
    /// Its name, as the report prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Same => "same",
            Verdict::OtherSteps => "other_steps",
            Verdict::OtherIntent => "other_intent",
            Verdict::NowAsks => "now_asks",
            Verdict::NowAnswers => "now_answers",
            Verdict::NowDeclines => "now_declines",
        }
    }
}

/// One past plan replayed.
#[derive(Debug, Clone, Serialize)]
pub struct Replayed {
    /// The plan as proposed then.
    pub then: PastPlan,
    /// The verdict.
    pub verdict: Verdict,
    /// What the planner decides now.
    pub now: Decision,
}

/// How `now` differs from `past`. Steps are compared as commands: stream,
/// command, data and who carries them out (summaries are words, not
/// commands).
pub fn compare(past: &PastPlan, now: &Decision) -> Verdict {
    match now {
        Decision::Ask(_) => Verdict::NowAsks,
        Decision::Answer(_) => Verdict::NowAnswers,
        Decision::Decline(_) => Verdict::NowDeclines,
        Decision::Plan(draft) if draft.intent.label() != past.intent => Verdict::OtherIntent,
        Decision::Plan(draft) => {
            let same = draft.steps.len() == past.steps.len()
                && draft.steps.iter().zip(&past.steps).all(|(now, then)| {
                    now.stream_id == then.stream_id
                        && now.command_type == then.command_type
                        && now.data == then.data
                        && now.executor == then.executor
                });
            if same {
                Verdict::Same
            } else {
                Verdict::OtherSteps
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;
    use steward_events::domain::plans::StepExecutor;

    use super::*;
    use crate::{Declined, Draft, Intent, Question};

    fn step(item: &str) -> PlanStep {
        PlanStep {
            stream_id: "shoppinglist-main".to_owned(),
            command_type: "ListItem".to_owned(),
            data: json!({ "item": item }),
            executor: StepExecutor::Domain {},
            summary: format!("Put {item} on the list"),
        }
    }

    fn past(steps: Vec<PlanStep>) -> PastPlan {
        PastPlan {
            plan_id: "p1".to_owned(),
            request: "add oat milk".to_owned(),
            intent: "groceries.add_to_list".to_owned(),
            steps,
            model: "steward-planner 1".to_owned(),
            proposed_at: Utc::now(),
        }
    }

    fn plan(intent: Intent, steps: Vec<PlanStep>) -> Decision {
        Decision::Plan(Draft {
            intent,
            confidence: 0.9,
            slots: BTreeMap::new(),
            steps,
            rationale: String::new(),
            devices: Vec::new(),
        })
    }

    #[test]
    fn steps_are_compared_as_commands_and_not_as_words() {
        let then = past(vec![step("oat milk")]);
        let mut reworded = step("oat milk");
        reworded.summary = "Oat milk onto the list".to_owned();
        assert_eq!(
            compare(&then, &plan(Intent::AddToList, vec![reworded])),
            Verdict::Same
        );
        assert_eq!(
            compare(&then, &plan(Intent::AddToList, vec![step("milk")])),
            Verdict::OtherSteps
        );
        assert_eq!(
            compare(
                &then,
                &plan(Intent::AddToList, vec![step("oat milk"), step("x")])
            ),
            Verdict::OtherSteps
        );
        assert_eq!(
            compare(&then, &plan(Intent::RemoveFromList, vec![step("oat milk")])),
            Verdict::OtherIntent
        );
    }

    #[test]
    fn no_plan_now_is_told_by_what_it_would_do_instead() {
        let then = past(vec![step("oat milk")]);
        let asks = Decision::Ask(Question {
            intent: None,
            question: "Which?".to_owned(),
            slot: None,
            choices: Vec::new(),
        });
        assert_eq!(compare(&then, &asks), Verdict::NowAsks);
        let declines = Decision::Decline(Declined {
            intent: Intent::OutOfScope,
            reason: "no domain".to_owned(),
        });
        assert_eq!(compare(&then, &declines), Verdict::NowDeclines);
    }
}
