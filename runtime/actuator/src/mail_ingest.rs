//! The mail integration's reading half: new mail in an IMAP folder, turned
//! into the inbox's `Receive` commands.
//!
//! Each pass logs in, selects the folder, asks for the messages after the
//! last UID read (`mailbox-<account>` keeps it, with the folder's
//! UIDVALIDITY), fetches them in batches without marking them read
//! (`BODY.PEEK[]`), hands each to the inbox in UID order and records how far
//! it got after every batch. A pass cut short (the process dies, the server
//! goes away) is taken up again from the last batch recorded: a message
//! received twice changes nothing, since its id is made from its account and
//! `Message-ID`. A folder the server renumbered (a new UIDVALIDITY) is read
//! again from the start, which the same ids make harmless.
//!
//! Passes repeat every poll interval. A server that cannot be reached or
//! refuses the sign-in is logged and tried again at the next pass; only the
//! store failing stops the ingest (its supervisor starts it again). A
//! message the inbox refuses (one with no sender at all) is logged with its
//! UID and the rule it broke, and skipped, so that one bad message cannot
//! hold up the folder.

use std::fmt::Debug;
use std::time::Duration;

use async_imap::types::Fetch;
use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use mail_parser::{Addr, HeaderValue, MessageParser};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use steward_actors::inbox::{Mailbox, Message};
use steward_actors::{Aggregate as _, CommandEnvelope};
use steward_events::StreamId;
use steward_events::domain::inbox::Correspondent;
use steward_host::{Host, HostError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use url::Url;

/// Who the ingest's commands are from.
const ACTOR: &str = "integration:imap";

/// How often the folder is read when not configured.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(60);

/// How long connecting, signing in and each command may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Messages fetched, handed on and recorded at a time.
const BATCH: usize = 25;

/// The longest body kept, in characters; the rest of a longer one is cut.
const MAX_BODY_CHARS: usize = 64 * 1024;

/// The longest `Message-ID` passed on (the inbox's own limit).
const MAX_INTERNET_ID_LEN: usize = 500;

/// How the connection to the IMAP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImapSecurity {
    /// TLS from the first byte (`imaps://`, port 993).
    Tls,
    /// No TLS (`imap://`, port 143): for a server on the same machine or
    /// network only.
    None,
}

/// Why an IMAP configuration was refused. Never quotes the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImapConfigError {
    /// The text is not a URL at all.
    #[error("not a URL: {0}")]
    NotAUrl(String),
    /// Only IMAP is spoken.
    #[error("`{0}://`: use imaps:// (TLS) or imap:// (a local server, no TLS)")]
    Scheme(String),
    /// Sign-in belongs in the credential vault.
    #[error("put the user name and password in the credential vault, not the URL")]
    CredentialsInUrl,
    /// A URL without a host names no server.
    #[error("the URL names no host")]
    NoHost,
    /// The path names the folder; nothing else may follow.
    #[error("an IMAP URL names at most a folder (imaps://host/INBOX), with no query")]
    Query,
    /// The account names the mailbox in Steward.
    #[error("the account `{0}` is 1 to 255 characters without spaces")]
    Account(String),
}

/// Which folder to read, as whom, how often.
#[derive(Clone)]
pub struct ImapConfig {
    host: String,
    port: u16,
    security: ImapSecurity,
    folder: String,
    /// The inbox account the messages arrive in (`message`'s `account`).
    pub account: String,
    /// User name and password.
    pub credentials: Option<(String, String)>,
    /// How long between passes.
    pub poll_interval: Duration,
    /// How long connecting and each command may take.
    pub timeout: Duration,
}

impl Debug for ImapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password never prints.
        f.debug_struct("ImapConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("folder", &self.folder)
            .field("account", &self.account)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .field("poll_interval", &self.poll_interval)
            .finish()
    }
}

impl ImapConfig {
    /// The folder at `url` (`imaps://mail.example.org/INBOX`; no path:
    /// `INBOX`), read for `account`, without sign-in, with the default
    /// poll interval and timeout.
    pub fn from_url(url: &str, account: &str) -> Result<Self, ImapConfigError> {
        let parsed = Url::parse(url).map_err(|e| ImapConfigError::NotAUrl(e.to_string()))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(ImapConfigError::CredentialsInUrl);
        }
        let (security, default_port) = match parsed.scheme() {
            "imaps" => (ImapSecurity::Tls, 993),
            "imap" => (ImapSecurity::None, 143),
            other => return Err(ImapConfigError::Scheme(other.to_owned())),
        };
        let host = parsed
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or(ImapConfigError::NoHost)?
            .to_owned();
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(ImapConfigError::Query);
        }
        let folder = percent_decoded(parsed.path().trim_start_matches('/'));
        let account = account.trim();
        if account.is_empty()
            || account.len() > 255
            || account.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ImapConfigError::Account(account.to_owned()));
        }
        Ok(Self {
            port: parsed.port().unwrap_or(default_port),
            host,
            security,
            folder: if folder.is_empty() {
                "INBOX".to_owned()
            } else {
                folder
            },
            account: account.to_owned(),
            credentials: None,
            poll_interval: DEFAULT_POLL_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// The folder read.
    pub fn folder(&self) -> &str {
        &self.folder
    }

    /// How the connection is protected.
    pub fn security(&self) -> ImapSecurity {
        self.security
    }
}

/// A URL path as text (`Mail%20In` → `Mail In`).
fn percent_decoded(path: &str) -> String {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Messages handed to the inbox (new or not).
    pub handed_on: u32,
    /// Messages the inbox refused, logged and skipped.
    pub skipped: u32,
    /// The highest UID read, after the pass.
    pub last_uid: u32,
}

/// Why a pass failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The server could not be reached, refused the sign-in or the folder,
    /// or answered what the client could not read: the next pass tries
    /// again.
    #[error("the IMAP server: {0}")]
    Server(String),
    /// The store failed: the ingest stops, for its supervisor to restart.
    #[error(transparent)]
    Store(#[from] HostError),
}

/// A stream the IMAP client can speak over: plain TCP or TLS.
trait Connection: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Connection for T {}

type Session = async_imap::Session<Box<dyn Connection>>;

/// Reads an IMAP folder into the inbox.
pub struct MailIngest {
    host: Host,
    config: ImapConfig,
}

impl MailIngest {
    /// The lease one ingest at a time holds.
    pub const LEASE: &'static str = "mail-ingest";

    /// An ingest of `config`'s folder into `host`'s inbox.
    pub fn new(host: Host, config: ImapConfig) -> Self {
        Self { host, config }
    }

    /// Reads the folder every poll interval until `stop`. Fails only when
    /// the store does.
    pub async fn run(&self, stop: CancellationToken) -> Result<(), HostError> {
        loop {
            match self.sync().await {
                Ok(report) if report.handed_on > 0 || report.skipped > 0 => tracing::info!(
                    account = %self.config.account,
                    handed_on = report.handed_on,
                    skipped = report.skipped,
                    last_uid = report.last_uid,
                    "mail read"
                ),
                Ok(_) => {}
                Err(SyncError::Server(error)) => tracing::warn!(
                    account = %self.config.account,
                    %error,
                    "could not read the mail; trying again at the next pass"
                ),
                Err(SyncError::Store(error)) => return Err(error),
            }
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    /// One pass: the folder's messages after the last UID read.
    pub async fn sync(&self) -> Result<SyncReport, SyncError> {
        let mailbox_stream = StreamId::new(Mailbox::CATEGORY, &self.config.account)
            .map_err(|e| SyncError::Server(format!("the account as a stream: {e}")))?;
        let (mailbox, _) = self.host.load::<Mailbox>(&mailbox_stream, false).await?;
        let mut session = sign_in(&self.config).await?;
        let outcome = self.read_new(&mut session, &mailbox, &mailbox_stream).await;
        // Leaving politely is best effort: what was read is recorded.
        let _ = tokio::time::timeout(self.config.timeout, session.logout()).await;
        outcome
    }

    async fn read_new(
        &self,
        session: &mut Session,
        mailbox: &Mailbox,
        mailbox_stream: &StreamId,
    ) -> Result<SyncReport, SyncError> {
        let config = &self.config;
        let timeout = config.timeout;
        let folder = within(
            timeout,
            "selecting the folder",
            session.examine(&config.folder),
        )
        .await?
        .map_err(|e| SyncError::Server(format!("the folder `{}`: {e}", config.folder)))?;
        let uid_validity = folder.uid_validity.ok_or_else(|| {
            SyncError::Server(format!("the folder `{}` has no UIDVALIDITY", config.folder))
        })?;
        let after = mailbox.resume_after(&config.folder, uid_validity);
        let found = within(
            timeout,
            "searching",
            session.uid_search(format!("UID {}:*", u64::from(after) + 1)),
        )
        .await?
        .map_err(|e| SyncError::Server(format!("searching: {e}")))?;
        // `n:*` always matches the highest UID, even one below n.
        let mut uids: Vec<u32> = found.into_iter().filter(|uid| *uid > after).collect();
        uids.sort_unstable();

        let mut report = SyncReport {
            last_uid: after,
            ..SyncReport::default()
        };
        for batch in uids.chunks(BATCH) {
            let set = batch
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let mut fetched: Vec<Fetch> = within(timeout, "fetching", async {
                session
                    .uid_fetch(set, "(UID RFC822.SIZE INTERNALDATE BODY.PEEK[])")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?
            .map_err(|e| SyncError::Server(format!("fetching: {e}")))?;
            fetched.sort_by_key(|fetch| fetch.uid);
            let mut handed_on = 0;
            for fetch in &fetched {
                let Some(uid) = fetch.uid.filter(|uid| *uid > after) else {
                    continue;
                };
                match self.hand_on(fetch, uid_validity, uid).await? {
                    true => handed_on += 1,
                    false => report.skipped += 1,
                }
                report.last_uid = report.last_uid.max(uid);
            }
            report.handed_on += handed_on;
            // The whole batch was asked for: a UID the server no longer has
            // (expunged meanwhile) is passed over too.
            if let Some(highest) = batch.last() {
                report.last_uid = report.last_uid.max(*highest);
            }
            let record = CommandEnvelope::new(
                mailbox_stream.clone(),
                "RecordSync",
                json!({
                    "folder": config.folder,
                    "uid_validity": uid_validity,
                    "last_uid": report.last_uid,
                    "messages": handed_on,
                }),
                ACTOR,
            );
            self.host.execute(record).await?;
        }
        Ok(report)
    }

    /// Hands one fetched message to the inbox: `true` when it took it (or
    /// had it), `false` when it refused it.
    async fn hand_on(&self, fetch: &Fetch, uid_validity: u32, uid: u32) -> Result<bool, SyncError> {
        let Some(raw) = fetch.body() else {
            tracing::warn!(uid, "the server sent no body for a message; skipped");
            return Ok(false);
        };
        let received_at = fetch.internal_date().map(|at| at.with_timezone(&Utc));
        let place = Place {
            account: &self.config.account,
            folder: &self.config.folder,
            uid_validity,
            uid,
        };
        let Some(receive) = receive_command(raw, &place, received_at, fetch.size) else {
            tracing::warn!(uid, "a message that is not mail (no headers); skipped");
            return Ok(false);
        };
        let stream = StreamId::new(Message::CATEGORY, &receive.message_id)
            .map_err(|e| SyncError::Server(format!("a message id: {e}")))?;
        let mut envelope = CommandEnvelope::new(stream, "Receive", receive.data, ACTOR);
        envelope.command_id = format!("mail:{}", receive.message_id);
        match self.host.execute(envelope).await {
            Ok(_) => Ok(true),
            Err(HostError::Rejected(rejection)) => {
                tracing::warn!(
                    uid,
                    rule = rejection.rule,
                    %rejection.message,
                    "the inbox refused a message; skipped"
                );
                Ok(false)
            }
            Err(error) => Err(error.into()),
        }
    }
}

/// Signs in to `config`'s server.
async fn sign_in(config: &ImapConfig) -> Result<Session, SyncError> {
    let timeout = config.timeout;
    let tcp = within(
        timeout,
        "connecting",
        TcpStream::connect((config.host.as_str(), config.port)),
    )
    .await?
    .map_err(|e| {
        SyncError::Server(format!(
            "connecting to {}:{}: {e}",
            config.host, config.port
        ))
    })?;
    let stream: Box<dyn Connection> = match config.security {
        ImapSecurity::None => Box::new(tcp),
        ImapSecurity::Tls => {
            let connector = tls_connector()?;
            let name = rustls::pki_types::ServerName::try_from(config.host.clone())
                .map_err(|e| SyncError::Server(format!("the host name for TLS: {e}")))?;
            let tls = within(timeout, "the TLS handshake", connector.connect(name, tcp))
                .await?
                .map_err(|e| SyncError::Server(format!("the TLS handshake: {e}")))?;
            Box::new(tls)
        }
    };
    let mut client = async_imap::Client::new(stream);
    let greeting = within(timeout, "the greeting", client.read_response())
        .await?
        .map_err(|e| SyncError::Server(format!("the greeting: {e}")))?;
    if greeting.is_none() {
        return Err(SyncError::Server(
            "the server closed the connection before greeting".to_owned(),
        ));
    }
    let (user, password) = config.credentials.clone().ok_or_else(|| {
        SyncError::Server("no credentials: put them in the vault's `imap` entry".to_owned())
    })?;
    within(timeout, "signing in", client.login(user, password))
        .await?
        .map_err(|(e, _)| SyncError::Server(format!("signing in: {e}")))
}

/// Signs in and opens the folder, without reading anything: what the
/// credential vault's test of an `imap` entry does. Answers what the
/// folder holds.
pub async fn check_sign_in(config: &ImapConfig) -> Result<String, SyncError> {
    let mut session = sign_in(config).await?;
    let folder = within(
        config.timeout,
        "selecting the folder",
        session.examine(&config.folder),
    )
    .await?
    .map_err(|e| SyncError::Server(format!("the folder `{}`: {e}", config.folder)));
    let _ = tokio::time::timeout(config.timeout, session.logout()).await;
    let folder = folder?;
    Ok(format!(
        "signed in; `{}` holds {} messages",
        config.folder, folder.exists
    ))
}

/// Runs `future` for at most `timeout`, saying what timed out.
async fn within<F: std::future::Future>(
    timeout: Duration,
    what: &str,
    future: F,
) -> Result<F::Output, SyncError> {
    tokio::time::timeout(timeout, future)
        .await
        .map_err(|_| SyncError::Server(format!("{what} took over {} s", timeout.as_secs())))
}

/// TLS with the system's roots, on ring (the provider Steward chooses).
fn tls_connector() -> Result<tokio_rustls::TlsConnector, SyncError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for certificate in native.certs {
        // A root the system holds but rustls cannot read is left out.
        let _ = roots.add(certificate);
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| SyncError::Server(format!("TLS set-up: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        config,
    )))
}

/// Where a message was found.
#[derive(Debug, Clone, Copy)]
struct Place<'a> {
    account: &'a str,
    folder: &'a str,
    uid_validity: u32,
    uid: u32,
}

/// A message as the inbox's `Receive` command.
#[derive(Debug, Clone, PartialEq)]
struct Receive {
    message_id: String,
    data: Value,
}

/// Steward's id for a message: from its account and `Message-ID`, so that
/// it is the same however often and from wherever it is read; from where
/// it was found when it has no `Message-ID`.
fn message_id(place: &Place<'_>, internet_id: Option<&str>) -> String {
    match internet_id {
        Some(id) => format!("mail.{}", digest(&[place.account, id])),
        None => format!(
            "mail.{}",
            digest(&[
                place.account,
                place.folder,
                &place.uid_validity.to_string(),
                &place.uid.to_string(),
            ])
        ),
    }
}

/// The first 24 hex digits of the SHA-256 of `parts`, each ended by a
/// line feed (which none holds), so that parts never run together.
fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update(b"\n");
    }
    hasher
        .finalize()
        .iter()
        .take(12)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A `Message-ID` as the inbox takes it, or none.
fn usable_id(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let usable = !id.is_empty()
        && id.len() <= MAX_INTERNET_ID_LEN
        && id
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '<' && c != '>');
    usable.then(|| id.to_owned())
}

/// The ids a header holds (`References` holds several).
fn ids(header: &HeaderValue<'_>) -> Vec<String> {
    match header {
        HeaderValue::Text(id) => usable_id(id).into_iter().collect(),
        HeaderValue::TextList(ids) => ids.iter().filter_map(|id| usable_id(id)).collect(),
        _ => Vec::new(),
    }
}

fn correspondent(addr: &Addr<'_>) -> Option<Correspondent> {
    let address = addr.address()?.trim();
    if address.is_empty() {
        return None;
    }
    Some(Correspondent {
        address: address.to_owned(),
        name: addr
            .name()
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty()),
    })
}

fn correspondents<'x>(address: Option<&mail_parser::Address<'x>>) -> Vec<Correspondent> {
    address
        .map(|address| address.iter().filter_map(correspondent).collect())
        .unwrap_or_default()
}

/// The `Receive` command for the raw message `raw` found at `place`:
/// `None` when it is not mail at all.
fn receive_command(
    raw: &[u8],
    place: &Place<'_>,
    internal_date: Option<DateTime<Utc>>,
    size: Option<u32>,
) -> Option<Receive> {
    let parsed = MessageParser::default().parse(raw)?;
    if parsed.headers().is_empty() {
        return None;
    }
    let internet_id = parsed.message_id().and_then(usable_id);
    let message_id = message_id(place, internet_id.as_deref());
    // The conversation is named by its first message: the root of
    // `References`, else the message answered, else this one.
    let thread_root = ids(parsed.references())
        .into_iter()
        .next()
        .or_else(|| ids(parsed.in_reply_to()).into_iter().next());
    let thread_id = match thread_root.or_else(|| internet_id.clone()) {
        Some(root) => format!("thread.{}", digest(&[place.account, &root])),
        None => message_id.clone(),
    };
    let from = correspondents(parsed.from())
        .into_iter()
        .next()
        .or_else(|| correspondents(parsed.sender()).into_iter().next())
        .unwrap_or_default();
    let received_at = internal_date
        .or_else(|| {
            parsed
                .date()
                .and_then(|date| DateTime::from_timestamp(date.to_timestamp(), 0))
        })
        .unwrap_or_else(Utc::now);
    let body: String = parsed
        .body_text(0)
        .map(|text| text.chars().take(MAX_BODY_CHARS).collect())
        .unwrap_or_default();
    let has_list_unsubscribe = !matches!(parsed.list_unsubscribe(), HeaderValue::Empty);
    let data = json!({
        "message_id": message_id,
        "account": place.account,
        "thread_id": thread_id,
        "from": from,
        "to": correspondents(parsed.to()),
        "cc": correspondents(parsed.cc()),
        "subject": parsed.subject().unwrap_or_default(),
        "body_text": body,
        "received_at": received_at,
        "has_list_unsubscribe": has_list_unsubscribe,
        "size_bytes": size.map_or(raw.len() as u64, u64::from),
        "internet_message_id": internet_id,
    });
    Some(Receive { message_id, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(uid: u32) -> Place<'static> {
        Place {
            account: "me@example.org",
            folder: "INBOX",
            uid_validity: 7,
            uid,
        }
    }

    const LUNCH: &[u8] = b"From: \"Dana Smith\" <dana@example.org>\r\n\
To: me@example.org, Lee <lee@example.org>\r\n\
Cc: kim@example.org\r\n\
Subject: =?UTF-8?Q?Lunch_=C3=A0_midi?=\r\n\
Date: Tue, 01 Dec 2026 09:15:00 +0100\r\n\
Message-ID: <lunch-2@example.org>\r\n\
In-Reply-To: <lunch-1@example.org>\r\n\
References: <lunch-0@example.org> <lunch-1@example.org>\r\n\
List-Unsubscribe: <mailto:leave@example.org>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Thursday at noon?\r\n";

    #[test]
    fn a_message_becomes_a_receive_threaded_under_its_first_message() {
        let receive = receive_command(LUNCH, &place(3), None, Some(612)).expect("mail");
        let data = &receive.data;
        assert!(receive.message_id.starts_with("mail."));
        assert_eq!(data["message_id"], json!(receive.message_id));
        assert_eq!(data["account"], json!("me@example.org"));
        assert_eq!(
            data["from"],
            json!({"address": "dana@example.org", "name": "Dana Smith"})
        );
        assert_eq!(
            data["to"],
            json!([
                {"address": "me@example.org", "name": null},
                {"address": "lee@example.org", "name": "Lee"}
            ])
        );
        assert_eq!(
            data["cc"],
            json!([{"address": "kim@example.org", "name": null}])
        );
        assert_eq!(data["subject"], json!("Lunch à midi"));
        assert_eq!(data["body_text"], json!("Thursday at noon?\r\n"));
        assert_eq!(data["internet_message_id"], json!("lunch-2@example.org"));
        assert_eq!(data["has_list_unsubscribe"], json!(true));
        assert_eq!(data["size_bytes"], json!(612));
        assert_eq!(data["received_at"], json!("2026-12-01T08:15:00Z"));

        // The first message of the conversation names the thread.
        let first = LUNCH
            .split(|b| *b == b'\n')
            .filter(|line| !line.starts_with(b"In-Reply-To") && !line.starts_with(b"References"))
            .collect::<Vec<_>>()
            .join(&b'\n');
        let first = String::from_utf8(first)
            .expect("utf-8")
            .replace("lunch-2@", "lunch-0@");
        let root = receive_command(first.as_bytes(), &place(1), None, None).expect("mail");
        assert_eq!(root.data["thread_id"], data["thread_id"]);
        assert_ne!(root.message_id, receive.message_id);
    }

    #[test]
    fn the_same_message_has_the_same_id_wherever_it_is_found_but_not_in_another_account() {
        let here = receive_command(LUNCH, &place(3), None, None).expect("mail");
        let renumbered = Place {
            uid_validity: 9,
            uid: 40,
            ..place(3)
        };
        let again = receive_command(LUNCH, &renumbered, None, None).expect("mail");
        assert_eq!(here.message_id, again.message_id);
        let elsewhere = Place {
            account: "work@example.org",
            ..place(3)
        };
        let other = receive_command(LUNCH, &elsewhere, None, None).expect("mail");
        assert_ne!(here.message_id, other.message_id);
    }

    #[test]
    fn a_message_without_a_message_id_is_named_by_where_it_was_found() {
        let bare = b"From: dana@example.org\r\nSubject: hi\r\n\r\nhello\r\n";
        let one = receive_command(bare, &place(3), None, None).expect("mail");
        let two = receive_command(bare, &place(4), None, None).expect("mail");
        assert_ne!(one.message_id, two.message_id);
        assert_eq!(one.data["internet_message_id"], Value::Null);
        assert_eq!(one.data["thread_id"], json!(one.message_id));
        assert_eq!(one.data["has_list_unsubscribe"], json!(false));
    }

    #[test]
    fn the_servers_arrival_time_wins_over_the_senders_date() {
        let arrived: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().expect("an instant");
        let receive = receive_command(LUNCH, &place(3), Some(arrived), None).expect("mail");
        assert_eq!(receive.data["received_at"], json!("2026-12-01T10:00:00Z"));
    }

    #[test]
    fn an_html_only_message_is_read_as_text_and_a_long_body_is_cut() {
        let html = b"From: shop@example.org\r\nContent-Type: text/html\r\n\r\n<p>Your <b>order</b> shipped</p>\r\n";
        let receive = receive_command(html, &place(1), None, None).expect("mail");
        let body = receive.data["body_text"].as_str().expect("text");
        assert!(body.contains("Your order shipped"), "{body}");
        assert!(!body.contains('<'), "{body}");

        let long = format!(
            "From: dana@example.org\r\n\r\n{}",
            "a".repeat(MAX_BODY_CHARS + 10)
        );
        let receive = receive_command(long.as_bytes(), &place(2), None, None).expect("mail");
        assert_eq!(
            receive.data["body_text"]
                .as_str()
                .map(|b| b.chars().count()),
            Some(MAX_BODY_CHARS)
        );
    }

    #[test]
    fn a_message_id_that_could_not_go_back_out_is_left_out() {
        assert_eq!(usable_id(" <a@b> "), Some("a@b".to_owned()));
        assert_eq!(usable_id("<>"), None);
        assert_eq!(usable_id("a b@c"), None);
        assert_eq!(usable_id("é@c"), None);
    }

    #[test]
    fn urls_name_the_folder_and_never_hold_secrets() {
        let tls =
            ImapConfig::from_url("imaps://mail.example.org", "me@example.org").expect("imaps");
        assert_eq!(
            (tls.security(), tls.port, tls.folder()),
            (ImapSecurity::Tls, 993, "INBOX")
        );
        let local = ImapConfig::from_url("imap://127.0.0.1:1143/Mail%20In", "me@example.org")
            .expect("imap");
        assert_eq!(
            (local.security(), local.port, local.folder()),
            (ImapSecurity::None, 1143, "Mail In")
        );
        let refused =
            |url: &str, account: &str| ImapConfig::from_url(url, account).expect_err("refused");
        assert_eq!(
            refused("imaps://me:secret@mail.example.org", "me"),
            ImapConfigError::CredentialsInUrl
        );
        assert_eq!(
            refused("pop3://mail.example.org", "me"),
            ImapConfigError::Scheme("pop3".into())
        );
        assert_eq!(
            refused("imaps://mail.example.org/INBOX?x=1", "me"),
            ImapConfigError::Query
        );
        assert_eq!(
            refused("imaps://mail.example.org", "my mail"),
            ImapConfigError::Account("my mail".into())
        );
    }
}
