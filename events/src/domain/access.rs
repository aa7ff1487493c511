//! Events of access: the API tokens that scripts, the UI and subscribers
//! reach Steward's HTTP API with.
//!
//! One stream per installation (`access-main`). A token is random and shown
//! once; what the log keeps is its SHA-256 digest, which checks a presented
//! token in one hash and cannot be turned back into it. Creating and revoking
//! tokens are events, so the audit trail shows who could act, and since when.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DomainEvent, EventSet as _};

/// What a token may do. Each scope opens a set of endpoints; `admin` opens
/// all of them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Scope {
    /// Read the log: timeline, streams, the live stream.
    #[serde(rename = "events:read")]
    EventsRead,
    /// Send commands to aggregates (not to `access`, which needs `admin`).
    #[serde(rename = "commands:write")]
    CommandsWrite,
    /// Read the read models and the memory.
    #[serde(rename = "read_models:read")]
    ReadModelsRead,
    /// Decide on plans waiting for approval.
    #[serde(rename = "approvals:write")]
    ApprovalsWrite,
    /// Everything: tokens, projections, erasure.
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    /// Every scope, in the order they are documented.
    pub const ALL: [Scope; 5] = [
        Scope::EventsRead,
        Scope::CommandsWrite,
        Scope::ReadModelsRead,
        Scope::ApprovalsWrite,
        Scope::Admin,
    ];

    /// Its name on the wire (`events:read`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::EventsRead => "events:read",
            Scope::CommandsWrite => "commands:write",
            Scope::ReadModelsRead => "read_models:read",
            Scope::ApprovalsWrite => "approvals:write",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope name that is none of [`Scope::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a scope (known: events:read, commands:write, read_models:read, approvals:write, admin)"
)]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == value)
            .ok_or_else(|| UnknownScope(value.to_owned()))
    }
}

/// A token was made. Its name says what it is for (`backup script`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreated {
    /// The token's id, which is shown in lists and revokes it.
    pub token_id: String,
    /// What it is for.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// The SHA-256 digest of the token, lower-case hex.
    pub sha256: String,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

impl DomainEvent for TokenCreated {
    const EVENT_TYPE: &'static str = "TokenCreated";
    const SCHEMA_VERSION: u16 = 1;
}

/// A token was revoked: it opens nothing from now on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRevoked {
    /// The token.
    pub token_id: String,
}

impl DomainEvent for TokenRevoked {
    const EVENT_TYPE: &'static str = "TokenRevoked";
    const SCHEMA_VERSION: u16 = 1;
}

crate::domain_events! {
    /// What the access stream holds.
    pub enum AccessEvent {
        /// A token was made.
        TokenCreated(TokenCreated),
        /// A token was revoked.
        TokenRevoked(TokenRevoked),
    }
}

/// The JSON Schemas of the access events.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    AccessEvent::schemas()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_reads_back_from_its_name() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
            assert_eq!(
                serde_json::to_value(scope).expect("a scope serialises"),
                serde_json::json!(scope.as_str())
            );
        }
        assert_eq!(
            "events:write".parse::<Scope>(),
            Err(UnknownScope("events:write".into()))
        );
    }
}
