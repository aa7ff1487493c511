//! Integration credentials through `/api/v1/credentials`: set, listed and
//! tested against real endpoints (a Mosquitto broker, an HTTP server and a
//! mail server the test starts), never read back, and recorded without the
//! secret.

use std::process::Command;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use steward_events::domain::access::Scope;
use steward_http::app;
use steward_testkit::{Mosquitto, free_port};

use crate::support::{Fixture, assert_problem, call, on_both_backends, with_token};

on_both_backends!(
    credentials_are_set_and_listed_but_never_read_back,
    bad_credentials_are_refused_and_change_nothing,
    only_admins_touch_credentials,
);

const PASSWORD: &str = "s3cret-broker-passw0rd";

async fn send(fixture: &Fixture, token: &str, request: TestRequest) -> (StatusCode, Value) {
    let app = test::init_service(app(fixture.state())).await;
    call(&app, with_token(request, token)).await
}

fn put(integration: &str, body: Value) -> TestRequest {
    TestRequest::put()
        .uri(&format!("/api/v1/credentials/{integration}"))
        .set_json(body)
}

fn test_request(integration: &str) -> TestRequest {
    TestRequest::post().uri(&format!("/api/v1/credentials/{integration}/test"))
}

async fn recorded(fixture: &Fixture) -> Value {
    let (status, body) = send(
        fixture,
        &fixture.admin,
        TestRequest::get().uri("/api/v1/streams/credentials-main"),
    )
    .await;
    if status == StatusCode::NOT_FOUND {
        return json!({ "events": [] });
    }
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn credentials_are_set_and_listed_but_never_read_back(fixture: Fixture) {
    let (status, body) = send(
        &fixture,
        &fixture.admin,
        put(
            "broker",
            json!({ "kind": "mqtt", "endpoint": "mqtt://127.0.0.1:1883",
                    "username": "steward", "password": PASSWORD }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["kind"], "mqtt");
    assert_eq!(body["fields"], json!(["password", "username"]));
    assert!(body["updated_at"].is_string(), "{body}");

    let (status, list) = send(
        &fixture,
        &fixture.admin,
        TestRequest::get().uri("/api/v1/credentials"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["integration"], "broker");
    assert_eq!(list[0]["endpoint"], "mqtt://127.0.0.1:1883");

    let stream = recorded(&fixture).await;
    assert!(
        stream.to_string().contains("CredentialsSet"),
        "the change is an event: {stream}"
    );
    let (_, metrics) = send(&fixture, &fixture.admin, TestRequest::get().uri("/metrics")).await;
    for shown in [
        body.to_string(),
        list.to_string(),
        stream.to_string(),
        metrics.to_string(),
    ] {
        assert!(!shown.contains(PASSWORD), "the secret never comes back");
    }
    assert_eq!(
        steward_store_core::CredentialVault::new(fixture.store.clone())
            .open("broker")
            .await
            .expect("opens")
            .map(|secret| String::from_utf8_lossy(&secret).contains(PASSWORD)),
        Some(true),
        "the vault holds it"
    );

    let (status, _) = send(
        &fixture,
        &fixture.admin,
        TestRequest::delete().uri("/api/v1/credentials/broker"),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = send(
        &fixture,
        &fixture.admin,
        TestRequest::get().uri("/api/v1/credentials"),
    )
    .await;
    assert_eq!(list, json!([]));
    let (status, body) = send(&fixture, &fixture.admin, test_request("broker")).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
    assert!(
        recorded(&fixture)
            .await
            .to_string()
            .contains("CredentialsRemoved")
    );
}

async fn bad_credentials_are_refused_and_change_nothing(fixture: Fixture) {
    let cases = [
        (
            "broker",
            json!({ "kind": "mqtt", "endpoint": "mqtt://steward:pw@127.0.0.1:1883", "password": "pw" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "rejected",
        ),
        (
            "broker",
            json!({ "kind": "mqtt", "endpoint": "https://127.0.0.1", "password": "pw" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "rejected",
        ),
        (
            "broker",
            json!({ "kind": "mqtt", "endpoint": "mqtt://127.0.0.1" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "rejected",
        ),
        (
            "Broker!",
            json!({ "kind": "mqtt", "endpoint": "mqtt://127.0.0.1", "password": "pw" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "rejected",
        ),
        (
            "broker",
            json!({ "kind": "mqtt", "endpoint": "mqtt://127.0.0.1", "pasword": "pw" }),
            StatusCode::BAD_REQUEST,
            "invalid-input",
        ),
    ];
    for (integration, body, expected, kind) in cases {
        let (status, problem) = send(&fixture, &fixture.admin, put(integration, body)).await;
        assert_problem(status, &problem, expected, kind);
    }
    assert!(
        steward_store_core::CredentialVault::new(fixture.store.clone())
            .list()
            .await
            .expect("lists")
            .is_empty(),
        "nothing reached the vault"
    );
    assert_eq!(recorded(&fixture).await["events"], json!([]));
}

async fn only_admins_touch_credentials(fixture: Fixture) {
    let writer = fixture
        .token("writer", &[Scope::CommandsWrite, Scope::EventsRead])
        .await;
    let body = json!({ "kind": "http", "endpoint": "http://127.0.0.1:9", "token": "t" });
    for request in [
        TestRequest::get().uri("/api/v1/credentials"),
        put("api", body.clone()),
        TestRequest::delete().uri("/api/v1/credentials/api"),
        test_request("api"),
    ] {
        let (status, problem) = send(&fixture, &writer, request).await;
        assert_problem(status, &problem, StatusCode::FORBIDDEN, "forbidden");
    }
    // Not even an admin records credentials by command: the events would
    // claim what the vault does not hold.
    let (status, problem) = send(
        &fixture,
        &fixture.admin,
        TestRequest::post().uri("/api/v1/commands").set_json(json!({
            "stream_id": "credentials-main", "command_type": "RecordCredentialsSet",
            "data": { "integration": "api", "kind": "http", "endpoint": "http://x", "fields": ["token"] },
        })),
    )
    .await;
    assert_problem(status, &problem, StatusCode::BAD_REQUEST, "invalid-input");
}

/// A Mosquitto broker of the test's own that admits `steward` with
/// [`PASSWORD`] only.
fn broker() -> Mosquitto {
    Mosquitto::start(free_port(), |dir| {
        let passwords = dir.join("passwords");
        let made = Command::new("mosquitto_passwd")
            .args(["-c", "-b"])
            .arg(&passwords)
            .args(["steward", PASSWORD])
            .status()
            .expect("mosquitto_passwd runs (Debian package mosquitto)");
        assert!(made.success());
        format!(
            "allow_anonymous false\npassword_file {}\n",
            passwords.display()
        )
    })
}

#[actix_web::test]
async fn mqtt_credentials_are_tested_against_a_real_broker() {
    let fixture = Fixture::sqlite().await;
    let broker = broker();
    let endpoint = format!("mqtt://127.0.0.1:{}", broker.port());
    let set_and_test = |password: &'static str| {
        let endpoint = endpoint.clone();
        let fixture = &fixture;
        async move {
            let (status, body) = send(
                fixture,
                &fixture.admin,
                put(
                    "broker",
                    json!({ "kind": "mqtt", "endpoint": endpoint, "username": "steward", "password": password }),
                ),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let (status, result) = send(fixture, &fixture.admin, test_request("broker")).await;
            assert_eq!(status, StatusCode::OK, "{result}");
            result
        }
    };
    let accepted = set_and_test(PASSWORD).await;
    assert_eq!(accepted["ok"], true, "{accepted}");
    let refused = set_and_test("wrong password").await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|d| d.contains("refused")),
        "{refused}"
    );
    let (_, list) = send(
        &fixture,
        &fixture.admin,
        TestRequest::get().uri("/api/v1/credentials"),
    )
    .await;
    assert_eq!(list[0]["last_test"]["ok"], false, "the last test is listed");

    drop(broker);
    let (_, gone) = send(&fixture, &fixture.admin, test_request("broker")).await;
    assert_eq!(gone["ok"], false, "a broker that is down fails the test");
    let stream = recorded(&fixture).await.to_string();
    assert_eq!(stream.matches("CredentialsTested").count(), 3, "{stream}");
    assert!(!stream.contains(PASSWORD));
}

/// An HTTP API that takes one bearer token, and a DAV collection that takes
/// one user name and password.
async fn endpoint_server(port: u16) -> ServerHandle {
    async fn api(request: HttpRequest) -> HttpResponse {
        let authorised = request
            .headers()
            .get("Authorization")
            .is_some_and(|value| value == "Bearer the-token");
        if authorised {
            HttpResponse::Ok().finish()
        } else {
            HttpResponse::Unauthorized().finish()
        }
    }
    async fn dav(request: HttpRequest) -> HttpResponse {
        // Basic base64("ana:dav-pass")
        let authorised = request.method().as_str() == "PROPFIND"
            && request.headers().get("Depth").is_some_and(|d| d == "0")
            && request
                .headers()
                .get("Authorization")
                .is_some_and(|value| value == "Basic YW5hOmRhdi1wYXNz");
        if authorised {
            HttpResponse::build(StatusCode::MULTI_STATUS).finish()
        } else {
            HttpResponse::Unauthorized().finish()
        }
    }
    let server = HttpServer::new(|| {
        App::new()
            .route("/api", web::get().to(api))
            .default_service(web::to(dav))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", port))
    .expect("the port binds")
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    handle
}

#[actix_web::test]
async fn http_and_caldav_credentials_are_tested_against_a_real_server() {
    let fixture = Fixture::sqlite().await;
    let port = free_port();
    let server = endpoint_server(port).await;
    let cases = [
        (
            json!({ "kind": "http", "endpoint": format!("http://127.0.0.1:{port}/api"), "token": "the-token" }),
            true,
        ),
        (
            json!({ "kind": "http", "endpoint": format!("http://127.0.0.1:{port}/api"), "token": "nope" }),
            false,
        ),
        (
            json!({ "kind": "caldav", "endpoint": format!("http://127.0.0.1:{port}/dav/ana/"), "username": "ana", "password": "dav-pass" }),
            true,
        ),
        (
            json!({ "kind": "caldav", "endpoint": format!("http://127.0.0.1:{port}/dav/ana/"), "username": "ana", "password": "wrong" }),
            false,
        ),
    ];
    for (body, ok) in cases {
        let (status, set) = send(&fixture, &fixture.admin, put("remote", body.clone())).await;
        assert_eq!(status, StatusCode::OK, "{set}");
        let (status, result) = send(&fixture, &fixture.admin, test_request("remote")).await;
        assert_eq!(status, StatusCode::OK, "{result}");
        assert_eq!(result["ok"], ok, "{body}: {result}");
        assert!(
            result["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("HTTP ")),
            "{result}"
        );
    }
    server.stop(true).await;

    let (status, _) = send(
        &fixture,
        &fixture.admin,
        put("mail", json!({ "kind": "imap", "endpoint": "imaps://127.0.0.1:993", "username": "ana", "password": "x" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Nothing listens there: the test says so rather than failing.
    let (status, result) = send(&fixture, &fixture.admin, test_request("mail")).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["ok"], false, "{result}");
    assert!(
        result["detail"]
            .as_str()
            .is_some_and(|d| d.contains("connecting to 127.0.0.1:993")),
        "{result}"
    );
}

#[actix_web::test]
async fn mail_credentials_are_tested_against_a_real_mail_server() {
    let fixture = Fixture::sqlite().await;
    let mail = steward_testkit::MailServer::start();
    let set_and_test = |kind: &'static str, body: Value| {
        let fixture = &fixture;
        async move {
            let (status, set) = send(fixture, &fixture.admin, put(kind, body)).await;
            assert_eq!(status, StatusCode::OK, "{set}");
            let (status, result) = send(fixture, &fixture.admin, test_request(kind)).await;
            assert_eq!(status, StatusCode::OK, "{result}");
            result
        }
    };
    let imap = |password: &str| json!({ "kind": "imap", "endpoint": mail.imap_url(), "username": "steward", "password": password });
    let accepted = set_and_test("imap", imap(steward_testkit::MAIL_PASSWORD)).await;
    assert_eq!(accepted["ok"], true, "{accepted}\n{}", mail.log());
    assert!(
        accepted["detail"]
            .as_str()
            .is_some_and(|d| d.contains("`INBOX` holds 0 messages")),
        "{accepted}"
    );
    let refused = set_and_test("imap", imap("wrong password")).await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|d| d.contains("signing in")),
        "{refused}"
    );

    // The test server's SMTP takes mail without signing in, and a secret
    // holds something: a token alone (no user name) signs nothing in.
    let smtp = json!({ "kind": "smtp", "endpoint": mail.smtp_url(), "token": "unused" });
    let accepted = set_and_test("smtp", smtp).await;
    assert_eq!(accepted["ok"], true, "{accepted}\n{}", mail.log());
    let nobody = json!({
        "kind": "smtp",
        "endpoint": format!("smtp://127.0.0.1:{}?tls=none", free_port()),
        "token": "unused",
    });
    let down = set_and_test("smtp", nobody).await;
    assert_eq!(down["ok"], false, "{down}");
    assert!(
        mail.mails(steward_testkit::MAIL_RECIPIENT).is_empty(),
        "a test sends nothing"
    );
}
