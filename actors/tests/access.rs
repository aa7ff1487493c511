//! Access tokens: given events / when command / then events.

use chrono::Duration;
use steward_actors::Aggregate as _;
use steward_actors::access::{Access, AccessCommand};
use steward_actors::testing::{default_now, given};
use steward_events::domain::access::{
    AccessEvent, LoginFailed, PasswordSet, Role, Scope, SessionEnded, SessionStarted, TokenCreated,
    TokenRevoked, UserAccessSet, UserAdded, UserRemoved,
};

const DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const OTHER_DIGEST: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

fn create(id: &str, sha256: &str, scopes: Vec<Scope>) -> AccessCommand {
    AccessCommand::CreateToken {
        token_id: id.into(),
        user_id: None,
        name: "backup script".into(),
        scopes,
        sha256: sha256.into(),
        expires_at: None,
    }
}

fn created(id: &str, sha256: &str, scopes: Vec<Scope>) -> AccessEvent {
    AccessEvent::TokenCreated(TokenCreated {
        token_id: id.into(),
        user_id: None,
        name: "backup script".into(),
        scopes,
        sha256: sha256.into(),
        expires_at: None,
    })
}

#[test]
fn a_token_is_created_with_its_scopes_sorted_once() {
    given::<Access>([])
        .when(create(
            "t1",
            DIGEST,
            vec![
                Scope::CommandsWrite,
                Scope::EventsRead,
                Scope::CommandsWrite,
            ],
        ))
        .then([created(
            "t1",
            DIGEST,
            vec![Scope::EventsRead, Scope::CommandsWrite],
        )]);
    given::<Access>([created("t1", DIGEST, vec![Scope::EventsRead])])
        .when(create("t1", DIGEST, vec![Scope::EventsRead]))
        .then([]);
}

#[test]
fn a_token_needs_a_valid_id_name_digest_scope_and_future_expiry() {
    given::<Access>([])
        .when(create("t 1", DIGEST, vec![Scope::EventsRead]))
        .then_rejected("token_id_invalid");
    given::<Access>([])
        .when(create("t1", "ABC", vec![Scope::EventsRead]))
        .then_rejected("digest_invalid");
    given::<Access>([])
        .when(create(
            "t1",
            &DIGEST.to_uppercase(),
            vec![Scope::EventsRead],
        ))
        .then_rejected("digest_invalid");
    given::<Access>([])
        .when(create("t1", DIGEST, vec![]))
        .then_rejected("scopes_required");
    given::<Access>([])
        .when(AccessCommand::CreateToken {
            token_id: "t1".into(),
            user_id: None,
            name: "  ".into(),
            scopes: vec![Scope::Admin],
            sha256: DIGEST.into(),
            expires_at: None,
        })
        .then_rejected("name_required");
    given::<Access>([])
        .when(AccessCommand::CreateToken {
            token_id: "t1".into(),
            user_id: None,
            name: "old".into(),
            scopes: vec![Scope::Admin],
            sha256: DIGEST.into(),
            expires_at: Some(default_now() - Duration::seconds(1)),
        })
        .then_rejected("expiry_in_past");
}

#[test]
fn ids_and_digests_are_never_reused() {
    given::<Access>([created("t1", DIGEST, vec![Scope::EventsRead])])
        .when(create("t1", OTHER_DIGEST, vec![Scope::EventsRead]))
        .then_rejected("token_exists");
    given::<Access>([created("t1", DIGEST, vec![Scope::EventsRead])])
        .when(create("t2", DIGEST, vec![Scope::EventsRead]))
        .then_rejected("digest_in_use");
}

#[test]
fn a_token_is_revoked_once_and_then_opens_nothing() {
    let revoked = AccessEvent::TokenRevoked(TokenRevoked {
        token_id: "t1".into(),
    });
    given::<Access>([created("t1", DIGEST, vec![Scope::Admin])])
        .when(AccessCommand::RevokeToken {
            token_id: "t1".into(),
        })
        .then([revoked.clone()]);
    given::<Access>([created("t1", DIGEST, vec![Scope::Admin]), revoked.clone()])
        .when(AccessCommand::RevokeToken {
            token_id: "t1".into(),
        })
        .then([]);
    given::<Access>([])
        .when(AccessCommand::RevokeToken {
            token_id: "t1".into(),
        })
        .then_rejected("unknown_token");

    let state = steward_actors::aggregate::replay::<Access>(&[
        created("t1", DIGEST, vec![Scope::Admin]),
        revoked,
    ]);
    let token = state.by_digest(DIGEST).expect("the digest is known");
    assert!(!token.is_active(default_now()));
}

#[test]
fn admin_grants_every_scope_and_expiry_ends_a_token() {
    let mut state = steward_actors::aggregate::replay::<Access>(&[created(
        "t1",
        DIGEST,
        vec![Scope::EventsRead],
    )]);
    let token = state.tokens.get("t1").expect("created").clone();
    assert!(token.grants(Scope::EventsRead));
    assert!(!token.grants(Scope::CommandsWrite));
    assert!(token.is_active(default_now()));

    let admin = steward_actors::aggregate::replay::<Access>(&[created(
        "t2",
        OTHER_DIGEST,
        vec![Scope::Admin],
    )]);
    let admin = admin.tokens.get("t2").expect("created");
    assert!(Scope::ALL.into_iter().all(|scope| admin.grants(scope)));

    let expiring = state.tokens.get_mut("t1").expect("created");
    expiring.expires_at = Some(default_now());
    assert!(!expiring.is_active(default_now()));
    assert!(expiring.is_active(default_now() - Duration::seconds(1)));
}

const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

fn add(id: &str, username: &str, role: Role, domains: &[&str]) -> AccessCommand {
    AccessCommand::AddUser {
        user_id: id.into(),
        username: username.into(),
        display_name: "Someone".into(),
        role,
        domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        password_hash: HASH.into(),
    }
}

fn added(id: &str, username: &str, role: Role, domains: &[&str]) -> AccessEvent {
    AccessEvent::UserAdded(UserAdded {
        user_id: id.into(),
        username: username.into(),
        display_name: "Someone".into(),
        role,
        domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        password_hash: HASH.into(),
    })
}

fn owner() -> AccessEvent {
    added("u1", "alex", Role::Owner, &[])
}

#[test]
fn the_first_user_is_the_one_owner_then_members_follow() {
    given::<Access>([])
        .when(add("u1", "Alex", Role::Owner, &["home"]))
        .then([owner()]);
    given::<Access>([])
        .when(add("u2", "sam", Role::Member, &["home"]))
        .then_rejected("owner_first");
    given::<Access>([owner()])
        .when(add("u2", "sam", Role::Owner, &[]))
        .then_rejected("owner_exists");
    given::<Access>([owner()])
        .when(add(
            "u2",
            "sam",
            Role::Member,
            &["home", "groceries", "home"],
        ))
        .then([added("u2", "sam", Role::Member, &["groceries", "home"])]);
    given::<Access>([owner()])
        .when(add("u2", "ALEX", Role::Member, &[]))
        .then_rejected("username_taken");
    given::<Access>([owner()])
        .when(add("u2", "sam", Role::Member, &["banking"]))
        .then_rejected("unknown_domain");
    given::<Access>([owner()])
        .when(add("u2", "sam", Role::Member, &["access"]))
        .then_rejected("unknown_domain");
    given::<Access>([owner()])
        .when(add("u2", "s", Role::Member, &[]))
        .then_rejected("username_invalid");
    given::<Access>([])
        .when(AccessCommand::AddUser {
            user_id: "u1".into(),
            username: "alex".into(),
            display_name: "Alex".into(),
            role: Role::Owner,
            domains: vec![],
            password_hash: "hunter2".into(),
        })
        .then_rejected("password_hash_invalid");
}

#[test]
fn members_access_passwords_and_removal() {
    let sam = added("u2", "sam", Role::Member, &["home"]);
    given::<Access>([owner(), sam.clone()])
        .when(AccessCommand::SetUserAccess {
            user_id: "u2".into(),
            domains: vec!["groceries".into()],
        })
        .then([AccessEvent::UserAccessSet(UserAccessSet {
            user_id: "u2".into(),
            role: Role::Member,
            domains: vec!["groceries".into()],
        })]);
    given::<Access>([owner()])
        .when(AccessCommand::SetUserAccess {
            user_id: "u1".into(),
            domains: vec![],
        })
        .then_rejected("owner_has_all");
    given::<Access>([owner()])
        .when(AccessCommand::SetPassword {
            user_id: "u1".into(),
            password_hash: HASH.into(),
        })
        .then([AccessEvent::PasswordSet(PasswordSet {
            user_id: "u1".into(),
            password_hash: HASH.into(),
        })]);
    given::<Access>([owner()])
        .when(AccessCommand::RemoveUser {
            user_id: "u1".into(),
        })
        .then_rejected("owner_stays");
    given::<Access>([owner(), sam.clone()])
        .when(AccessCommand::RemoveUser {
            user_id: "u2".into(),
        })
        .then([AccessEvent::UserRemoved(UserRemoved {
            user_id: "u2".into(),
        })]);
    given::<Access>([owner()])
        .when(AccessCommand::SetProfile {
            user_id: "u1".into(),
            time_zone: "Mars/Olympus".into(),
            locale: "en-GB".into(),
        })
        .then_rejected("time_zone_invalid");

    let state = steward_actors::aggregate::replay::<Access>(&[owner(), sam]);
    let sam = state.users.get("u2").expect("added");
    assert!(sam.may_use("home") && !sam.may_use("inbox"));
    assert!(sam.allows(Scope::CommandsWrite) && !sam.allows(Scope::Admin));
    let alex = state.by_username("ALEX").expect("found in any case");
    assert!(alex.may_use("inbox") && alex.allows(Scope::Admin));
}

#[test]
fn sessions_start_for_users_and_end_once_and_with_their_user() {
    let started = AccessEvent::SessionStarted(SessionStarted {
        session_id: "s1".into(),
        user_id: "u1".into(),
        sha256: DIGEST.into(),
        expires_at: default_now() + Duration::days(14),
    });
    given::<Access>([owner()])
        .when(AccessCommand::StartSession {
            session_id: "s1".into(),
            user_id: "u1".into(),
            sha256: DIGEST.into(),
            expires_at: default_now() + Duration::days(14),
        })
        .then([started.clone()]);
    given::<Access>([])
        .when(AccessCommand::StartSession {
            session_id: "s1".into(),
            user_id: "u1".into(),
            sha256: DIGEST.into(),
            expires_at: default_now() + Duration::days(14),
        })
        .then_rejected("unknown_user");
    given::<Access>([owner(), started.clone()])
        .when(AccessCommand::EndSession {
            session_id: "s1".into(),
            reason: "logout".into(),
        })
        .then([AccessEvent::SessionEnded(SessionEnded {
            session_id: "s1".into(),
            reason: "logout".into(),
        })]);
    given::<Access>([owner()])
        .when(AccessCommand::EndSession {
            session_id: "s1".into(),
            reason: "logout".into(),
        })
        .then([]);

    let sam = added("u2", "sam", Role::Member, &["home"]);
    let sams_session = AccessEvent::SessionStarted(SessionStarted {
        session_id: "s2".into(),
        user_id: "u2".into(),
        sha256: OTHER_DIGEST.into(),
        expires_at: default_now() + Duration::days(1),
    });
    let state = steward_actors::aggregate::replay::<Access>(&[
        owner(),
        sam,
        sams_session,
        AccessEvent::UserRemoved(UserRemoved {
            user_id: "u2".into(),
        }),
    ]);
    assert!(
        state.sessions.is_empty(),
        "a removed user's sessions end with them"
    );
}

#[test]
fn failed_logins_are_recorded_naming_the_user_when_there_is_one() {
    given::<Access>([owner()])
        .when(AccessCommand::RecordFailedLogin {
            username: " Alex ".into(),
            reason: "wrong_password".into(),
        })
        .then([AccessEvent::LoginFailed(LoginFailed {
            username: "Alex".into(),
            reason: "wrong_password".into(),
            user_id: Some("u1".into()),
        })]);
    given::<Access>([owner()])
        .when(AccessCommand::RecordFailedLogin {
            username: "mallory".into(),
            reason: "unknown_user".into(),
        })
        .then([AccessEvent::LoginFailed(LoginFailed {
            username: "mallory".into(),
            reason: "unknown_user".into(),
            user_id: None,
        })]);
}

#[test]
fn a_members_token_acts_for_them_and_never_administers() {
    let sam = added("u2", "sam", Role::Member, &["home"]);
    given::<Access>([owner(), sam.clone()])
        .when(AccessCommand::CreateToken {
            token_id: "t9".into(),
            user_id: Some("u2".into()),
            name: "sam's script".into(),
            scopes: vec![Scope::Admin],
            sha256: DIGEST.into(),
            expires_at: None,
        })
        .then_rejected("scope_not_allowed");
    given::<Access>([owner()])
        .when(AccessCommand::CreateToken {
            token_id: "t9".into(),
            user_id: Some("u2".into()),
            name: "nobody's".into(),
            scopes: vec![Scope::EventsRead],
            sha256: DIGEST.into(),
            expires_at: None,
        })
        .then_rejected("unknown_user");
    let state = steward_actors::aggregate::replay::<Access>(&[
        owner(),
        sam,
        AccessEvent::TokenCreated(TokenCreated {
            token_id: "t9".into(),
            user_id: Some("u2".into()),
            name: "sam's script".into(),
            scopes: vec![Scope::EventsRead],
            sha256: DIGEST.into(),
            expires_at: None,
        }),
        created("t1", OTHER_DIGEST, vec![Scope::Admin]),
    ]);
    let token = state.tokens.get("t9").expect("created");
    assert_eq!(
        state.user_of(token).map(|u| u.username.as_str()),
        Some("sam")
    );
    let owners = state.tokens.get("t1").expect("created");
    assert_eq!(
        state.user_of(owners).map(|u| u.username.as_str()),
        Some("alex")
    );
    let mut removed = state.clone();
    removed.apply(&AccessEvent::UserRemoved(UserRemoved {
        user_id: "u2".into(),
    }));
    assert!(
        removed.tokens.get("t9").is_some_and(|token| token.revoked),
        "a removed user's tokens end with them"
    );
    assert!(!removed.tokens.get("t1").is_some_and(|token| token.revoked));
}
