//! Who may call what: public routes, tokens, scopes, revocation, expiry.

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use serde_json::json;
use steward_actors::CommandEnvelope;
use steward_events::domain::access::Scope;
use steward_http::{access_stream, app, new_token};

use crate::support::{Fixture, assert_problem, call, on_both_backends, with_token};

/// Every protected route, with a request that would pass if allowed, and
/// the scope it needs.
fn protected() -> Vec<(TestRequest, Scope)> {
    vec![
        (TestRequest::get().uri("/api/v1/events"), Scope::EventsRead),
        (
            TestRequest::get().uri("/api/v1/streams/shoppinglist-home"),
            Scope::EventsRead,
        ),
        (
            TestRequest::post().uri("/api/v1/commands").set_json(json!({
                "stream_id": "shoppinglist-home",
                "command_type": "ListItem",
                "data": { "item": "milk" }
            })),
            Scope::CommandsWrite,
        ),
        (
            TestRequest::get().uri("/api/v1/projections"),
            Scope::ReadModelsRead,
        ),
        (
            TestRequest::get().uri("/api/v1/inbox"),
            Scope::ReadModelsRead,
        ),
        (
            TestRequest::get().uri("/api/v1/groceries/shopping-list"),
            Scope::ReadModelsRead,
        ),
        (
            TestRequest::get().uri("/api/v1/memory/search?q=milk"),
            Scope::ReadModelsRead,
        ),
        (
            TestRequest::get().uri("/api/v1/events/01a22fd4-e335-71b9-a33c-fdc71398b1d0/chain"),
            Scope::EventsRead,
        ),
        (TestRequest::get().uri("/api/v1/users"), Scope::Admin),
        (
            TestRequest::post().uri("/api/v1/projections/timeline/rebuild"),
            Scope::Admin,
        ),
        (
            TestRequest::post().uri("/api/v1/projections/timeline/retry"),
            Scope::Admin,
        ),
        (TestRequest::get().uri("/api/v1/tokens"), Scope::Admin),
        (
            TestRequest::post()
                .uri("/api/v1/tokens")
                .set_json(json!({ "name": "x", "scopes": ["events:read"] })),
            Scope::Admin,
        ),
        (
            TestRequest::delete().uri("/api/v1/tokens/admin"),
            Scope::Admin,
        ),
    ]
}

async fn every_protected_route_needs_a_token(fixture: Fixture) {
    let app = test::init_service(app(fixture.state())).await;
    for (request, _) in protected() {
        let (status, body) = call(&app, request).await;
        assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    let unknown = new_token().expect("randomness").secret;
    for (request, _) in protected() {
        let (status, body) = call(&app, with_token(request, &unknown)).await;
        assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    "] {
        let request = TestRequest::get()
            .uri("/api/v1/events")
            .insert_header(("Authorization", header));
        let (status, body) = call(&app, request).await;
        assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    // Nothing was written on the way: the refused command is not in the log.
    assert_eq!(
        steward_events::EventStore::stream_version(
            &fixture.store,
            &steward_events::StreamId::parse("shoppinglist-home").expect("valid"),
        )
        .await
        .expect("store answers"),
        None
    );
}

async fn public_routes_need_none(fixture: Fixture) {
    let app = test::init_service(app(fixture.state())).await;
    for uri in ["/healthz", "/api/openapi.json", "/metrics"] {
        let response = test::call_service(&app, TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
    }
    let served = test::call_service(
        &app,
        TestRequest::get().uri("/api/openapi.json").to_request(),
    )
    .await;
    let served = test::read_body(served).await;
    assert_eq!(
        served,
        steward_http::openapi::document().as_bytes(),
        "the served document is the generated one"
    );
    let docs = test::call_service(&app, TestRequest::get().uri("/api/docs/").to_request()).await;
    assert_eq!(docs.status(), StatusCode::OK);
    let page = test::read_body(docs).await;
    assert!(
        String::from_utf8_lossy(&page).contains("swagger"),
        "the docs page is Swagger UI"
    );
}

async fn each_scope_opens_its_routes_and_no_others(fixture: Fixture) {
    let app = test::init_service(app(fixture.state())).await;
    for scope in [
        Scope::EventsRead,
        Scope::CommandsWrite,
        Scope::ReadModelsRead,
    ] {
        let secret = fixture
            .token(
                &format!("only-{}", scope.as_str().replace(':', "-")),
                &[scope],
            )
            .await;
        for (request, needed) in protected() {
            let (status, body) = call(&app, with_token(request, &secret)).await;
            if needed == scope {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{scope} opens a route needing {needed}: {status} {body}"
                );
            } else {
                assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
                assert_eq!(body["required_scope"], needed.as_str());
            }
        }
    }
    // Admin opens everything.
    for (request, _) in protected() {
        let (status, body) = call(&app, with_token(request, &fixture.admin)).await;
        assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            "admin is refused: {status} {body}"
        );
    }
}

async fn commands_to_the_access_stream_need_admin(fixture: Fixture) {
    let app = test::init_service(app(fixture.state())).await;
    let writer = fixture.token("writer", &[Scope::CommandsWrite]).await;
    let forged = new_token().expect("randomness");
    let request = TestRequest::post().uri("/api/v1/commands").set_json(json!({
        "stream_id": "access-main",
        "command_type": "CreateToken",
        "data": { "token_id": "mine", "name": "mine", "scopes": ["admin"], "sha256": forged.sha256 }
    }));
    let (status, body) = call(&app, with_token(request, &writer)).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    // Nor through a timer, which would send it later as the system.
    let timer = TestRequest::post().uri("/api/v1/commands").set_json(json!({
        "stream_id": "timer-sneaky",
        "command_type": "Schedule",
        "data": { "due_at": "2020-01-01T00:00:00Z", "target": "access-main",
                  "command_type": "CreateToken", "data": {} }
    }));
    let (status, body) = call(&app, with_token(timer, &writer)).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(body["required_scope"], "admin");
    let unknown = TestRequest::post().uri("/api/v1/commands").set_json(json!({
        "stream_id": "saga-low_stock", "command_type": "Checkpoint", "data": {}
    }));
    let (status, body) = call(&app, with_token(unknown, &writer)).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = call(
        &app,
        with_token(
            TestRequest::get().uri("/api/v1/projections"),
            &forged.secret,
        ),
    )
    .await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
}

async fn a_revoked_token_stops_working_at_once(fixture: Fixture) {
    let app = test::init_service(app(fixture.state())).await;
    let reader = fixture.token("reader", &[Scope::ReadModelsRead]).await;
    let list = || TestRequest::get().uri("/api/v1/projections");
    let (status, _) = call(&app, with_token(list(), &reader)).await;
    assert_eq!(status, StatusCode::OK);
    let state = fixture.state();
    let caller = state
        .access()
        .by_token(&reader, state.now())
        .await
        .expect("let in");
    assert!(
        state
            .access()
            .still_admits(&caller, state.now())
            .await
            .expect("access")
    );
    // Revoked behind the API's back, as `steward token revoke` beside
    // `serve` would.
    fixture
        .host
        .execute(CommandEnvelope::new(
            access_stream(),
            "RevokeToken",
            json!({ "token_id": "reader" }),
            "user:test",
        ))
        .await
        .expect("revoked");
    let (status, body) = call(&app, with_token(list(), &reader)).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("revoked"))
    );
    assert!(
        !state
            .access()
            .still_admits(&caller, state.now())
            .await
            .expect("access"),
        "an open live stream of this caller ends at its next recheck"
    );
}

async fn tokens_are_made_listed_and_revoked_through_the_api(fixture: Fixture) {
    let app = test::init_service(app(fixture.state())).await;
    let (status, created) = call(
        &app,
        with_token(
            TestRequest::post().uri("/api/v1/tokens").set_json(json!({
                "name": "backup script",
                "scopes": ["events:read"],
            })),
            &fixture.admin,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"]
        .as_str()
        .expect("the secret is shown once");
    let id = created["token_id"].as_str().expect("an id").to_owned();
    assert_eq!(created["scopes"], json!(["events:read"]));

    let (status, _) = call(
        &app,
        with_token(TestRequest::get().uri("/api/v1/events?limit=1"), secret),
    )
    .await;
    assert_ne!(status, StatusCode::UNAUTHORIZED);

    let (status, listed) = call(
        &app,
        with_token(TestRequest::get().uri("/api/v1/tokens"), &fixture.admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let text = listed.to_string();
    assert!(text.contains(&id) && text.contains("backup script"));
    assert!(!text.contains(secret), "a listing never shows a secret");
    assert!(!text.contains("sha256"), "nor a digest");

    let (status, _) = call(
        &app,
        with_token(
            TestRequest::delete().uri(&format!("/api/v1/tokens/{id}")),
            &fixture.admin,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(
        &app,
        with_token(TestRequest::get().uri("/api/v1/events"), secret),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Refusals name the field or the rule.
    let (status, body) = call(
        &app,
        with_token(
            TestRequest::post()
                .uri("/api/v1/tokens")
                .set_json(json!({ "name": "x", "scopes": ["events:write"] })),
            &fixture.admin,
        ),
    )
    .await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "invalid-input");
    assert_eq!(body["field"], "scopes[0]");
    let (status, body) = call(
        &app,
        with_token(
            TestRequest::post()
                .uri("/api/v1/tokens")
                .set_json(json!({ "name": "x", "scopes": [] })),
            &fixture.admin,
        ),
    )
    .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "rejected");
    assert_eq!(body["rule"], "scopes_required");
    let (status, body) = call(
        &app,
        with_token(
            TestRequest::delete().uri("/api/v1/tokens/nope"),
            &fixture.admin,
        ),
    )
    .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "rejected");
    assert_eq!(body["rule"], "unknown_token");
}

async fn an_expired_token_opens_nothing(fixture: Fixture) {
    let app = test::init_service(app(fixture.state())).await;
    let token = new_token().expect("randomness");
    let expiry = fixture.host.clock().now() + chrono::Duration::milliseconds(300);
    fixture
        .host
        .execute(CommandEnvelope::new(
            access_stream(),
            "CreateToken",
            json!({ "token_id": "brief", "name": "brief", "scopes": ["admin"],
                    "sha256": token.sha256, "expires_at": expiry }),
            "user:test",
        ))
        .await
        .expect("made");
    let list = || TestRequest::get().uri("/api/v1/tokens");
    let (status, _) = call(&app, with_token(list(), &token.secret)).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (status, body) = call(&app, with_token(list(), &token.secret)).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("expired"))
    );
}

on_both_backends!(
    every_protected_route_needs_a_token,
    public_routes_need_none,
    each_scope_opens_its_routes_and_no_others,
    commands_to_the_access_stream_need_admin,
    a_revoked_token_stops_working_at_once,
    tokens_are_made_listed_and_revoked_through_the_api,
    an_expired_token_opens_nothing,
);
