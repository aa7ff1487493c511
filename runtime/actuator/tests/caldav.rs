//! The CalDAV integration against real Radicale servers the tests start
//! (`STEWARD_RADICALE`, installed by `ops/dev/test`), each with storage of
//! its own, one user and a calendar made with MKCALENDAR.

mod support;

use std::time::Duration;

use icalendar::{Calendar, Component as _, DatePerhapsTime, EventLike as _};
use serde_json::{Value, json};
use steward_actuator::caldav::{CalDavConfig, CalDavIntegration};
use steward_actuator::{Integration, IntegrationError};
use steward_testkit::{RADICALE_PASSWORD, RADICALE_USER, Radicale, free_port};

/// A server with the user's calendar collection made.
struct CalendarServer {
    server: Radicale,
    collection: String,
    http: reqwest::Client,
}

impl CalendarServer {
    async fn start() -> Self {
        let server = Radicale::start(free_port());
        let collection = support::calendar_collection(&server).await;
        let http = reqwest::Client::new();
        Self {
            server,
            collection,
            http,
        }
    }

    /// The integration for the collection, signed in as `password` says.
    fn integration(&self, password: &str) -> CalDavIntegration {
        let mut config = CalDavConfig::from_url(&self.collection).expect("a collection");
        config.credentials = Some((RADICALE_USER.to_owned(), password.to_owned()));
        CalDavIntegration::new(config).expect("a client")
    }

    /// What the server holds at `url` (the whole calendar for the
    /// collection), as the owner reads it.
    async fn get(&self, url: &str) -> (u16, String) {
        let response = self
            .http
            .get(url)
            .basic_auth(RADICALE_USER, Some(RADICALE_PASSWORD))
            .send()
            .await
            .expect("GET answered");
        let status = response.status().as_u16();
        (status, response.text().await.expect("a body"))
    }

    /// Every event in the collection.
    async fn events(&self) -> Calendar {
        let (status, text) = self.get(&self.collection).await;
        assert_eq!(status, 200, "{text}");
        text.parse().expect("the server's calendar parses")
    }
}

fn dentist(uid: &str) -> Value {
    json!({
        "action": "put_event",
        "uid": uid,
        "summary": "Dentist, Dr Martin",
        "start": "2026-12-03T09:00:00",
        "end": "2026-12-03T09:45:00",
        "time_zone": "Europe/Paris",
        "location": "12 rue de la Paix; Paris",
    })
}

fn unique_uid() -> String {
    format!("{}@steward.test", uuid::Uuid::now_v7().simple())
}

#[tokio::test]
async fn put_event_creates_the_event_in_its_zone_and_a_second_put_leaves_one() {
    let server = CalendarServer::start().await;
    let caldav = server.integration(RADICALE_PASSWORD);
    let uid = unique_uid();
    let action = dentist(&uid);

    let first = caldav.execute(&action, "cmd-1").await.expect("put");
    let url = format!("{}{uid}.ics", server.collection);
    assert_eq!(first.result["method"], "PUT");
    assert_eq!(first.result["url"], url.as_str());
    assert_eq!(first.result["status"], 201, "{:?}", first.result);
    assert!(
        first.result["etag"].as_str().is_some(),
        "{:?}",
        first.result
    );

    let (status, text) = server.get(&url).await;
    assert_eq!(status, 200, "{text}");
    let stored: Calendar = text.parse().expect("the stored event parses");
    let events: Vec<_> = stored.events().collect();
    assert_eq!(events.len(), 1, "{text}");
    let event = events[0];
    assert_eq!(event.get_uid(), Some(uid.as_str()));
    assert_eq!(event.get_summary(), Some("Dentist, Dr Martin"));
    assert_eq!(event.get_location(), Some("12 rue de la Paix; Paris"));
    let at = |date_time: &str| {
        Some(DatePerhapsTime::DateTime(
            icalendar::CalendarDateTime::WithTimezone {
                date_time: chrono::NaiveDateTime::parse_from_str(date_time, "%Y-%m-%dT%H:%M")
                    .expect("a time"),
                tzid: "Europe/Paris".to_owned(),
            },
        ))
    };
    assert_eq!(event.get_start(), at("2026-12-03T09:00"), "{text}");
    assert_eq!(event.get_end(), at("2026-12-03T09:45"), "{text}");
    assert!(event.get_timestamp().is_some(), "DTSTAMP: {text}");

    // A retry of the same action writes the same resource again.
    let second = caldav.execute(&action, "cmd-1").await.expect("put again");
    assert_eq!(second.result["url"], url.as_str());
    assert_eq!(second.result["status"], 204, "{:?}", second.result);
    assert!(
        second.result["etag"].as_str().is_some(),
        "{:?}",
        second.result
    );
    let calendar = server.events().await;
    let uids: Vec<_> = calendar.events().map(|e| e.get_uid()).collect();
    assert_eq!(uids, [Some(uid.as_str())]);
}

#[tokio::test]
async fn cancel_event_removes_it_and_a_second_cancel_finds_it_already_gone() {
    let server = CalendarServer::start().await;
    let caldav = server.integration(RADICALE_PASSWORD);
    let kept = unique_uid();
    let cancelled = unique_uid();
    caldav.execute(&dentist(&kept), "cmd-1").await.expect("put");
    caldav
        .execute(&dentist(&cancelled), "cmd-2")
        .await
        .expect("put");

    let cancel = json!({"action": "cancel_event", "uid": cancelled});
    let done = caldav.execute(&cancel, "cmd-3").await.expect("deleted");
    let url = format!("{}{cancelled}.ics", server.collection);
    assert_eq!(
        done.result,
        json!({"method": "DELETE", "url": url, "status": 200, "already_gone": false})
    );
    assert_eq!(server.get(&url).await.0, 404);
    let calendar = server.events().await;
    let uids: Vec<_> = calendar.events().map(|e| e.get_uid()).collect();
    assert_eq!(uids, [Some(kept.as_str())]);

    let again = caldav
        .execute(&cancel, "cmd-3")
        .await
        .expect("already gone");
    assert_eq!(
        again.result,
        json!({"method": "DELETE", "url": url, "status": 404, "already_gone": true})
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_for_good_naming_the_status() {
    let server = CalendarServer::start().await;
    let caldav = server.integration("not-her-password");
    let uid = unique_uid();
    let error = caldav
        .execute(&dentist(&uid), "cmd-1")
        .await
        .expect_err("wrong password");
    assert!(
        matches!(&error, IntegrationError::Refused(reason) if reason.contains("401")),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert!(!error.to_string().contains("not-her-password"), "{error}");
    assert_eq!(server.events().await.events().count(), 0);

    // Another user's calendar is not hers to write, whatever the password.
    let mut config =
        CalDavConfig::from_url(&format!("{}bob/calendar/", server.server.url())).expect("ok");
    config.credentials = Some((RADICALE_USER.to_owned(), RADICALE_PASSWORD.to_owned()));
    let elsewhere = CalDavIntegration::new(config).expect("a client");
    let error = elsewhere
        .execute(&dentist(&uid), "cmd-2")
        .await
        .expect_err("not her calendar");
    assert!(
        matches!(&error, IntegrationError::Refused(reason) if reason.contains("403")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_that_is_down_is_a_transient_failure_and_the_next_attempt_succeeds() {
    let port = free_port();
    let collection = format!("http://127.0.0.1:{port}/{RADICALE_USER}/calendar/");
    let mut config = CalDavConfig::from_url(&collection).expect("a collection");
    config.credentials = Some((RADICALE_USER.to_owned(), RADICALE_PASSWORD.to_owned()));
    config.timeout = Duration::from_secs(5);
    let caldav = CalDavIntegration::new(config).expect("a client");
    let uid = unique_uid();

    // Nothing listens yet.
    let error = caldav
        .execute(&dentist(&uid), "cmd-1")
        .await
        .expect_err("no server");
    assert!(
        matches!(&error, IntegrationError::Unavailable(_)),
        "{error:?}"
    );

    let server = Radicale::start(port);
    assert_eq!(support::calendar_collection(&server).await, collection);
    caldav
        .execute(&dentist(&uid), "cmd-1")
        .await
        .expect("the server is up");
}

#[tokio::test]
async fn a_server_that_does_not_answer_in_time_or_answers_5xx_is_transient() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let port = silent.local_addr().expect("an address").port();
    // Takes connections; reads a request, then answers 503 or nothing,
    // by turns.
    let holder = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut held = Vec::new();
        let mut answer = true;
        while let Ok((mut socket, _)) = silent.accept().await {
            let mut buffer = [0_u8; 4096];
            let _ = socket.read(&mut buffer).await;
            if answer {
                let _ = socket
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            } else {
                held.push(socket);
            }
            answer = !answer;
        }
    });
    let mut config =
        CalDavConfig::from_url(&format!("http://127.0.0.1:{port}/alice/calendar/")).expect("ok");
    config.timeout = Duration::from_millis(500);
    let caldav = CalDavIntegration::new(config).expect("a client");

    let unavailable = caldav
        .execute(&dentist(&unique_uid()), "cmd-1")
        .await
        .expect_err("503");
    assert!(
        matches!(&unavailable, IntegrationError::Unavailable(reason) if reason.contains("503")),
        "{unavailable:?}"
    );
    let silence = caldav
        .execute(&json!({"action": "cancel_event", "uid": "x"}), "cmd-2")
        .await
        .expect_err("no answer");
    assert!(silence.is_transient(), "{silence:?}");
    holder.abort();
}

#[tokio::test]
async fn describe_says_what_would_be_sent_without_a_server_and_refuses_bad_actions() {
    let port = free_port();
    let caldav = CalDavIntegration::new(
        CalDavConfig::from_url(&format!("http://127.0.0.1:{port}/alice/calendar")).expect("ok"),
    )
    .expect("a client");
    assert_eq!(caldav.name(), "caldav");

    let described = caldav
        .describe(&dentist("dentist@home"))
        .expect("described");
    assert_eq!(described["method"], "PUT");
    assert_eq!(
        described["url"],
        format!("http://127.0.0.1:{port}/alice/calendar/dentist@home.ics")
    );
    let body = described["body"].as_str().expect("the iCalendar text");
    let calendar: Calendar = body.parse().expect("it parses");
    let event = calendar.events().next().expect("an event");
    assert_eq!(event.get_uid(), Some("dentist@home"));
    assert!(
        body.contains("DTSTART;TZID=Europe/Paris:20261203T090000"),
        "{body}"
    );

    let cancel = caldav
        .describe(&json!({"action": "cancel_event", "uid": "dentist@home"}))
        .expect("described");
    assert_eq!(
        cancel,
        json!({
            "method": "DELETE",
            "url": format!("http://127.0.0.1:{port}/alice/calendar/dentist@home.ics"),
            "body": null,
        })
    );

    for (field, bad) in [
        ("uid", json!({"uid": "../bob/calendar/x"})),
        ("summary", json!({"summary": ""})),
        ("end", json!({"end": "2026-12-03T08:00:00"})),
        ("time_zone", json!({"time_zone": "Europe/Atlantis"})),
        ("start", json!({"start": "tomorrow"})),
    ] {
        let mut action = dentist("dentist@home");
        if let (Value::Object(action), Value::Object(bad)) = (&mut action, bad) {
            action.extend(bad);
        }
        let error = caldav.describe(&action).expect_err("refused");
        assert!(
            matches!(&error, IntegrationError::BadAction(reason) if reason.contains(field)),
            "{field}: {error:?}"
        );
        // Nothing was sent: nothing listens there anyway, and the
        // refusal is for good.
        let error = caldav.execute(&action, "cmd").await.expect_err("refused");
        assert!(!error.is_transient(), "{field}: {error:?}");
    }
}

#[test]
fn a_collection_url_with_credentials_is_refused_without_echoing_them() {
    let refused = CalDavConfig::from_url("https://alice:hunter2-secret@dav.example/alice/cal/")
        .expect_err("credentials in the URL");
    let text = refused.to_string();
    assert!(text.contains("credential vault"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!format!("{refused:?}").contains("hunter2"));
    assert!(CalDavConfig::from_url("webcal://dav.example/alice/cal/").is_err());
}
