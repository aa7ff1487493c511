//! `steward projections` end to end: the binary against a real store,
//! including a crash injected between a batch's read-model writes and its
//! checkpoint.

mod support;

use std::path::Path;

use predicates::prelude::*;
use serde_json::Value;
use support::{FreshDatabase, json_lines, steward};

/// Runs `steward` in `dir`, on PostgreSQL when `database` is given.
fn run(dir: &Path, database: Option<&str>, args: &[&str]) -> assert_cmd::Command {
    let mut command = steward(dir);
    // A crashed run's lease expires within a second.
    command.env("STEWARD_LEASE_SECONDS", "1");
    if let Some(url) = database {
        command.env("DATABASE_URL", url);
    }
    command.args(args);
    command
}

fn append_notes(dir: &Path, database: Option<&str>, count: usize) {
    for n in 0..count {
        let stream = format!("note-{}", n % 4);
        let data = format!(r#"{{"n":{n},"text":"note number {n}"}}"#);
        run(
            dir,
            database,
            &[
                "events", "append", &stream, "--type", "Noted", "--data", &data,
            ],
        )
        .assert()
        .success();
    }
}

fn timeline_status(dir: &Path, database: Option<&str>) -> Value {
    let output = run(dir, database, &["projections", "status", "--json"])
        .output()
        .expect("status runs");
    assert!(output.status.success(), "{output:?}");
    json_lines(&output.stdout)
        .into_iter()
        .find(|status| status["name"] == "timeline")
        .expect("the timeline has a status")
}

fn timeline_rows(dir: &Path, database: Option<&str>) -> Vec<Value> {
    let output = run(
        dir,
        database,
        &[
            "projections",
            "show",
            "timeline",
            "--table",
            "timeline_events",
        ],
    )
    .output()
    .expect("show runs");
    assert!(output.status.success(), "{output:?}");
    let mut rows = json_lines(&output.stdout);
    rows.sort_by_key(|row| row["position_commit"].as_i64());
    rows
}

/// The log's head, as the status reports it.
fn head(dir: &Path, database: Option<&str>) -> String {
    timeline_status(dir, database)["head"]
        .as_str()
        .expect("the head is a position")
        .to_owned()
}

/// A crash after two of three batches' read-model writes but before the
/// third batch's checkpoint; the restart applies that batch once, and the
/// result equals a clean rebuild.
fn exactly_once_across_a_crash(database: Option<&str>) {
    let dir = tempfile::tempdir().expect("tempdir");
    append_notes(dir.path(), database, 30);

    let crashed = run(dir.path(), database, &["projections", "run", "timeline"])
        .env("STEWARD_PROJECTION_BATCH", "10")
        .env("FAILPOINTS", "projection-before-checkpoint=2*off->return")
        .output()
        .expect("runs");
    assert!(
        !crashed.status.success(),
        "the crash point ends the process: {crashed:?}"
    );
    let after_crash = timeline_status(dir.path(), database);
    // The first generation never went live: it is still being built, two
    // batches in.
    assert_eq!(after_crash["state"], "rebuilding", "{after_crash}");
    assert_eq!(after_crash["events_applied"], 0, "{after_crash}");

    run(dir.path(), database, &["projections", "run", "timeline"])
        .env("STEWARD_PROJECTION_BATCH", "10")
        .assert()
        .success();
    let resumed = timeline_status(dir.path(), database);
    assert_eq!(resumed["state"], "live", "{resumed}");
    assert_eq!(resumed["events_applied"], 30, "each event once: {resumed}");
    let rows = timeline_rows(dir.path(), database);
    assert_eq!(rows.len(), 30);

    // Crash again, live this time: a batch of new events written but not
    // checkpointed.
    append_notes(dir.path(), database, 5);
    let crashed = run(dir.path(), database, &["projections", "run", "timeline"])
        .env("FAILPOINTS", "projection-before-checkpoint=return")
        .output()
        .expect("runs");
    assert!(!crashed.status.success(), "{crashed:?}");
    assert_eq!(timeline_status(dir.path(), database)["events_applied"], 30);
    run(dir.path(), database, &["projections", "run", "timeline"])
        .assert()
        .success();
    let after = timeline_status(dir.path(), database);
    assert_eq!(after["events_applied"], 35, "{after}");
    assert_eq!(
        after["position"].as_str(),
        Some(head(dir.path(), database).as_str())
    );
    let survived = timeline_rows(dir.path(), database);

    // A clean rebuild from the log gives the same rows.
    run(
        dir.path(),
        database,
        &["projections", "rebuild", "timeline"],
    )
    .assert()
    .success();
    run(dir.path(), database, &["projections", "run", "timeline"])
        .assert()
        .success();
    let rebuilt = timeline_status(dir.path(), database);
    assert_ne!(
        rebuilt["generation"], after["generation"],
        "a new generation: {rebuilt}"
    );
    assert_eq!(timeline_rows(dir.path(), database), survived);
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the crash points: --features failpoints (as ops/dev/test builds)"
)]
fn exactly_once_across_a_crash_on_sqlite() {
    exactly_once_across_a_crash(None);
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the crash points: --features failpoints (as ops/dev/test builds)"
)]
fn exactly_once_across_a_crash_on_postgresql() {
    let database = FreshDatabase::create();
    exactly_once_across_a_crash(Some(&database.url()));
}

#[test]
fn replay_prints_the_model_as_of_a_position_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    append_notes(dir.path(), None, 3);
    let then = head(dir.path(), None);
    append_notes(dir.path(), None, 2);
    let output = run(
        dir.path(),
        None,
        &[
            "projections",
            "replay",
            "timeline",
            "--as-of",
            &then,
            "--table",
            "timeline_events",
        ],
    )
    .output()
    .expect("replay runs");
    assert!(output.status.success(), "{output:?}");
    let rows = json_lines(&output.stdout);
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|row| row["table"] == "timeline_events"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("through position {then}")),
        "{stderr}"
    );
    // The replay needs no live model and leaves none.
    assert_eq!(timeline_status(dir.path(), None)["state"], "not_built");
}

#[test]
fn bad_input_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    run(dir.path(), None, &["projections", "rebuild", "nonesuch"])
        .assert()
        .code(2)
        .stderr(
            predicates::str::contains("no projection named \"nonesuch\"")
                .and(predicates::str::contains("timeline")),
        );
    run(
        dir.path(),
        None,
        &["projections", "replay", "timeline", "--as-of", "yesterday"],
    )
    .assert()
    .code(2)
    .stderr(predicates::str::contains(
        "--as-of \"yesterday\" is neither a position",
    ));
    run(
        dir.path(),
        None,
        &[
            "projections",
            "replay",
            "timeline",
            "--as-of",
            "1",
            "--table",
            "nope",
        ],
    )
    .assert()
    .code(2)
    .stderr(predicates::str::contains("timeline has no table \"nope\""));
    run(dir.path(), None, &["projections", "show", "timeline"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not built yet"));
    run(dir.path(), None, &["projections", "status"])
        .env("STEWARD_TIME_ZONE", "Mars/Olympus_Mons")
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "`time_zone`: \"Mars/Olympus_Mons\" is not an IANA time zone",
        ));
}
