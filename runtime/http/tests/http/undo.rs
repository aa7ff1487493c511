//! Undoing a completed plan over HTTP: `POST /api/v1/plans/{plan_id}/undo`
//! proposes its inverse as `undo-<plan_id>`, approved at once, as the
//! signed-in user; every way it is refused writes nothing.

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};
use steward_events::domain::access::Scope;
use steward_events::{Direction, EventStore, StreamId};
use steward_http::app;

use crate::support::{Fixture, assert_problem, call, on_both_backends, with_token};

on_both_backends!(
    a_completed_plan_is_undone_once_as_the_caller,
    an_undo_is_refused_by_name_and_writes_nothing,
);

/// A plan putting `item` on the list, proposed under `act` and, if
/// `complete`, carried out to the end (as the executor records it).
async fn listed(fixture: &Fixture, plan: &str, item: &str, complete: bool) {
    let stream = format!("plan-{plan}");
    fixture
        .command(
            &stream,
            "ProposePlan",
            json!({
                "request": format!("add {item}"),
                "intent": "groceries.add_to_list",
                "confidence": 0.9,
                "steps": [{
                    "stream_id": "shoppinglist-main",
                    "command_type": "ListItem",
                    "data": { "item": item },
                    "executor": { "by": "domain" },
                    "summary": format!("Put {item} on the list"),
                }],
                "model": { "name": "steward-planner", "version": "1", "location": { "ran": "local" } },
                "approval": { "autonomy": "act" },
            }),
        )
        .await;
    if complete {
        fixture
            .command(
                &stream,
                "RecordStepIssued",
                json!({ "step": 0, "command_id": format!("plan:{plan}:0") }),
            )
            .await;
        fixture
            .command(&stream, "RecordStepSucceeded", json!({ "step": 0 }))
            .await;
    }
}

async fn undo(fixture: &Fixture, token: &str, plan: &str, body: Value) -> (StatusCode, Value) {
    let app = test::init_service(app(fixture.state())).await;
    call(
        &app,
        with_token(
            TestRequest::post()
                .uri(&format!("/api/v1/plans/{plan}/undo"))
                .set_json(body),
            token,
        ),
    )
    .await
}

async fn types(fixture: &Fixture, stream: &str) -> Vec<String> {
    fixture
        .store
        .read_stream(
            &StreamId::parse(stream).expect("valid"),
            0,
            Direction::Forward,
            100,
        )
        .await
        .expect("reads")
        .iter()
        .map(|event| event.event_type.to_string())
        .collect()
}

async fn a_completed_plan_is_undone_once_as_the_caller(fixture: Fixture) {
    listed(&fixture, "milk", "oat milk", true).await;

    let (status, dry) = undo(&fixture, &fixture.admin, "milk", json!({"dry_run": true})).await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(dry["proposed"], false);
    assert_eq!(dry["steps"][0]["command_type"], "Unlist", "{dry}");
    assert!(types(&fixture, "plan-undo-milk").await.is_empty());

    let (status, body) = undo(&fixture, &fixture.admin, "milk", json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["plan_id"], "undo-milk");
    assert_eq!(body["undoes"], "milk");
    assert_eq!(body["proposed"], true);
    assert_eq!(
        types(&fixture, "plan-undo-milk").await,
        ["PlanProposed", "PlanApproved"]
    );
    let proposed = &fixture
        .store
        .read_stream(
            &StreamId::parse("plan-undo-milk").expect("valid"),
            0,
            Direction::Forward,
            1,
        )
        .await
        .expect("reads")[0];
    assert_eq!(proposed.metadata.actor.to_string(), "token:admin");

    // Again: nothing new.
    let (status, again) = undo(&fixture, &fixture.admin, "milk", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["proposed"], false);
    assert_eq!(again["status"], "still running", "{again}");
    assert_eq!(types(&fixture, "plan-undo-milk").await.len(), 2);
}

async fn an_undo_is_refused_by_name_and_writes_nothing(fixture: Fixture) {
    listed(&fixture, "bread", "bread", false).await;
    listed(&fixture, "eggs", "eggs", true).await;
    let before = fixture.store.head().await.expect("head");

    let (status, body) = undo(&fixture, &fixture.admin, "nothing", json!({})).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
    let (status, body) = undo(&fixture, &fixture.admin, "bread", json!({})).await;
    assert_problem(status, &body, StatusCode::CONFLICT, "plan-not-completed");
    let (status, body) = undo(&fixture, &fixture.admin, "eggs", json!({"dry": true})).await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "invalid-input");
    assert_eq!(body["field"], "dry", "{body}");

    let reader = fixture.token("reader", &[Scope::ReadModelsRead]).await;
    let (status, body) = undo(&fixture, &reader, "eggs", json!({})).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let member = fixture
        .member_token("sam", &["home"], &[Scope::ApprovalsWrite])
        .await;
    let (status, body) = undo(&fixture, &member, "eggs", json!({})).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(body["domain"], "groceries", "{body}");
    let grocer = fixture
        .member_token("kim", &["groceries"], &[Scope::ApprovalsWrite])
        .await;
    let (status, body) = undo(&fixture, &grocer, "eggs", json!({})).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "not-an-approver");

    // Only the tokens and users made above were written.
    let written = fixture
        .store
        .read_all(before.unwrap_or(steward_events::Position::ORIGIN), 100)
        .await
        .expect("reads");
    assert!(
        written
            .iter()
            .all(|event| event.stream_id.category() == "access"),
        "{:?}",
        written
            .iter()
            .map(|e| e.stream_id.to_string())
            .collect::<Vec<_>>()
    );
}
