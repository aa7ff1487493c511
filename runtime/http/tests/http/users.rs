//! First run, logins, browser sessions with CSRF, rate limits, and what a
//! household member may see and do.

use actix_web::cookie::SameSite;
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};
use steward_events::domain::access::Scope;
use steward_events::{Direction, EventStore};
use steward_http::auth::{CSRF_HEADER, SESSION_COOKIE};
use steward_http::limits::LoginLimitsConfig;
use steward_http::{ApiState, access_stream, app};

use crate::support::{Fixture, assert_problem, call, on_both_backends, with_token};

const PASSWORD: &str = "correct horse battery";

/// A logged-in browser: its cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
    user_id: String,
}

impl Browser {
    fn get(&self, uri: &str) -> TestRequest {
        TestRequest::get()
            .uri(uri)
            .cookie(actix_web::cookie::Cookie::new(
                SESSION_COOKIE,
                self.cookie.clone(),
            ))
    }

    fn change(&self, request: TestRequest) -> TestRequest {
        request
            .cookie(actix_web::cookie::Cookie::new(
                SESSION_COOKIE,
                self.cookie.clone(),
            ))
            .insert_header((CSRF_HEADER, self.csrf.clone()))
    }
}

/// Posts to a login-like route and reads the session it sets.
async fn session_from<S, B>(app: &S, request: TestRequest) -> Result<Browser, (StatusCode, Value)>
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let response = test::call_service(app, request.to_request()).await;
    let status = response.status();
    let cookie = response
        .response()
        .cookies()
        .find(|cookie| cookie.name() == SESSION_COOKIE)
        .map(|cookie| {
            assert_eq!(
                cookie.http_only(),
                Some(true),
                "the session cookie is HttpOnly"
            );
            assert_eq!(cookie.same_site(), Some(SameSite::Strict));
            cookie.value().to_owned()
        });
    let body: Value =
        serde_json::from_slice(&test::read_body(response).await).unwrap_or(Value::Null);
    match (status, cookie) {
        (StatusCode::OK, Some(cookie)) => Ok(Browser {
            cookie,
            csrf: body["csrf_token"]
                .as_str()
                .expect("a CSRF token")
                .to_owned(),
            user_id: body["user"]["user_id"].as_str().expect("a user").to_owned(),
        }),
        _ => Err((status, body)),
    }
}

fn login(username: &str, password: &str) -> TestRequest {
    TestRequest::post()
        .uri("/api/v1/session")
        .set_json(json!({ "username": username, "password": password }))
}

async fn set_up_owner(
    state: &ApiState,
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
) -> Browser {
    let code = state
        .issue_setup_code()
        .await
        .expect("access")
        .expect("a code");
    session_from(
        app,
        TestRequest::post().uri("/api/v1/setup").set_json(json!({
            "code": code,
            "username": "alex",
            "display_name": "Alex",
            "password": PASSWORD,
        })),
    )
    .await
    .expect("the owner is set up")
}

async fn the_owner_is_created_only_with_the_setup_code(fixture: Fixture) {
    let state = fixture.state();
    let app = test::init_service(app(state.clone())).await;
    let (status, body) = call(&app, TestRequest::get().uri("/api/v1/setup")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "needed": true })));
    let setup = |code: &str, password: &str| {
        TestRequest::post().uri("/api/v1/setup").set_json(json!({
            "code": code, "username": "alex", "display_name": "Alex", "password": password,
        }))
    };
    // Before serve issues a code, and with a wrong one, nothing is created.
    let (status, body) = call(&app, setup("guess", PASSWORD)).await;
    assert_problem(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );
    let code = state
        .issue_setup_code()
        .await
        .expect("access")
        .expect("a code");
    assert_eq!(
        state.issue_setup_code().await.expect("access"),
        Some(code.clone()),
        "one code"
    );
    let (status, body) = call(&app, setup("wrong-code", PASSWORD)).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = call(&app, setup(&code, "short")).await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "invalid-input");
    assert_eq!(body["field"], "password");

    let owner = session_from(&app, setup(&code, PASSWORD))
        .await
        .expect("set up");
    let (status, body) = call(&app, owner.get("/api/v1/session")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["role"], "owner");
    assert_eq!(body["via"], "session");
    let (_, body) = call(&app, TestRequest::get().uri("/api/v1/setup")).await;
    assert_eq!(body, json!({ "needed": false }));
    let (status, body) = call(&app, setup(&code, PASSWORD)).await;
    assert_problem(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, log) = call(&app, owner.get("/api/v1/streams/access-main")).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert!(
        !log.to_string().contains("argon2"),
        "no password hash over the API: {log}"
    );
    let added = log["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|event| event["event_type"] == "UserAdded")
        .expect("the owner's UserAdded");
    assert_eq!(added["personal_withheld"], true);
    assert_eq!(added["personal"], Value::Null);
    assert_eq!(state.issue_setup_code().await.expect("access"), None);
}

async fn a_session_changes_things_only_with_its_csrf_token(fixture: Fixture) {
    let state = fixture.state();
    let app = test::init_service(app(state.clone())).await;
    let owner = set_up_owner(&state, &app).await;
    let command = || {
        TestRequest::post().uri("/api/v1/commands").set_json(json!({
            "stream_id": "shoppinglist-home", "command_type": "ListItem", "data": { "item": "milk" }
        }))
    };
    let without = command().cookie(actix_web::cookie::Cookie::new(
        SESSION_COOKIE,
        owner.cookie.clone(),
    ));
    let (status, body) = call(&app, without).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "csrf");
    let wrong = without_csrf(command(), &owner).insert_header((CSRF_HEADER, "0".repeat(64)));
    let (status, body) = call(&app, wrong).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "csrf");
    assert_eq!(
        fixture
            .store
            .stream_version(&"shoppinglist-home".parse().expect("valid"))
            .await
            .expect("store"),
        None,
        "refused changes wrote nothing"
    );
    let (status, body) = call(&app, owner.change(command())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let events = fixture
        .store
        .read_stream(
            &"shoppinglist-home".parse().expect("valid"),
            0,
            Direction::Forward,
            10,
        )
        .await
        .expect("read");
    assert_eq!(
        events[0].metadata.actor.to_string(),
        format!("user:{}", owner.user_id)
    );

    // Logging out ends the session everywhere.
    let response = test::call_service(
        &app,
        owner
            .change(TestRequest::delete().uri("/api/v1/session"))
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, body) = call(&app, owner.get("/api/v1/session")).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
}

fn without_csrf(request: TestRequest, browser: &Browser) -> TestRequest {
    request.cookie(actix_web::cookie::Cookie::new(
        SESSION_COOKIE,
        browser.cookie.clone(),
    ))
}

async fn failed_logins_are_recorded_and_limited(fixture: Fixture) {
    let state = ApiState::builder(
        std::sync::Arc::new(fixture.store.clone()),
        fixture.host.clone(),
        fixture.db.clone(),
    )
    .login_limits(LoginLimitsConfig {
        per_address_burst: 100,
        per_username_burst: 3,
        refill_seconds: 60,
    })
    .build()
    .expect("state");
    let app = test::init_service(app(state.clone())).await;
    set_up_owner(&state, &app).await;

    let (status, wrong) = call(&app, login("alex", "not the password")).await;
    assert_problem(status, &wrong, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (status, unknown) = call(&app, login("mallory", "whatever it is")).await;
    assert_problem(
        status,
        &unknown,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_eq!(
        wrong["detail"], unknown["detail"],
        "an unknown name reads like a wrong password"
    );
    // A name longer than any username is turned away before any work.
    let (status, body) = call(&app, login(&"x".repeat(100), "whatever it is")).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    let events = fixture
        .store
        .read_stream(&access_stream(), 0, Direction::Forward, 100)
        .await
        .expect("read");
    let failures: Vec<&str> = events
        .iter()
        .filter(|event| event.event_type.as_str() == "LoginFailed")
        .filter_map(|event| event.data["reason"].as_str())
        .collect();
    assert_eq!(failures, ["wrong_password", "unknown_user"]);
    assert!(
        !events
            .iter()
            .any(|event| event.data.to_string().contains("argon2")),
        "password hashes never sit in the plain data"
    );

    assert!(
        session_from(&app, login("ALEX", PASSWORD)).await.is_ok(),
        "logins ignore case"
    );
    assert!(
        session_from(&app, login("alex", PASSWORD)).await.is_ok(),
        "the third try"
    );
    let response = test::call_service(&app, login("alex", PASSWORD).to_request()).await;
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the fourth try in a minute"
    );
    assert!(response.headers().contains_key("retry-after"));
}

async fn a_member_sees_and_commands_only_their_domains(fixture: Fixture) {
    let state = fixture.state();
    let app = test::init_service(app(state.clone())).await;
    let owner = set_up_owner(&state, &app).await;
    fixture
        .command(
            "message-m1",
            "Receive",
            json!({
                "message_id": "m1", "account": "personal",
                "from": { "address": "boss@example.org" }, "to": [{ "address": "me@example.org" }],
                "subject": "Salaries", "body_text": "private", "received_at": "2026-03-02T09:00:00Z"
            }),
        )
        .await;
    let (status, sam) = call(
        &app,
        owner.change(TestRequest::post().uri("/api/v1/users").set_json(json!({
            "username": "sam", "display_name": "Sam", "password": PASSWORD, "domains": ["groceries"]
        }))),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sam}");
    assert_eq!(sam["domains"], json!(["groceries"]));
    assert!(
        !sam.to_string().contains("argon2"),
        "a user view never shows the hash"
    );
    let member = session_from(&app, login("sam", PASSWORD))
        .await
        .expect("sam logs in");

    let list = |item: &str| {
        TestRequest::post().uri("/api/v1/commands").set_json(json!({
            "stream_id": "shoppinglist-home", "command_type": "ListItem", "data": { "item": item }
        }))
    };
    let (status, body) = call(&app, member.change(list("eggs"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        &app,
        member.change(TestRequest::post().uri("/api/v1/commands").set_json(json!({
            "stream_id": "message-m1", "command_type": "Archive", "data": {}
        }))),
    )
    .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(body["domain"], "inbox");
    let (status, body) = call(&app, member.get("/api/v1/streams/message-m1")).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    fixture.catch_up().await;
    let (status, body) = call(&app, member.get("/api/v1/inbox")).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(body["domain"], "inbox");
    let (status, body) = call(&app, member.get("/api/v1/groceries/shopping-list")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "their own domain's read model: {body}"
    );
    let message_event = fixture
        .store
        .read_stream(
            &"message-m1".parse().expect("valid"),
            0,
            Direction::Forward,
            1,
        )
        .await
        .expect("read")[0]
        .event_id;
    let (status, body) = call(
        &app,
        member.get(&format!("/api/v1/events/{message_event}/chain")),
    )
    .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    for admin_only in ["/api/v1/users", "/api/v1/tokens"] {
        let (status, body) = call(&app, member.get(admin_only)).await;
        assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }

    fixture.catch_up().await;
    let (status, page) = call(&app, member.get("/api/v1/events?limit=100")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let streams: Vec<&str> = page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|entry| entry["stream_id"].as_str())
        .collect();
    assert_eq!(
        streams,
        ["shoppinglist-home"],
        "a member's timeline holds their domains only"
    );
    let (status, body) = call(&app, member.get("/api/v1/events?category=message")).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (_, page) = call(&app, owner.get("/api/v1/events?limit=100")).await;
    assert!(
        page.to_string().contains("message-m1"),
        "the owner sees everything"
    );

    // The owner ends the member's session, then removes them.
    let (_, sessions) = call(&app, owner.get("/api/v1/sessions")).await;
    let sams: Vec<&str> = sessions
        .as_array()
        .expect("sessions")
        .iter()
        .filter(|s| s["user_id"] == member.user_id)
        .filter_map(|s| s["session_id"].as_str())
        .collect();
    assert_eq!(sams.len(), 1);
    let (status, _) = call(
        &app,
        owner.change(TestRequest::delete().uri(&format!("/api/v1/sessions/{}", sams[0]))),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, member.get("/api/v1/session")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let again = session_from(&app, login("sam", PASSWORD))
        .await
        .expect("sam logs in again");
    let (status, _) = call(
        &app,
        owner.change(TestRequest::delete().uri(&format!("/api/v1/users/{}", member.user_id))),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, again.get("/api/v1/session")).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a removed user's sessions end"
    );
}

async fn a_user_sets_their_own_profile(fixture: Fixture) {
    let state = fixture.state();
    let app = test::init_service(app(state.clone())).await;
    let owner = set_up_owner(&state, &app).await;
    let profile = |zone: &str| {
        owner.change(TestRequest::put().uri("/api/v1/profile").set_json(json!({
            "time_zone": zone, "locale": "en-GB"
        })))
    };
    let (status, body) = call(&app, profile("Europe/London")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["time_zone"], "Europe/London");
    let (status, body) = call(&app, profile("Mars/Olympus")).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "rejected");
    assert_eq!(body["rule"], "time_zone_invalid");
}

async fn an_installation_token_acts_as_the_owner(fixture: Fixture) {
    let app = test::init_service(app(fixture.state())).await;
    let (status, body) = call(
        &app,
        with_token(TestRequest::get().uri("/api/v1/session"), &fixture.admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["via"], "token");
    assert_eq!(body["user"]["role"], "owner");
    let reader = fixture.token("reader", &[Scope::EventsRead]).await;
    let (status, _) = call(
        &app,
        with_token(TestRequest::get().uri("/api/v1/session"), &reader),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "any token may ask who it is");
    let (status, body) = call(
        &app,
        with_token(
            TestRequest::put()
                .uri("/api/v1/profile")
                .set_json(json!({ "time_zone": "Europe/London", "locale": "en-GB" })),
            &reader,
        ),
    )
    .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
}

on_both_backends!(
    the_owner_is_created_only_with_the_setup_code,
    a_session_changes_things_only_with_its_csrf_token,
    failed_logins_are_recorded_and_limited,
    a_member_sees_and_commands_only_their_domains,
    a_user_sets_their_own_profile,
    an_installation_token_acts_as_the_owner,
);
