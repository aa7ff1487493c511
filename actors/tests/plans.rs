//! Plans: given events / when command / then events.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use steward_actors::plans::{
    ApprovalPolicy, Autonomy, ModelLocation, Plan, PlanCommand, PlanStatus, PlanStep, PlannerModel,
    StepExecutor,
};
use steward_actors::testing::{default_now, given, live_and_replayed, recorded};
use steward_events::Personal;
use steward_events::domain::EventSet as _;
use steward_events::domain::plans::{
    Approver, PlanApprovalExpired, PlanApproved, PlanCompleted, PlanEvent, PlanFailed,
    PlanProposed, PlanRejected, PlanStepFailed, PlanStepIssued, PlanStepSucceeded,
};

fn now() -> DateTime<Utc> {
    default_now()
}

fn in_minutes(minutes: i64) -> DateTime<Utc> {
    now() + Duration::minutes(minutes)
}

fn steps() -> Vec<PlanStep> {
    vec![
        PlanStep {
            stream_id: "home-main".into(),
            command_type: "RequestDeviceState".into(),
            data: json!({"device_id": "light.living_room", "state": {"on": false}}),
            executor: StepExecutor::Actuator {
                integration: "mqtt".into(),
            },
            summary: "Turn off the living room lights".into(),
        },
        PlanStep {
            stream_id: "shoppinglist-home".into(),
            command_type: "ListItem".into(),
            data: json!({"item": "oat milk"}),
            executor: StepExecutor::Domain {},
            summary: "Put oat milk on the list".into(),
        },
    ]
}

fn model() -> PlannerModel {
    PlannerModel {
        name: "steward-intent".into(),
        version: "1".into(),
        location: ModelLocation::Local {},
    }
}

fn policy(autonomy: Autonomy) -> ApprovalPolicy {
    ApprovalPolicy {
        autonomy,
        approvers: vec!["user-ann".into()],
        expires_at: (autonomy == Autonomy::Ask).then(|| in_minutes(30)),
        reason: None,
    }
}

fn propose(autonomy: Autonomy) -> PlanCommand {
    PlanCommand::ProposePlan {
        request: Some(" turn off the living room lights and add oat milk ".into()),
        trigger: None,
        intent: "home.set_device".into(),
        confidence: 0.91,
        slots: BTreeMap::from([("room".into(), json!("living room"))]),
        steps: steps(),
        rationale: "Two things were asked.".into(),
        model: model(),
        memory_items: Vec::new(),
        approval: policy(autonomy),
    }
}

fn proposed(autonomy: Autonomy) -> PlanProposed {
    PlanProposed {
        request: Some("turn off the living room lights and add oat milk".into()),
        trigger: None,
        intent: "home.set_device".into(),
        confidence: 0.91,
        slots: BTreeMap::from([("room".into(), json!("living room"))]),
        steps: steps(),
        step_count: 2,
        rationale: "Two things were asked.".into(),
        model: model(),
        memory_items: Vec::new(),
        approval: policy(autonomy),
        proposed_at: now(),
    }
}

fn approved_by(user_id: &str) -> PlanEvent {
    PlanEvent::Approved(PlanApproved {
        approver: Approver::User {
            user_id: user_id.into(),
        },
        approved_at: now(),
    })
}

fn issued(step: u32) -> PlanEvent {
    PlanEvent::StepIssued(PlanStepIssued {
        step,
        command_id: format!("plan-1/{step}"),
    })
}

fn awaiting() -> Vec<PlanEvent> {
    vec![PlanEvent::Proposed(proposed(Autonomy::Ask))]
}

fn running() -> Vec<PlanEvent> {
    vec![
        PlanEvent::Proposed(proposed(Autonomy::Ask)),
        approved_by("user-ann"),
    ]
}

#[test]
fn a_plan_that_asks_waits_for_its_approver() {
    let plan: Plan = given([]).when(propose(Autonomy::Ask)).then(awaiting());
    assert_eq!(plan.status, PlanStatus::AwaitingApproval);

    let plan = given::<Plan>(awaiting())
        .when(PlanCommand::ApprovePlan {
            user_id: "user-ann".into(),
        })
        .then([approved_by("user-ann")]);
    assert_eq!(plan.status, PlanStatus::Approved);
}

#[test]
fn a_plan_that_may_act_is_approved_by_the_policy_at_once() {
    let plan: Plan = given([]).when(propose(Autonomy::Act)).then([
        PlanEvent::Proposed(proposed(Autonomy::Act)),
        PlanEvent::Approved(PlanApproved {
            approver: Approver::Policy {},
            approved_at: now(),
        }),
    ]);
    assert_eq!(plan.status, PlanStatus::Approved);
}

#[test]
fn a_suggestion_never_lapses_but_can_be_adopted() {
    let plan: Plan = given([])
        .when(propose(Autonomy::Suggest))
        .then([PlanEvent::Proposed(proposed(Autonomy::Suggest))]);
    assert_eq!(plan.status, PlanStatus::Suggested);

    given::<Plan>([PlanEvent::Proposed(proposed(Autonomy::Suggest))])
        .at(in_minutes(24 * 60))
        .when(PlanCommand::ExpireApproval {})
        .then([]);
    given::<Plan>([PlanEvent::Proposed(proposed(Autonomy::Suggest))])
        .at(in_minutes(24 * 60))
        .when(PlanCommand::ApprovePlan {
            user_id: "user-ann".into(),
        })
        .then_matches(|events| assert!(matches!(events, [PlanEvent::Approved(_)])));
}

#[test]
fn proposing_the_same_plan_again_changes_nothing_and_another_is_refused() {
    given::<Plan>(awaiting())
        .at(in_minutes(1))
        .when(propose(Autonomy::Ask))
        .then([]);
    let mut other = propose(Autonomy::Ask);
    if let PlanCommand::ProposePlan { intent, .. } = &mut other {
        *intent = "home.activate_scene".into();
    }
    given::<Plan>(awaiting())
        .when(other)
        .then_rejected("plan_exists");
}

#[test]
fn a_proposal_must_be_well_formed() {
    let with = |change: &dyn Fn(&mut PlanCommand)| {
        let mut command = propose(Autonomy::Ask);
        change(&mut command);
        command
    };
    let cases: Vec<(&str, PlanCommand)> = vec![
        (
            "one_origin",
            with(&|c| {
                if let PlanCommand::ProposePlan { request, .. } = c {
                    *request = None;
                }
            }),
        ),
        (
            "request_empty",
            with(&|c| {
                if let PlanCommand::ProposePlan { request, .. } = c {
                    *request = Some("   ".into());
                }
            }),
        ),
        (
            "bad_intent",
            with(&|c| {
                if let PlanCommand::ProposePlan { intent, .. } = c {
                    *intent = "Lights Off".into();
                }
            }),
        ),
        (
            "bad_confidence",
            with(&|c| {
                if let PlanCommand::ProposePlan { confidence, .. } = c {
                    *confidence = f64::NAN;
                }
            }),
        ),
        (
            "bad_step_count",
            with(&|c| {
                if let PlanCommand::ProposePlan { steps, .. } = c {
                    steps.clear();
                }
            }),
        ),
        (
            "bad_step_stream",
            with(&|c| {
                if let PlanCommand::ProposePlan { steps, .. } = c {
                    steps[1].stream_id = "nodash".into();
                }
            }),
        ),
        (
            "bad_step_command",
            with(&|c| {
                if let PlanCommand::ProposePlan { steps, .. } = c {
                    steps[0].command_type = "turn off!".into();
                }
            }),
        ),
        (
            "step_summary_required",
            with(&|c| {
                if let PlanCommand::ProposePlan { steps, .. } = c {
                    steps[0].summary = " ".into();
                }
            }),
        ),
        (
            "expiry_required",
            with(&|c| {
                if let PlanCommand::ProposePlan { approval, .. } = c {
                    approval.expires_at = None;
                }
            }),
        ),
        (
            "expiry_in_past",
            with(&|c| {
                if let PlanCommand::ProposePlan { approval, .. } = c {
                    approval.expires_at = Some(in_minutes(-1));
                }
            }),
        ),
    ];
    for (rule, command) in cases {
        let message = given::<Plan>([]).when(command).then_rejected(rule);
        if [
            "bad_step_stream",
            "bad_step_command",
            "step_summary_required",
        ]
        .contains(&rule)
        {
            assert!(message.starts_with("step "), "{rule}: {message}");
        }
    }
    // The same rules hold for a plan started by an event instead.
    let mut two_origins = propose(Autonomy::Ask);
    if let PlanCommand::ProposePlan { trigger, .. } = &mut two_origins {
        *trigger = Some(steward_actors::plans::PlanTrigger {
            event_id: uuid::Uuid::now_v7(),
            stream_id: "message-1".into(),
            event_type: "MessageReceived".into(),
        });
    }
    given::<Plan>([])
        .when(two_origins)
        .then_rejected("one_origin");
}

#[test]
fn only_an_approver_may_answer_and_only_before_the_approval_lapses() {
    given::<Plan>(awaiting())
        .when(PlanCommand::ApprovePlan {
            user_id: "user-bob".into(),
        })
        .then_rejected("not_an_approver");
    given::<Plan>(awaiting())
        .when(PlanCommand::RejectPlan {
            user_id: "user-bob".into(),
            reason: None,
        })
        .then_rejected("not_an_approver");
    given::<Plan>(awaiting())
        .at(in_minutes(30))
        .when(PlanCommand::ApprovePlan {
            user_id: "user-ann".into(),
        })
        .then_rejected("approval_expired");
}

#[test]
fn a_plan_without_named_approvers_may_be_answered_by_anyone_it_reaches() {
    let mut open = proposed(Autonomy::Ask);
    open.approval.approvers.clear();
    given::<Plan>([PlanEvent::Proposed(open)])
        .when(PlanCommand::ApprovePlan {
            user_id: "user-bob".into(),
        })
        .then([approved_by("user-bob")]);
}

#[test]
fn a_rejected_plan_stays_rejected() {
    let rejection = PlanEvent::Rejected(PlanRejected {
        user_id: "user-ann".into(),
        reason: Some("not tonight".into()),
        rejected_at: now(),
    });
    let plan = given::<Plan>(awaiting())
        .when(PlanCommand::RejectPlan {
            user_id: "user-ann".into(),
            reason: Some(" not tonight ".into()),
        })
        .then([rejection.clone()]);
    assert_eq!(plan.status, PlanStatus::Rejected);

    let mut rejected = awaiting();
    rejected.push(rejection);
    given::<Plan>(rejected.clone())
        .when(PlanCommand::RejectPlan {
            user_id: "user-ann".into(),
            reason: None,
        })
        .then([]);
    given::<Plan>(rejected.clone())
        .when(PlanCommand::RejectPlan {
            user_id: "user-bob".into(),
            reason: None,
        })
        .then_rejected("plan_closed");
    given::<Plan>(rejected.clone())
        .when(PlanCommand::ApprovePlan {
            user_id: "user-ann".into(),
        })
        .then_rejected("plan_closed");
    given::<Plan>(rejected)
        .when(PlanCommand::RecordStepIssued {
            step: 0,
            command_id: "plan-1/0".into(),
        })
        .then_rejected("not_approved");
}

#[test]
fn an_unanswered_approval_lapses_when_its_timer_fires() {
    given::<Plan>(awaiting())
        .at(in_minutes(29))
        .when(PlanCommand::ExpireApproval {})
        .then([]);
    let plan = given::<Plan>(awaiting())
        .at(in_minutes(30))
        .when(PlanCommand::ExpireApproval {})
        .then([PlanEvent::ApprovalExpired(PlanApprovalExpired {
            expired_at: in_minutes(30),
        })]);
    assert_eq!(plan.status, PlanStatus::Expired);
    // An answered plan does not lapse.
    given::<Plan>(running())
        .at(in_minutes(31))
        .when(PlanCommand::ExpireApproval {})
        .then([]);
}

#[test]
fn steps_are_issued_in_order_and_the_last_success_completes_the_plan() {
    given::<Plan>(running())
        .when(PlanCommand::RecordStepIssued {
            step: 1,
            command_id: "plan-1/1".into(),
        })
        .then_rejected("step_out_of_order");
    given::<Plan>(running())
        .when(PlanCommand::RecordStepIssued {
            step: 0,
            command_id: "plan-1/0".into(),
        })
        .then([issued(0)]);

    let mut first_running = running();
    first_running.push(issued(0));
    given::<Plan>(first_running.clone())
        .when(PlanCommand::RecordStepIssued {
            step: 1,
            command_id: "plan-1/1".into(),
        })
        .then_rejected("previous_step_running");
    // Issuing again under the same command id is a retry; another id is not.
    given::<Plan>(first_running.clone())
        .when(PlanCommand::RecordStepIssued {
            step: 0,
            command_id: "plan-1/0".into(),
        })
        .then([]);
    given::<Plan>(first_running.clone())
        .when(PlanCommand::RecordStepIssued {
            step: 0,
            command_id: "other".into(),
        })
        .then_rejected("step_issued");
    given::<Plan>(first_running.clone())
        .when(PlanCommand::RecordStepSucceeded {
            step: 0,
            simulated: false,
        })
        .then([PlanEvent::StepSucceeded(PlanStepSucceeded {
            step: 0,
            simulated: false,
        })]);

    let mut second_running = first_running;
    second_running.extend([
        PlanEvent::StepSucceeded(PlanStepSucceeded {
            step: 0,
            simulated: false,
        }),
        issued(1),
    ]);
    given::<Plan>(second_running.clone())
        .when(PlanCommand::RecordStepIssued {
            step: 2,
            command_id: "plan-1/2".into(),
        })
        .then_rejected("no_such_step");
    let plan = given::<Plan>(second_running.clone())
        .at(in_minutes(2))
        .when(PlanCommand::RecordStepSucceeded {
            step: 1,
            simulated: false,
        })
        .then([
            PlanEvent::StepSucceeded(PlanStepSucceeded {
                step: 1,
                simulated: false,
            }),
            PlanEvent::Completed(PlanCompleted {
                completed_at: in_minutes(2),
                simulated: false,
            }),
        ]);
    assert_eq!(plan.status, PlanStatus::Completed);

    let mut done = second_running;
    done.push(PlanEvent::StepSucceeded(PlanStepSucceeded {
        step: 1,
        simulated: false,
    }));
    given::<Plan>(done.clone())
        .when(PlanCommand::RecordStepSucceeded {
            step: 1,
            simulated: false,
        })
        .then([]);
    given::<Plan>(done)
        .when(PlanCommand::RecordStepFailed {
            step: 1,
            error: "late".into(),
        })
        .then_rejected("step_succeeded");
}

#[test]
fn a_plan_with_a_simulated_step_completes_as_simulated() {
    let mut history = running();
    history.extend([
        issued(0),
        PlanEvent::StepSucceeded(PlanStepSucceeded {
            step: 0,
            simulated: true,
        }),
        issued(1),
    ]);
    given::<Plan>(history)
        .when(PlanCommand::RecordStepSucceeded {
            step: 1,
            simulated: false,
        })
        .then([
            PlanEvent::StepSucceeded(PlanStepSucceeded {
                step: 1,
                simulated: false,
            }),
            PlanEvent::Completed(PlanCompleted {
                completed_at: now(),
                simulated: true,
            }),
        ]);
}

#[test]
fn a_failed_step_fails_the_plan_and_stops_it() {
    let mut first_running = running();
    first_running.push(issued(0));
    given::<Plan>(first_running.clone())
        .when(PlanCommand::RecordStepFailed {
            step: 0,
            error: " ".into(),
        })
        .then_rejected("error_required");
    let plan = given::<Plan>(first_running.clone())
        .when(PlanCommand::RecordStepFailed {
            step: 0,
            error: "broker unreachable after 5 tries".into(),
        })
        .then([
            PlanEvent::StepFailed(PlanStepFailed {
                step: 0,
                error: "broker unreachable after 5 tries".into(),
            }),
            PlanEvent::Failed(PlanFailed {
                step: 0,
                failed_at: now(),
            }),
        ]);
    assert_eq!(plan.status, PlanStatus::Failed);

    let mut failed = first_running;
    failed.extend([
        PlanEvent::StepFailed(PlanStepFailed {
            step: 0,
            error: "broker unreachable after 5 tries".into(),
        }),
        PlanEvent::Failed(PlanFailed {
            step: 0,
            failed_at: now(),
        }),
    ]);
    given::<Plan>(failed.clone())
        .when(PlanCommand::RecordStepSucceeded {
            step: 0,
            simulated: false,
        })
        .then_rejected("step_failed");
    given::<Plan>(failed)
        .when(PlanCommand::RecordStepIssued {
            step: 1,
            command_id: "plan-1/1".into(),
        })
        .then_rejected("not_approved");
}

#[test]
fn the_request_slots_steps_and_reasons_are_sealed_and_the_plan_survives_their_erasure() {
    let event = PlanEvent::Proposed(proposed(Autonomy::Ask));
    let new = event.to_new_event().expect("serialises");
    let personal = new
        .personal
        .as_ref()
        .and_then(Personal::plain)
        .expect("a personal part")
        .to_string();
    for secret in ["oat milk", "living room", "Two things were asked"] {
        assert!(personal.contains(secret), "{secret} is sealed");
        assert!(
            !new.data.to_string().contains(secret),
            "{secret} is not in the clear"
        );
    }

    // After an erasure the proposal reads without its personal fields, and
    // its steps can still be followed to the end.
    let mut erased = recorded::<Plan>(&event, 0);
    erased.personal = Some(Personal::Erased);
    let read = PlanEvent::from_recorded(&erased).expect("reads without its personal part");
    let PlanEvent::Proposed(read_proposal) = &read else {
        panic!("{read:?}")
    };
    assert!(read_proposal.steps.is_empty() && read_proposal.request.is_none());
    let mut history = vec![read, approved_by("user-ann"), issued(0)];
    history.push(PlanEvent::StepSucceeded(PlanStepSucceeded {
        step: 0,
        simulated: false,
    }));
    history.push(issued(1));
    given::<Plan>(history)
        .when(PlanCommand::RecordStepSucceeded {
            step: 1,
            simulated: false,
        })
        .then_matches(|events| assert!(matches!(events.last(), Some(PlanEvent::Completed(_)))));
}

#[test]
fn live_and_replayed_plans_agree() {
    let (live, replayed) = live_and_replayed::<Plan>([
        (propose(Autonomy::Ask), now()),
        (
            PlanCommand::ApprovePlan {
                user_id: "user-ann".into(),
            },
            in_minutes(1),
        ),
        (
            PlanCommand::RecordStepIssued {
                step: 0,
                command_id: "plan-1/0".into(),
            },
            in_minutes(2),
        ),
        (
            PlanCommand::RecordStepSucceeded {
                step: 0,
                simulated: false,
            },
            in_minutes(3),
        ),
    ]);
    assert_eq!(live, replayed);
    assert_eq!(live.status, PlanStatus::Approved);
    assert_eq!(live.steps.len(), 1);
}
