//! Access: the users, sessions and API tokens of an installation
//! (`access-main`).
//!
//! Callers make secrets (tokens, session cookies) and hash passwords
//! themselves, and send only digests and hashes, so no secret reaches the
//! log. The server answers a presented token or cookie by hashing it and
//! looking the digest up in this aggregate's state; it checks a password
//! against the user's Argon2id hash.
//!
//! Rules: the first user is the owner, and there is only one; members get
//! the domains granted to them (known domains only); the owner cannot be
//! removed or demoted; a removed user's sessions and tokens open nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_events::domain::access::{
    AccessEvent, LoginFailed, PasswordSet, ProfileSet, Role, Scope, SessionEnded, SessionStarted,
    TokenCreated, TokenRevoked, UserAccessSet, UserAdded, UserRemoved,
};

use crate::aggregate::{Aggregate, Context, Rejection, ensure, short_text};
use crate::catalog::Visitor;

/// Shows the access aggregate to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<Access>();
}

/// Commands to the access stream.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum AccessCommand {
    /// Add a user: the first is the owner, the others members.
    AddUser {
        /// Their id (letters, digits, `-` and `_`; at most 64).
        user_id: String,
        /// The name they log in with: 3 to 64 of `a-z`, `0-9`, `.`, `_`,
        /// `-` (upper case is lowered).
        username: String,
        /// How they are addressed.
        display_name: String,
        /// Owner (only the first user) or member.
        role: Role,
        /// A member's domains (`home`, `groceries`…); ignored for the owner.
        #[serde(default)]
        domains: Vec<String>,
        /// The password's Argon2id hash (a PHC string, `$argon2id$…`).
        password_hash: String,
    },
    /// Set a member's domains.
    SetUserAccess {
        /// The user.
        user_id: String,
        /// Their domains.
        domains: Vec<String>,
    },
    /// Set a user's password.
    SetPassword {
        /// The user.
        user_id: String,
        /// The Argon2id hash of the new password.
        password_hash: String,
    },
    /// Set a user's time zone and locale.
    SetProfile {
        /// The user.
        user_id: String,
        /// An IANA time zone (`Europe/London`).
        time_zone: String,
        /// A language tag (`en-GB`).
        locale: String,
    },
    /// Remove a member.
    RemoveUser {
        /// The user.
        user_id: String,
    },
    /// Begin a session after a successful login.
    StartSession {
        /// Its id.
        session_id: String,
        /// Whose.
        user_id: String,
        /// The SHA-256 digest of its secret, lower-case hex.
        sha256: String,
        /// When it ends (in the future).
        expires_at: DateTime<Utc>,
    },
    /// End a session (log out, or revoke it); ending it again changes
    /// nothing.
    EndSession {
        /// The session.
        session_id: String,
        /// `logout` or `revoked`.
        reason: String,
    },
    /// Record a failed login.
    RecordFailedLogin {
        /// The name given.
        username: String,
        /// `unknown_user` or `wrong_password`.
        reason: String,
    },
    /// Make a token. Sending the same token again changes nothing.
    CreateToken {
        /// Its id (letters, digits, `-` and `_`; at most 64).
        token_id: String,
        /// The user it acts for (default: the owner).
        #[serde(default)]
        user_id: Option<String>,
        /// What it is for.
        name: String,
        /// What it may do (at least one scope).
        scopes: Vec<Scope>,
        /// The SHA-256 digest of the token, lower-case hex.
        sha256: String,
        /// When it stops working (in the future), if ever.
        #[serde(default)]
        expires_at: Option<DateTime<Utc>>,
    },
    /// Revoke a token; revoking it again changes nothing.
    RevokeToken {
        /// The token.
        token_id: String,
    },
}

/// A user as the access stream knows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Their id.
    pub user_id: String,
    /// The name they log in with.
    pub username: String,
    /// How they are addressed.
    pub display_name: String,
    /// Owner or member.
    pub role: Role,
    /// A member's domains.
    pub domains: Vec<String>,
    /// Their password's Argon2id hash.
    pub password_hash: String,
    /// Their time zone, if set.
    pub time_zone: Option<String>,
    /// Their locale, if set.
    pub locale: Option<String>,
}

impl User {
    /// Whether they may see and act in `domain`.
    pub fn may_use(&self, domain: &str) -> bool {
        self.role == Role::Owner || self.domains.iter().any(|d| d == domain)
    }

    /// Whether their role allows `scope` (members never administer).
    pub fn allows(&self, scope: Scope) -> bool {
        self.role == Role::Owner || scope != Scope::Admin
    }
}

/// A browser session as the access stream knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Its id.
    pub session_id: String,
    /// Whose.
    pub user_id: String,
    /// The digest of its secret.
    pub sha256: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// A token as the access stream knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    /// Its id.
    pub token_id: String,
    /// The user it acts for; `None`: the owner.
    pub user_id: Option<String>,
    /// What it is for.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// The digest of the secret.
    pub sha256: String,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl Token {
    /// Whether it opens anything at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        !self.revoked && self.expires_at.is_none_or(|expiry| now < expiry)
    }

    /// Whether it grants `scope` (`admin` grants every scope).
    pub fn grants(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }
}

/// The users, sessions and tokens of an installation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Access {
    /// The users, by id.
    pub users: BTreeMap<String, User>,
    /// The open sessions, by id (ended ones are dropped; expired ones stay
    /// until ended, and open nothing).
    pub sessions: BTreeMap<String, Session>,
    /// The tokens, by id.
    pub tokens: BTreeMap<String, Token>,
}

impl Access {
    /// The token whose secret has this digest.
    pub fn by_digest(&self, sha256: &str) -> Option<&Token> {
        self.tokens.values().find(|token| token.sha256 == sha256)
    }

    /// The owner, once there is one.
    pub fn owner(&self) -> Option<&User> {
        self.users.values().find(|user| user.role == Role::Owner)
    }

    /// The user who logs in as `username` (any case).
    pub fn by_username(&self, username: &str) -> Option<&User> {
        let username = username.trim().to_lowercase();
        self.users.values().find(|user| user.username == username)
    }

    /// The user a token acts for: its own, or the owner.
    pub fn user_of(&self, token: &Token) -> Option<&User> {
        match &token.user_id {
            Some(user_id) => self.users.get(user_id),
            None => self.owner(),
        }
    }

    fn user(&self, user_id: &str) -> Result<&User, Rejection> {
        self.users
            .get(user_id)
            .ok_or_else(|| Rejection::new("unknown_user", format!("there is no user `{user_id}`")))
    }
}

fn username(value: &str) -> Result<String, Rejection> {
    let value = value.trim().to_lowercase();
    let valid = (3..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    ensure(valid, "username_invalid", || {
        format!("a username is 3 to 64 of a-z, 0-9, `.`, `_` and `-`, not {value:?}")
    })?;
    Ok(value)
}

fn password_hash(value: &str) -> Result<String, Rejection> {
    ensure(
        value.starts_with("$argon2id$") && value.len() <= 512,
        "password_hash_invalid",
        || "a password is sent as its Argon2id hash (a `$argon2id$…` PHC string)".to_owned(),
    )?;
    Ok(value.to_owned())
}

/// The domains a member may be granted: those of the catalog.
fn domains(requested: Vec<String>) -> Result<Vec<String>, Rejection> {
    let known: Vec<&'static str> = crate::catalog::categories()
        .iter()
        .map(|category| category.domain)
        .filter(|domain| !matches!(*domain, "access" | "system"))
        .collect();
    let mut granted = Vec::new();
    for domain in requested {
        let domain = domain.trim().to_lowercase();
        ensure(known.contains(&domain.as_str()), "unknown_domain", || {
            format!("`{domain}` is not a domain; known: {}", known.join(", "))
        })?;
        if !granted.contains(&domain) {
            granted.push(domain);
        }
    }
    granted.sort();
    Ok(granted)
}

fn id(value: &str, what: &str) -> Result<String, Rejection> {
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ensure(valid, "id_invalid", || {
        format!("a {what} id is 1 to 64 letters, digits, `-` or `_`, not {value:?}")
    })?;
    Ok(value.to_owned())
}

fn token_id(value: &str) -> Result<String, Rejection> {
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ensure(valid, "token_id_invalid", || {
        format!("a token id is 1 to 64 letters, digits, `-` or `_`, not {value:?}")
    })?;
    Ok(value.to_owned())
}

fn digest(value: &str) -> Result<String, Rejection> {
    let valid = value.len() == 64 && value.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
    ensure(valid, "digest_invalid", || {
        "sha256 is the token's SHA-256 digest as 64 lower-case hex digits".to_owned()
    })?;
    Ok(value.to_owned())
}

impl Aggregate for Access {
    const CATEGORY: &'static str = "access";
    const DOMAIN: &'static str = "access";
    const STATE_VERSION: u32 = 3;
    type Command = AccessCommand;
    type Event = AccessEvent;

    fn decide(
        &self,
        command: AccessCommand,
        context: &Context,
    ) -> Result<Vec<AccessEvent>, Rejection> {
        match command {
            AccessCommand::AddUser {
                user_id,
                username: name,
                display_name,
                role,
                domains: requested,
                password_hash: hash,
            } => {
                let user_id = id(&user_id, "user")?;
                let name = username(&name)?;
                let display_name =
                    short_text(&display_name, "display_name_required", "user's name")?;
                let hash = password_hash(&hash)?;
                if let Some(existing) = self.users.get(&user_id) {
                    let same = existing.username == name && existing.role == role;
                    return if same {
                        Ok(Vec::new())
                    } else {
                        Err(Rejection::new(
                            "user_exists",
                            format!("a user `{user_id}` exists already"),
                        ))
                    };
                }
                ensure(self.by_username(&name).is_none(), "username_taken", || {
                    format!("the username `{name}` is taken")
                })?;
                match (role, self.owner()) {
                    (Role::Owner, Some(_)) => {
                        return Err(Rejection::new(
                            "owner_exists",
                            "there is an owner already; add members",
                        ));
                    }
                    (Role::Member, None) => {
                        return Err(Rejection::new("owner_first", "the first user is the owner"));
                    }
                    _ => {}
                }
                let domains = match role {
                    Role::Owner => Vec::new(),
                    Role::Member => domains(requested)?,
                };
                Ok(vec![AccessEvent::UserAdded(UserAdded {
                    user_id,
                    username: name,
                    display_name,
                    role,
                    domains,
                    password_hash: hash,
                })])
            }
            AccessCommand::SetUserAccess {
                user_id,
                domains: requested,
            } => {
                let user = self.user(&user_id)?;
                ensure(user.role == Role::Member, "owner_has_all", || {
                    "the owner has every domain".to_owned()
                })?;
                let domains = domains(requested)?;
                if user.domains == domains {
                    return Ok(Vec::new());
                }
                Ok(vec![AccessEvent::UserAccessSet(UserAccessSet {
                    user_id,
                    role: Role::Member,
                    domains,
                })])
            }
            AccessCommand::SetPassword {
                user_id,
                password_hash: hash,
            } => {
                self.user(&user_id)?;
                Ok(vec![AccessEvent::PasswordSet(PasswordSet {
                    user_id,
                    password_hash: password_hash(&hash)?,
                })])
            }
            AccessCommand::SetProfile {
                user_id,
                time_zone,
                locale,
            } => {
                let user = self.user(&user_id)?;
                ensure(
                    time_zone.parse::<chrono_tz::Tz>().is_ok(),
                    "time_zone_invalid",
                    || format!("{time_zone:?} is not an IANA time zone (e.g. Europe/London)"),
                )?;
                let locale_valid = (2..=35).contains(&locale.len())
                    && locale
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-');
                ensure(locale_valid, "locale_invalid", || {
                    format!("{locale:?} is not a language tag (e.g. en-GB)")
                })?;
                if user.time_zone.as_deref() == Some(time_zone.as_str())
                    && user.locale.as_deref() == Some(locale.as_str())
                {
                    return Ok(Vec::new());
                }
                Ok(vec![AccessEvent::ProfileSet(ProfileSet {
                    user_id,
                    time_zone,
                    locale,
                })])
            }
            AccessCommand::RemoveUser { user_id } => {
                let Some(user) = self.users.get(&user_id) else {
                    return Ok(Vec::new());
                };
                ensure(user.role == Role::Member, "owner_stays", || {
                    "the owner cannot be removed".to_owned()
                })?;
                Ok(vec![AccessEvent::UserRemoved(UserRemoved { user_id })])
            }
            AccessCommand::StartSession {
                session_id,
                user_id,
                sha256,
                expires_at,
            } => {
                let session_id = id(&session_id, "session")?;
                self.user(&user_id)?;
                let sha256 = digest(&sha256)?;
                ensure(expires_at > context.now, "expiry_in_past", || {
                    "a session's expiry must be in the future".to_owned()
                })?;
                if let Some(existing) = self.sessions.get(&session_id) {
                    return if existing.sha256 == sha256 && existing.user_id == user_id {
                        Ok(Vec::new())
                    } else {
                        Err(Rejection::new(
                            "session_exists",
                            "a session with this id exists",
                        ))
                    };
                }
                Ok(vec![AccessEvent::SessionStarted(SessionStarted {
                    session_id,
                    user_id,
                    sha256,
                    expires_at,
                })])
            }
            AccessCommand::EndSession { session_id, reason } => {
                ensure(
                    matches!(reason.as_str(), "logout" | "revoked"),
                    "reason_invalid",
                    || "a session ends by `logout` or is `revoked`".to_owned(),
                )?;
                if !self.sessions.contains_key(&session_id) {
                    return Ok(Vec::new());
                }
                Ok(vec![AccessEvent::SessionEnded(SessionEnded {
                    session_id,
                    reason,
                })])
            }
            AccessCommand::RecordFailedLogin { username, reason } => {
                ensure(
                    matches!(reason.as_str(), "unknown_user" | "wrong_password"),
                    "reason_invalid",
                    || "a login fails for `unknown_user` or `wrong_password`".to_owned(),
                )?;
                let user_id = self.by_username(&username).map(|user| user.user_id.clone());
                let username: String = username.trim().chars().take(200).collect();
                Ok(vec![AccessEvent::LoginFailed(LoginFailed {
                    username,
                    reason,
                    user_id,
                })])
            }
            AccessCommand::CreateToken {
                token_id: id,
                user_id,
                name,
                scopes,
                sha256,
                expires_at,
            } => {
                let mut scopes = scopes;
                scopes.sort();
                scopes.dedup();
                if let Some(user_id) = &user_id {
                    let user = self.user(user_id)?;
                    ensure(
                        scopes.iter().all(|scope| user.allows(*scope)),
                        "scope_not_allowed",
                        || "a member's token cannot have the `admin` scope".to_owned(),
                    )?;
                }
                let created = TokenCreated {
                    token_id: token_id(&id)?,
                    user_id,
                    name: short_text(&name, "name_required", "token's purpose")?,
                    scopes,
                    sha256: digest(&sha256)?,
                    expires_at,
                };
                if let Some(existing) = self.tokens.get(&created.token_id) {
                    let same = existing.name == created.name
                        && existing.user_id == created.user_id
                        && existing.scopes == created.scopes
                        && existing.sha256 == created.sha256
                        && existing.expires_at == created.expires_at;
                    return if same {
                        Ok(Vec::new())
                    } else {
                        Err(Rejection::new(
                            "token_exists",
                            format!("a token `{}` exists already", created.token_id),
                        ))
                    };
                }
                ensure(!created.scopes.is_empty(), "scopes_required", || {
                    "give the token at least one scope".to_owned()
                })?;
                ensure(
                    created.expires_at.is_none_or(|at| at > context.now),
                    "expiry_in_past",
                    || "a token's expiry must be in the future".to_owned(),
                )?;
                ensure(
                    self.by_digest(&created.sha256).is_none(),
                    "digest_in_use",
                    || "another token has this digest; make a new secret".to_owned(),
                )?;
                Ok(vec![AccessEvent::TokenCreated(created)])
            }
            AccessCommand::RevokeToken { token_id: id } => match self.tokens.get(&id) {
                None => Err(Rejection::new(
                    "unknown_token",
                    format!("there is no token `{id}`"),
                )),
                Some(token) if token.revoked => Ok(Vec::new()),
                Some(_) => Ok(vec![AccessEvent::TokenRevoked(TokenRevoked {
                    token_id: id,
                })]),
            },
        }
    }

    fn apply(&mut self, event: &AccessEvent) {
        match event {
            AccessEvent::UserAdded(added) => {
                self.users.insert(
                    added.user_id.clone(),
                    User {
                        user_id: added.user_id.clone(),
                        username: added.username.clone(),
                        display_name: added.display_name.clone(),
                        role: added.role,
                        domains: added.domains.clone(),
                        password_hash: added.password_hash.clone(),
                        time_zone: None,
                        locale: None,
                    },
                );
            }
            AccessEvent::UserAccessSet(set) => {
                if let Some(user) = self.users.get_mut(&set.user_id) {
                    user.role = set.role;
                    user.domains.clone_from(&set.domains);
                }
            }
            AccessEvent::PasswordSet(set) => {
                if let Some(user) = self.users.get_mut(&set.user_id) {
                    user.password_hash.clone_from(&set.password_hash);
                }
            }
            AccessEvent::ProfileSet(set) => {
                if let Some(user) = self.users.get_mut(&set.user_id) {
                    user.time_zone = Some(set.time_zone.clone());
                    user.locale = Some(set.locale.clone());
                }
            }
            AccessEvent::UserRemoved(removed) => {
                self.users.remove(&removed.user_id);
                self.sessions
                    .retain(|_, session| session.user_id != removed.user_id);
                // Their tokens end with them, even if the id comes back.
                for token in self.tokens.values_mut() {
                    if token.user_id.as_deref() == Some(removed.user_id.as_str()) {
                        token.revoked = true;
                    }
                }
            }
            AccessEvent::SessionStarted(started) => {
                self.sessions.insert(
                    started.session_id.clone(),
                    Session {
                        session_id: started.session_id.clone(),
                        user_id: started.user_id.clone(),
                        sha256: started.sha256.clone(),
                        expires_at: started.expires_at,
                    },
                );
            }
            AccessEvent::SessionEnded(ended) => {
                self.sessions.remove(&ended.session_id);
            }
            AccessEvent::LoginFailed(_) => {}
            AccessEvent::TokenCreated(created) => {
                self.tokens.insert(
                    created.token_id.clone(),
                    Token {
                        token_id: created.token_id.clone(),
                        user_id: created.user_id.clone(),
                        name: created.name.clone(),
                        scopes: created.scopes.clone(),
                        sha256: created.sha256.clone(),
                        expires_at: created.expires_at,
                        revoked: false,
                    },
                );
            }
            AccessEvent::TokenRevoked(revoked) => {
                if let Some(token) = self.tokens.get_mut(&revoked.token_id) {
                    token.revoked = true;
                }
            }
        }
    }
}
