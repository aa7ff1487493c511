//! Plans: each plan's status through its life, the approvals queue as of
//! an instant (oldest first, lapsed approvals out), filters by status and
//! domain; an erased person's plan keeps its outline and loses their words.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use steward_events::domain::plans::{
    ApprovalPolicy, Approver, Autonomy, ModelLocation, PlanApprovalExpired, PlanApproved,
    PlanCompleted, PlanFailed, PlanProposed, PlanRejected, PlanStep, PlanStepFailed,
    PlanStepIssued, PlanStepSucceeded, PlanTrigger, PlannerModel, StepExecutor,
};
use steward_projections::read_models::plans::{
    self, PlanQuery, PlanRow, PlanStatus, Plans, StepSummary,
};
use uuid::Uuid;

use crate::read_model_support::{OWNER, at, catch_up, erase, rebuild, record, tables};
use crate::support::{Fixture, on_both_backends};

on_both_backends!(
    plans_follow_their_life_and_the_queue_holds_those_awaiting_approval,
    an_erased_persons_plan_keeps_its_outline_and_loses_their_words,
);

fn step(summary: &str, executor: StepExecutor) -> PlanStep {
    PlanStep {
        stream_id: "home-main".to_owned(),
        command_type: "RequestDeviceState".to_owned(),
        data: json!({ "device_id": "light.hall", "state": { "on": true } }),
        executor,
        summary: summary.to_owned(),
    }
}

fn proposal(intent: &str, autonomy: Autonomy, proposed_at: &str) -> PlanProposed {
    PlanProposed {
        request: Some(format!("please {intent}")),
        trigger: None,
        intent: intent.to_owned(),
        confidence: 0.9,
        slots: Default::default(),
        steps: vec![step(
            "Turn on the hall light",
            StepExecutor::Actuator {
                integration: "mqtt".to_owned(),
            },
        )],
        step_count: 1,
        rationale: "You asked for light.".to_owned(),
        model: PlannerModel {
            name: "steward-intent".to_owned(),
            version: "1".to_owned(),
            location: ModelLocation::Local {},
        },
        memory_items: Vec::new(),
        approval: ApprovalPolicy {
            autonomy,
            approvers: Vec::new(),
            expires_at: None,
            reason: None,
        },
        proposed_at: at(proposed_at),
    }
}

fn asking(intent: &str, proposed_at: &str, expires_at: &str) -> PlanProposed {
    let mut plan = proposal(intent, Autonomy::Ask, proposed_at);
    plan.approval.approvers = vec!["alice".to_owned()];
    plan.approval.expires_at = Some(at(expires_at));
    plan.approval.reason = Some("locks always need confirmation".to_owned());
    plan
}

async fn propose(f: &Fixture, plan: &str, proposed: &PlanProposed) -> Uuid {
    record(f, &format!("plan-{plan}"), proposed)
        .await
        .metadata
        .correlation_id
}

async fn approved_by_policy(f: &Fixture, plan: &str, at_text: &str) {
    record(
        f,
        &format!("plan-{plan}"),
        &PlanApproved {
            approver: Approver::Policy {},
            approved_at: at(at_text),
        },
    )
    .await;
}

/// Seven plans, one in each state a plan can reach.
async fn set_up(f: &Fixture) -> Uuid {
    let correlation = propose(
        f,
        "lock",
        &asking(
            "home.lock_door",
            "2030-01-01T09:00:00Z",
            "2030-01-01T12:00:00Z",
        ),
    )
    .await;
    propose(
        f,
        "milk",
        &asking(
            "groceries.list_item",
            "2030-01-01T10:00:00Z",
            "2030-01-01T11:00:00Z",
        ),
    )
    .await;
    propose(
        f,
        "idea",
        &proposal("home.set_scene", Autonomy::Suggest, "2030-01-01T08:00:00Z"),
    )
    .await;

    // Approved by the policy, carried out in a dry run.
    propose(
        f,
        "hall",
        &proposal("home.set_device", Autonomy::Act, "2030-01-01T07:00:00Z"),
    )
    .await;
    approved_by_policy(f, "hall", "2030-01-01T07:00:00Z").await;
    record(
        f,
        "plan-hall",
        &PlanStepIssued {
            step: 0,
            command_id: "plan-hall.0".to_owned(),
        },
    )
    .await;
    record(
        f,
        "plan-hall",
        &PlanStepSucceeded {
            step: 0,
            simulated: true,
        },
    )
    .await;
    record(
        f,
        "plan-hall",
        &PlanCompleted {
            completed_at: at("2030-01-01T07:01:00Z"),
            simulated: true,
        },
    )
    .await;

    // Approved, one step under way (an event's plan: no request).
    let mut running = proposal("home.set_device", Autonomy::Act, "2030-01-01T06:00:00Z");
    running.request = None;
    running.trigger = Some(PlanTrigger {
        event_id: Uuid::nil(),
        stream_id: "home-main".to_owned(),
        event_type: "DeviceStateReported".to_owned(),
    });
    propose(f, "busy", &running).await;
    approved_by_policy(f, "busy", "2030-01-01T06:00:00Z").await;
    record(
        f,
        "plan-busy",
        &PlanStepIssued {
            step: 0,
            command_id: "plan-busy.0".to_owned(),
        },
    )
    .await;

    // Rejected, with a reason.
    propose(
        f,
        "heat",
        &asking(
            "home.set_device",
            "2030-01-01T05:00:00Z",
            "2030-01-01T12:00:00Z",
        ),
    )
    .await;
    record(
        f,
        "plan-heat",
        &PlanRejected {
            user_id: "alice".to_owned(),
            reason: Some("too warm already".to_owned()),
            rejected_at: at("2030-01-01T05:30:00Z"),
        },
    )
    .await;

    // Failed at its step.
    propose(
        f,
        "oven",
        &proposal("home.set_device", Autonomy::Act, "2030-01-01T04:00:00Z"),
    )
    .await;
    approved_by_policy(f, "oven", "2030-01-01T04:00:00Z").await;
    record(
        f,
        "plan-oven",
        &PlanStepIssued {
            step: 0,
            command_id: "plan-oven.0".to_owned(),
        },
    )
    .await;
    record(
        f,
        "plan-oven",
        &PlanStepFailed {
            step: 0,
            error: "the broker refused alice@example.org".to_owned(),
        },
    )
    .await;
    record(
        f,
        "plan-oven",
        &PlanFailed {
            step: 0,
            failed_at: at("2030-01-01T04:01:00Z"),
        },
    )
    .await;
    correlation
}

async fn list(f: &Fixture, query: PlanQuery, now: &str) -> Vec<PlanRow> {
    catch_up(f, Arc::new(Plans)).await;
    let tables = tables(f, "plans").await;
    plans::plans(&f.db, &tables, &query, at(now))
        .await
        .expect("plans")
}

async fn ids(f: &Fixture, query: PlanQuery, now: &str) -> Vec<String> {
    list(f, query, now)
        .await
        .into_iter()
        .map(|plan| plan.plan_id)
        .collect()
}

async fn one(f: &Fixture, plan: &str, now: &str) -> PlanRow {
    catch_up(f, Arc::new(Plans)).await;
    let tables = tables(f, "plans").await;
    plans::plan(&f.db, &tables, plan, at(now))
        .await
        .expect("plan")
        .unwrap_or_else(|| panic!("plan {plan} is there"))
}

fn millis(text: &str) -> Option<DateTime<Utc>> {
    Some(crate::read_model_support::millis(at(text)))
}

fn status(status: PlanStatus) -> PlanQuery {
    PlanQuery {
        status: Some(status),
        ..PlanQuery::default()
    }
}

async fn plans_follow_their_life_and_the_queue_holds_those_awaiting_approval(f: Fixture) {
    let correlation = set_up(&f).await;
    let morning = "2030-01-01T10:30:00Z";

    // Every plan, newest first.
    assert_eq!(
        ids(&f, PlanQuery::default(), morning).await,
        ["milk", "lock", "idea", "hall", "busy", "heat", "oven"]
    );
    // The queue: awaiting approval, oldest first.
    assert_eq!(
        ids(&f, PlanQuery::approvals(None, 10, 0), morning).await,
        ["lock", "milk"]
    );
    assert_eq!(
        ids(&f, PlanQuery::approvals(None, 1, 1), morning).await,
        ["milk"]
    );
    // A member of groceries only sees the milk.
    assert_eq!(
        ids(
            &f,
            PlanQuery::approvals(Some(vec!["groceries".to_owned()]), 10, 0),
            morning
        )
        .await,
        ["milk"]
    );
    assert!(
        ids(&f, PlanQuery::approvals(Some(Vec::new()), 10, 0), morning)
            .await
            .is_empty()
    );

    // Once its expiry has come, the milk leaves the queue and reads as
    // expired, before the timer records it.
    let noon_ish = "2030-01-01T11:30:00Z";
    assert_eq!(
        ids(&f, PlanQuery::approvals(None, 10, 0), noon_ish).await,
        ["lock"]
    );
    assert_eq!(
        ids(&f, status(PlanStatus::Expired), noon_ish).await,
        ["milk"]
    );
    assert_eq!(one(&f, "milk", noon_ish).await.status, PlanStatus::Expired);
    assert_eq!(
        one(&f, "milk", morning).await.status,
        PlanStatus::AwaitingApproval
    );
    let expired = record(
        &f,
        "plan-milk",
        &PlanApprovalExpired {
            expired_at: at("2030-01-01T11:00:00Z"),
        },
    )
    .await;
    let milk = one(&f, "milk", morning).await;
    assert_eq!(milk.status, PlanStatus::Expired);
    assert_eq!(milk.expired_at, millis("2030-01-01T11:00:00Z"));
    // The last change is when the log recorded it.
    assert_eq!(
        milk.updated_at,
        crate::read_model_support::millis(expired.recorded_at)
    );

    for (wanted, expected) in [
        (PlanStatus::Proposed, vec!["idea"]),
        (PlanStatus::Completed, vec!["hall"]),
        (PlanStatus::Running, vec!["busy"]),
        (PlanStatus::Rejected, vec!["heat"]),
        (PlanStatus::Failed, vec!["oven"]),
        (PlanStatus::Approved, vec![]),
    ] {
        assert_eq!(
            ids(&f, status(wanted), morning).await,
            expected,
            "{wanted:?}"
        );
    }

    // A plan waiting for approval, whole.
    let lock = one(&f, "lock", morning).await;
    assert_eq!(
        lock,
        PlanRow {
            plan_id: "lock".to_owned(),
            status: PlanStatus::AwaitingApproval,
            intent: "home.lock_door".to_owned(),
            domain: "home".to_owned(),
            confidence: 0.9,
            request: Some("please home.lock_door".to_owned()),
            trigger: None,
            rationale: Some("You asked for light.".to_owned()),
            step_count: 1,
            steps: Some(vec![StepSummary {
                summary: "Turn on the hall light".to_owned(),
                executor: StepExecutor::Actuator {
                    integration: "mqtt".to_owned()
                },
                stream_id: "home-main".to_owned(),
                command_type: "RequestDeviceState".to_owned(),
            }]),
            autonomy: Autonomy::Ask,
            approvers: vec!["alice".to_owned()],
            expires_at: millis("2030-01-01T12:00:00Z"),
            policy_reason: Some("locks always need confirmation".to_owned()),
            approved_by: None,
            approved_at: None,
            rejected_by: None,
            rejected_at: None,
            reason: None,
            expired_at: None,
            steps_issued: 0,
            steps_succeeded: 0,
            failed_step: None,
            step_error: None,
            simulated: false,
            proposed_at: millis("2030-01-01T09:00:00Z").expect("an instant"),
            updated_at: lock.updated_at,
            correlation_id: correlation.to_string(),
        }
    );

    let hall = one(&f, "hall", morning).await;
    assert_eq!(hall.approved_by, Some(Approver::Policy {}));
    assert_eq!(hall.approved_at, millis("2030-01-01T07:00:00Z"));
    assert_eq!((hall.steps_issued, hall.steps_succeeded), (1, 1));
    assert!(hall.simulated);

    let busy = one(&f, "busy", morning).await;
    assert_eq!(busy.request, None);
    assert_eq!(
        busy.trigger.map(|t| t.event_type).as_deref(),
        Some("DeviceStateReported")
    );
    assert_eq!((busy.steps_issued, busy.steps_succeeded), (1, 0));
    assert!(!busy.simulated);

    let heat = one(&f, "heat", morning).await;
    assert_eq!(heat.rejected_by.as_deref(), Some("alice"));
    assert_eq!(heat.rejected_at, millis("2030-01-01T05:30:00Z"));
    assert_eq!(heat.reason.as_deref(), Some("too warm already"));

    let oven = one(&f, "oven", morning).await;
    assert_eq!(oven.failed_step, Some(0));
    assert_eq!(
        oven.step_error.as_deref(),
        Some("the broker refused alice@example.org")
    );

    // Nothing is made up for a plan never proposed.
    catch_up(&f, Arc::new(Plans)).await;
    let tables = tables(&f, "plans").await;
    assert_eq!(
        plans::plan(&f.db, &tables, "nothing", at(morning))
            .await
            .expect("read"),
        None
    );
}

async fn an_erased_persons_plan_keeps_its_outline_and_loses_their_words(f: Fixture) {
    set_up(&f).await;
    let morning = "2030-01-01T10:30:00Z";
    assert!(one(&f, "heat", morning).await.reason.is_some());

    erase(&f, OWNER).await;
    let check = |plan: PlanRow| {
        assert_eq!(plan.request, None, "{}", plan.plan_id);
        assert_eq!(plan.rationale, None, "{}", plan.plan_id);
        assert_eq!(plan.steps, None, "{}", plan.plan_id);
        assert_eq!(plan.reason, None, "{}", plan.plan_id);
        assert_eq!(plan.step_error, None, "{}", plan.plan_id);
        assert_eq!(plan.step_count, 1, "{}", plan.plan_id);
        plan
    };
    let heat = check(one(&f, "heat", morning).await);
    assert_eq!(heat.status, PlanStatus::Rejected);
    assert_eq!(heat.rejected_by.as_deref(), Some("alice"));
    let oven = check(one(&f, "oven", morning).await);
    assert_eq!(oven.status, PlanStatus::Failed);
    assert_eq!(oven.failed_step, Some(0));
    let lock = check(one(&f, "lock", morning).await);
    assert_eq!(lock.intent, "home.lock_door");
    assert_eq!(lock.approvers, ["alice"]);
    assert_eq!(
        ids(&f, PlanQuery::approvals(None, 10, 0), morning).await,
        ["lock", "milk"]
    );

    // A rebuild from the log, which reads the parts as erased, agrees.
    let before = list(&f, PlanQuery::default(), morning).await;
    rebuild(&f, Arc::new(Plans)).await;
    let after = list(&f, PlanQuery::default(), morning).await;
    assert_eq!(after, before);
    after.into_iter().for_each(|plan| {
        check(plan);
    });
}
