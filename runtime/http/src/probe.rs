//! Trying an integration's credentials against its endpoint: the one place
//! a secret leaves the vault in the API, and it goes to that endpoint only.
//! What comes back is whether it was accepted and what the endpoint said,
//! never the secret.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

/// How long a test may take before it counts as failed.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the vault keeps for an integration: where it connects and how it
/// signs in. Wiped from memory when dropped; never printed.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    /// The integration's kind.
    pub kind: String,
    /// Where it connects.
    pub endpoint: String,
    /// The user name, if it signs in with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The password, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// An API token, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("kind", &self.kind)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        for value in [&mut self.username, &mut self.password, &mut self.token]
            .into_iter()
            .flatten()
        {
            value.zeroize();
        }
    }
}

impl Secret {
    /// The names of the fields it holds.
    pub fn fields(&self) -> Vec<String> {
        [
            ("username", &self.username),
            ("password", &self.password),
            ("token", &self.token),
        ]
        .into_iter()
        .filter(|(_, value)| value.is_some())
        .map(|(name, _)| name.to_owned())
        .collect()
    }
}

/// How a test went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// Whether the endpoint accepted the credentials.
    pub ok: bool,
    /// What it answered, in a few words.
    pub detail: String,
    /// How long it took.
    pub latency: Duration,
}

/// Why a kind of integration cannot be tested here.
#[derive(Debug, thiserror::Error)]
#[error("testing {0} credentials comes with the {0} integration; it is not available yet")]
pub struct Untestable(pub String);

/// Tries `secret` against its endpoint, within [`PROBE_TIMEOUT`].
pub async fn probe(secret: &Secret) -> Result<ProbeResult, Untestable> {
    let started = Instant::now();
    let attempt = async {
        match secret.kind.as_str() {
            "http" => Ok(http(secret, reqwest::Method::GET).await),
            "caldav" => Ok(http(secret, propfind()).await),
            "mqtt" => Ok(mqtt(secret).await),
            "imap" => Ok(imap(secret).await),
            "smtp" => Ok(smtp(secret).await),
            other => Err(Untestable(other.to_owned())),
        }
    };
    let (ok, detail) = match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
        Ok(outcome) => outcome?,
        Err(_) => (
            false,
            format!("no answer within {} s", PROBE_TIMEOUT.as_secs()),
        ),
    };
    Ok(ProbeResult {
        ok,
        detail,
        latency: started.elapsed(),
    })
}

fn propfind() -> reqwest::Method {
    // A valid token: the conversion cannot fail.
    reqwest::Method::from_bytes(b"PROPFIND").unwrap_or(reqwest::Method::OPTIONS)
}

/// An HTTP request with the token as a bearer, or else the user name and
/// password as basic auth; accepted if the answer is a success (207 Multi-Status
/// for CalDAV's PROPFIND included).
async fn http(secret: &Secret, method: reqwest::Method) -> (bool, String) {
    let client = match reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(error) => return (false, format!("no HTTP client: {error}")),
    };
    let mut request = client.request(method.clone(), &secret.endpoint);
    if method.as_str() == "PROPFIND" {
        request = request.header("Depth", "0");
    }
    request = match (&secret.token, &secret.username) {
        (Some(token), _) => request.bearer_auth(token),
        (None, Some(username)) => request.basic_auth(username, secret.password.as_ref()),
        (None, None) => request,
    };
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            (status.is_success(), format!("HTTP {status}"))
        }
        Err(error) => (false, describe_http_error(&error)),
    }
}

/// What went wrong, without the URL (which reqwest repeats, and which is
/// in the record already).
fn describe_http_error(error: &reqwest::Error) -> String {
    let what = if error.is_connect() {
        "cannot connect"
    } else if error.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    if cause.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {cause}")
    }
}

/// An MQTT CONNECT with the user name and password (or the token as the
/// password); accepted if the broker's CONNACK says so.
async fn mqtt(secret: &Secret) -> (bool, String) {
    use rumqttc::{AsyncClient, ConnectionError, Event, MqttOptions, Packet, Transport};

    let Some((tls, rest)) = secret
        .endpoint
        .strip_prefix("mqtt://")
        .map(|rest| (false, rest))
        .or_else(|| secret.endpoint.strip_prefix("mqtts://").map(|r| (true, r)))
    else {
        return (false, "not an mqtt:// or mqtts:// endpoint".to_owned());
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => match port.parse::<u16>() {
            Ok(port) => (host, port),
            Err(_) => return (false, format!("`{port}` is not a port")),
        },
        None => (authority, if tls { 8883 } else { 1883 }),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let client_id = format!("steward-probe-{}", uuid::Uuid::now_v7().simple());
    let mut options = MqttOptions::new(client_id, host, port);
    options.set_keep_alive(Duration::from_secs(30));
    if let Some((username, password)) = sign_in(secret) {
        options.set_credentials(username, password);
    }
    if tls {
        match tls_config() {
            Ok(config) => options.set_transport(Transport::tls_with_config(
                rumqttc::TlsConfiguration::Rustls(config),
            )),
            Err(error) => return (false, format!("no TLS configuration: {error}")),
        };
    }
    let (client, mut events) = AsyncClient::new(options, 1);
    let outcome = loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                break (
                    ack.code == rumqttc::ConnectReturnCode::Success,
                    format!("CONNACK {:?}", ack.code),
                );
            }
            Ok(_) => {}
            Err(ConnectionError::ConnectionRefused(code)) => {
                break (false, format!("refused: {code:?}"));
            }
            Err(error) => break (false, format!("cannot connect: {error}")),
        }
    };
    let _ = client.try_disconnect();
    outcome
}

/// The user name with the password (or the token standing in for it).
fn sign_in(secret: &Secret) -> Option<(String, String)> {
    let username = secret.username.clone()?;
    let password = secret
        .password
        .as_ref()
        .or(secret.token.as_ref())
        .cloned()
        .unwrap_or_default();
    Some((username, password))
}

/// An IMAP sign-in and a look at the folder the endpoint names (INBOX by
/// default), as the mail ingest would make them.
async fn imap(secret: &Secret) -> (bool, String) {
    use steward_actuator::mail_ingest::{ImapConfig, check_sign_in};

    let Some((username, password)) = sign_in(secret) else {
        return (
            false,
            "an IMAP server needs a user name and password".to_owned(),
        );
    };
    // The account names the inbox's mail in Steward; any name does here.
    let mut config = match ImapConfig::from_url(&secret.endpoint, "probe") {
        Ok(config) => config,
        Err(error) => return (false, error.to_string()),
    };
    config.credentials = Some((username, password));
    config.timeout = PROBE_TIMEOUT;
    match check_sign_in(&config).await {
        Ok(detail) => (true, detail),
        Err(error) => (false, error.to_string()),
    }
}

/// A connection to the SMTP server, signed in when the secret has a user
/// name, and a NOOP; nothing is sent.
async fn smtp(secret: &Secret) -> (bool, String) {
    match steward_actuator::smtp::check_server(&secret.endpoint, sign_in(secret), PROBE_TIMEOUT)
        .await
    {
        Ok(detail) => (true, detail),
        Err(error) => (false, error.to_string()),
    }
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls_native_certs::load_native_certs().certs {
        // A system certificate rustls cannot read is one fewer root.
        let _ = roots.add(certificate);
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_and_lists_its_fields() {
        let secret = Secret {
            kind: "mqtt".into(),
            endpoint: "mqtt://127.0.0.1:1883".into(),
            username: Some("ana".into()),
            password: Some("hunter2".into()),
            token: None,
        };
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!format!("{secret:?}").contains("ana"));
        assert_eq!(secret.fields(), ["username", "password"]);
    }

    #[tokio::test]
    async fn kinds_without_a_probe_say_so() {
        let secret = Secret {
            kind: "gopher".into(),
            endpoint: "gopher://example.org".into(),
            username: Some("ana".into()),
            password: Some("x".into()),
            token: None,
        };
        let error = probe(&secret).await.expect_err("no gopher probe");
        assert!(error.to_string().contains("gopher integration"), "{error}");
    }
}
