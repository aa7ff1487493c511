//! The HTTP integration: generic outbound requests (a booking with a
//! provider's API, a webhook of another system), each answer recorded.
//!
//! An action is `{"method": "POST", "url": "https://…", "json": {…},
//! "headers": {"X-Name": "value"}}` (`json` and `headers` optional). Only
//! origins the configuration allows are reached, so a plan cannot send
//! data anywhere else; sign-in comes from the credential vault, never from
//! the action (an action naming `Authorization`, `Cookie` or `Host` is
//! refused). Every attempt carries the actuation's id as its
//! `Idempotency-Key`, so a provider that honours the header performs a
//! retried request once.
//!
//! A 2xx is a success, its status and body recorded (JSON, or text, cut at
//! 64 KiB); 408, 429 and 5xx, and no answer at all, are worth a retry; any
//! other status is a refusal, redirects included (they are not followed: a
//! redirect could lead the request, and its credentials, elsewhere).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use url::Url;

use crate::caldav::error_chain;
use crate::{Integration, IntegrationError, Outcome};

/// How long a request may take when not configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// The most of an answer's body that is recorded.
const KEPT_BODY: usize = 64 * 1024;

/// Headers only the integration sets.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "host",
    "idempotency-key",
    "content-length",
    "transfer-encoding",
];

/// Where requests may go and how to sign in there.
#[derive(Clone)]
pub struct HttpConfig {
    /// The origins requests may go to (`https://api.example`), compared as
    /// scheme, host and port.
    pub allowed_origins: Vec<Url>,
    /// Sign-in for one origin: its URL and a bearer token or a user name
    /// and password.
    pub credentials: Option<(Url, HttpCredentials)>,
    /// How long one request may take, connecting included.
    pub timeout: Duration,
}

/// How a request signs in.
#[derive(Clone)]
pub enum HttpCredentials {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// HTTP basic authentication.
    Basic(String, String),
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never print.
        f.debug_struct("HttpConfig")
            .field(
                "allowed_origins",
                &self
                    .allowed_origins
                    .iter()
                    .map(|origin| origin.origin().ascii_serialization())
                    .collect::<Vec<_>>(),
            )
            .field(
                "credentials_for",
                &self
                    .credentials
                    .as_ref()
                    .map(|(url, _)| url.origin().ascii_serialization()),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpConfig {
    /// Requests allowed to `origins` (`https://api.example`, with a port if
    /// not the scheme's), without sign-in. An origin with a user name or
    /// password, a path other than `/`, or another scheme is refused; the
    /// error never quotes it.
    pub fn allowing(origins: &[String]) -> Result<Self, String> {
        let allowed_origins = origins
            .iter()
            .map(|origin| {
                let url = Url::parse(origin).map_err(|e| format!("not a URL: {e}"))?;
                if !url.username().is_empty() || url.password().is_some() {
                    return Err("put sign-in in the credential vault, not the URL".to_owned());
                }
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    return Err("an origin is http(s)://host[:port]".to_owned());
                }
                if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
                    return Err("an origin has no path, query or fragment".to_owned());
                }
                Ok(url)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            allowed_origins,
            credentials: None,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Signs in with `credentials` to the origin of `endpoint` (and only
    /// there).
    pub fn signing_in_at(
        mut self,
        endpoint: &str,
        credentials: HttpCredentials,
    ) -> Result<Self, String> {
        let url = Url::parse(endpoint).map_err(|e| format!("not a URL: {e}"))?;
        self.credentials = Some((url, credentials));
        Ok(self)
    }

    fn allows(&self, url: &Url) -> bool {
        self.allowed_origins
            .iter()
            .any(|allowed| allowed.origin() == url.origin())
    }
}

/// A request as an action asks for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestAction {
    method: String,
    url: String,
    #[serde(default)]
    headers: Map<String, Value>,
    #[serde(default)]
    json: Option<Value>,
}

/// A checked request: what goes on the wire.
#[derive(Debug)]
struct Request {
    method: Method,
    url: Url,
    headers: Vec<(String, String)>,
    json: Option<Value>,
}

/// Carries generic requests out over HTTP.
pub struct HttpIntegration {
    config: HttpConfig,
    client: reqwest::Client,
}

impl HttpIntegration {
    /// An integration under `config`.
    pub fn new(config: HttpConfig) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the HTTP client: {e}"))?;
        Ok(Self { config, client })
    }

    fn request(&self, action: &Value) -> Result<Request, IntegrationError> {
        let bad = |message: String| IntegrationError::BadAction(message);
        let action: RequestAction =
            serde_json::from_value(action.clone()).map_err(|e| bad(format!("the action: {e}")))?;
        let method = match action.method.to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "PATCH" => Method::PATCH,
            "DELETE" => Method::DELETE,
            other => {
                return Err(bad(format!(
                    "method: `{other}` is not GET, POST, PUT, PATCH or DELETE"
                )));
            }
        };
        let url = Url::parse(&action.url).map_err(|e| bad(format!("url: not a URL: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "url: sign-in comes from the credential vault, not the URL".to_owned(),
            ));
        }
        if !self.config.allows(&url) {
            return Err(bad(format!(
                "url: {} is not among the allowed origins (`http_allowed_origins`)",
                url.origin().ascii_serialization()
            )));
        }
        let mut headers = Vec::with_capacity(action.headers.len());
        for (name, value) in action.headers {
            if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(bad(format!(
                    "headers: `{name}` is set by Steward, not by an action"
                )));
            }
            let value = value
                .as_str()
                .filter(|value| !value.chars().any(char::is_control))
                .ok_or_else(|| bad(format!("headers: `{name}` is a line of text")))?
                .to_owned();
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| bad(format!("headers: `{name}` is not a header name")))?;
            headers.push((name, value));
        }
        if action.json.is_some() && method == Method::GET {
            return Err(bad("json: a GET carries no body".to_owned()));
        }
        Ok(Request {
            method,
            url,
            headers,
            json: action.json,
        })
    }
}

#[async_trait::async_trait]
impl Integration for HttpIntegration {
    fn name(&self) -> &str {
        "http"
    }

    fn describe(&self, action: &Value) -> Result<Value, IntegrationError> {
        let request = self.request(action)?;
        Ok(json!({
            "method": request.method.as_str(),
            "url": request.url.as_str(),
            "headers": request.headers.iter().map(|(n, v)| (n.clone(), json!(v))).collect::<Map<_, _>>(),
            "json": request.json,
        }))
    }

    async fn execute(
        &self,
        action: &Value,
        idempotency_key: &str,
    ) -> Result<Outcome, IntegrationError> {
        let request = self.request(action)?;
        let started = Instant::now();
        let mut builder = self
            .client
            .request(request.method.clone(), request.url.clone())
            .header("Idempotency-Key", idempotency_key);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some((origin, credentials)) = &self.config.credentials
            && origin.origin() == request.url.origin()
        {
            builder = match credentials {
                HttpCredentials::Bearer(token) => builder.bearer_auth(token),
                HttpCredentials::Basic(user, password) => builder.basic_auth(user, Some(password)),
            };
        }
        if let Some(body) = &request.json {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let said = format!("{} {}", request.method, request.url);
        let response = builder
            .send()
            .await
            .map_err(|e| IntegrationError::Unavailable(format!("{said}: {}", error_chain(&e))))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| {
            IntegrationError::Unavailable(format!("{said}: reading the answer: {e}"))
        })?;
        let kept = &bytes[..bytes.len().min(KEPT_BODY)];
        let body = serde_json::from_slice::<Value>(kept)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(kept).into_owned()));
        let answered = format!("{said}: the server answered {status}");
        if status.is_success() {
            Ok(Outcome {
                result: json!({
                    "method": request.method.as_str(),
                    "url": request.url.as_str(),
                    "status": status.as_u16(),
                    "body": body,
                    "truncated": bytes.len() > KEPT_BODY,
                }),
                latency: started.elapsed(),
            })
        } else if status.is_server_error()
            || status == reqwest::StatusCode::REQUEST_TIMEOUT
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        {
            Err(IntegrationError::Unavailable(answered))
        } else if status.is_redirection() {
            Err(IntegrationError::Refused(format!(
                "{answered}: redirects are not followed; use the final URL"
            )))
        } else {
            Err(IntegrationError::Refused(answered))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integration() -> HttpIntegration {
        HttpIntegration::new(
            HttpConfig::allowing(&["https://api.example".to_owned()]).expect("an origin"),
        )
        .expect("a client")
    }

    #[test]
    fn origins_are_plain_and_never_echo_a_secret() {
        for (origin, why) in [
            ("https://me:secret@api.example", "credential vault"),
            ("ftp://api.example", "http(s)"),
            ("https://api.example/v1", "no path"),
            ("https://api.example/?key=secret", "no path"),
        ] {
            let error = HttpConfig::allowing(&[origin.to_owned()]).expect_err(origin);
            assert!(error.contains(why), "{origin}: {error}");
            assert!(!error.contains("secret"), "{error}");
        }
        let shown = format!(
            "{:?}",
            HttpConfig {
                credentials: Some((
                    Url::parse("https://api.example").expect("a URL"),
                    HttpCredentials::Bearer("tok-secret".to_owned())
                )),
                ..HttpConfig::allowing(&[]).expect("no origins")
            }
        );
        assert!(!shown.contains("tok-secret"), "{shown}");
    }

    #[test]
    fn actions_are_checked_naming_the_field() {
        let http = integration();
        for (action, field) in [
            (
                json!({"method": "BREW", "url": "https://api.example/x"}),
                "method",
            ),
            (json!({"method": "GET", "url": "not a url"}), "url"),
            (
                json!({"method": "GET", "url": "https://elsewhere.example/x"}),
                "allowed origins",
            ),
            (
                json!({"method": "GET", "url": "http://api.example/x"}),
                "allowed origins",
            ),
            (
                json!({"method": "GET", "url": "https://u:p@api.example/x"}),
                "url",
            ),
            (
                json!({"method": "POST", "url": "https://api.example/x", "headers": {"Authorization": "x"}}),
                "Authorization",
            ),
            (
                json!({"method": "POST", "url": "https://api.example/x", "headers": {"X-A": "a\r\nB: c"}}),
                "X-A",
            ),
            (
                json!({"method": "GET", "url": "https://api.example/x", "json": {}}),
                "json",
            ),
            (
                json!({"method": "GET", "url": "https://api.example/x", "body": "x"}),
                "body",
            ),
        ] {
            let error = http.describe(&action).expect_err("refused").to_string();
            assert!(
                error.contains(field),
                "{action}: `{error}` names no {field}"
            );
        }
        let described = http
            .describe(
                &json!({"method": "post", "url": "https://api.example/book", "json": {"at": "9"}}),
            )
            .expect("a good action");
        assert_eq!(described["method"], "POST");
        assert_eq!(described["json"], json!({"at": "9"}));
    }
}
