//! Plans and their approvals over HTTP: the queue, approving and rejecting
//! as the signed-in user, and every way an answer is refused.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use steward_events::domain::access::Scope;
use steward_events::{Direction, EventStore, StreamId};
use steward_host::{Clock as _, Host, ManualClock};
use steward_http::auth::{CSRF_HEADER, SESSION_COOKIE};
use steward_http::{ApiState, app};
use uuid::Uuid;

use crate::support::{Fixture, assert_problem, call, on_both_backends, with_token};

on_both_backends!(
    a_plan_awaiting_approval_is_queued_and_approved_by_its_approver,
    a_plan_is_rejected_with_a_reason_and_bad_answers_are_refused,
    a_lapsed_approval_leaves_the_queue_and_cannot_be_answered,
    a_browser_session_approves_as_its_user_with_its_csrf_token,
);

/// A host and an API on a clock the test moves, over the fixture's store.
struct Clocked {
    clock: ManualClock,
    host: Host,
    state: ApiState,
}

fn clocked(fixture: &Fixture) -> Clocked {
    let clock = ManualClock::new(Utc::now());
    let host = Host::builder(Arc::new(fixture.store.clone()))
        .steward_domains()
        .clock(Arc::new(clock.clone()))
        .start()
        .expect("host starts");
    let state = ApiState::builder(
        Arc::new(fixture.store.clone()),
        host.clone(),
        fixture.db.clone(),
    )
    .projections(fixture.projections.clone())
    .build()
    .expect("metrics register");
    Clocked { clock, host, state }
}

/// Proposes `plan` for `intent` under `ask`, lapsing at `expires_at`,
/// for `approvers` (through the fixture's host, as the planner would).
async fn propose(
    fixture: &Fixture,
    plan: &str,
    intent: &str,
    approvers: &[&str],
    expires_at: DateTime<Utc>,
) {
    fixture
        .command(
            &format!("plan-{plan}"),
            "ProposePlan",
            json!({
                "request": "lock the front door",
                "intent": intent,
                "confidence": 0.93,
                "steps": [{
                    "stream_id": "home-main",
                    "command_type": "RequestDeviceState",
                    "data": { "device_id": "lock.front", "state": { "locked": true } },
                    "executor": { "by": "actuator", "integration": "mqtt" },
                    "summary": "Lock the front door",
                }],
                "rationale": "You asked to lock it.",
                "model": { "name": "steward-intent", "version": "1", "location": { "ran": "local" } },
                "approval": {
                    "autonomy": "ask",
                    "approvers": approvers,
                    "expires_at": expires_at,
                    "reason": "locks always need confirmation",
                },
            }),
        )
        .await;
}

async fn send(state: &ApiState, token: &str, request: TestRequest) -> (StatusCode, Value) {
    let app = test::init_service(app(state.clone())).await;
    call(&app, with_token(request, token)).await
}

async fn get(state: &ApiState, token: &str, uri: &str) -> (StatusCode, Value) {
    send(state, token, TestRequest::get().uri(uri)).await
}

async fn ok(state: &ApiState, token: &str, uri: &str) -> Value {
    let (status, body) = get(state, token, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

fn answer(plan: &str, verb: &str, body: Value) -> TestRequest {
    TestRequest::post()
        .uri(&format!("/api/v1/plans/{plan}/{verb}"))
        .set_json(body)
}

fn ids(page: &Value) -> Vec<String> {
    page["plans"]
        .as_array()
        .unwrap_or_else(|| panic!("plans: {page}"))
        .iter()
        .map(|plan| plan["plan_id"].as_str().expect("an id").to_owned())
        .collect()
}

async fn events_of(fixture: &Fixture, plan: &str) -> Vec<steward_events::RecordedEvent> {
    fixture
        .store
        .read_stream(
            &StreamId::parse(format!("plan-{plan}")).expect("stream id"),
            0,
            Direction::Forward,
            100,
        )
        .await
        .expect("the stream reads")
}

async fn a_plan_awaiting_approval_is_queued_and_approved_by_its_approver(fixture: Fixture) {
    let state = fixture.state();
    let soon = Utc::now() + Duration::hours(1);
    propose(&fixture, "door", "home.lock_door", &["alice"], soon).await;
    propose(&fixture, "milk", "groceries.list_item", &["alice"], soon).await;
    fixture.catch_up().await;

    let admin = fixture.admin.clone();
    assert_eq!(
        ids(&ok(&state, &admin, "/api/v1/approvals").await),
        ["door", "milk"]
    );
    let page = ok(&state, &admin, "/api/v1/approvals?limit=1").await;
    assert_eq!(ids(&page), ["door"]);
    assert_eq!(page["next_offset"], 1);
    assert_eq!(
        ids(&ok(&state, &admin, "/api/v1/plans?status=awaiting_approval").await),
        ["milk", "door"]
    );
    let door = ok(&state, &admin, "/api/v1/plans/door").await;
    assert_eq!(door["status"], "awaiting_approval");
    assert_eq!(door["intent"], "home.lock_door");
    assert_eq!(door["domain"], "home");
    assert_eq!(door["request"], "lock the front door");
    assert_eq!(door["approvers"], json!(["alice"]));
    assert_eq!(door["autonomy"], "ask");
    assert_eq!(door["policy_reason"], "locks always need confirmation");
    assert_eq!(door["step_count"], 1);
    assert_eq!(
        door["steps"],
        json!([{
            "summary": "Lock the front door",
            "executor": { "by": "actuator", "integration": "mqtt" },
            "stream_id": "home-main",
            "command_type": "RequestDeviceState",
        }])
    );

    // Members see the plans of their domains only.
    let alice = fixture
        .member_token(
            "alice",
            &["home"],
            &[Scope::ReadModelsRead, Scope::ApprovalsWrite],
        )
        .await;
    let bob = fixture
        .member_token(
            "bob",
            &["home"],
            &[Scope::ReadModelsRead, Scope::ApprovalsWrite],
        )
        .await;
    let carol = fixture
        .member_token(
            "carol",
            &["groceries"],
            &[Scope::ReadModelsRead, Scope::ApprovalsWrite],
        )
        .await;
    assert_eq!(
        ids(&ok(&state, &alice, "/api/v1/approvals").await),
        ["door"]
    );
    assert_eq!(ids(&ok(&state, &carol, "/api/v1/plans").await), ["milk"]);
    let (status, body) = get(&state, &carol, "/api/v1/plans/door").await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(body["domain"], "home");
    let (status, body) = send(&state, &carol, answer("door", "approve", json!({}))).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(body["domain"], "home");

    // Without `approvals:write`, no answer.
    let reader = fixture.token("reader", &[Scope::ReadModelsRead]).await;
    let (status, body) = send(&state, &reader, answer("door", "approve", json!({}))).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(body["required_scope"], "approvals:write");
    // Bob may see the plan but is not its approver.
    let (status, body) = send(&state, &bob, answer("door", "approve", json!({}))).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "not-an-approver");
    assert_eq!(body["rule"], "not_an_approver");
    assert_eq!(
        events_of(&fixture, "door").await.len(),
        1,
        "nothing written"
    );

    // Alice approves, as herself, under her command id and correlation.
    let correlation = Uuid::now_v7();
    let request = json!({ "command_id": "answer-door", "correlation_id": correlation });
    let (status, body) = send(&state, &alice, answer("door", "approve", request.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["duplicate"], false);
    assert_eq!(body["command_id"], "answer-door");
    assert_eq!(body["correlation_id"], correlation.to_string());
    let approved = &body["events"][0];
    assert_eq!(approved["event_type"], "PlanApproved");
    assert_eq!(
        approved["data"]["approver"],
        json!({ "by": "user", "user_id": "alice" })
    );
    let recorded = events_of(&fixture, "door").await;
    let last = recorded.last().expect("the approval");
    assert_eq!(last.event_type.as_str(), "PlanApproved");
    assert_eq!(last.metadata.actor, "token:alice-token");
    assert_eq!(last.metadata.correlation_id, correlation);
    // The same command again is answered from the log, writing nothing.
    let (status, body) = send(&state, &alice, answer("door", "approve", request)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["duplicate"], true);
    assert_eq!(events_of(&fixture, "door").await.len(), 2);

    fixture.catch_up().await;
    assert_eq!(
        ids(&ok(&state, &admin, "/api/v1/approvals").await),
        ["milk"]
    );
    let door = ok(&state, &admin, "/api/v1/plans/door").await;
    assert_eq!(door["status"], "approved");
    assert_eq!(
        door["approved_by"],
        json!({ "by": "user", "user_id": "alice" })
    );
    assert!(door["approved_at"].is_string(), "{door}");
    assert_eq!(
        ids(&ok(&state, &admin, "/api/v1/plans?status=approved").await),
        ["door"]
    );

    // An answered plan takes no other answer.
    let (status, body) = send(
        &state,
        &alice,
        answer("door", "reject", json!({ "reason": "changed my mind" })),
    )
    .await;
    assert_problem(status, &body, StatusCode::CONFLICT, "plan-closed");
    assert_eq!(body["rule"], "plan_closed");
    assert_eq!(events_of(&fixture, "door").await.len(), 2);
}

async fn a_plan_is_rejected_with_a_reason_and_bad_answers_are_refused(fixture: Fixture) {
    let state = fixture.state();
    let admin = fixture.admin.clone();
    // No approvers: any owner.
    propose(
        &fixture,
        "heat",
        "home.set_device",
        &[],
        Utc::now() + Duration::hours(1),
    )
    .await;

    for (verb, body, field) in [
        ("reject", json!({ "reason": 5 }), "reason"),
        ("reject", json!({ "user_id": "mallory" }), "user_id"),
        ("approve", json!({ "reason": "fine" }), "reason"),
        ("approve", json!({ "command_id": "saga:x" }), "command_id"),
        (
            "approve",
            json!({ "correlation_id": "nope" }),
            "correlation_id",
        ),
        ("reject", json!({ "reason": "x".repeat(4_001) }), "reason"),
    ] {
        let (status, problem) = send(&state, &admin, answer("heat", verb, body.clone())).await;
        assert_problem(status, &problem, StatusCode::BAD_REQUEST, "invalid-input");
        assert_eq!(problem["field"], field, "{verb} {body}: {problem}");
    }
    let (status, problem) = send(
        &state,
        &admin,
        TestRequest::post()
            .uri("/api/v1/plans/heat/approve")
            .insert_header(("Content-Type", "application/json"))
            .set_payload("{"),
    )
    .await;
    assert_problem(status, &problem, StatusCode::BAD_REQUEST, "invalid-input");
    assert_eq!(
        events_of(&fixture, "heat").await.len(),
        1,
        "nothing written"
    );

    // Unknown plans.
    for verb in ["approve", "reject"] {
        let (status, problem) = send(&state, &admin, answer("nope", verb, json!({}))).await;
        assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");
    }
    assert!(events_of(&fixture, "nope").await.is_empty());
    fixture.catch_up().await;
    let (status, problem) = get(&state, &admin, "/api/v1/plans/nope").await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND, "not-found");

    // A member of the domain is no owner.
    let alice = fixture
        .member_token("alice", &["home"], &[Scope::ApprovalsWrite])
        .await;
    let (status, problem) = send(&state, &alice, answer("heat", "reject", json!({}))).await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN, "not-an-approver");
    assert_eq!(events_of(&fixture, "heat").await.len(), 1);

    // The owner rejects, saying why: the installation's token acts as the
    // owner the household now has (made with Alice).
    let (status, body) = send(
        &state,
        &admin,
        answer("heat", "reject", json!({ "reason": "  too warm already " })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rejected = &body["events"][0];
    assert_eq!(rejected["event_type"], "PlanRejected");
    assert_eq!(rejected["data"]["user_id"], "owner-user");
    assert_eq!(rejected["personal"]["reason"], "too warm already");

    fixture.catch_up().await;
    let heat = ok(&state, &admin, "/api/v1/plans/heat").await;
    assert_eq!(heat["status"], "rejected");
    assert_eq!(heat["rejected_by"], "owner-user");
    assert_eq!(heat["reason"], "too warm already");
    assert!(
        ok(&state, &admin, "/api/v1/approvals").await["plans"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    let (status, problem) = get(&state, &admin, "/api/v1/plans?status=lost").await;
    assert_problem(status, &problem, StatusCode::BAD_REQUEST, "invalid-input");
    assert_eq!(problem["field"], "status");
}

async fn a_lapsed_approval_leaves_the_queue_and_cannot_be_answered(fixture: Fixture) {
    let clocked = clocked(&fixture);
    let admin = fixture.admin.clone();
    let expires_at = clocked.clock.now() + Duration::minutes(30);
    clocked
        .host
        .execute(steward_actors::CommandEnvelope::new(
            StreamId::parse("plan-gate").expect("stream id"),
            "ProposePlan",
            json!({
                "request": "open the gate",
                "intent": "home.open_gate",
                "confidence": 0.8,
                "steps": [{
                    "stream_id": "home-main", "command_type": "RequestDeviceState",
                    "data": {}, "executor": { "by": "domain" }, "summary": "Open the gate",
                }],
                "model": { "name": "steward-intent", "version": "1", "location": { "ran": "local" } },
                "approval": { "autonomy": "ask", "approvers": ["owner"], "expires_at": expires_at },
            }),
            "planner:test",
        ))
        .await
        .expect("proposed");
    fixture.catch_up().await;
    assert_eq!(
        ids(&ok(&clocked.state, &admin, "/api/v1/approvals").await),
        ["gate"]
    );

    clocked.clock.advance(Duration::hours(1));
    assert!(
        ids(&ok(&clocked.state, &admin, "/api/v1/approvals").await).is_empty(),
        "a lapsed approval is out of the queue before its timer fires"
    );
    let gate = ok(&clocked.state, &admin, "/api/v1/plans/gate").await;
    assert_eq!(gate["status"], "expired");
    let (status, problem) =
        send(&clocked.state, &admin, answer("gate", "approve", json!({}))).await;
    assert_problem(status, &problem, StatusCode::CONFLICT, "approval-expired");
    assert_eq!(problem["rule"], "approval_expired");
    assert_eq!(events_of(&fixture, "gate").await.len(), 1);
}

async fn a_browser_session_approves_as_its_user_with_its_csrf_token(fixture: Fixture) {
    let state = fixture.state();
    propose(
        &fixture,
        "porch",
        "home.set_device",
        &["alice"],
        Utc::now() + Duration::hours(1),
    )
    .await;
    fixture
        .member_token("alice", &["home"], &[Scope::ReadModelsRead])
        .await;
    let app = test::init_service(app(state.clone())).await;
    let response = test::call_service(
        &app,
        TestRequest::post()
            .uri("/api/v1/session")
            .set_json(json!({ "username": "alice", "password": "a member's password" }))
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .response()
        .cookies()
        .find(|cookie| cookie.name() == SESSION_COOKIE)
        .expect("a session cookie")
        .value()
        .to_owned();
    let login: Value = serde_json::from_slice(&test::read_body(response).await).expect("JSON");
    let csrf = login["csrf_token"]
        .as_str()
        .expect("a CSRF token")
        .to_owned();
    let with_cookie = |request: TestRequest| {
        request.cookie(actix_web::cookie::Cookie::new(
            SESSION_COOKIE,
            cookie.clone(),
        ))
    };

    // A change made with the cookie needs the CSRF token.
    let (status, body) = call(&app, with_cookie(answer("porch", "approve", json!({})))).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "csrf");
    assert_eq!(events_of(&fixture, "porch").await.len(), 1);

    let (status, body) = call(
        &app,
        with_cookie(answer("porch", "approve", json!({}))).insert_header((CSRF_HEADER, csrf)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["events"][0]["data"]["approver"],
        json!({ "by": "user", "user_id": "alice" })
    );
    let recorded = events_of(&fixture, "porch").await;
    assert_eq!(
        recorded.last().expect("the approval").metadata.actor,
        "user:alice"
    );
}
