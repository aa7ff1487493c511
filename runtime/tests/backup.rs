//! `steward backup`, `steward restore` and `steward export` end to end: an
//! archive made on one instance restored into an empty one (SQLite and
//! PostgreSQL), the refusals of bad input, and the portable export.

use predicates::prelude::*;
use serde_json::Value;

mod support;
use support::{FreshDatabase, json_lines, steward};

/// An instance with a message from Dana and one from Eve, Eve erased.
fn instance_with_an_erased_subject() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (stream, who, name) in [
        ("inbox-1", "person-dana", "Dana Quill"),
        ("inbox-2", "person-eve", "Eve Moss"),
    ] {
        steward(dir.path())
            .args(["events", "append", stream, "--type", "MessageReceived"])
            .args(["--data", r#"{"thread":"t1"}"#, "--subject", who])
            .args(["--personal", &format!(r#"{{"from":"{name}"}}"#)])
            .assert()
            .success();
    }
    steward(dir.path())
        .args(["erase", "person-eve"])
        .assert()
        .success();
    dir
}

fn read_json(dir: &std::path::Path, stream: &str, env: &[(&str, &str)]) -> Vec<Value> {
    let mut command = steward(dir);
    command.args(["events", "read", stream, "--json"]);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.assert().success().get_output().stdout.clone();
    json_lines(&output)
}

/// An empty instance directory holding `source`'s key file.
fn with_the_key_of(source: &std::path::Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(source.join("steward.key"), dir.path().join("steward.key")).expect("copy key");
    dir
}

#[test]
fn a_backup_restores_into_an_empty_instance() {
    let source = instance_with_an_erased_subject();
    let archive = source.path().join("steward.backup");
    steward(source.path())
        .args(["backup", archive.to_str().expect("utf-8")])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "backed up 3 events and 2 subject keys",
        ));
    let bytes = std::fs::read(&archive).expect("archive");
    assert!(!bytes.windows(10).any(|w| w == b"Dana Quill"), "encrypted");
    steward(source.path())
        .args(["backup", archive.to_str().expect("utf-8")])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));

    let target = with_the_key_of(source.path());
    steward(target.path())
        .args(["restore", archive.to_str().expect("utf-8")])
        .assert()
        .success()
        .stdout(predicate::str::contains("restored 3 events"));
    for stream in ["inbox-1", "inbox-2", "subject-person-eve"] {
        assert_eq!(
            read_json(target.path(), stream, &[]),
            read_json(source.path(), stream, &[]),
            "{stream}"
        );
    }
    let eve = read_json(target.path(), "inbox-2", &[]);
    assert_eq!(eve[0]["personal"], "erased", "Eve stays erased: {eve:?}");
    let dana = read_json(target.path(), "inbox-1", &[]);
    assert_eq!(dana[0]["personal"]["plain"]["from"], "Dana Quill");
    // The read models are not in the archive: rebuilt, they are the same.
    let timeline = |dir: &std::path::Path| {
        steward(dir)
            .args(["projections", "run", "timeline"])
            .assert()
            .success();
        let rows = steward(dir)
            .args(["projections", "show", "timeline"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        json_lines(&rows)
    };
    let rebuilt = timeline(target.path());
    assert!(rebuilt.len() >= 3, "{rebuilt:?}");
    assert_eq!(rebuilt, timeline(source.path()));

    steward(target.path())
        .args(["restore", archive.to_str().expect("utf-8")])
        .assert()
        .success()
        .stdout(predicate::str::contains("restored"));
    assert_eq!(
        timeline(target.path()),
        rebuilt,
        "restoring the same archive again changes nothing"
    );
    steward(target.path())
        .args(["events", "append", "inbox-9", "--type", "T", "--data", "{}"])
        .assert()
        .success();
    steward(target.path())
        .args(["restore", archive.to_str().expect("utf-8")])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("needs an empty store").and(predicate::str::contains(
                "which a restore of this archive did not write",
            )),
        );
}

#[test]
fn a_backup_restores_into_postgresql() {
    let source = instance_with_an_erased_subject();
    let archive = source.path().join("steward.backup");
    steward(source.path())
        .args(["backup", archive.to_str().expect("utf-8")])
        .assert()
        .success();
    let database = FreshDatabase::create();
    let url = database.url();
    let target = with_the_key_of(source.path());
    steward(target.path())
        .env("DATABASE_URL", &url)
        .args(["restore", archive.to_str().expect("utf-8")])
        .assert()
        .success();
    for stream in ["inbox-1", "inbox-2", "subject-person-eve"] {
        assert_eq!(
            read_json(target.path(), stream, &[("DATABASE_URL", &url)]),
            read_json(source.path(), stream, &[]),
            "{stream}"
        );
    }
    // And back: PostgreSQL's backup restores into SQLite.
    let again = target.path().join("again.backup");
    steward(target.path())
        .env("DATABASE_URL", &url)
        .args(["backup", again.to_str().expect("utf-8")])
        .assert()
        .success();
    let back = with_the_key_of(source.path());
    steward(back.path())
        .args(["restore", again.to_str().expect("utf-8")])
        .assert()
        .success();
    assert_eq!(
        read_json(back.path(), "inbox-1", &[]),
        read_json(source.path(), "inbox-1", &[])
    );
}

#[test]
fn bad_archives_and_keys_exit_2_naming_the_problem() {
    let source = instance_with_an_erased_subject();
    let archive = source.path().join("steward.backup");
    steward(source.path())
        .args(["backup", archive.to_str().expect("utf-8")])
        .assert()
        .success();
    let archive_arg = archive.to_str().expect("utf-8");

    let empty = tempfile::tempdir().expect("tempdir");
    steward(empty.path())
        .args(["restore", "no-such.backup"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no such file"));
    steward(empty.path())
        .args(["restore", archive_arg])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("needs the master key"));
    assert!(
        !empty.path().join("steward.key").exists(),
        "restore never makes a key"
    );
    steward(empty.path())
        .args(["restore", archive_arg])
        .env(
            "STEWARD_MASTER_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .assert()
        .code(2)
        .stderr(predicate::str::contains("different master key"));
    // The wrong key was refused before the store could record it as its own.
    std::fs::copy(
        source.path().join("steward.key"),
        empty.path().join("steward.key"),
    )
    .expect("copy key");
    steward(empty.path())
        .args(["restore", archive_arg])
        .assert()
        .success();

    let target = with_the_key_of(source.path());
    let mut bytes = std::fs::read(&archive).expect("archive");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let damaged = target.path().join("damaged.backup");
    std::fs::write(&damaged, bytes).expect("write");
    steward(target.path())
        .args(["restore", damaged.to_str().expect("utf-8")])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("corrupted"));
    let not_a_backup = target.path().join("notes.txt");
    std::fs::write(&not_a_backup, "hello\n").expect("write");
    steward(target.path())
        .args(["restore", not_a_backup.to_str().expect("utf-8")])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a Steward backup"));
    // Nothing was restored by the refusals: a good archive still goes in.
    steward(target.path())
        .args(["restore", archive_arg])
        .assert()
        .success();
}

#[test]
fn export_writes_a_persons_events_with_their_personal_data_readable() {
    let dir = instance_with_an_erased_subject();
    let output = steward(dir.path())
        .args(["export", "--subject", "person-dana"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["stream_id"], "inbox-1");
    assert_eq!(lines[0]["personal"]["from"], "Dana Quill");
    assert_eq!(lines[0]["personal_erased"], false);
    assert_eq!(lines[0]["data"]["thread"], "t1");

    let file = dir.path().join("export.ndjson");
    steward(dir.path())
        .args(["export", "--category", "inbox", "--output"])
        .arg(&file)
        .assert()
        .success()
        .stderr(predicate::str::contains("exported 2 events"));
    let lines = json_lines(&std::fs::read(&file).expect("export file"));
    let eve = lines
        .iter()
        .find(|line| line["stream_id"] == "inbox-2")
        .expect("Eve's event");
    assert_eq!(eve["personal"], Value::Null);
    assert_eq!(eve["personal_erased"], true, "erased parts are marked");
    steward(dir.path())
        .args(["export", "--output"])
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("never overwrites"));

    let future = steward(dir.path())
        .args(["export", "--from", "2999-01-01T00:00:00Z"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(future.is_empty());
    steward(dir.path())
        .args(["export", "--from", "yesterday"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--from"));
}
