//! Integration credentials (`credentials-main`): which integrations have
//! credentials in the vault, of what kind, for which endpoint, and how
//! their last test went. The secrets never pass through here: the API
//! seals them into the key vault and records the fact with these commands
//! (domain `access`, so only admins send them).
//!
//! Rules: an integration name is 1 to 64 lowercase letters, digits, `-`
//! and `_`; a kind is one of [`KINDS`]; an endpoint is a URL of a scheme
//! its kind speaks, with no user name or password in it; the secret holds
//! at least one of [`FIELDS`]; only credentials that exist can be removed
//! or tested.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_events::domain::credentials::{
    CredentialsEvent, CredentialsRemoved, CredentialsSet, CredentialsTested,
};

use crate::aggregate::{Aggregate, Context, Rejection, ensure};
use crate::catalog::Visitor;

/// Shows the credentials aggregate to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<Credentials>();
}

/// The kinds of integration, each with the URL schemes it speaks.
pub const KINDS: &[(&str, &[&str])] = &[
    ("mqtt", &["mqtt", "mqtts"]),
    ("imap", &["imap", "imaps"]),
    ("smtp", &["smtp", "smtps"]),
    ("caldav", &["http", "https"]),
    ("http", &["http", "https"]),
];

/// The fields a secret may hold.
pub const FIELDS: &[&str] = &["username", "password", "token"];

/// Commands to the credentials stream.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum CredentialsCommand {
    /// Record that an integration's credentials were set in the vault.
    RecordCredentialsSet {
        /// The integration.
        integration: String,
        /// Its kind: `mqtt`, `imap`, `smtp`, `caldav` or `http`.
        kind: String,
        /// Where it connects.
        endpoint: String,
        /// The names of the fields the secret holds.
        fields: Vec<String>,
    },
    /// Record that an integration's credentials were removed.
    RecordCredentialsRemoved {
        /// The integration.
        integration: String,
    },
    /// Record how a test of an integration's credentials went.
    RecordCredentialsTest {
        /// The integration.
        integration: String,
        /// Whether the endpoint accepted them.
        ok: bool,
        /// What the endpoint answered.
        detail: String,
        /// How long it took.
        latency_ms: u64,
        /// When.
        tested_at: DateTime<Utc>,
    },
}

/// One integration's credentials, as recorded (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    /// Its kind.
    pub kind: String,
    /// Where it connects.
    pub endpoint: String,
    /// The fields the secret holds.
    pub fields: Vec<String>,
    /// The last test, if any since it was set.
    pub last_test: Option<CredentialsTested>,
}

/// The credentials of the installation's integrations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Credentials {
    /// By integration name.
    pub integrations: BTreeMap<String, Credential>,
}

/// Refuses an integration name that is not 1 to 64 lowercase letters,
/// digits, `-` and `_`.
pub fn check_integration(name: &str) -> Result<(), Rejection> {
    ensure(
        !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'),
        "invalid_integration",
        || "an integration name is 1 to 64 lowercase letters, digits, `-` and `_`".to_owned(),
    )
}

/// Checks what a `CredentialsSet` would record: a known kind, an endpoint
/// of one of its schemes without credentials in it, and known fields (at
/// least one). Returns the fields sorted.
pub fn check_credentials(
    kind: &str,
    endpoint: &str,
    fields: &[String],
) -> Result<Vec<String>, Rejection> {
    let schemes = KINDS
        .iter()
        .find(|(known, _)| *known == kind)
        .map(|(_, schemes)| *schemes)
        .ok_or_else(|| {
            Rejection::new(
                "unknown_kind",
                format!(
                    "`{kind}` is not a kind of integration: {}",
                    KINDS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
    let scheme = endpoint.split_once("://").map(|(scheme, _)| scheme);
    ensure(
        scheme.is_some_and(|s| schemes.contains(&s))
            && endpoint.len() <= 2000
            && !endpoint.chars().any(char::is_whitespace),
        "invalid_endpoint",
        || format!("a {kind} endpoint is a {} URL", schemes.join(" or ")),
    )?;
    let authority = endpoint
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or_default())
        .unwrap_or_default();
    ensure(
        !authority.contains('@') && !authority.is_empty(),
        "credentials_in_endpoint",
        || {
            "an endpoint names a host, never a user name or password: put those in the secret"
                .to_owned()
        },
    )?;
    let mut fields: Vec<String> = fields.to_vec();
    fields.sort();
    fields.dedup();
    ensure(
        !fields.is_empty() && fields.iter().all(|f| FIELDS.contains(&f.as_str())),
        "invalid_fields",
        || format!("a secret holds one or more of {}", FIELDS.join(", ")),
    )?;
    Ok(fields)
}

impl Credentials {
    fn existing(&self, integration: &str) -> Result<&Credential, Rejection> {
        self.integrations.get(integration).ok_or_else(|| {
            Rejection::new(
                "no_credentials",
                format!("`{integration}` has no credentials"),
            )
        })
    }
}

impl Aggregate for Credentials {
    const CATEGORY: &'static str = "credentials";
    const DOMAIN: &'static str = "access";
    const STATE_VERSION: u32 = 1;
    type Command = CredentialsCommand;
    type Event = CredentialsEvent;

    fn decide(
        &self,
        command: CredentialsCommand,
        _context: &Context,
    ) -> Result<Vec<CredentialsEvent>, Rejection> {
        match command {
            CredentialsCommand::RecordCredentialsSet {
                integration,
                kind,
                endpoint,
                fields,
            } => {
                check_integration(&integration)?;
                let fields = check_credentials(&kind, &endpoint, &fields)?;
                // Set again even when nothing recorded changed: the secret
                // did, and that is worth a line in the audit.
                Ok(vec![CredentialsEvent::Set(CredentialsSet {
                    integration,
                    kind,
                    endpoint,
                    fields,
                })])
            }
            CredentialsCommand::RecordCredentialsRemoved { integration } => {
                if !self.integrations.contains_key(&integration) {
                    return Ok(Vec::new());
                }
                Ok(vec![CredentialsEvent::Removed(CredentialsRemoved {
                    integration,
                })])
            }
            CredentialsCommand::RecordCredentialsTest {
                integration,
                ok,
                detail,
                latency_ms,
                tested_at,
            } => {
                self.existing(&integration)?;
                let detail: String = detail.chars().take(500).collect();
                Ok(vec![CredentialsEvent::Tested(CredentialsTested {
                    integration,
                    ok,
                    detail,
                    latency_ms,
                    tested_at,
                })])
            }
        }
    }

    fn apply(&mut self, event: &CredentialsEvent) {
        match event {
            CredentialsEvent::Set(set) => {
                self.integrations.insert(
                    set.integration.clone(),
                    Credential {
                        kind: set.kind.clone(),
                        endpoint: set.endpoint.clone(),
                        fields: set.fields.clone(),
                        last_test: None,
                    },
                );
            }
            CredentialsEvent::Removed(removed) => {
                self.integrations.remove(&removed.integration);
            }
            CredentialsEvent::Tested(tested) => {
                if let Some(credential) = self.integrations.get_mut(&tested.integration) {
                    credential.last_test = Some(tested.clone());
                }
            }
        }
    }
}
