//! Requests in plain language over HTTP: what the planner proposes, asks
//! or answers, for whom, and every way a request is refused without a
//! write.

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};
use steward_events::domain::access::Scope;
use steward_events::{Direction, EventStore, Position, StreamId};
use steward_http::app;

use crate::support::{Fixture, assert_problem, call, embedder, on_both_backends, with_token};

on_both_backends!(
    a_request_becomes_a_plan_proposed_as_the_caller,
    the_same_plan_id_proposes_nothing_new,
    a_request_is_refused_by_name_and_nothing_is_written,
    a_member_may_ask_only_in_their_domains,
    a_question_about_the_records_is_answered_with_where_to_read,
    without_the_planner_requests_are_unavailable,
    before_the_read_models_are_built_requests_are_unavailable,
);

/// Posts `body` to the requests endpoint with `token`.
async fn ask(fixture: &Fixture, token: &str, body: Value) -> (StatusCode, Value) {
    let app = test::init_service(app(fixture.state())).await;
    call(&app, with_token(post(body), token)).await
}

fn post(body: Value) -> TestRequest {
    TestRequest::post().uri("/api/v1/requests").set_json(body)
}

async fn plan_events(fixture: &Fixture, plan: &str) -> Vec<String> {
    fixture
        .store
        .read_stream(
            &StreamId::parse(format!("plan-{plan}")).expect("valid"),
            0,
            Direction::Forward,
            100,
        )
        .await
        .expect("read")
        .into_iter()
        .map(|event| event.event_type.to_string())
        .collect()
}

async fn a_request_becomes_a_plan_proposed_as_the_caller(fixture: Fixture) {
    let fixture = fixture.with_planner(embedder());
    fixture.catch_up().await;
    let (status, body) = ask(
        &fixture,
        &fixture.admin,
        json!({ "text": "add oat milk to the shopping list", "plan_id": "oat-milk" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["outcome"], "plan", "{body}");
    assert_eq!(body["plan_id"], "oat-milk");
    assert_eq!(body["intent"], "groceries.add_to_list", "{body}");
    assert!(
        body["slots"]
            .as_array()
            .is_some_and(|slots| slots.iter().any(|slot| slot["text"] == "oat milk")),
        "{body}"
    );
    assert_eq!(
        body["proposal"]["events"][0]["event_type"], "PlanProposed",
        "{body}"
    );

    let stored = fixture
        .store
        .read_stream(
            &StreamId::parse("plan-oat-milk").expect("valid"),
            0,
            Direction::Forward,
            10,
        )
        .await
        .expect("read");
    assert_eq!(stored.len(), 1, "proposed, waiting for an approver");
    assert_eq!(stored[0].event_type.to_string(), "PlanProposed");
    assert_eq!(stored[0].metadata.actor.to_string(), "token:admin");
    let personal = stored[0]
        .personal
        .as_ref()
        .and_then(|personal| personal.plain())
        .expect("the proposal's personal part, opened");
    let steps = &personal["steps"];
    assert_eq!(steps[0]["command_type"], "ListItem", "{steps}");
    assert_eq!(steps[0]["data"]["item"], "oat milk", "{steps}");
    assert_eq!(personal["request"], "add oat milk to the shopping list");
}

async fn the_same_plan_id_proposes_nothing_new(fixture: Fixture) {
    let fixture = fixture.with_planner(embedder());
    fixture.catch_up().await;
    let request = json!({ "text": "add bread to the shopping list", "plan_id": "bread" });
    let (status, first) = ask(&fixture, &fixture.admin, request.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = ask(&fixture, &fixture.admin, request).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["proposal"]["duplicate"], true, "{again}");
    assert_eq!(plan_events(&fixture, "bread").await, ["PlanProposed"]);

    // Another request under a taken id is refused, not taken for a repeat.
    let (status, body) = ask(
        &fixture,
        &fixture.admin,
        json!({ "text": "add eggs to the shopping list", "plan_id": "bread" }),
    )
    .await;
    assert_problem(status, &body, StatusCode::CONFLICT, "conflict");
    assert_eq!(plan_events(&fixture, "bread").await, ["PlanProposed"]);
}

async fn a_request_is_refused_by_name_and_nothing_is_written(fixture: Fixture) {
    let fixture = fixture.with_planner(embedder());
    fixture.catch_up().await;
    let head = fixture.store.head().await.expect("head");
    for (request, field) in [
        (json!({ "text": "   " }), "text"),
        (json!({ "text": "x".repeat(2_001) }), "text"),
        (
            json!({ "text": "add milk", "plan_id": "no spaces" }),
            "plan_id",
        ),
        (json!({ "text": "add milk", "plan_id": "a/b" }), "plan_id"),
        (
            json!({ "text": "add milk", "plan_id": ".hidden" }),
            "plan_id",
        ),
        (
            json!({ "text": "add milk", "plan_id": "x".repeat(65) }),
            "plan_id",
        ),
        (json!({ "text": "add milk", "plan": "typo" }), "plan"),
        (json!({ "text": 42 }), "text"),
        (json!({}), "text"),
    ] {
        let (status, body) = ask(&fixture, &fixture.admin, request.clone()).await;
        assert_problem(status, &body, StatusCode::BAD_REQUEST, "invalid-input");
        assert_eq!(body["field"], field, "{request}: {body}");
    }

    let reader = fixture.token("reader", &[Scope::ReadModelsRead]).await;
    let (status, body) = ask(&fixture, &reader, json!({ "text": "add milk" })).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(body["required_scope"], "commands:write", "{body}");
    let app = test::init_service(app(fixture.state())).await;
    let (status, body) = call(&app, post(json!({ "text": "add milk" }))).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");

    // The reader's token is the one write above: requests wrote nothing.
    let after = fixture.store.head().await.expect("head");
    let written = fixture
        .store
        .read_all(head.unwrap_or(Position::ORIGIN), 100)
        .await
        .expect("read");
    assert!(
        written
            .iter()
            .all(|event| event.stream_id.category() == "access"),
        "only the token was written: {:?} -> {:?}",
        head,
        after
    );
}

async fn a_member_may_ask_only_in_their_domains(fixture: Fixture) {
    let fixture = fixture.with_planner(embedder());
    fixture.catch_up().await;
    let member = fixture
        .member_token("sam", &["groceries"], &[Scope::CommandsWrite])
        .await;

    let (status, body) = ask(
        &fixture,
        &member,
        json!({ "text": "turn off the living room lights", "plan_id": "lights" }),
    )
    .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(body["domain"], "home", "{body}");
    assert!(plan_events(&fixture, "lights").await.is_empty());

    let (status, body) = ask(
        &fixture,
        &member,
        json!({ "text": "put apples on the shopping list", "plan_id": "apples" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let stored = fixture
        .store
        .read_stream(
            &StreamId::parse("plan-apples").expect("valid"),
            0,
            Direction::Forward,
            10,
        )
        .await
        .expect("read");
    assert_eq!(stored[0].metadata.actor.to_string(), "token:sam-token");
}

async fn a_question_about_the_records_is_answered_with_where_to_read(fixture: Fixture) {
    let fixture = fixture.with_planner(embedder());
    fixture.catch_up().await;
    let (status, body) = ask(
        &fixture,
        &fixture.admin,
        json!({ "text": "what's overdue at home?", "plan_id": "overdue" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "answer", "{body}");
    assert!(body["proposal"].is_null(), "{body}");
    assert!(
        body["decision"].to_string().contains("/api/v1/maintenance"),
        "{body}"
    );
    assert!(plan_events(&fixture, "overdue").await.is_empty());
}

async fn without_the_planner_requests_are_unavailable(fixture: Fixture) {
    let (status, body) = ask(&fixture, &fixture.admin, json!({ "text": "add milk" })).await;
    assert_problem(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("planner")),
        "{body}"
    );
}

async fn before_the_read_models_are_built_requests_are_unavailable(fixture: Fixture) {
    let fixture = fixture.with_planner(embedder());
    let (status, body) = ask(
        &fixture,
        &fixture.admin,
        json!({ "text": "turn off the living room lights", "plan_id": "early" }),
    )
    .await;
    assert_problem(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );
    assert!(plan_events(&fixture, "early").await.is_empty());
}
