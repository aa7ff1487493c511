//! Access tokens: given events / when command / then events.

use chrono::Duration;
use steward_actors::access::{Access, AccessCommand};
use steward_actors::testing::{default_now, given};
use steward_events::domain::access::{AccessEvent, Scope, TokenCreated, TokenRevoked};

const DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const OTHER_DIGEST: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

fn create(id: &str, sha256: &str, scopes: Vec<Scope>) -> AccessCommand {
    AccessCommand::CreateToken {
        token_id: id.into(),
        name: "backup script".into(),
        scopes,
        sha256: sha256.into(),
        expires_at: None,
    }
}

fn created(id: &str, sha256: &str, scopes: Vec<Scope>) -> AccessEvent {
    AccessEvent::TokenCreated(TokenCreated {
        token_id: id.into(),
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
            name: "  ".into(),
            scopes: vec![Scope::Admin],
            sha256: DIGEST.into(),
            expires_at: None,
        })
        .then_rejected("name_required");
    given::<Access>([])
        .when(AccessCommand::CreateToken {
            token_id: "t1".into(),
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
