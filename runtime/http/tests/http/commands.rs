//! `POST /api/v1/commands`: handled, repeated, refused, and bad input that
//! writes nothing.

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};
use steward_events::{EventStore, StreamId};
use steward_http::app;
use steward_http::extract::JSON_LIMIT;

use crate::support::{Fixture, assert_problem, call, on_both_backends, with_token};

fn post(body: Value) -> TestRequest {
    TestRequest::post().uri("/api/v1/commands").set_json(body)
}

async fn versions(fixture: &Fixture, stream: &str) -> Option<u64> {
    fixture
        .store
        .stream_version(&StreamId::parse(stream).expect("valid"))
        .await
        .expect("store answers")
}

async fn a_command_is_handled_once_and_recorded_with_the_callers_token(fixture: Fixture) {
    let app = test::init_service(app(fixture.state())).await;
    let command = json!({
        "command_id": "list-milk-1",
        "stream_id": "shoppinglist-home",
        "command_type": "ListItem",
        "data": { "item": "Oat milk", "quantity": 2.0, "unit": "l" }
    });
    let (status, first) = call(&app, with_token(post(command.clone()), &fixture.admin)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["duplicate"], false);
    assert_eq!(first["events"][0]["event_type"], "ItemListed");
    assert_eq!(first["version"], 0);

    let (status, again) = call(&app, with_token(post(command), &fixture.admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["events"], first["events"]);
    assert_eq!(versions(&fixture, "shoppinglist-home").await, Some(0));

    let stored = fixture
        .store
        .read_stream(
            &StreamId::parse("shoppinglist-home").expect("valid"),
            0,
            steward_events::Direction::Forward,
            10,
        )
        .await
        .expect("read");
    assert_eq!(stored[0].metadata.actor.to_string(), "token:admin");
    assert_eq!(
        stored[0].metadata.correlation_id.to_string(),
        first["correlation_id"].as_str().expect("a correlation id")
    );
}

async fn a_refused_command_names_its_rule(fixture: Fixture) {
    let app = test::init_service(app(fixture.state())).await;
    let (status, body) = call(
        &app,
        with_token(
            post(json!({
                "stream_id": "shoppinglist-home",
                "command_type": "CheckOff",
                "data": { "item": "bread" }
            })),
            &fixture.admin,
        ),
    )
    .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "rejected");
    assert_eq!(body["rule"], "not_on_list");
    assert_eq!(versions(&fixture, "shoppinglist-home").await, None);
}

async fn bad_input_is_a_4xx_naming_the_field_and_writes_nothing(fixture: Fixture) {
    let app = test::init_service(app(fixture.state())).await;
    let cases: Vec<(TestRequest, StatusCode, &str, Option<&str>)> = vec![
        (
            TestRequest::post()
                .uri("/api/v1/commands")
                .insert_header(("Content-Type", "application/json"))
                .set_payload("{\"stream_id\": "),
            StatusCode::BAD_REQUEST,
            "invalid-input",
            None,
        ),
        (
            TestRequest::post()
                .uri("/api/v1/commands")
                .insert_header(("Content-Type", "text/plain"))
                .set_payload("hello"),
            StatusCode::BAD_REQUEST,
            "invalid-input",
            None,
        ),
        (
            post(
                json!({ "stream_id": "shoppinglist-home", "command_type": "ListItem",
                         "data": { "item": "milk" }, "actor": "user:someone-else" }),
            ),
            StatusCode::BAD_REQUEST,
            "invalid-input",
            Some("actor"),
        ),
        (
            post(json!({ "stream_id": 7, "command_type": "ListItem" })),
            StatusCode::BAD_REQUEST,
            "invalid-input",
            Some("stream_id"),
        ),
        (
            post(json!({ "command_type": "ListItem" })),
            StatusCode::BAD_REQUEST,
            "invalid-input",
            None,
        ),
        (
            post(json!({ "stream_id": "no such thing!", "command_type": "ListItem" })),
            StatusCode::BAD_REQUEST,
            "invalid-input",
            Some("stream_id"),
        ),
        (
            post(
                json!({ "stream_id": "shoppinglist-home", "command_type": "ListItem",
                         "data": [1, 2] }),
            ),
            StatusCode::BAD_REQUEST,
            "invalid-input",
            Some("data"),
        ),
        (
            post(
                json!({ "stream_id": "shoppinglist-home", "command_type": "ListItem",
                         "data": { "item": 5 } }),
            ),
            StatusCode::BAD_REQUEST,
            "invalid-input",
            None,
        ),
        (
            post(
                json!({ "command_id": "saga:low_stock:x:list", "stream_id": "shoppinglist-home",
                         "command_type": "ListItem", "data": { "item": "milk" } }),
            ),
            StatusCode::BAD_REQUEST,
            "invalid-input",
            Some("command_id"),
        ),
        (
            post(json!({ "stream_id": "shoppinglist-home", "command_type": "Teleport" })),
            StatusCode::BAD_REQUEST,
            "invalid-input",
            None,
        ),
        (
            post(json!({ "stream_id": "nosuchcategory-home", "command_type": "ListItem" })),
            StatusCode::BAD_REQUEST,
            "invalid-input",
            None,
        ),
        (
            post(
                json!({ "stream_id": "shoppinglist-home", "command_type": "ListItem",
                         "data": { "item": "x".repeat(JSON_LIMIT) } }),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            None,
        ),
    ];
    for (request, expected, kind, field) in cases {
        let (status, body) = call(&app, with_token(request, &fixture.admin)).await;
        assert_problem(status, &body, expected, kind);
        if let Some(field) = field {
            assert_eq!(body["field"], field, "{body}");
        }
    }
    assert_eq!(versions(&fixture, "shoppinglist-home").await, None);
}

/// A plan's approver is whoever is signed in; a command naming one in its
/// data would let anyone approve as anyone. An actuation straight from a
/// command would act on the world with no plan or policy behind it.
async fn plans_and_actuations_are_not_written_by_command(fixture: Fixture) {
    let app = test::init_service(app(fixture.state())).await;
    for (stream, command_type, data) in [
        ("plan-1", "ApprovePlan", json!({ "user_id": "owner" })),
        (
            "plan-1",
            "RecordStepIssued",
            json!({ "step": 0, "command_id": "x" }),
        ),
        (
            "actuation-1",
            "RequestActuation",
            json!({ "integration": "mqtt", "action": { "topic": "x" } }),
        ),
        // Nor through a timer that would send the command later.
        (
            "timer-approve",
            "Schedule",
            json!({ "due_at": "2030-01-01T00:00:00Z", "target": "plan-1",
                    "command_type": "ApprovePlan", "data": { "user_id": "owner" } }),
        ),
    ] {
        let (status, body) = call(
            &app,
            with_token(
                post(json!({ "stream_id": stream, "command_type": command_type, "data": data })),
                &fixture.admin,
            ),
        )
        .await;
        assert_problem(status, &body, StatusCode::BAD_REQUEST, "invalid-input");
        let field = if stream.starts_with("timer") {
            "data.target"
        } else {
            "stream_id"
        };
        assert_eq!(body["field"], field, "{body}");
    }
    assert_eq!(versions(&fixture, "plan-1").await, None);
    assert_eq!(versions(&fixture, "timer-approve").await, None);
    assert_eq!(versions(&fixture, "actuation-1").await, None);
}

on_both_backends!(
    a_command_is_handled_once_and_recorded_with_the_callers_token,
    a_refused_command_names_its_rule,
    bad_input_is_a_4xx_naming_the_field_and_writes_nothing,
    plans_and_actuations_are_not_written_by_command,
);
