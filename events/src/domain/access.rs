//! Events of access: the people who may use Steward (the owner and the
//! household's members), their browser sessions, and the API tokens that
//! scripts, the UI and subscribers reach the HTTP API with.
//!
//! One stream per installation (`access-main`). A token or session secret is
//! random and shown once; what the log keeps is its SHA-256 digest, which
//! checks a presented secret in one hash and cannot be turned back into it.
//! Passwords are kept as Argon2id hashes in the sealed personal part, under
//! the user's own subject (`user:<id>`), so erasing a user erases them.
//! Every change, and every failed login, is an event: the audit trail shows
//! who could act, and since when.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DomainEvent, EventSet as _};
use crate::ids::SubjectId;

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

/// What a user may do: the owner everything, a member the domains granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The person Steward serves: every domain, administration.
    Owner,
    /// A household member: the domains granted, no administration.
    Member,
}

/// The data subject a user's personal data is sealed under.
pub fn user_subject(user_id: &str) -> Option<SubjectId> {
    SubjectId::parse(format!("user:{user_id}")).ok()
}

/// A user was added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserAdded {
    /// The user's id.
    pub user_id: String,
    /// The name they log in with (lower case).
    #[serde(default)]
    pub username: String,
    /// How they are addressed.
    #[serde(default)]
    pub display_name: String,
    /// Owner or member.
    pub role: Role,
    /// The domains a member may see and act in (`home`, `groceries`);
    /// empty for the owner, who has all.
    pub domains: Vec<String>,
    /// The password's Argon2id hash (PHC string).
    #[serde(default)]
    pub password_hash: String,
}

impl DomainEvent for UserAdded {
    const EVENT_TYPE: &'static str = "UserAdded";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["username", "display_name", "password_hash"];

    fn subjects(&self) -> Vec<SubjectId> {
        user_subject(&self.user_id).into_iter().collect()
    }
}

/// A member's domains (or role) changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserAccessSet {
    /// The user.
    pub user_id: String,
    /// Their role now.
    pub role: Role,
    /// Their domains now.
    pub domains: Vec<String>,
}

impl DomainEvent for UserAccessSet {
    const EVENT_TYPE: &'static str = "UserAccessSet";
    const SCHEMA_VERSION: u16 = 1;
}

/// A user's password changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordSet {
    /// The user.
    pub user_id: String,
    /// The new password's Argon2id hash (PHC string).
    #[serde(default)]
    pub password_hash: String,
}

impl DomainEvent for PasswordSet {
    const EVENT_TYPE: &'static str = "PasswordSet";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["password_hash"];

    fn subjects(&self) -> Vec<SubjectId> {
        user_subject(&self.user_id).into_iter().collect()
    }
}

/// A user's profile: the time zone and locale "tomorrow" and "9am" mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileSet {
    /// The user.
    pub user_id: String,
    /// An IANA time zone (`Europe/London`).
    pub time_zone: String,
    /// A language tag (`en-GB`).
    pub locale: String,
}

impl DomainEvent for ProfileSet {
    const EVENT_TYPE: &'static str = "ProfileSet";
    const SCHEMA_VERSION: u16 = 1;
}

/// A user was removed: their sessions and tokens open nothing any more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRemoved {
    /// The user.
    pub user_id: String,
}

impl DomainEvent for UserRemoved {
    const EVENT_TYPE: &'static str = "UserRemoved";
    const SCHEMA_VERSION: u16 = 1;
}

/// A user logged in: a browser session began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionStarted {
    /// The session's id.
    pub session_id: String,
    /// Whose.
    pub user_id: String,
    /// The SHA-256 digest of the session's secret (its cookie), hex.
    pub sha256: String,
    /// When it ends unless ended before.
    pub expires_at: DateTime<Utc>,
}

impl DomainEvent for SessionStarted {
    const EVENT_TYPE: &'static str = "SessionStarted";
    const SCHEMA_VERSION: u16 = 1;
}

/// A session ended: logged out, or revoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionEnded {
    /// The session.
    pub session_id: String,
    /// `logout` or `revoked`.
    pub reason: String,
}

impl DomainEvent for SessionEnded {
    const EVENT_TYPE: &'static str = "SessionEnded";
    const SCHEMA_VERSION: u16 = 1;
}

/// Someone failed to log in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginFailed {
    /// The name they gave (personal: it may be a real person's).
    #[serde(default)]
    pub username: String,
    /// Why: `unknown_user` or `wrong_password`.
    pub reason: String,
    /// The user it named, when it named one.
    pub user_id: Option<String>,
}

impl DomainEvent for LoginFailed {
    const EVENT_TYPE: &'static str = "LoginFailed";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["username"];

    fn subjects(&self) -> Vec<SubjectId> {
        self.user_id
            .as_deref()
            .and_then(user_subject)
            .into_iter()
            .collect()
    }
}

/// A token was made. Its name says what it is for (`backup script`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreated {
    /// The token's id, which is shown in lists and revokes it.
    pub token_id: String,
    /// The user it acts for; none: the installation's owner.
    #[serde(default)]
    pub user_id: Option<String>,
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
        /// A user was added.
        UserAdded(UserAdded),
        /// A user's role or domains changed.
        UserAccessSet(UserAccessSet),
        /// A user's password changed.
        PasswordSet(PasswordSet),
        /// A user's profile changed.
        ProfileSet(ProfileSet),
        /// A user was removed.
        UserRemoved(UserRemoved),
        /// A session began.
        SessionStarted(SessionStarted),
        /// A session ended.
        SessionEnded(SessionEnded),
        /// A login failed.
        LoginFailed(LoginFailed),
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
