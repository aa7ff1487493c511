//! The CalDAV integration: calendar entries out as iCalendar resources in
//! one calendar collection (Radicale, Nextcloud, Baïkal, Fastmail).
//!
//! Two actions:
//!
//! - `{"action": "put_event", "uid": "...", "summary": "...", "start":
//!   "2026-12-03T09:00:00", "end": "2026-12-03T10:00:00", "time_zone":
//!   "Europe/Paris", "location": "...", "description": "..."}` (location and
//!   description optional) PUTs a VCALENDAR holding one VEVENT to
//!   `<collection>/<uid>.ics`. Start and end are wall-clock times in the
//!   named IANA zone and go out as `DTSTART;TZID=...`, so the event stays at
//!   09:00 in Paris across a change of daylight saving time.
//! - `{"action": "cancel_event", "uid": "..."}` DELETEs that resource.
//!
//! Both are idempotent by construction, which is why the actuation's
//! idempotency key is not needed here: the resource is named by the
//! event's UID, so a retried PUT writes the same resource again (one event,
//! never two) and a retried DELETE finds the resource gone, which counts as
//! done (`already_gone` in the result).
//!
//! A connection that fails or times out, and a 5xx, 408 or 429 answer, are
//! [`Unavailable`](IntegrationError::Unavailable): the server may answer
//! later. Any other 4xx (401 and 403 for credentials, 409 and 412 for a
//! conflict) and a redirect are [`Refused`](IntegrationError::Refused):
//! sending the same request again cannot help. Redirects are not followed,
//! so that credentials never go to a host other than the configured one.
//!
//! Times carry a `TZID` without a `VTIMEZONE` definition of that zone
//! (RFC 7809's time zones by reference): Radicale, Nextcloud and the common
//! clients resolve IANA names themselves.

use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use icalendar::{Calendar, CalendarDateTime, Component as _, EventLike as _};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use crate::integration::fields;
use crate::{Integration, IntegrationError, Outcome};

/// How long a request may take when not configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest UID accepted: it becomes a file name on many servers.
const MAX_UID_LEN: usize = 200;

/// Who the calendar entries say made them.
const PRODUCT_ID: &str = "-//Steward//Actuator//EN";

/// Why a CalDAV configuration was refused. Never quotes the URL, which
/// may hold a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalDavConfigError {
    /// The text is not a URL at all.
    #[error("not a URL: {0}")]
    NotAUrl(String),
    /// Only plain and TLS HTTP are spoken.
    #[error("`{0}://`: only http:// and https:// calendar servers are supported")]
    Scheme(String),
    /// Sign-in belongs in the credential vault, where it is kept secret.
    #[error("put the user name and password in the credential vault, not the URL")]
    CredentialsInUrl,
    /// A URL without a host names no server.
    #[error("the URL names no host")]
    NoHost,
    /// A collection is a path: a query or fragment would be dropped or
    /// misread when the event's resource name is joined to it.
    #[error("the URL of a calendar collection has no query or fragment")]
    QueryOrFragment,
    /// The HTTP client could not be set up (its TLS roots, say).
    #[error("the HTTP client: {0}")]
    Client(String),
}

/// Which calendar collection to write to and how to sign in.
#[derive(Clone)]
pub struct CalDavConfig {
    collection: Url,
    /// User name and password for HTTP basic authentication, if the
    /// server wants them.
    pub credentials: Option<(String, String)>,
    /// How long one request may take, connecting included.
    pub timeout: Duration,
}

impl std::fmt::Debug for CalDavConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password never prints.
        f.debug_struct("CalDavConfig")
            .field("collection", &self.collection.as_str())
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl CalDavConfig {
    /// The calendar collection at `endpoint` (an `http://` or `https://`
    /// URL such as `http://127.0.0.1:5232/alice/calendar/`), without
    /// sign-in, with the default timeout. A missing trailing `/` is added:
    /// a collection is a folder, and event resources are named inside it.
    /// A URL with a user name or password is refused, as is any other
    /// scheme; errors never quote the URL.
    pub fn from_url(endpoint: &str) -> Result<Self, CalDavConfigError> {
        let mut parsed =
            Url::parse(endpoint).map_err(|e| CalDavConfigError::NotAUrl(e.to_string()))?;
        // Credentials first: whatever else is wrong, a URL carrying a
        // secret is told to move it.
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(CalDavConfigError::CredentialsInUrl);
        }
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(CalDavConfigError::Scheme(parsed.scheme().to_owned()));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(CalDavConfigError::NoHost);
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(CalDavConfigError::QueryOrFragment);
        }
        if !parsed.path().ends_with('/') {
            let path = format!("{}/", parsed.path());
            parsed.set_path(&path);
        }
        Ok(Self {
            collection: parsed,
            credentials: None,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// The calendar collection's URL, ending in `/`.
    pub fn collection(&self) -> &Url {
        &self.collection
    }

    /// Where the event with this (checked) UID lives.
    fn resource(&self, uid: &Uid) -> Result<Url, IntegrationError> {
        self.collection
            .join(&format!("{}.ics", uid.0))
            .map_err(|e| IntegrationError::BadAction(format!("uid: no resource URL: {e}")))
    }
}

/// An event UID that is safe as a resource name: letters, digits, `-`,
/// `_`, `.` and `@`, at most 200 characters, not starting with a dot
/// (servers that store resources as files refuse hidden ones). Nothing in
/// it can climb out of the collection (`/`) or need escaping in a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Uid(String);

impl Uid {
    fn parse(uid: String) -> Result<Self, IntegrationError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@');
        if uid.len() > MAX_UID_LEN {
            return Err(IntegrationError::BadAction(format!(
                "uid: {} characters, at most {MAX_UID_LEN}",
                uid.len()
            )));
        }
        if uid.is_empty() || uid.starts_with('.') || !uid.chars().all(allowed) {
            return Err(IntegrationError::BadAction(format!(
                "uid: `{uid}` is not a UID (1 to {MAX_UID_LEN} letters, digits, `-`, `_`, `.`, `@`, not starting with `.`)"
            )));
        }
        Ok(Self(uid))
    }
}

/// A `put_event` as an action asks for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PutEventAction {
    uid: String,
    summary: String,
    start: String,
    end: String,
    time_zone: String,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// A `cancel_event` as an action asks for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelEventAction {
    uid: String,
}

/// A checked event: what goes into the VEVENT.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    uid: Uid,
    summary: String,
    start: NaiveDateTime,
    end: NaiveDateTime,
    zone: Tz,
    location: Option<String>,
    description: Option<String>,
}

impl Event {
    /// The iCalendar text of a calendar holding just this event, stamped
    /// `now`.
    fn to_ical(&self, now: chrono::DateTime<Utc>) -> String {
        let at = |date_time| CalendarDateTime::WithTimezone {
            date_time,
            tzid: self.zone.name().to_owned(),
        };
        let mut event = icalendar::Event::new();
        event
            .uid(&self.uid.0)
            .timestamp(now)
            .summary(&self.summary)
            .starts(at(self.start))
            .ends(at(self.end));
        if let Some(location) = &self.location {
            event.location(location);
        }
        if let Some(description) = &self.description {
            event.description(description);
        }
        let mut calendar = Calendar::empty();
        calendar
            .append_property(("VERSION", "2.0"))
            .append_property(("PRODID", PRODUCT_ID))
            .append_property(("CALSCALE", "GREGORIAN"))
            .push(event.done());
        calendar.done().to_string()
    }
}

/// A checked action.
#[derive(Debug, Clone, PartialEq)]
enum Request {
    Put(Event),
    Cancel(Uid),
}

/// A wall-clock time as the action gives it (`2026-12-03T09:00:00`,
/// seconds optional).
fn wall_clock(field: &str, text: &str) -> Result<NaiveDateTime, IntegrationError> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            IntegrationError::BadAction(format!(
                "{field}: `{text}` is not a local date and time like 2026-12-03T09:00:00"
            ))
        })
}

/// Optional text: absent, or not blank.
fn optional_text(field: &str, text: Option<String>) -> Result<Option<String>, IntegrationError> {
    match text {
        Some(text) if text.trim().is_empty() => Err(IntegrationError::BadAction(format!(
            "{field}: leave it out rather than empty"
        ))),
        Some(text) => plain_text(field, text).map(Some),
        None => Ok(None),
    }
}

/// Refuses control characters: iCalendar escapes a line feed but not a
/// lone carriage return, which some parsers take for the end of a line, so
/// one could smuggle properties (an `ATTENDEE`) into the event.
fn plain_text(field: &str, text: String) -> Result<String, IntegrationError> {
    if text.chars().any(char::is_control) {
        return Err(IntegrationError::BadAction(format!(
            "{field}: control characters (line breaks, tabs) are not allowed"
        )));
    }
    Ok(text)
}

impl Request {
    fn from_action(action: &Value) -> Result<Self, IntegrationError> {
        let Value::Object(action) = action else {
            return Err(IntegrationError::BadAction(
                "action: a CalDAV action is a JSON object".to_owned(),
            ));
        };
        let mut rest = action.clone();
        let kind = rest.remove("action");
        match kind.as_ref().and_then(Value::as_str) {
            Some("put_event") => Self::put(fields(Value::Object(rest))?),
            Some("cancel_event") => {
                let cancel: CancelEventAction = fields(Value::Object(rest))?;
                Ok(Self::Cancel(Uid::parse(cancel.uid)?))
            }
            Some(other) => Err(IntegrationError::BadAction(format!(
                "action: `{other}` is not put_event or cancel_event"
            ))),
            None => Err(IntegrationError::BadAction(
                "action: missing (put_event or cancel_event)".to_owned(),
            )),
        }
    }

    fn put(action: PutEventAction) -> Result<Self, IntegrationError> {
        let uid = Uid::parse(action.uid)?;
        if action.summary.trim().is_empty() {
            return Err(IntegrationError::BadAction(
                "summary: an event needs a summary".to_owned(),
            ));
        }
        let zone: Tz = action.time_zone.parse().map_err(|_| {
            IntegrationError::BadAction(format!(
                "time_zone: `{}` is not an IANA time zone like Europe/Paris",
                action.time_zone
            ))
        })?;
        let start = wall_clock("start", &action.start)?;
        let end = wall_clock("end", &action.end)?;
        // Compared as instants: a wall-clock time skipped by a change to
        // daylight saving time is no time at all, and an end that reads
        // later may not be across the change back.
        let instant = |field: &str, at: NaiveDateTime| {
            zone.from_local_datetime(&at).earliest().ok_or_else(|| {
                IntegrationError::BadAction(format!(
                    "{field}: {at} does not happen in {zone} (skipped by a change of clocks)"
                ))
            })
        };
        if instant("start", start)? >= instant("end", end)? {
            return Err(IntegrationError::BadAction(
                "end: the event must end after it starts".to_owned(),
            ));
        }
        Ok(Self::Put(Event {
            uid,
            summary: plain_text("summary", action.summary)?,
            start,
            end,
            zone,
            location: optional_text("location", action.location)?,
            description: optional_text("description", action.description)?,
        }))
    }
}

/// Writes and removes events in one CalDAV calendar collection.
pub struct CalDavIntegration {
    config: CalDavConfig,
    client: reqwest::Client,
}

impl std::fmt::Debug for CalDavIntegration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalDavIntegration")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CalDavIntegration {
    /// An integration for the collection; it connects on its first
    /// request.
    pub fn new(config: CalDavConfig) -> Result<Self, CalDavConfigError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("steward-actuator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CalDavConfigError::Client(error_chain(&e)))?;
        Ok(Self { config, client })
    }

    /// The configuration in use.
    pub fn config(&self) -> &CalDavConfig {
        &self.config
    }

    /// What a request would send: its method, URL and body.
    fn plan(&self, request: &Request) -> Result<(Method, Url, Option<String>), IntegrationError> {
        Ok(match request {
            Request::Put(event) => (
                Method::PUT,
                self.config.resource(&event.uid)?,
                Some(event.to_ical(Utc::now())),
            ),
            Request::Cancel(uid) => (Method::DELETE, self.config.resource(uid)?, None),
        })
    }

    async fn send(&self, request: Request) -> Result<Value, IntegrationError> {
        let (method, url, body) = self.plan(&request)?;
        let mut builder = self.client.request(method.clone(), url.clone());
        if let Some((user, password)) = &self.config.credentials {
            builder = builder.basic_auth(user, Some(password));
        }
        if let Some(body) = body {
            builder = builder
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "text/calendar; charset=utf-8",
                )
                .body(body);
        }
        let response = builder.send().await.map_err(|e| {
            IntegrationError::Unavailable(format!("{method} {url}: {}", error_chain(&e)))
        })?;
        let status = response.status();
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        // The body is not needed; reading it lets the connection be reused.
        let _ = response.bytes().await;

        // Gone already: what the DELETE was for is done.
        if method == Method::DELETE && matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) {
            return Ok(json!({
                "method": "DELETE",
                "url": url.as_str(),
                "status": status.as_u16(),
                "already_gone": true,
            }));
        }
        check_status(&method, &url, status)?;
        Ok(if method == Method::PUT {
            json!({
                "method": "PUT",
                "url": url.as_str(),
                "status": status.as_u16(),
                "etag": etag,
            })
        } else {
            json!({
                "method": "DELETE",
                "url": url.as_str(),
                "status": status.as_u16(),
                "already_gone": false,
            })
        })
    }
}

/// Whether an answer is a success, a refusal for good, or worth another
/// try later.
fn check_status(method: &Method, url: &Url, status: StatusCode) -> Result<(), IntegrationError> {
    let said = format!("{method} {url}: the server answered {status}");
    if status.is_success() {
        Ok(())
    } else if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        Err(IntegrationError::Unavailable(said))
    } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        Err(IntegrationError::Refused(format!(
            "{said}: check the `caldav` credentials and the collection's owner"
        )))
    } else if status.is_redirection() {
        Err(IntegrationError::Refused(format!(
            "{said}: configure the collection's own URL (redirects are not followed)"
        )))
    } else {
        Err(IntegrationError::Refused(said))
    }
}

/// An error with its causes, which reqwest keeps out of its own message
/// (`connection refused` is in the source, not the error).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[async_trait::async_trait]
impl Integration for CalDavIntegration {
    fn name(&self) -> &str {
        "caldav"
    }

    fn describe(&self, action: &Value) -> Result<Value, IntegrationError> {
        let (method, url, body) = self.plan(&Request::from_action(action)?)?;
        Ok(json!({
            "method": method.as_str(),
            "url": url.as_str(),
            "body": body,
        }))
    }

    async fn execute(
        &self,
        action: &Value,
        _idempotency_key: &str,
    ) -> Result<Outcome, IntegrationError> {
        let request = Request::from_action(action)?;
        let started = Instant::now();
        let result = self.send(request).await?;
        Ok(Outcome {
            result,
            latency: started.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(overrides: Value) -> Value {
        let mut action = json!({
            "action": "put_event",
            "uid": "dentist-2026-12-03@steward",
            "summary": "Dentist",
            "start": "2026-12-03T09:00:00",
            "end": "2026-12-03T10:00:00",
            "time_zone": "Europe/Paris",
        });
        if let (Value::Object(action), Value::Object(overrides)) = (&mut action, overrides) {
            action.extend(overrides);
        }
        action
    }

    fn refusal(action: &Value) -> String {
        match Request::from_action(action) {
            Err(IntegrationError::BadAction(reason)) => reason,
            other => panic!("{action}: {other:?}"),
        }
    }

    #[test]
    fn a_collection_is_named_by_an_http_url_without_secrets() {
        let config = CalDavConfig::from_url("http://127.0.0.1:5232/alice/calendar").expect("ok");
        assert_eq!(
            config.collection().as_str(),
            "http://127.0.0.1:5232/alice/calendar/"
        );
        let config = CalDavConfig::from_url("https://dav.example/cal/").expect("ok");
        assert_eq!(config.collection().as_str(), "https://dav.example/cal/");

        for (bad, expected) in [
            (
                "webcal://dav.example/cal/",
                CalDavConfigError::Scheme("webcal".into()),
            ),
            (
                "ftp://dav.example/cal/",
                CalDavConfigError::Scheme("ftp".into()),
            ),
            (
                "http://alice:s3cr3t-pw@dav.example/cal/",
                CalDavConfigError::CredentialsInUrl,
            ),
            (
                "http://alice@dav.example/cal/",
                CalDavConfigError::CredentialsInUrl,
            ),
            (
                "http://dav.example/cal/?user=x",
                CalDavConfigError::QueryOrFragment,
            ),
        ] {
            assert_eq!(
                CalDavConfig::from_url(bad).expect_err(bad),
                expected,
                "{bad}"
            );
        }
        assert!(CalDavConfig::from_url("dav.example/cal").is_err());

        let refused = CalDavConfig::from_url("http://alice:s3cr3t-pw@dav.example/cal/")
            .expect_err("secrets")
            .to_string();
        assert!(
            !refused.contains("s3cr3t"),
            "the secret is not echoed: {refused}"
        );
        let mut config = CalDavConfig::from_url("http://dav.example/cal/").expect("ok");
        config.credentials = Some(("alice".into(), "s3cr3t-pw".into()));
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
    }

    #[test]
    fn a_put_event_becomes_a_vevent_in_its_zone() {
        let Request::Put(event) = Request::from_action(&put(json!({
            "location": "12 rue de la Paix, Paris",
            "description": "Bring the card; ask about the bill",
        })))
        .expect("an event") else {
            panic!("not a put");
        };
        let now = Utc
            .with_ymd_and_hms(2026, 11, 30, 8, 0, 0)
            .single()
            .expect("valid");
        let text = event.to_ical(now);
        for line in [
            "BEGIN:VCALENDAR",
            "PRODID:-//Steward//Actuator//EN",
            "BEGIN:VEVENT",
            "UID:dentist-2026-12-03@steward",
            "DTSTAMP:20261130T080000Z",
            "DTSTART;TZID=Europe/Paris:20261203T090000",
            "DTEND;TZID=Europe/Paris:20261203T100000",
            "SUMMARY:Dentist",
            "LOCATION:12 rue de la Paix\\, Paris",
            "DESCRIPTION:Bring the card\\; ask about the bill",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
        assert_eq!(text.matches("BEGIN:VEVENT").count(), 1);
    }

    #[test]
    fn bad_actions_are_refused_naming_the_field() {
        for (action, field) in [
            (json!("put_event"), "action"),
            (json!({"uid": "x"}), "action"),
            (json!({"action": "move_event", "uid": "x"}), "action"),
            (put(json!({"uid": "../../etc/passwd"})), "uid"),
            (put(json!({"uid": "a b"})), "uid"),
            (put(json!({"uid": ""})), "uid"),
            (put(json!({"uid": ".hidden"})), "uid"),
            (put(json!({"uid": "x".repeat(201)})), "uid"),
            (put(json!({"uid": 7})), "uid"),
            (put(json!({"summary": "  "})), "summary"),
            (put(json!({"start": "3 December, 9am"})), "start"),
            (put(json!({"end": "2026-12-03T08:00:00"})), "end"),
            (put(json!({"end": "2026-12-03T09:00:00"})), "end"),
            (put(json!({"time_zone": "Mars/Olympus"})), "time_zone"),
            // 02:30 on the last Sunday of March does not happen in Paris.
            (
                put(json!({"start": "2026-03-29T02:30:00", "end": "2026-03-29T04:00:00"})),
                "start",
            ),
            (put(json!({"location": ""})), "location"),
            (
                put(json!({"summary": "Dentist\rATTENDEE:mailto:x@example.org"})),
                "summary",
            ),
            (put(json!({"description": "a\u{0}b"})), "description"),
            (put(json!({"colour": "red"})), "colour"),
            (json!({"action": "cancel_event"}), "uid"),
            (json!({"action": "cancel_event", "uid": "a/b"}), "uid"),
        ] {
            let reason = refusal(&action);
            assert!(
                reason.contains(field),
                "{action}: `{reason}` names no {field}"
            );
        }
        let minimal = put(json!({}));
        assert!(Request::from_action(&minimal).is_ok());
        assert!(Uid::parse("x".repeat(200)).is_ok());
    }
}
