//! The backup contract: what one backend writes, another (or the same)
//! restores exactly. It takes two harnesses on empty storage, so that a
//! backend can be checked against itself and against another one.

use serde_json::json;
use steward_events::{
    Direction, EventStore, ExpectedVersion, Metadata, NewEvent, Personal, Position, RecordedEvent,
    StoreError, StreamId, SubjectId,
};
use steward_store_core::backup::{self, BackupError};
use steward_store_core::{CredentialVault, MasterKey};
use uuid::Uuid;

use crate::Harness;

fn stream(name: &str) -> StreamId {
    StreamId::parse(name).expect("valid stream id")
}

fn subject(name: &str) -> SubjectId {
    SubjectId::parse(name).expect("valid subject id")
}

fn event(n: u64) -> NewEvent {
    NewEvent::new(
        steward_events::EventType::parse("Noted").expect("valid"),
        json!({ "n": n }),
    )
}

async fn everything(store: &impl EventStore) -> Vec<RecordedEvent> {
    store
        .read_all(Position::ORIGIN, 10_000)
        .await
        .expect("read all")
}

/// A backup of `source` restored into the empty `target` (same master key)
/// holds the same events, positions, times, metadata and readable personal
/// data; an erased subject stays erased; the target goes on from there.
/// A wrong key, a damaged archive and a non-empty target are refused.
pub async fn a_backup_restores_exactly(source: &impl Harness, target: &impl Harness) {
    let master = MasterKey::generate().expect("master key");
    let store = source.open(master.clone()).await.expect("source opens");
    let (ana, bo) = (subject("contact:ana"), subject("contact:bo"));
    let first = event(0)
        .with_personal(json!({ "name": "Ana" }), vec![ana.clone()])
        .with_metadata(Metadata {
            correlation_id: Uuid::now_v7(),
            causation_id: Some(Uuid::now_v7()),
            command_id: Some("cmd-backup".into()),
            actor: "user:owner".into(),
            subjects: vec![ana.clone()],
        });
    store
        .append(
            &stream("inbox-1"),
            ExpectedVersion::NoStream,
            vec![first, event(1)],
        )
        .await
        .expect("append");
    store
        .append(
            &stream("inbox-2"),
            ExpectedVersion::Any,
            vec![event(2).with_personal(json!({ "name": "Bo" }), vec![bo.clone()])],
        )
        .await
        .expect("append");
    store.erase_subject(&bo, "user:owner").await.expect("erase");
    store
        .append(&stream("inbox-1"), ExpectedVersion::Any, vec![event(3)])
        .await
        .expect("append");
    let before = everything(&store).await;
    CredentialVault::new(store.clone())
        .set("mqtt", b"broker password")
        .await
        .expect("sets a credential");

    let mut archive = Vec::new();
    let header = store.write_backup(&mut archive).await.expect("backs up");
    assert_eq!(header.event_count, before.len() as u64);
    assert_eq!(header.head, before.last().map(|e| e.global_position));
    assert_eq!(header.key_count, 2, "Ana's key and Bo's tombstone");
    assert_eq!(header.credential_count, 1);
    assert!(
        !archive.windows(3).any(|w| w == b"Ana"),
        "the archive is ciphertext"
    );

    let other = MasterKey::generate().expect("key");
    assert!(matches!(
        backup::verify(&other, &archive),
        Err(BackupError::WrongKey)
    ));
    let mut damaged = archive.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    assert!(matches!(
        backup::verify(&master, &damaged),
        Err(BackupError::Corrupt(_))
    ));

    // A restore that stopped halfway: the target holds the first events
    // and nothing else. Restoring again carries on from there.
    let restored = target.open(master.clone()).await.expect("target opens");
    let first = store
        .log()
        .read_all(Position::ORIGIN, 2)
        .await
        .expect("raw events");
    restored
        .log()
        .import(first)
        .await
        .expect("a partial restore");
    restored
        .restore_backup(&archive)
        .await
        .expect("carries on with the partial restore");
    let after = everything(&restored).await;
    assert_eq!(
        CredentialVault::new(restored.clone())
            .open("mqtt")
            .await
            .expect("opens")
            .as_deref()
            .map(Vec::as_slice),
        Some(b"broker password".as_slice()),
        "credentials come back"
    );
    assert_eq!(after, before, "the same log, event for event");
    assert_eq!(
        after[0].personal,
        Some(Personal::Plain(json!({ "name": "Ana" })))
    );
    let bo_event = after
        .iter()
        .find(|e| e.stream_id.as_str() == "inbox-2")
        .expect("Bo's event");
    assert_eq!(bo_event.personal, Some(Personal::Erased), "Bo stays erased");
    let refused = restored
        .append(
            &stream("inbox-3"),
            ExpectedVersion::Any,
            vec![event(4).with_personal(json!({ "name": "Bo" }), vec![bo.clone()])],
        )
        .await
        .expect_err("no new key for an erased subject");
    assert!(
        matches!(refused, StoreError::SubjectErased(_)),
        "{refused:?}"
    );
    assert_eq!(
        restored
            .read_stream(&stream("inbox-1"), 0, Direction::Forward, 10)
            .await
            .expect("read")
            .len(),
        3
    );

    restored
        .restore_backup(&archive)
        .await
        .expect("restoring the same archive again changes nothing");
    assert_eq!(everything(&restored).await, before);

    // The restored store goes on after the restored log.
    let appended = restored
        .append(
            &stream("inbox-1"),
            ExpectedVersion::Exact(2),
            vec![event(5)],
        )
        .await
        .expect("appends after a restore");
    assert!(appended.last_position > header.head.expect("a head"));
    assert!(
        matches!(
            restored.restore_backup(&archive).await,
            Err(BackupError::NotEmpty(_))
        ),
        "a store holding more than the archive is not restored into"
    );
}
