//! Events of integration credentials (`credentials-main`): the record of
//! what was set, removed and tested, and by whom, never the secrets. The
//! secrets themselves are in the key vault, sealed under the master key;
//! these events say which integration has credentials, of what kind, for
//! which endpoint and with which fields, so that an audit can show every
//! change without anything to leak.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DomainEvent, EventSet as _};

/// An integration's credentials were set (or replaced) in the vault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsSet {
    /// The integration (`mqtt`, `work-mail`).
    pub integration: String,
    /// What it connects to: `mqtt`, `imap`, `smtp`, `caldav` or `http`.
    pub kind: String,
    /// Where it connects, without any user name or password.
    pub endpoint: String,
    /// The names of the fields the secret holds (`username`, `password`,
    /// `token`), never their values.
    pub fields: Vec<String>,
}

impl DomainEvent for CredentialsSet {
    const EVENT_TYPE: &'static str = "CredentialsSet";
    const SCHEMA_VERSION: u16 = 1;
}

/// An integration's credentials were removed from the vault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsRemoved {
    /// The integration.
    pub integration: String,
}

impl DomainEvent for CredentialsRemoved {
    const EVENT_TYPE: &'static str = "CredentialsRemoved";
    const SCHEMA_VERSION: u16 = 1;
}

/// An integration's credentials were tried against its endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsTested {
    /// The integration.
    pub integration: String,
    /// Whether the endpoint accepted them.
    pub ok: bool,
    /// What the endpoint answered (`HTTP 401`, `connection refused`…),
    /// never the secret.
    pub detail: String,
    /// How long the attempt took.
    pub latency_ms: u64,
    /// When it was made.
    pub tested_at: DateTime<Utc>,
}

impl DomainEvent for CredentialsTested {
    const EVENT_TYPE: &'static str = "CredentialsTested";
    const SCHEMA_VERSION: u16 = 1;
}

crate::domain_events! {
    /// What the credentials stream holds.
    pub enum CredentialsEvent {
        /// Credentials were set.
        Set(CredentialsSet),
        /// Credentials were removed.
        Removed(CredentialsRemoved),
        /// Credentials were tested.
        Tested(CredentialsTested),
    }
}

/// The JSON Schema of every event type of credentials.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    CredentialsEvent::schemas()
}
