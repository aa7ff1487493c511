//! The mail integration's sending half: a mail out through an SMTP server.
//!
//! One action, the one the inbox's `reply_mail` saga asks for:
//!
//! ```json
//! {"account": "me@example.org",
//!  "to": [{"address": "dana@example.org", "name": "Dana"}],
//!  "cc": [], "bcc": [],
//!  "subject": "Re: Lunch", "body_text": "Thursday works.",
//!  "in_reply_to": "lunch-1@example.org", "references": ["lunch-1@example.org"]}
//! ```
//!
//! The mail goes out from the configured address, and only for the account
//! the integration is configured for: an action naming another mailbox is
//! refused rather than sent from the wrong one. It is plain text (UTF-8),
//! threaded by `In-Reply-To` and `References` when the action names the
//! message it answers.
//!
//! SMTP takes no idempotency key, so the key names the mail instead: its
//! `Message-ID` is made from it, the same for every attempt at one
//! actuation. An attempt whose outcome was lost and is made again may
//! deliver a second copy, but under the same `Message-ID`, which mail
//! programs show as one message.
//!
//! A 5xx answer (an unknown mailbox, a refused sender, bad credentials) and
//! a TLS failure are [`Refused`](IntegrationError::Refused): sending again
//! cannot help. A 4xx answer, a connection that fails and a timeout are
//! [`Unavailable`](IntegrationError::Unavailable).

use std::time::{Duration, Instant};

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MessageBuilder};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use serde::Deserialize;
use serde_json::{Value, json};
use steward_events::domain::inbox::Correspondent;
use url::Url;

use crate::integration::fields;
use crate::{Integration, IntegrationError, Outcome};

/// How long sending one mail may take when not configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The most recipients (to, cc and bcc together) one mail may have.
const MAX_RECIPIENTS: usize = 100;

/// The longest subject accepted, in characters.
const MAX_SUBJECT_CHARS: usize = 998;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// TLS from the first byte (`smtps://`, port 465).
    Tls,
    /// A plain connection upgraded with STARTTLS, which must succeed
    /// (`smtp://`, port 587).
    StartTls,
    /// No TLS at all (`smtp://…?tls=none`): for a server on the same
    /// machine or network only, since credentials and mail go in the clear.
    None,
}

/// Why an SMTP configuration was refused. Never quotes the URL, which
/// may hold a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpConfigError {
    /// The text is not a URL at all.
    #[error("not a URL: {0}")]
    NotAUrl(String),
    /// Only SMTP is spoken.
    #[error("`{0}://`: use smtps:// (TLS) or smtp:// (STARTTLS, or ?tls=none for a local server)")]
    Scheme(String),
    /// Sign-in belongs in the credential vault, where it is kept secret.
    #[error("put the user name and password in the credential vault, not the URL")]
    CredentialsInUrl,
    /// A URL without a host names no server.
    #[error("the URL names no host")]
    NoHost,
    /// Only `?tls=none` (or `starttls`) may follow; a path means nothing to
    /// SMTP.
    #[error("an SMTP URL has no path, and no query but tls=none or tls=starttls")]
    PathOrQuery,
    /// The sender is not a mail address.
    #[error("the sender `{0}` is not a mail address")]
    Address(String),
}

/// The host, port and protection an SMTP URL names.
fn server(url: &str) -> Result<(String, u16, SmtpSecurity), SmtpConfigError> {
    let parsed = Url::parse(url).map_err(|e| SmtpConfigError::NotAUrl(e.to_string()))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(SmtpConfigError::CredentialsInUrl);
    }
    let host = parsed
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or(SmtpConfigError::NoHost)?
        .to_owned();
    if !matches!(parsed.path(), "" | "/") || parsed.fragment().is_some() {
        return Err(SmtpConfigError::PathOrQuery);
    }
    let security = match (parsed.scheme(), parsed.query()) {
        ("smtps", None) => SmtpSecurity::Tls,
        ("smtp", None | Some("tls=starttls")) => SmtpSecurity::StartTls,
        ("smtp", Some("tls=none")) => SmtpSecurity::None,
        ("smtp" | "smtps", Some(_)) => return Err(SmtpConfigError::PathOrQuery),
        (other, _) => return Err(SmtpConfigError::Scheme(other.to_owned())),
    };
    let port = parsed.port().unwrap_or(match security {
        SmtpSecurity::Tls => 465,
        SmtpSecurity::StartTls | SmtpSecurity::None => 587,
    });
    Ok((host, port, security))
}

/// Which server to send through, as whom.
#[derive(Clone)]
pub struct SmtpConfig {
    host: String,
    port: u16,
    security: SmtpSecurity,
    /// The account the integration sends for (the inbox's `account`).
    pub account: String,
    /// The address mail goes out from.
    pub from: Address,
    /// User name and password, if the server wants them.
    pub credentials: Option<(String, String)>,
    /// How long one mail may take, connecting included.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password never prints.
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("account", &self.account)
            .field("from", &self.from.to_string())
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SmtpConfig {
    /// The server at `url` (`smtps://mail.example.org`,
    /// `smtp://mail.example.org:587`, `smtp://127.0.0.1:2525?tls=none`),
    /// sending from `address` for the account of that name, without
    /// sign-in, with the default timeout.
    pub fn from_url(url: &str, address: &str) -> Result<Self, SmtpConfigError> {
        let (host, port, security) = server(url)?;
        let from: Address = address
            .trim()
            .parse()
            .map_err(|_| SmtpConfigError::Address(address.to_owned()))?;
        Ok(Self {
            host,
            port,
            security,
            account: address.trim().to_owned(),
            from,
            credentials: None,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// How the connection is protected.
    pub fn security(&self) -> SmtpSecurity {
        self.security
    }
}

/// A mail as the action asks for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendAction {
    account: String,
    #[serde(default)]
    to: Vec<Correspondent>,
    #[serde(default)]
    cc: Vec<Correspondent>,
    #[serde(default)]
    bcc: Vec<Correspondent>,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body_text: String,
    #[serde(default)]
    in_reply_to: Option<String>,
    #[serde(default)]
    references: Vec<String>,
}

/// Sends mail through one SMTP server.
pub struct SmtpIntegration {
    config: SmtpConfig,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for SmtpIntegration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpIntegration")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SmtpIntegration {
    /// Sends through `config`'s server.
    pub fn new(config: SmtpConfig) -> Result<Self, IntegrationError> {
        Ok(Self {
            transport: transport(
                &config.host,
                config.port,
                config.security,
                config.credentials.as_ref(),
                config.timeout,
            )?,
            config,
        })
    }

    /// The mail the action asks for, under the `Message-ID` made from
    /// `idempotency_key`.
    fn mail(&self, action: &Value, idempotency_key: &str) -> Result<Mail, IntegrationError> {
        let action: SendAction = fields(action.clone())?;
        if action.account.trim() != self.config.account {
            return Err(IntegrationError::BadAction(format!(
                "account: the mail integration sends for `{}`, not `{}`",
                self.config.account,
                action.account.trim()
            )));
        }
        let to = mailboxes("to", &action.to)?;
        let cc = mailboxes("cc", &action.cc)?;
        let bcc = mailboxes("bcc", &action.bcc)?;
        let recipients = to.len() + cc.len() + bcc.len();
        if recipients == 0 {
            return Err(IntegrationError::BadAction(
                "to: a mail needs at least one recipient".to_owned(),
            ));
        }
        if recipients > MAX_RECIPIENTS {
            return Err(IntegrationError::BadAction(format!(
                "to: {recipients} recipients, at most {MAX_RECIPIENTS}"
            )));
        }
        if action.subject.chars().any(char::is_control) {
            return Err(IntegrationError::BadAction(
                "subject: line breaks and other control characters are not allowed".to_owned(),
            ));
        }
        if action.subject.chars().count() > MAX_SUBJECT_CHARS {
            return Err(IntegrationError::BadAction(format!(
                "subject: at most {MAX_SUBJECT_CHARS} characters"
            )));
        }
        let in_reply_to = action
            .in_reply_to
            .map(|id| message_id("in_reply_to", &id))
            .transpose()?;
        let references = action
            .references
            .iter()
            .map(|id| message_id("references", id))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Mail {
            message_id: format!(
                "{}@{}",
                key_token(idempotency_key),
                self.config.from.domain()
            ),
            to,
            cc,
            bcc,
            subject: action.subject,
            body_text: action.body_text,
            in_reply_to,
            references,
        })
    }

    fn message(&self, mail: &Mail) -> Result<lettre::Message, IntegrationError> {
        let mut builder: MessageBuilder = lettre::Message::builder()
            .from(Mailbox::new(None, self.config.from.clone()))
            .subject(mail.subject.clone())
            .message_id(Some(format!("<{}>", mail.message_id)))
            .user_agent("Steward".to_owned());
        for mailbox in &mail.to {
            builder = builder.to(mailbox.clone());
        }
        for mailbox in &mail.cc {
            builder = builder.cc(mailbox.clone());
        }
        for mailbox in &mail.bcc {
            builder = builder.bcc(mailbox.clone());
        }
        if let Some(id) = &mail.in_reply_to {
            builder = builder.in_reply_to(format!("<{id}>"));
        }
        if !mail.references.is_empty() {
            let references: Vec<String> =
                mail.references.iter().map(|id| format!("<{id}>")).collect();
            builder = builder.references(references.join(" "));
        }
        builder
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body_text.clone())
            .map_err(|e| IntegrationError::BadAction(format!("the mail: {e}")))
    }
}

/// The transport to a server, connecting per mail: replies are few, and a
/// pooled connection the server dropped would fail the next.
fn transport(
    host: &str,
    port: u16,
    security: SmtpSecurity,
    credentials: Option<&(String, String)>,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, IntegrationError> {
    let tls_parameters = || {
        TlsParameters::new(host.to_owned())
            .map_err(|e| IntegrationError::Refused(format!("TLS set-up: {e}")))
    };
    let tls = match security {
        SmtpSecurity::Tls => Tls::Wrapper(tls_parameters()?),
        SmtpSecurity::StartTls => Tls::Required(tls_parameters()?),
        SmtpSecurity::None => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .tls(tls)
        .timeout(Some(timeout));
    if let Some((user, password)) = credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// Connects to the server at `url`, signs in when given `credentials` and
/// sees that it answers, sending nothing: the credential vault's test of an
/// `smtp` entry.
pub async fn check_server(
    url: &str,
    credentials: Option<(String, String)>,
    timeout: Duration,
) -> Result<String, IntegrationError> {
    let (host, port, security) =
        server(url).map_err(|e| IntegrationError::BadAction(e.to_string()))?;
    let transport = transport(&host, port, security, credentials.as_ref(), timeout)?;
    match transport.test_connection().await {
        Ok(true) => Ok(format!(
            "connected to {host}:{port}{}",
            if credentials.is_some() {
                " and signed in"
            } else {
                ""
            }
        )),
        Ok(false) => Err(IntegrationError::Unavailable(
            "the server did not answer NOOP".to_owned(),
        )),
        Err(error) => Err(failure(&error)),
    }
}

/// A checked mail.
#[derive(Debug, Clone, PartialEq)]
struct Mail {
    message_id: String,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    bcc: Vec<Mailbox>,
    subject: String,
    body_text: String,
    in_reply_to: Option<String>,
    references: Vec<String>,
}

impl Mail {
    fn describe(&self) -> Value {
        let shown = |mailboxes: &[Mailbox]| -> Vec<String> {
            mailboxes.iter().map(ToString::to_string).collect()
        };
        json!({
            "message_id": self.message_id,
            "to": shown(&self.to),
            "cc": shown(&self.cc),
            "bcc": shown(&self.bcc),
            "subject": self.subject,
            "in_reply_to": self.in_reply_to,
            "body_chars": self.body_text.chars().count(),
        })
    }
}

/// The correspondents as mailboxes, naming the first that is not one.
fn mailboxes(field: &str, people: &[Correspondent]) -> Result<Vec<Mailbox>, IntegrationError> {
    people
        .iter()
        .enumerate()
        .map(|(at, person)| {
            let address: Address = person.address.trim().parse().map_err(|_| {
                IntegrationError::BadAction(format!(
                    "{field}[{at}]: `{}` is not a mail address",
                    person.address
                ))
            })?;
            let name = person
                .name
                .as_ref()
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty());
            if name
                .as_deref()
                .is_some_and(|name| name.chars().any(char::is_control))
            {
                return Err(IntegrationError::BadAction(format!(
                    "{field}[{at}].name: control characters are not allowed"
                )));
            }
            Ok(Mailbox::new(name, address))
        })
        .collect()
}

/// A `Message-ID` without its angle brackets, as a header can carry it.
fn message_id(field: &str, id: &str) -> Result<String, IntegrationError> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let fits = !id.is_empty()
        && id.len() <= 500
        && id
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '<' && c != '>');
    if fits {
        Ok(id.to_owned())
    } else {
        Err(IntegrationError::BadAction(format!(
            "{field}: `{id}` is not a Message-ID"
        )))
    }
}

/// The idempotency key as the left part of a `Message-ID`: letters,
/// digits, `-` and `.` kept, anything else as `_`, behind `steward.`.
fn key_token(key: &str) -> String {
    let token: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("steward.{token}")
}

/// What an SMTP failure means for trying again.
fn failure(error: &lettre::transport::smtp::Error) -> IntegrationError {
    let text = error.to_string();
    if error.is_permanent() || error.is_tls() {
        IntegrationError::Refused(text)
    } else if error.is_client() {
        IntegrationError::BadAction(text)
    } else {
        IntegrationError::Unavailable(text)
    }
}

#[async_trait::async_trait]
impl Integration for SmtpIntegration {
    fn name(&self) -> &str {
        "smtp"
    }

    fn describe(&self, action: &Value) -> Result<Value, IntegrationError> {
        let mail = self.mail(action, "dry-run")?;
        self.message(&mail)?;
        Ok(mail.describe())
    }

    async fn execute(
        &self,
        action: &Value,
        idempotency_key: &str,
    ) -> Result<Outcome, IntegrationError> {
        let mail = self.mail(action, idempotency_key)?;
        let message = self.message(&mail)?;
        let started = Instant::now();
        let response = self
            .transport
            .send(message)
            .await
            .map_err(|e| failure(&e))?;
        Ok(Outcome {
            result: json!({
                "message_id": mail.message_id,
                "server": response.message().collect::<Vec<_>>().join(" "),
            }),
            latency: started.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integration() -> SmtpIntegration {
        let config = SmtpConfig::from_url("smtp://127.0.0.1:2525?tls=none", "me@example.org")
            .expect("a config");
        SmtpIntegration::new(config).expect("an integration")
    }

    fn action() -> Value {
        json!({
            "account": "me@example.org",
            "to": [{"address": "dana@example.org", "name": "Dana"}],
            "subject": "Re: Lunch",
            "body_text": "Thursday works.",
            "in_reply_to": "<lunch-1@example.org>",
            "references": ["lunch-1@example.org"],
        })
    }

    #[test]
    fn urls_choose_tls_unless_told_otherwise_and_never_hold_secrets() {
        let tls =
            SmtpConfig::from_url("smtps://mail.example.org", "me@example.org").expect("smtps");
        assert_eq!((tls.security(), tls.port), (SmtpSecurity::Tls, 465));
        let starttls =
            SmtpConfig::from_url("smtp://mail.example.org", "me@example.org").expect("smtp");
        assert_eq!(
            (starttls.security(), starttls.port),
            (SmtpSecurity::StartTls, 587)
        );
        let local = SmtpConfig::from_url("smtp://127.0.0.1:2525?tls=none", "me@example.org")
            .expect("local");
        assert_eq!((local.security(), local.port), (SmtpSecurity::None, 2525));

        let refused = |url: &str| SmtpConfig::from_url(url, "me@example.org").expect_err("refused");
        assert_eq!(
            refused("smtps://me:secret@mail.example.org"),
            SmtpConfigError::CredentialsInUrl
        );
        assert!(
            !refused("smtps://me:secret@mail.example.org")
                .to_string()
                .contains("secret")
        );
        assert_eq!(
            refused("https://mail.example.org"),
            SmtpConfigError::Scheme("https".into())
        );
        assert_eq!(
            refused("smtp://mail.example.org/inbox"),
            SmtpConfigError::PathOrQuery
        );
        assert_eq!(
            refused("smtp://mail.example.org?tls=maybe"),
            SmtpConfigError::PathOrQuery
        );
        assert_eq!(
            SmtpConfig::from_url("smtps://mail.example.org", "not an address")
                .expect_err("bad sender"),
            SmtpConfigError::Address("not an address".into())
        );
    }

    #[test]
    fn a_mail_is_threaded_under_the_message_it_answers_with_a_message_id_from_the_key() {
        let integration = integration();
        let mail = integration
            .mail(&action(), "actuation-reply-0193/x")
            .expect("a mail");
        assert_eq!(
            mail.message_id,
            "steward.actuation-reply-0193_x@example.org"
        );
        assert_eq!(mail.in_reply_to.as_deref(), Some("lunch-1@example.org"));
        let formatted =
            String::from_utf8(integration.message(&mail).expect("a message").formatted())
                .expect("utf-8");
        assert!(
            formatted.contains("From: me@example.org\r\n"),
            "{formatted}"
        );
        assert!(
            formatted.contains("To: Dana <dana@example.org>\r\n"),
            "{formatted}"
        );
        assert!(
            formatted.contains("In-Reply-To: <lunch-1@example.org>\r\n"),
            "{formatted}"
        );
        assert!(
            formatted.contains("References: <lunch-1@example.org>\r\n"),
            "{formatted}"
        );
        assert!(
            formatted.contains("Message-ID: <steward.actuation-reply-0193_x@example.org>\r\n"),
            "{formatted}"
        );
        assert!(formatted.contains("Thursday works."), "{formatted}");
    }

    #[test]
    fn mail_for_another_account_or_to_no_one_or_with_smuggled_headers_is_refused() {
        let integration = integration();
        let refused = |change: &dyn Fn(&mut Value)| {
            let mut action = action();
            change(&mut action);
            match integration.describe(&action) {
                Err(IntegrationError::BadAction(message)) => message,
                other => panic!("expected a bad action, got {other:?}"),
            }
        };
        let message = refused(&|a| a["account"] = json!("work@example.org"));
        assert!(message.contains("sends for `me@example.org`"), "{message}");
        let message = refused(&|a| a["to"] = json!([]));
        assert!(message.contains("at least one recipient"), "{message}");
        let message = refused(&|a| a["to"] = json!([{"address": "dana"}]));
        assert!(message.starts_with("to[0]:"), "{message}");
        let message = refused(&|a| a["subject"] = json!("Hi\r\nBcc: eve@example.org"));
        assert!(message.starts_with("subject:"), "{message}");
        let message = refused(&|a| a["in_reply_to"] = json!("a b@c"));
        assert!(message.starts_with("in_reply_to:"), "{message}");
        let message = refused(&|a| a["priority"] = json!("high"));
        assert!(message.contains("priority"), "{message}");
    }

    #[test]
    fn a_dry_run_describes_the_mail_without_its_text() {
        let described = integration().describe(&action()).expect("described");
        assert_eq!(described["to"], json!(["Dana <dana@example.org>"]));
        assert_eq!(described["subject"], json!("Re: Lunch"));
        assert_eq!(described["body_chars"], json!(15));
        assert!(described.get("body_text").is_none());
    }
}
