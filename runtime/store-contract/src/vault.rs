//! The contract of the key vault beyond subject keys: integration
//! credentials and master-key rotation.

use serde_json::json;
use steward_events::{
    Direction, EventStore, EventType, ExpectedVersion, NewEvent, Personal, StoreError, StreamId,
    SubjectId,
};
use steward_store_core::{CredentialVault, KeyRotation, MasterKey};

use crate::Harness;

const PASSWORD: &str = "correct-horse-battery-staple";

fn stream(name: &str) -> StreamId {
    StreamId::parse(name).expect("valid stream id")
}

fn about(subject: &str, name: &str) -> NewEvent {
    NewEvent::new(EventType::parse("Noted").expect("valid"), json!({ "n": 1 })).with_personal(
        json!({ "name": name }),
        vec![SubjectId::parse(subject).expect("valid subject id")],
    )
}

/// A credential is kept sealed, opens only under its own name, can be
/// replaced and removed, and its plaintext is nowhere at rest.
pub async fn credentials_are_sealed_at_rest_and_bound_to_their_name(harness: &impl Harness) {
    let master = MasterKey::generate().expect("master key");
    let store = harness.open(master.clone()).await.expect("store opens");
    let vault = CredentialVault::new(store);
    assert!(vault.open("mqtt").await.expect("reads").is_none());

    vault
        .set(
            "mqtt",
            format!("{{\"password\":\"{PASSWORD}\"}}").as_bytes(),
        )
        .await
        .expect("sets");
    vault.set("imap", b"first").await.expect("sets");
    vault.set("imap", b"second").await.expect("replaces");

    let other_handle = CredentialVault::new(harness.open(master).await.expect("reopens"));
    let opened = other_handle.open("mqtt").await.expect("opens");
    assert_eq!(
        opened.as_deref().map(Vec::as_slice),
        Some(format!("{{\"password\":\"{PASSWORD}\"}}").as_bytes())
    );
    assert_eq!(
        other_handle
            .open("imap")
            .await
            .expect("opens")
            .as_deref()
            .map(Vec::as_slice),
        Some(b"second".as_slice())
    );
    let names: Vec<String> = vault
        .list()
        .await
        .expect("lists")
        .into_iter()
        .map(|info| info.name)
        .collect();
    assert_eq!(names, ["imap", "mqtt"]);
    assert!(
        !harness.at_rest_contains(PASSWORD).await,
        "no credential plaintext at rest"
    );

    assert!(vault.remove("imap").await.expect("removes"));
    assert!(!vault.remove("imap").await.expect("removes"), "only once");
    assert!(vault.open("imap").await.expect("reads").is_none());
}

/// Rotating the master key rewraps every subject key and credential in one
/// go: the new key opens everything, the old one nothing, erased subjects
/// stay erased, and a process still holding the old key can no longer store
/// anything under it.
pub async fn a_rotated_master_key_opens_everything_and_the_old_one_nothing(harness: &impl Harness) {
    let old = MasterKey::generate().expect("master key");
    let store = harness.open(old.clone()).await.expect("store opens");
    let s = stream("inbox-rotation");
    store
        .append(
            &s,
            ExpectedVersion::Any,
            vec![
                about("person-kept", "Kept Person"),
                about("person-gone", "Gone Person"),
            ],
        )
        .await
        .expect("appends");
    store
        .erase_subject(
            &SubjectId::parse("person-gone").expect("valid"),
            "user:owner",
        )
        .await
        .expect("erases");
    let stale_vault = CredentialVault::new(store.clone());
    stale_vault
        .set("caldav", PASSWORD.as_bytes())
        .await
        .expect("sets");

    let new = MasterKey::generate().expect("master key");
    let rotation = KeyRotation::new(old.clone(), new.clone()).expect("rotation");
    let rotated = store
        .vault()
        .rotate_master_key(&rotation)
        .await
        .expect("rotates");
    assert_eq!(
        (rotated.subject_keys, rotated.credentials),
        (1, 1),
        "the kept subject's key and the credential; the erased one has none"
    );

    let error = harness
        .open(old.clone())
        .await
        .expect_err("old key refused");
    assert!(matches!(error, StoreError::MasterKey(_)), "{error:?}");
    let again = store
        .vault()
        .rotate_master_key(&rotation)
        .await
        .expect_err("the old key is no longer in force");
    assert!(matches!(again, StoreError::MasterKey(_)), "{again:?}");

    let reopened = harness.open(new).await.expect("new key opens");
    let events = reopened
        .read_stream(&s, 0, Direction::Forward, 10)
        .await
        .expect("reads");
    assert_eq!(
        events[0].personal,
        Some(Personal::Plain(json!({ "name": "Kept Person" })))
    );
    assert_eq!(events[1].personal, Some(Personal::Erased));
    assert_eq!(
        CredentialVault::new(reopened.clone())
            .open("caldav")
            .await
            .expect("opens")
            .as_deref()
            .map(Vec::as_slice),
        Some(PASSWORD.as_bytes())
    );
    reopened
        .append(&s, ExpectedVersion::Any, vec![about("person-new", "New")])
        .await
        .expect("new subjects get keys under the new master key");

    // The handle opened before the rotation still holds the old key.
    let error = store
        .append(&s, ExpectedVersion::Any, vec![about("person-late", "Late")])
        .await
        .expect_err("no key is made under a retired master key");
    assert!(matches!(error, StoreError::MasterKey(_)), "{error:?}");
    let error = stale_vault
        .set("smtp", b"x")
        .await
        .expect_err("no credential is sealed under a retired master key");
    assert!(matches!(error, StoreError::MasterKey(_)), "{error:?}");
    assert!(
        CredentialVault::new(reopened)
            .open("smtp")
            .await
            .expect("reads")
            .is_none()
    );
}
