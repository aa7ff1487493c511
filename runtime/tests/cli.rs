//! The `steward` binary end to end: every command, its output and its exit
//! codes, on the embedded SQLite store in a temporary directory.

use std::io::{BufRead, BufReader};
use std::process::{Command as StdCommand, Stdio};

use std::time::{Duration, Instant};

use predicates::prelude::*;
use serde_json::Value;

mod support;
use support::{FreshDatabase, json_lines, steward};

#[test]
fn append_then_read_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    steward(dir.path())
        .args([
            "events",
            "append",
            "inbox-main",
            "--type",
            "MessageReceived",
        ])
        .args([
            "--data",
            r#"{"subject":"Lunch?"}"#,
            "--expected-version",
            "no-stream",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("to inbox-main at version 0"))
        .stderr(predicate::str::contains("generated a new master key"));
    steward(dir.path())
        .args([
            "events",
            "append",
            "inbox-main",
            "--type",
            "MessageReceived",
            "--json",
        ])
        .args([
            "--data",
            r#"{"subject":"Re: Lunch?"}"#,
            "--expected-version",
            "0",
        ])
        .assert()
        .success();
    let output = steward(dir.path())
        .args(["events", "read", "inbox-main", "--json"])
        .output()
        .expect("runs");
    assert!(output.status.success());
    let events = json_lines(&output.stdout);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["data"]["subject"], "Re: Lunch?");
    assert_eq!(events[1]["stream_version"], 1);
    assert_eq!(events[0]["metadata"]["actor"], "user:cli");

    let human = steward(dir.path())
        .args(["events", "read", "inbox-main", "--backward", "--limit", "1"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&human.stdout);
    assert_eq!(text.lines().count(), 1);
    assert!(
        text.contains("inbox-main@1") && text.contains("MessageReceived v1"),
        "{text}"
    );
}

#[test]
fn the_key_file_is_created_once_owner_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    steward(dir.path())
        .args(["events", "append", "a-1", "--type", "T", "--data", "{}"])
        .assert()
        .success();
    let key = dir.path().join("steward.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(
        dir.path().join("data/steward.db").exists(),
        "embedded store under ./data"
    );
    steward(dir.path())
        .args(["events", "read", "a-1"])
        .assert()
        .success()
        .stderr(predicate::str::contains("generated").not());
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&[&str], &str); 6] = [
        (
            &[
                "events", "append", "inbox-1", "--type", "T", "--data", "{oops",
            ],
            "--data is not valid JSON",
        ),
        (
            &["events", "append", "nodash", "--type", "T", "--data", "{}"],
            "stream id `nodash` is malformed",
        ),
        (
            &[
                "events", "append", "a-1", "--type", "bad.type", "--data", "{}",
            ],
            "event type `bad.type` is malformed",
        ),
        (
            &["events", "append", "a-1", "--type", "T", "--data", "[1]"],
            "data must be a JSON object",
        ),
        (
            &[
                "events",
                "append",
                "a-1",
                "--type",
                "T",
                "--data",
                "{}",
                "--expected-version",
                "soon",
            ],
            "--expected-version",
        ),
        (&["events", "tail", "--from", "yesterday"], "--from"),
    ];
    for (args, message) in cases {
        steward(dir.path())
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
    }
    steward(dir.path())
        .args(["events", "frobnicate"])
        .assert()
        .code(2);
    let output = steward(dir.path())
        .args(["events", "read", "a-1", "--json"])
        .output()
        .expect("runs");
    assert!(output.stdout.is_empty(), "nothing was written");
}

#[test]
fn a_conflict_exits_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let append = |expected: &str| {
        let mut command = steward(dir.path());
        command.args([
            "events",
            "append",
            "list-1",
            "--type",
            "T",
            "--data",
            "{}",
            "--expected-version",
            expected,
        ]);
        command
    };
    append("no-stream").assert().success();
    append("no-stream")
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "expected at version no-stream but is at 0",
        ));
    append("7").assert().code(3);
}

#[test]
fn a_retried_append_with_the_same_event_id_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = "019ab2f0-52a4-7c61-a1a2-5d3e8f000001";
    for _ in 0..2 {
        steward(dir.path())
            .args([
                "events",
                "append",
                "list-1",
                "--type",
                "T",
                "--data",
                "{}",
                "--event-id",
                id,
            ])
            .args(["--expected-version", "no-stream"])
            .assert()
            .success();
    }
    let output = steward(dir.path())
        .args(["events", "read", "list-1", "--json"])
        .output()
        .expect("runs");
    assert_eq!(json_lines(&output.stdout).len(), 1);
}

#[test]
fn personal_data_is_sealed_and_erasable() {
    let dir = tempfile::tempdir().expect("tempdir");
    steward(dir.path())
        .args([
            "events",
            "append",
            "inbox-1",
            "--type",
            "MessageReceived",
            "--data",
            r#"{"thread":"t1"}"#,
        ])
        .args([
            "--personal",
            r#"{"from":"Dana Quill"}"#,
            "--subject",
            "person-dana",
        ])
        .assert()
        .success();
    let bytes = std::fs::read(dir.path().join("data/steward.db")).unwrap_or_default();
    let wal = std::fs::read(dir.path().join("data/steward.db-wal")).unwrap_or_default();
    for file in [bytes, wal] {
        assert!(
            !file.windows(10).any(|w| w == b"Dana Quill"),
            "no plaintext at rest"
        );
    }
    steward(dir.path())
        .args(["events", "read", "inbox-1"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            r#"personal={"from":"Dana Quill"}"#,
        ));
    steward(dir.path())
        .args(["erase", "person-dana", "--actor", "user:owner"])
        .assert()
        .success()
        .stdout(predicate::str::contains("erased person-dana"));
    steward(dir.path())
        .args(["events", "read", "inbox-1"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("personal=<erased>")
                .and(predicate::str::contains(r#"{"thread":"t1"}"#)),
        );
    steward(dir.path())
        .args(["events", "read", "subject-person-dana"])
        .assert()
        .success()
        .stdout(predicate::str::contains("SubjectErased"));
    steward(dir.path())
        .args(["events", "append", "inbox-1", "--type", "T", "--data", "{}"])
        .args([
            "--personal",
            r#"{"from":"Dana"}"#,
            "--subject",
            "person-dana",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("has been erased"));
}

#[test]
fn a_missing_or_wrong_master_key_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    steward(dir.path())
        .args(["events", "append", "a-1", "--type", "T", "--data", "{}"])
        .assert()
        .success();
    let key = dir.path().join("steward.key");
    let saved = std::fs::read(&key).expect("key file");
    std::fs::remove_file(&key).expect("remove");
    steward(dir.path())
        .args(["events", "read", "a-1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "restore the key file from your backup",
        ));
    assert!(!key.exists(), "no silent new key");
    steward(dir.path())
        .args(["events", "read", "a-1"])
        .env(
            "STEWARD_MASTER_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .assert()
        .code(1)
        .stderr(predicate::str::contains("different master key"));
    std::fs::write(&key, saved).expect("restore");
    steward(dir.path())
        .args(["events", "read", "a-1"])
        .assert()
        .success();
}

#[test]
fn the_master_key_rotates_and_the_old_one_opens_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    steward(dir.path())
        .args(["events", "append", "inbox-1", "--type", "T", "--data", "{}"])
        .args(["--personal", r#"{"from":"Dana Quill"}"#])
        .args(["--subject", "person-dana"])
        .assert()
        .success();
    let key = dir.path().join("steward.key");
    let old = std::fs::read_to_string(&key).expect("key file");

    steward(dir.path())
        .args(["keys", "rotate"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "rewrapped 1 subject keys and 0 credentials",
        ));
    let new = std::fs::read_to_string(&key).expect("key file");
    assert_ne!(new, old, "the key file holds the new key");
    let retired: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().contains(".retired-"))
        .collect();
    assert_eq!(retired.len(), 1, "the old key is kept aside");
    assert_eq!(
        std::fs::read_to_string(retired[0].path()).expect("retired"),
        old
    );
    assert!(!dir.path().join("steward.key.next").exists());
    steward(dir.path())
        .args(["events", "read", "inbox-1"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            r#"personal={"from":"Dana Quill"}"#,
        ));
    steward(dir.path())
        .args(["events", "read", "inbox-1"])
        .env("STEWARD_MASTER_KEY", old.trim())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("different master key"));

    // A rotation that committed but stopped before the files were swapped
    // is finished by the next start.
    let rotated_again = {
        steward(dir.path())
            .args(["keys", "rotate"])
            .assert()
            .success();
        std::fs::read_to_string(&key).expect("key file")
    };
    std::fs::write(dir.path().join("steward.key.next"), &rotated_again).expect("next");
    std::fs::write(&key, &new).expect("the key before the swap");
    steward(dir.path())
        .args(["events", "read", "inbox-1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Dana Quill"));
    assert_eq!(
        std::fs::read_to_string(&key).expect("key file"),
        rotated_again
    );
    assert!(!dir.path().join("steward.key.next").exists());

    // A next key that never came into force changes nothing, and the next
    // rotation replaces it.
    std::fs::write(dir.path().join("steward.key.next"), &old).expect("stale next");
    steward(dir.path())
        .args(["events", "read", "inbox-1"])
        .assert()
        .success();
    steward(dir.path())
        .args(["keys", "rotate"])
        .assert()
        .success();
    assert!(!dir.path().join("steward.key.next").exists());

    // A key given in the environment rotates into a file named for it.
    let current = std::fs::read_to_string(&key).expect("key file");
    std::fs::remove_file(&key).expect("the key lives in the environment now");
    steward(dir.path())
        .args(["keys", "rotate"])
        .env("STEWARD_MASTER_KEY", current.trim())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--new-key-file"));
    let next = dir.path().join("next.key");
    steward(dir.path())
        .args(["keys", "rotate", "--new-key-file"])
        .arg(&next)
        .env("STEWARD_MASTER_KEY", current.trim())
        .assert()
        .success()
        .stdout(predicate::str::contains("set STEWARD_MASTER_KEY"));
    steward(dir.path())
        .args(["events", "read", "inbox-1"])
        .env(
            "STEWARD_MASTER_KEY",
            std::fs::read_to_string(&next).expect("new key").trim(),
        )
        .assert()
        .success()
        .stdout(predicate::str::contains("Dana Quill"));
}

#[test]
fn tail_prints_history_then_follows_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    steward(dir.path())
        .args(["events", "append", "a-1", "--type", "First", "--data", "{}"])
        .assert()
        .success();
    let binary = assert_cmd::cargo::cargo_bin("steward");
    let mut tail = StdCommand::new(binary)
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .args(["events", "tail", "--from", "1", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("tail starts");
    let stdout = tail.stdout.take().expect("stdout");
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_line = || {
        lines_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("a line in time")
    };
    let first: Value = serde_json::from_str(&next_line()).expect("NDJSON");
    assert_eq!(first["event_type"], "First");
    let started = Instant::now();
    steward(dir.path())
        .args([
            "events", "append", "a-1", "--type", "Second", "--data", "{}",
        ])
        .assert()
        .success();
    let second: Value = serde_json::from_str(&next_line()).expect("NDJSON");
    assert_eq!(second["event_type"], "Second");
    assert!(started.elapsed() < Duration::from_secs(20));
    tail.kill().expect("stop tail");
    let _ = tail.wait();
}

#[test]
fn the_same_commands_work_on_postgresql() {
    let database = FreshDatabase::create();
    let dir = tempfile::tempdir().expect("tempdir");
    let pg = |args: &[&str]| {
        let mut command = steward(dir.path());
        command.env("DATABASE_URL", database.url()).args(args);
        command
    };
    pg(&[
        "events",
        "append",
        "inbox-1",
        "--type",
        "MessageReceived",
        "--data",
        r#"{"thread":"t1"}"#,
    ])
    .args([
        "--personal",
        r#"{"from":"Dana Quill"}"#,
        "--subject",
        "person-dana",
        "--expected-version",
        "no-stream",
    ])
    .assert()
    .success();
    pg(&[
        "events",
        "append",
        "inbox-1",
        "--type",
        "T",
        "--data",
        "{}",
        "--expected-version",
        "no-stream",
    ])
    .assert()
    .code(3);
    pg(&[
        "events", "append", "inbox-1", "--type", "T", "--data", "{oops",
    ])
    .assert()
    .code(2);
    let output = pg(&["events", "read", "inbox-1", "--json"])
        .output()
        .expect("runs");
    let events = json_lines(&output.stdout);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["personal"]["plain"]["from"], "Dana Quill");
    assert!(
        !dir.path().join("data").exists(),
        "nothing went to the embedded store"
    );
    pg(&["erase", "person-dana"]).assert().success();
    let output = pg(&["events", "read", "inbox-1", "--json"])
        .output()
        .expect("runs");
    assert_eq!(json_lines(&output.stdout)[0]["personal"], "erased");
    let tail = pg(&["events", "tail", "--from", "1", "--json"])
        .timeout(Duration::from_secs(3))
        .output()
        .expect("runs");
    let followed = json_lines(&tail.stdout);
    assert_eq!(
        followed.len(),
        2,
        "history (the message and the erasure), then it kept following"
    );
}

#[test]
fn serve_relays_committed_events_to_nats_jetstream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let stream_name = format!("STEWARD_TEST_{tag}");
    let prefix = format!("test{tag}.events");
    steward(dir.path())
        .args([
            "events",
            "append",
            "home-1",
            "--type",
            "DeviceAdded",
            "--data",
            "{}",
        ])
        .assert()
        .success();
    let binary = assert_cmd::cargo::cargo_bin("steward");
    let mut serve = StdCommand::new(binary)
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env("STEWARD_NATS_URL", "nats://127.0.0.1:4222")
        .env("STEWARD_NATS_STREAM", &stream_name)
        .env("STEWARD_NATS_SUBJECT_PREFIX", &prefix)
        .env("STEWARD_LISTEN", "127.0.0.1:0")
        .args(["serve"])
        .spawn()
        .expect("serve starts");
    steward(dir.path())
        .args([
            "events",
            "append",
            "home-1",
            "--type",
            "DeviceStateReported",
            "--data",
            r#"{"device_id":"lamp","on":true}"#,
        ])
        .assert()
        .success();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let messages = runtime.block_on(async {
        let client = async_nats::connect("nats://127.0.0.1:4222")
            .await
            .expect("NATS on 127.0.0.1:4222");
        let jetstream = async_nats::jetstream::new(client);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut messages = Vec::new();
        while Instant::now() < deadline {
            if let Ok(mut stream) = jetstream.get_stream(&stream_name).await {
                let last = stream
                    .info()
                    .await
                    .map(|info| info.state.last_sequence)
                    .unwrap_or(0);
                if last >= 2 {
                    for sequence in 1..=last {
                        messages.push(stream.get_raw_message(sequence).await.expect("message"));
                    }
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = jetstream.delete_stream(&stream_name).await;
        messages
    });
    let _ = StdCommand::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    let status = serve.wait().expect("serve exits");
    assert!(status.success(), "serve stops cleanly on SIGTERM: {status}");

    assert_eq!(
        messages.len(),
        2,
        "both events, the one before serve started and the one after"
    );
    assert_eq!(
        messages[0].subject.as_str(),
        format!("{prefix}.home.DeviceAdded")
    );
    assert_eq!(
        messages[1].subject.as_str(),
        format!("{prefix}.home.DeviceStateReported")
    );
    let body: Value = serde_json::from_slice(&messages[1].payload).expect("an envelope");
    assert_eq!(body["data"]["on"], true, "the log's own shape, not upcast");
    assert_eq!(
        messages[1]
            .headers
            .get("Nats-Msg-Id")
            .map(|v| v.to_string()),
        body["event_id"].as_str().map(str::to_owned)
    );
}

#[test]
fn a_kurrentdb_url_is_served_only_by_a_kurrentdb_build() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Nothing listens on port 1: the backend must fail cleanly, not hang or panic.
    let assert = steward(dir.path())
        .env("DATABASE_URL", "kurrentdb://127.0.0.1:1?tls=false")
        .args(["events", "read", "a-1"])
        .timeout(Duration::from_secs(60))
        .assert();
    if cfg!(feature = "kurrentdb") {
        assert.code(1).stderr(
            predicate::str::contains("KurrentDB").or(predicate::str::contains("kurrentdb")),
        );
    } else {
        assert
            .code(2)
            .stderr(predicate::str::contains("--features kurrentdb"));
    }
    steward(dir.path())
        .env("DATABASE_URL", "mysql://127.0.0.1/steward")
        .args(["events", "read", "a-1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "database_url `mysql://127.0.0.1/steward` is not supported",
        ));
}

/// Runs `steward serve` in `dir` until `done` returns something (or 30 s
/// pass), then stops it with SIGTERM and checks it stopped cleanly.
fn while_serving<T>(dir: &std::path::Path, done: impl FnMut() -> Option<T>) -> Option<T> {
    while_serving_with(dir, &[], done)
}

/// [`while_serving`] with more environment variables for `serve`.
fn while_serving_with<T>(
    dir: &std::path::Path,
    env: &[(&str, &str)],
    mut done: impl FnMut() -> Option<T>,
) -> Option<T> {
    let binary = assert_cmd::cargo::cargo_bin("steward");
    let mut serve = StdCommand::new(binary)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("STEWARD_NATS_URL")
        // Any free port: tests serve side by side.
        .env("STEWARD_LISTEN", "127.0.0.1:0")
        .envs(env.iter().copied())
        .args(["serve"])
        .spawn()
        .expect("serve starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut found = None;
    while found.is_none() && Instant::now() < deadline {
        found = done();
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = StdCommand::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    let status = serve.wait().expect("serve exits");
    assert!(status.success(), "serve stops cleanly on SIGTERM: {status}");
    found
}

fn read_json(dir: &std::path::Path, stream: &str) -> Vec<Value> {
    let output = steward(dir)
        .args(["events", "read", stream, "--json"])
        .output()
        .expect("reads");
    json_lines(&output.stdout)
}

#[test]
fn serve_fires_timers_that_fell_due_while_it_was_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let due = (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();
    let data = serde_json::json!({
        "due_at": due,
        "target": "shoppinglist-home",
        "command_type": "ListItem",
        "data": { "item": "tea" },
    });
    steward(dir.path())
        .args(["command", "timer-tea", "Schedule", "--data"])
        .arg(data.to_string())
        .assert()
        .success()
        .stdout(predicate::str::contains("timer-tea@0 TimerScheduled"));
    let fired = while_serving(dir.path(), || {
        let timer = read_json(dir.path(), "timer-tea");
        (timer.len() >= 2).then_some(timer)
    })
    .expect("the timer fired");
    assert_eq!(fired[1]["event_type"], "TimerFired");
    assert_eq!(fired[1]["data"]["outcome"], "appended 1");
    let listed = read_json(dir.path(), "shoppinglist-home");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["data"]["item"], "tea");
    assert_eq!(listed[0]["metadata"]["actor"], "system:timers");
}

#[test]
fn serve_runs_the_sagas() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (command_type, data) in [
        ("StockItem", r#"{"item":"milk","quantity":3,"unit":"l"}"#),
        (
            "SetReorderLevel",
            r#"{"item":"milk","reorder_below":1,"restock_to":4}"#,
        ),
        ("UseItem", r#"{"item":"milk","quantity":2.5}"#),
    ] {
        steward(dir.path())
            .args(["command", "pantry-home", command_type, "--data", data])
            .assert()
            .success();
    }
    let low = read_json(dir.path(), "pantry-home");
    assert_eq!(low[3]["event_type"], "StockRanLow");
    let listed = while_serving(dir.path(), || {
        let list = read_json(dir.path(), "shoppinglist-home");
        (!list.is_empty()).then_some(list)
    })
    .expect("the low-stock saga listed the item");
    assert_eq!(listed[0]["data"]["item"], "milk");
    assert_eq!(listed[0]["data"]["because"], "low_stock");
    assert_eq!(listed[0]["metadata"]["causation_id"], low[3]["event_id"]);
    assert_eq!(listed[0]["metadata"]["actor"], "saga:low_stock");
    let record = read_json(dir.path(), "saga-low_stock");
    assert_eq!(record[0]["event_type"], "SagaReacted");
    assert_eq!(record[0]["data"]["trigger_event_id"], low[3]["event_id"]);
}

#[test]
fn serve_carries_out_an_approved_plan_over_mqtt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = format!("steward-test/{}/lamp/set", uuid::Uuid::now_v7().simple());
    let plan = serde_json::json!({
        "request": "turn off the lamp",
        "intent": "home.set_device",
        "confidence": 0.97,
        "steps": [{
            "stream_id": "home-main",
            "command_type": "Publish",
            "data": { "topic": topic, "payload": { "state": "OFF" } },
            "executor": { "by": "actuator", "integration": "mqtt" },
            "summary": "Turn the lamp off",
        }],
        "model": { "name": "steward-intent", "version": "2", "location": { "ran": "local" } },
        "approval": { "autonomy": "act" },
    });
    steward(dir.path())
        .args(["command", "plan-lamp", "ProposePlan", "--data"])
        .arg(plan.to_string())
        .assert()
        .success()
        .stdout(predicate::str::contains("PlanApproved"));
    // The local Mosquitto, as the Debian package installs it.
    let subscriber = StdCommand::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            "1883",
            "-C",
            "1",
            "-W",
            "60",
            "-t",
            &topic,
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("mosquitto_sub runs (Debian package mosquitto-clients)");
    std::thread::sleep(Duration::from_millis(500));

    let done = while_serving_with(
        dir.path(),
        &[("STEWARD_MQTT_URL", "mqtt://127.0.0.1:1883")],
        || {
            let plan = read_json(dir.path(), "plan-lamp");
            plan.iter()
                .any(|event| event["event_type"] == "PlanCompleted")
                .then_some(plan)
        },
    )
    .expect("the plan completed");
    let types: Vec<&str> = done
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "PlanProposed",
            "PlanApproved",
            "PlanStepIssued",
            "PlanStepSucceeded",
            "PlanCompleted"
        ]
    );
    let received = subscriber.wait_with_output().expect("mosquitto_sub ends");
    assert_eq!(
        String::from_utf8_lossy(&received.stdout).trim(),
        r#"{"state":"OFF"}"#
    );
    let actuation = read_json(dir.path(), "actuation-lamp.0");
    assert_eq!(actuation[2]["event_type"], "ActuationSucceeded");
    assert_eq!(actuation[2]["metadata"]["actor"], "system:actuator");
}

/// Polls `path` until `ready` accepts its body (or 30 s pass).
fn http_until(port: u16, path: &str, token: &str, ready: impl Fn(&str) -> bool) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let (status, body) = http(port, "GET", path, Some(token), None);
        if status == 200 && ready(&body) {
            return Some(body);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

#[test]
fn a_request_in_plain_language_is_planned_approved_and_published_over_mqtt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let created = steward(dir.path())
        .args(["token", "create", "--name", "planner"])
        .args(["--scope", "commands:write", "--scope", "approvals:write"])
        .args(["--scope", "read_models:read"])
        .output()
        .expect("runs");
    assert!(created.status.success(), "{created:?}");
    let stdout = String::from_utf8_lossy(&created.stdout).to_string();
    let token = stdout.lines().nth(1).expect("the secret").trim().to_owned();

    let test_topics = format!("steward-test/{}", uuid::Uuid::now_v7().simple());
    let base = format!("{test_topics}/z2m");
    let discovery = format!("{test_topics}/ha");
    // The lamp as zigbee2mqtt announces it to Home Assistant (retained).
    let lamp_config = format!("{discovery}/light/0x01/light/config");
    mosquitto_pub(
        &lamp_config,
        &format!(
            r#"{{"state_topic":"{base}/living_room_lamp","schema":"json","device":{{"suggested_area":"living room"}}}}"#
        ),
        true,
    );
    let port = free_port();
    let serve = serve_command(dir.path(), port)
        .env("STEWARD_MQTT_URL", "mqtt://127.0.0.1:1883")
        .env("STEWARD_MQTT_BASE_TOPIC", &base)
        .env("STEWARD_MQTT_DISCOVERY_PREFIX", &discovery)
        .spawn()
        .expect("serve starts");
    wait_for_port(port);
    http_until(port, "/api/v1/home/devices", &token, |body| {
        body.contains("living_room_lamp")
    })
    .expect("discovery registered the lamp");
    mosquitto_pub(&lamp_config, "", true);
    let subscriber = StdCommand::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", "1883", "-C", "1", "-W", "60"])
        .args(["-t", &format!("{base}/living_room_lamp/set")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("mosquitto_sub runs (Debian package mosquitto-clients)");
    std::thread::sleep(Duration::from_millis(500));

    // Bad input is named; what Steward has no domain for is declined.
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/requests",
        Some(&token),
        Some(r#"{"text":"  "}"#),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains(r#""field":"text""#), "{body}");
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/requests",
        Some(&token),
        Some(r#"{"text":"what is the capital of Peru?"}"#),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""outcome":"decline""#), "{body}");

    let (status, body) = http(
        port,
        "POST",
        "/api/v1/requests",
        Some(&token),
        Some(r#"{"text":"turn off the living room lamp","plan_id":"lamp-off"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(answer["intent"], "home.set_device", "{answer}");
    assert_eq!(answer["decision"]["outcome"], "plan", "{answer}");
    assert_eq!(
        answer["proposal"]["events"][0]["event_type"],
        "PlanProposed"
    );
    // No policy says otherwise: it waits for an owner.
    http_until(port, "/api/v1/approvals", &token, |body| {
        body.contains("lamp-off")
    })
    .expect("the plan waits in the approvals queue");
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/plans/lamp-off/approve",
        Some(&token),
        Some("{}"),
    );
    assert_eq!(status, 200, "{body}");

    let received = subscriber.wait_with_output().expect("mosquitto_sub ends");
    assert_eq!(
        String::from_utf8_lossy(&received.stdout).trim(),
        r#"{"state":"OFF"}"#
    );
    http_until(port, "/api/v1/plans/lamp-off", &token, |body| {
        body.contains(r#""status":"completed""#)
    })
    .expect("the plan completed");
    // The lamp says it is off; the home hears it.
    mosquitto_pub(
        &format!("{base}/living_room_lamp"),
        r#"{"state":"OFF","linkquality":70}"#,
        false,
    );
    http_until(port, "/api/v1/home/devices", &token, |body| {
        body.contains(r#""power":"off""#)
    })
    .expect("the lamp's state reached the home read model");
    stop(serve);
    let plan = read_json(dir.path(), "plan-lamp-off");
    let types: Vec<&str> = plan
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(types[..2], ["PlanProposed", "PlanApproved"]);
    assert_eq!(types.last(), Some(&"PlanCompleted"));
    // Recorded, published, recorded as applied.
    assert_eq!(
        types.iter().filter(|t| **t == "PlanStepSucceeded").count(),
        3
    );
    let home = read_json(dir.path(), "home-main");
    let applied: Vec<&str> = home
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert!(applied.contains(&"DesiredStateRequested"), "{applied:?}");
    assert!(applied.contains(&"DesiredStateApplied"), "{applied:?}");
    assert_eq!(applied.first(), Some(&"DeviceRegistered"), "{applied:?}");
    assert_eq!(applied.last(), Some(&"DeviceStateReported"), "{applied:?}");
}

/// Publishes to the shared Mosquitto with `mosquitto_pub` (Debian package
/// mosquitto-clients); an empty retained payload clears a retained message.
fn mosquitto_pub(topic: &str, payload: &str, retain: bool) {
    let mut command = StdCommand::new("mosquitto_pub");
    command.args(["-h", "127.0.0.1", "-p", "1883", "-q", "1", "-t", topic]);
    if payload.is_empty() {
        command.arg("-n");
    } else {
        command.args(["-m", payload]);
    }
    if retain {
        command.arg("-r");
    }
    let status = command.status().expect("mosquitto_pub runs");
    assert!(status.success(), "mosquitto_pub to {topic}");
}

/// A calendar request to Radicale as its user, for what the test sets up
/// and reads back: the status and the body.
fn as_radicale_user(method: &str, url: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("a method"),
                url,
            )
            .basic_auth(
                steward_testkit::RADICALE_USER,
                Some(steward_testkit::RADICALE_PASSWORD),
            )
            .send()
            .await
            .expect("Radicale answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    })
}

/// A Radicale server with a calendar collection of its user's, whose
/// password is put in `dir`'s vault through the API as a person sets it:
/// the server, the collection's URL and the admin token used.
/// A new admin token's secret, made with `steward token create`.
fn owner_token(dir: &std::path::Path) -> String {
    let created = steward(dir)
        .args(["token", "create", "--name", "owner", "--scope", "admin"])
        .output()
        .expect("runs");
    assert!(created.status.success());
    let stdout = String::from_utf8_lossy(&created.stdout).to_string();
    stdout.lines().nth(1).expect("the secret").trim().to_owned()
}

fn radicale_in_the_vault(dir: &std::path::Path) -> (steward_testkit::Radicale, String, String) {
    let radicale = steward_testkit::Radicale::start(free_port());
    let collection = format!(
        "{}{}/calendar/",
        radicale.url(),
        steward_testkit::RADICALE_USER
    );
    assert_eq!(as_radicale_user("MKCALENDAR", &collection).0, 201);
    let token = owner_token(dir);
    let (serve, port) = serve_on_a_free_port(dir);
    let credentials = serde_json::json!({
        "kind": "caldav",
        "endpoint": collection,
        "username": steward_testkit::RADICALE_USER,
        "password": steward_testkit::RADICALE_PASSWORD,
    });
    let (status, body) = http(
        port,
        "PUT",
        "/api/v1/credentials/caldav",
        Some(&token),
        Some(&credentials.to_string()),
    );
    stop(serve);
    assert_eq!(status, 200, "{body}");
    (radicale, collection, token)
}

#[test]
fn serve_writes_an_approved_calendar_step_with_the_vaults_caldav_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (radicale, collection, _) = radicale_in_the_vault(dir.path());

    let plan = serde_json::json!({
        "request": "put the dentist in my calendar",
        "intent": "calendar.add_event",
        "confidence": 0.95,
        "steps": [{
            "stream_id": "calendar-main",
            "command_type": "PutEvent",
            "data": {
                "action": "put_event",
                "uid": "dentist@steward.test",
                "summary": "Dentist",
                "start": "2026-12-03T09:00:00",
                "end": "2026-12-03T09:45:00",
                "time_zone": "Europe/Paris",
            },
            "executor": { "by": "actuator", "integration": "caldav" },
            "summary": "Put the dentist in the calendar",
        }],
        "model": { "name": "steward-intent", "version": "2", "location": { "ran": "local" } },
        "approval": { "autonomy": "act" },
    });
    steward(dir.path())
        .args(["command", "plan-dentist", "ProposePlan", "--data"])
        .arg(plan.to_string())
        .assert()
        .success()
        .stdout(predicate::str::contains("PlanApproved"));
    let done = while_serving_with(dir.path(), &[("STEWARD_CALDAV_URL", &collection)], || {
        let plan = read_json(dir.path(), "plan-dentist");
        plan.iter()
            .any(|event| {
                event["event_type"] == "PlanCompleted" || event["event_type"] == "PlanFailed"
            })
            .then_some(plan)
    })
    .expect("the plan ended");
    let actuation = read_json(dir.path(), "actuation-dentist.0");
    assert_eq!(
        done.last().map(|e| &e["event_type"]),
        Some(&Value::from("PlanCompleted")),
        "{actuation:?}\n{}",
        radicale.log()
    );
    let (status, event) = as_radicale_user("GET", &format!("{collection}dentist@steward.test.ics"));
    assert_eq!(status, 200, "{event}");
    assert!(
        event.contains("DTSTART;TZID=Europe/Paris:20261203T090000"),
        "{event}"
    );
}

/// An owner token, and the mail server's IMAP sign-in for `steward` in
/// the vault (its SMTP server takes mail without one).
fn mail_in_the_vault(dir: &std::path::Path, mail: &steward_testkit::MailServer) -> String {
    let token = owner_token(dir);
    let (serve, port) = serve_on_a_free_port(dir);
    let credentials = serde_json::json!({
        "kind": "imap",
        "endpoint": mail.imap_url(),
        "username": "steward",
        "password": steward_testkit::MAIL_PASSWORD,
    });
    let (status, body) = http(
        port,
        "PUT",
        "/api/v1/credentials/imap",
        Some(&token),
        Some(&credentials.to_string()),
    );
    stop(serve);
    assert_eq!(status, 200, "{body}");
    token
}

#[test]
fn a_reply_asked_for_in_plain_language_reaches_the_sender_of_mail_serve_read_once_approved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mail = steward_testkit::MailServer::start();
    let token = mail_in_the_vault(dir.path(), &mail);
    mail.deliver(
        "steward",
        "From: Dana Smith <dana@example.test>\n\
         To: steward@example.test\n\
         Subject: Boiler service\n\
         Message-ID: <boiler-1@example.test>\n\
         \n\
         Can the engineer come on Friday?\n",
    );

    let port = free_port();
    let serve = serve_command(dir.path(), port)
        .env("STEWARD_MAIL_ADDRESS", "steward@example.test")
        .env("STEWARD_MAIL_IMAP_URL", mail.imap_url())
        .env("STEWARD_MAIL_SMTP_URL", mail.smtp_url())
        .env("STEWARD_MAIL_POLL_SECONDS", "1")
        .spawn()
        .expect("serve starts");
    wait_for_port(port);
    let inbox = http_until(port, "/api/v1/inbox", &token, |body| {
        body.contains("Boiler service")
    })
    .unwrap_or_else(|| panic!("the mail reached the inbox\n{}", mail.log()));
    let inbox: Value = serde_json::from_str(&inbox).expect("JSON");
    let message_id = inbox["messages"][0]["message_id"]
        .as_str()
        .expect("a message id")
        .to_owned();

    let (status, body) = http(
        port,
        "POST",
        "/api/v1/requests",
        Some(&token),
        Some(r#"{"text":"reply to Dana saying Friday is fine.","plan_id":"boiler-reply"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("JSON");
    let steps = &answer["decision"]["steps"];
    assert_eq!(steps[0]["command_type"], "DraftReply", "{answer}");
    assert_eq!(
        steps[0]["stream_id"],
        format!("message-{message_id}").as_str(),
        "{answer}"
    );
    assert_eq!(steps[1]["command_type"], "RequestSend", "{answer}");
    // Nothing is sent before a person approves.
    std::thread::sleep(Duration::from_millis(500));
    assert!(mail.mails(steward_testkit::MAIL_RECIPIENT).is_empty());
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/plans/boiler-reply/approve",
        Some(&token),
        Some("{}"),
    );
    assert_eq!(status, 200, "{body}");
    let sent = http_until(
        port,
        &format!("/api/v1/streams/message-{message_id}"),
        &token,
        |body| body.contains("ReplySent"),
    );
    stop(serve);
    assert!(
        sent.is_some(),
        "the reply was recorded sent\n{}",
        mail.log()
    );
    let delivered = mail.mails(steward_testkit::MAIL_RECIPIENT);
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert!(
        delivered[0].contains("Subject: Re: Boiler service"),
        "{}",
        delivered[0]
    );
    assert!(
        delivered[0].contains("In-Reply-To: <boiler-1@example.test>"),
        "{}",
        delivered[0]
    );
    assert!(delivered[0].contains("Friday is fine."), "{}", delivered[0]);
}

#[test]
fn serve_refuses_mail_urls_without_the_address_they_are_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    for key in ["STEWARD_MAIL_IMAP_URL", "STEWARD_MAIL_SMTP_URL"] {
        let output = serve_command(dir.path(), free_port())
            .env(key, "imaps://mail.example.org")
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("needs `mail_address`"), "{stderr}");
    }
    let output = serve_command(dir.path(), free_port())
        .env("STEWARD_MAIL_ADDRESS", "steward@example.test")
        .env(
            "STEWARD_MAIL_SMTP_URL",
            "smtps://me:secret@mail.example.org",
        )
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`mail_smtp_url`"), "{stderr}");
    assert!(!stderr.contains("secret"), "{stderr}");
}

#[test]
fn a_meeting_asked_for_in_plain_language_reaches_the_caldav_server_once_approved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (radicale, collection, token) = radicale_in_the_vault(dir.path());

    let port = free_port();
    let serve = serve_command(dir.path(), port)
        .env("STEWARD_CALDAV_URL", &collection)
        .env("STEWARD_TIME_ZONE", "Europe/Paris")
        .spawn()
        .expect("serve starts");
    wait_for_port(port);
    http_until(port, "/readyz", &token, |_| true).expect("serve is ready");
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/requests",
        Some(&token),
        Some(
            r#"{"text":"schedule a budget review with Dana tomorrow at 3pm","plan_id":"budget-review"}"#,
        ),
    );
    assert_eq!(status, 201, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("JSON");
    let steps = &answer["decision"]["steps"];
    assert_eq!(steps[0]["command_type"], "ScheduleEvent", "{answer}");
    assert_eq!(steps[1]["executor"]["integration"], "caldav", "{answer}");
    // Nothing is written before a person approves.
    assert_eq!(
        as_radicale_user("GET", &format!("{collection}budget-review@steward.ics")).0,
        404
    );
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/plans/budget-review/approve",
        Some(&token),
        Some("{}"),
    );
    assert_eq!(status, 200, "{body}");
    let plan = http_until(port, "/api/v1/plans/budget-review", &token, |body| {
        body.contains(r#""status":"completed""#) || body.contains(r#""status":"failed""#)
    });
    stop(serve);
    assert!(
        plan.as_deref()
            .is_some_and(|plan| plan.contains(r#""status":"completed""#)),
        "{plan:?}\n{}",
        radicale.log()
    );
    let (status, event) =
        as_radicale_user("GET", &format!("{collection}budget-review@steward.ics"));
    assert_eq!(status, 200, "{event}");
    assert!(event.contains("SUMMARY:budget review with Dana"), "{event}");
    assert!(
        event.contains("DTSTART;TZID=Europe/Paris:") && event.contains("T150000"),
        "{event}"
    );
    let calendar = read_json(dir.path(), "calendar-main");
    assert!(
        calendar
            .iter()
            .any(|e| e["event_type"] == "CalendarEventScheduled"),
        "Steward's own calendar has it too"
    );
}

/// `serve` started with `key` set to `value` in its environment: it must
/// refuse at once (exit 2), naming the setting and never echoing the
/// secret `hunter2`. Its standard error.
fn serve_refuses(key: &str, value: &str, setting: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = StdCommand::new(assert_cmd::cargo::cargo_bin("steward"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("STEWARD_NATS_URL")
        .env("STEWARD_LISTEN", "127.0.0.1:0")
        .env(key, value)
        .args(["serve"])
        .output()
        .expect("serve runs");
    assert_eq!(output.status.code(), Some(2), "{value}: {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(stderr.contains(setting), "{stderr}");
    assert!(
        !stderr.contains("hunter2"),
        "the secret is not echoed: {stderr}"
    );
    stderr
}

#[test]
fn serve_refuses_an_mqtt_url_it_cannot_use_by_name() {
    serve_refuses(
        "STEWARD_MQTT_URL",
        "mqtt://steward:hunter2@127.0.0.1:1883",
        "mqtt_url",
    );
}

#[test]
fn serve_refuses_http_origins_it_cannot_use_by_name() {
    for (origins, why) in [
        (r#"["https://me:hunter2@api.example"]"#, "credential vault"),
        (r#"["https://api.example/v1?key=hunter2"]"#, "no path"),
        (r#"["ftp://api.example"]"#, "http(s)"),
    ] {
        let stderr = serve_refuses(
            "STEWARD_HTTP_ALLOWED_ORIGINS",
            origins,
            "http_allowed_origins",
        );
        assert!(stderr.contains(why), "{stderr}");
    }
}

#[test]
fn serve_refuses_a_caldav_url_it_cannot_use_by_name() {
    for url in [
        "https://alice:hunter2@dav.example/alice/calendar/",
        "webcal://dav.example/alice/calendar/",
    ] {
        serve_refuses("STEWARD_CALDAV_URL", url, "caldav_url");
    }
}

/// One HTTP/1.1 request to `port` on loopback: the status and the body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let (status, _, body) = http_with(port, method, path, token, &[], body);
    (status, body)
}

/// [`http`] with extra headers, answering the response's head too.
fn http_with(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).expect("sends");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .map(|(head, body)| (head.to_owned(), body.to_owned()))
        .unwrap_or_default();
    (status, head, body)
}

/// `steward serve` in `dir` on a port of its own, once it takes
/// connections; the process and the port.
fn serve_on_a_free_port(dir: &std::path::Path) -> (std::process::Child, u16) {
    let port = free_port();
    let serve = serve_command(dir, port).spawn().expect("serve starts");
    wait_for_port(port);
    (serve, port)
}

/// Waits until something listens on `port` (or 30 s pass).
fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `steward serve` in `dir` listening on `port`, with the developer's
/// model paths but none of their stores, bus or TLS settings.
fn serve_command(dir: &std::path::Path, port: u16) -> StdCommand {
    let mut serve = StdCommand::new(assert_cmd::cargo::cargo_bin("steward"));
    serve
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("STEWARD_NATS_URL")
        .env_remove("STEWARD_SECURE_COOKIES")
        .env_remove("STEWARD_TLS_CERT_FILE")
        .env_remove("STEWARD_TLS_KEY_FILE")
        .env("STEWARD_LISTEN", format!("127.0.0.1:{port}"))
        .args(["serve"]);
    serve
}

/// Stops `serve` with SIGTERM and checks it stopped cleanly.
fn stop(mut serve: std::process::Child) {
    let _ = StdCommand::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    let status = serve.wait().expect("serve exits");
    assert!(status.success(), "serve stops cleanly on SIGTERM: {status}");
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

#[test]
fn serve_answers_the_http_api_with_a_token_the_cli_made_and_revoked() {
    let dir = tempfile::tempdir().expect("tempdir");
    steward(dir.path())
        .args(["token", "create", "--name", "ci", "--scope", "events:write"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`events:write` is not a scope"));
    let created = steward(dir.path())
        .args(["token", "create", "--name", "ci", "--scope", "admin"])
        .output()
        .expect("runs");
    assert!(created.status.success());
    let stdout = String::from_utf8_lossy(&created.stdout).to_string();
    let token_id = stdout
        .split_whitespace()
        .nth(1)
        .expect("`token <id> created`")
        .to_owned();
    let secret = stdout.lines().nth(1).expect("the secret").trim().to_owned();
    assert!(secret.starts_with("stw_"));
    steward(dir.path())
        .args(["token", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains(&token_id).and(predicate::str::contains(&secret).not()));

    let (serve, port) = serve_on_a_free_port(dir.path());
    let (status, body) = http(port, "GET", "/healthz", None, None);
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, _) = http(port, "GET", "/api/v1/streams/shoppinglist-home", None, None);
    assert_eq!(status, 401);
    let command =
        r#"{"stream_id":"shoppinglist-home","command_type":"ListItem","data":{"item":"milk"}}"#;
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/commands",
        Some(&secret),
        Some(command),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ItemListed"), "{body}");
    let (status, body) = http(
        port,
        "GET",
        "/api/v1/streams/shoppinglist-home",
        Some(&secret),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&format!("token:{token_id}")),
        "the token is the actor: {body}"
    );
    let (status, metrics) = http(port, "GET", "/metrics", None, None);
    assert_eq!(status, 200);
    assert!(
        metrics.contains("steward_commands_total"),
        "the host's metrics are exposed"
    );
    assert!(metrics.contains("steward_http_requests_total"));

    // Revoked by the CLI beside the running server: refused from then on.
    steward(dir.path())
        .args(["token", "revoke", &token_id])
        .assert()
        .success();
    let (status, _) = http(
        port,
        "GET",
        "/api/v1/streams/shoppinglist-home",
        Some(&secret),
        None,
    );
    assert_eq!(status, 401);

    stop(serve);
}

#[test]
fn projections_can_follow_the_relays_stream_instead_of_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    steward(dir.path())
        .env("STEWARD_PROJECTION_SOURCE", "nats")
        .args(["serve"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("needs nats_url"));

    let tag = uuid::Uuid::now_v7().simple().to_string();
    let stream_name = format!("STEWARD_TEST_{tag}");
    steward(dir.path())
        .args([
            "command",
            "shoppinglist-home",
            "ListItem",
            "--data",
            r#"{"item":"milk"}"#,
        ])
        .assert()
        .success();
    let binary = assert_cmd::cargo::cargo_bin("steward");
    let mut serve = StdCommand::new(binary)
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env("STEWARD_NATS_URL", "nats://127.0.0.1:4222")
        .env("STEWARD_NATS_STREAM", &stream_name)
        .env("STEWARD_NATS_SUBJECT_PREFIX", format!("test{tag}.events"))
        .env("STEWARD_PROJECTION_SOURCE", "nats")
        .env("STEWARD_LISTEN", "127.0.0.1:0")
        .args(["serve"])
        .spawn()
        .expect("serve starts");
    steward(dir.path())
        .args([
            "command",
            "shoppinglist-home",
            "ListItem",
            "--data",
            r#"{"item":"bread"}"#,
        ])
        .assert()
        .success();
    // The timeline, fed through NATS, reaches both events: the one from
    // before serve started and the one after.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut rows = Vec::new();
    while Instant::now() < deadline {
        let output = steward(dir.path())
            .args([
                "projections",
                "show",
                "timeline",
                "--table",
                "timeline_events",
            ])
            .output()
            .expect("runs");
        rows = json_lines(&output.stdout);
        if rows.len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = StdCommand::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    let status = serve.wait().expect("serve exits");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The timeline read through its durable consumer on the relay's stream.
    let consumer_found = runtime.block_on(async {
        let client = async_nats::connect("nats://127.0.0.1:4222")
            .await
            .expect("NATS on 127.0.0.1:4222");
        let jetstream = async_nats::jetstream::new(client);
        let found = match jetstream.get_stream(&stream_name).await {
            Ok(stream) => stream
                .get_consumer::<async_nats::jetstream::consumer::pull::Config>(
                    "steward_projection_timeline",
                )
                .await
                .is_ok(),
            Err(_) => false,
        };
        let _ = jetstream.delete_stream(&stream_name).await;
        found
    });
    assert!(status.success(), "serve stops cleanly on SIGTERM: {status}");
    assert!(
        consumer_found,
        "the timeline followed the stream through its own consumer"
    );
    assert_eq!(rows.len(), 2, "both events reached the timeline: {rows:?}");
}

#[test]
fn a_user_added_by_the_cli_logs_in_to_serve_with_a_session_cookie() {
    let dir = tempfile::tempdir().expect("tempdir");
    steward(dir.path())
        .args(["user", "add", "--owner", "--username", "alex"])
        .write_stdin("short\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("at least 10 characters"));
    steward(dir.path())
        .args([
            "user",
            "add",
            "--owner",
            "--username",
            "alex",
            "--name",
            "Alex",
        ])
        .write_stdin("correct horse battery\n")
        .assert()
        .success();
    steward(dir.path())
        .args(["user", "add", "--username", "sam", "--domain", "banking"])
        .write_stdin("correct horse battery\n")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("unknown_domain"));
    steward(dir.path())
        .args(["user", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("alex").and(predicate::str::contains("argon2").not()));

    let (serve, port) = serve_on_a_free_port(dir.path());
    let (status, _, body) = http_with(port, "GET", "/api/v1/setup", None, &[], None);
    assert_eq!((status, body.as_str()), (200, r#"{"needed":false}"#));
    let (status, head, body) = http_with(
        port,
        "POST",
        "/api/v1/session",
        None,
        &[],
        Some(r#"{"username":"alex","password":"correct horse battery"}"#),
    );
    assert_eq!(status, 200, "{body}");
    let cookie = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.trim().to_owned())
        })
        .expect("a session cookie");
    assert!(cookie.to_lowercase().contains("httponly"), "{cookie}");
    let cookie = cookie.split(';').next().unwrap_or_default().to_owned();
    let (status, _, body) = http_with(
        port,
        "GET",
        "/api/v1/session",
        None,
        &[("Cookie", &cookie)],
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""username":"alex""#), "{body}");

    stop(serve);
}

/// Schemathesis (from PyPI; `ops/dev/test` installs it and exports
/// `STEWARD_SCHEMATHESIS`) fuzzes every operation of `/api/openapi.json`
/// against a real `serve`: no 500, and every answer as the document says
/// (status, content type, body schema).
#[test]
fn the_api_holds_to_its_openapi_document_under_schemathesis() {
    let schemathesis = std::env::var("STEWARD_SCHEMATHESIS").unwrap_or_else(|_| {
        panic!(
            "STEWARD_SCHEMATHESIS is not set: run the tests with ops/dev/test, which installs it"
        )
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let created = steward(dir.path())
        .args(["token", "create", "--name", "fuzz", "--scope", "admin"])
        .output()
        .expect("runs");
    assert!(created.status.success());
    let secret = String::from_utf8_lossy(&created.stdout)
        .lines()
        .nth(1)
        .expect("the secret")
        .trim()
        .to_owned();
    steward(dir.path())
        .args([
            "command",
            "shoppinglist-home",
            "ListItem",
            "--data",
            r#"{"item":"milk"}"#,
        ])
        .assert()
        .success();

    let (serve, port) = serve_on_a_free_port(dir.path());
    // Fuzz a ready server: every read model (the memory too) built.
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline
        && (std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
            || http(port, "GET", "/readyz", None, None).0 != 200)
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        http(port, "GET", "/readyz", None, None).0,
        200,
        "serve became ready"
    );
    let fuzz = StdCommand::new(&schemathesis)
        .current_dir(dir.path())
        .args([
            "run",
            &format!("http://127.0.0.1:{port}/api/openapi.json"),
            "--header",
            &format!("Authorization: Bearer {secret}"),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--request-timeout",
            "10",
            // An endless stream cannot be fuzzed request by request, and
            // revoking the fuzzer's own token would end the run.
            "--exclude-path",
            "/api/v1/events/stream",
            "--exclude-path",
            "/api/v1/tokens/{token_id}",
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("schemathesis runs");
    stop(serve);
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&fuzz.stdout),
        String::from_utf8_lossy(&fuzz.stderr)
    );
    assert!(
        fuzz.status.success(),
        "schemathesis found problems:\n{report}"
    );
}

/// A self-signed certificate for `localhost` and its key, written as
/// `server.crt` and `server.key` in `dir`; the certificate's PEM.
fn self_signed_certificate(dir: &std::path::Path) -> String {
    let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("a self-signed certificate");
    let certificate = issued.cert.pem();
    std::fs::write(dir.join("server.crt"), &certificate).expect("write certificate");
    std::fs::write(dir.join("server.key"), issued.signing_key.serialize_pem()).expect("write key");
    certificate
}

#[test]
fn serve_over_tls_answers_https_with_the_certificate_files_and_secure_cookies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certificate = self_signed_certificate(dir.path());
    // Relative paths, like `data_dir`'s: from the working directory.
    std::fs::write(
        dir.path().join("steward.toml"),
        "tls_cert_file = \"server.crt\"\ntls_key_file = \"server.key\"\n",
    )
    .expect("write steward.toml");
    steward(dir.path())
        .args(["user", "add", "--owner", "--username", "alex"])
        .write_stdin("correct horse battery\n")
        .assert()
        .success();

    let port = free_port();
    let mut serve = serve_command(dir.path(), port)
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stderr = serve.stderr.take().expect("stderr");
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let announced = loop {
        let line = lines_rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("serve announces its address in time");
        if line.contains("HTTP API listening") {
            break line;
        }
    };
    assert!(
        announced.contains(&format!("https://127.0.0.1:{port}/api/v1")),
        "{announced}"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // A failed check still stops `serve`, which would otherwise outlive the
    // test holding its output open.
    let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(https_checks(port, &certificate))
    }));
    stop(serve);
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
}

/// What `serve` over TLS on `port` must answer, trusting `certificate`.
async fn https_checks(port: u16, certificate: &str) {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(certificate.as_bytes()).expect("PEM"))
        .resolve("localhost", address)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let base = format!("https://localhost:{port}");
    let healthz = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("an HTTPS answer");
    assert_eq!(healthz.status(), 200);
    assert_eq!(healthz.text().await.expect("body"), r#"{"status":"ok"}"#);

    let login = client
        .post(format!("{base}/api/v1/session"))
        .header("Content-Type", "application/json")
        .body(r#"{"username":"alex","password":"correct horse battery"}"#)
        .send()
        .await
        .expect("an HTTPS answer");
    assert_eq!(login.status(), 200);
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .expect("a session cookie")
        .to_owned();
    // Secure without `secure_cookies`: every client is on HTTPS.
    assert!(
        cookie
            .split(';')
            .any(|part| part.trim().eq_ignore_ascii_case("secure")),
        "{cookie}"
    );

    // The port speaks TLS only.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP answered: {plain:?}");
}

#[test]
fn serve_refuses_half_or_unusable_tls_configuration_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    self_signed_certificate(dir.path());
    std::fs::write(dir.path().join("garbage.pem"), "not a certificate\n").expect("write");
    let refused = |settings: &[(&str, &str)], expected: &[&str]| {
        let mut serve = steward(dir.path());
        serve
            .env("STEWARD_LISTEN", format!("127.0.0.1:{}", free_port()))
            .env("STEWARD_MEMORY", "false")
            .args(["serve"])
            .timeout(Duration::from_secs(60));
        for (key, value) in settings {
            serve.env(key, value);
        }
        let mut stderr = predicate::str::contains("configuration").boxed();
        for text in expected {
            stderr = stderr.and(predicate::str::contains(*text)).boxed();
        }
        serve.assert().code(2).stderr(stderr);
    };
    refused(
        &[("STEWARD_TLS_CERT_FILE", "server.crt")],
        &["`tls_cert_file` is set but `tls_key_file` is not"],
    );
    refused(
        &[("STEWARD_TLS_KEY_FILE", "server.key")],
        &["`tls_key_file` is set but `tls_cert_file` is not"],
    );
    refused(
        &[
            ("STEWARD_TLS_CERT_FILE", "nowhere.crt"),
            ("STEWARD_TLS_KEY_FILE", "server.key"),
        ],
        &["certificate file nowhere.crt", "No such file"],
    );
    refused(
        &[
            ("STEWARD_TLS_CERT_FILE", "garbage.pem"),
            ("STEWARD_TLS_KEY_FILE", "server.key"),
        ],
        &["certificate file garbage.pem", "no certificate"],
    );
    refused(
        &[
            ("STEWARD_TLS_CERT_FILE", "server.crt"),
            ("STEWARD_TLS_KEY_FILE", "garbage.pem"),
        ],
        &["key file garbage.pem", "no private key"],
    );
}

/// Proposes `plan-<plan_id>` with `steps` under `autonomy` through
/// `steward command`.
fn propose(dir: &std::path::Path, plan_id: &str, steps: Value, autonomy: &str) {
    let plan = serde_json::json!({
        "request": format!("plan {plan_id}"),
        "intent": "home.set_device",
        "confidence": 0.97,
        "steps": steps,
        "model": { "name": "steward-intent", "version": "2", "location": { "ran": "local" } },
        "approval": { "autonomy": autonomy, "expires_at": "2999-01-01T00:00:00Z" },
    });
    steward(dir)
        .args([
            "command",
            &format!("plan-{plan_id}"),
            "ProposePlan",
            "--data",
        ])
        .arg(plan.to_string())
        .assert()
        .success();
}

/// Records every step of the approved `plan-<plan_id>` as carried out, as
/// the executor would (the steps' commands themselves are not sent).
fn complete_by_hand(dir: &std::path::Path, plan_id: &str, steps: u32) {
    for step in 0..steps {
        for (command_type, data) in [
            (
                "RecordStepIssued",
                serde_json::json!({ "step": step, "command_id": format!("by-hand-{step}") }),
            ),
            ("RecordStepSucceeded", serde_json::json!({ "step": step })),
        ] {
            steward(dir)
                .args([
                    "command",
                    &format!("plan-{plan_id}"),
                    command_type,
                    "--data",
                ])
                .arg(data.to_string())
                .assert()
                .success();
        }
    }
}

#[test]
fn undo_proposes_the_inverse_plan_once_linked_to_the_original_and_refuses_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let list_tea = serde_json::json!([{
        "stream_id": "shoppinglist-main",
        "command_type": "ListItem",
        "data": { "item": "tea" },
        "executor": { "by": "domain" },
        "summary": "Put tea on the shopping list",
    }]);

    steward(dir)
        .args(["undo", "nothing-here"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("there is no plan `nothing-here`"));
    propose(dir, "asked", list_tea.clone(), "ask");
    steward(dir)
        .args(["undo", "asked"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "only a completed plan can be undone",
        ));

    propose(dir, "tea", list_tea, "act");
    complete_by_hand(dir, "tea", 1);
    steward(dir)
        .args(["undo", "tea", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("dry run: nothing proposed"))
        .stdout(predicate::str::contains(
            "Take tea off the shopping list again",
        ));
    assert!(
        read_json(dir, "plan-undo-tea").is_empty(),
        "a dry run proposes nothing"
    );

    steward(dir)
        .args(["undo", "tea"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "proposed plan undo-tea undoing plan tea, approved",
        ))
        .stdout(predicate::str::contains("shoppinglist-main Unlist"));
    let original = read_json(dir, "plan-tea");
    let undo = read_json(dir, "plan-undo-tea");
    let types: Vec<&str> = undo
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(types, ["PlanProposed", "PlanApproved"]);
    let proposed = &undo[0];
    assert_eq!(proposed["metadata"]["actor"], "user:cli");
    assert_eq!(
        proposed["metadata"]["correlation_id"],
        original[0]["metadata"]["correlation_id"]
    );
    assert_eq!(
        proposed["metadata"]["causation_id"],
        original[original.len() - 1]["event_id"]
    );
    assert_eq!(proposed["data"]["intent"], "home.set_device");
    assert_eq!(proposed["data"]["approval"]["autonomy"], "act");
    let personal = &proposed["personal"]["plain"];
    assert_eq!(personal["request"], "undo tea");
    assert!(
        personal["rationale"]
            .as_str()
            .is_some_and(|r| r.contains("plan tea")),
        "{personal}"
    );
    assert_eq!(personal["steps"][0]["command_type"], "Unlist");

    steward(dir)
        .args(["undo", "tea"])
        .assert()
        .success()
        .stdout(predicate::str::contains("proposed already"));
    assert_eq!(
        read_json(dir, "plan-undo-tea").len(),
        2,
        "asking twice proposes once"
    );

    propose(
        dir,
        "bought",
        serde_json::json!([{
            "stream_id": "shoppinglist-main",
            "command_type": "CheckOff",
            "data": { "item": "tea" },
            "executor": { "by": "domain" },
            "summary": "Check tea off",
        }]),
        "act",
    );
    complete_by_hand(dir, "bought", 1);
    steward(dir)
        .args(["undo", "bought"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "step 0 of plan `bought` (CheckOff) cannot be undone",
        ));
}

#[test]
fn undo_puts_a_device_back_over_mqtt_through_serve() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let topic = format!("steward-test/{}/lamp/set", uuid::Uuid::now_v7().simple());
    for (command_type, data) in [
        (
            "RegisterDevice",
            serde_json::json!({ "device_id": "lamp", "kind": "light", "room": "hall",
                                "capabilities": [{ "attribute": "power" }] }),
        ),
        (
            "ReportDeviceState",
            serde_json::json!({ "device_id": "lamp", "attributes": { "power": "on" } }),
        ),
    ] {
        steward(dir)
            .args(["command", "home-main", command_type, "--data"])
            .arg(data.to_string())
            .assert()
            .success();
    }
    // The planner's set_device plan: turn the lamp off.
    propose(
        dir,
        "lamp-off",
        serde_json::json!([
            {
                "stream_id": "home-main",
                "command_type": "RequestDeviceState",
                "data": { "request_id": "lamp-off.0", "device_id": "lamp",
                          "attributes": { "power": "off" } },
                "executor": { "by": "domain" },
                "summary": "Record that lamp is asked for power off",
            },
            {
                "stream_id": "home-main",
                "command_type": "Publish",
                "data": { "topic": topic, "payload": { "state": "OFF" } },
                "executor": { "by": "actuator", "integration": "mqtt" },
                "summary": "Set lamp to power off over MQTT",
            },
            {
                "stream_id": "home-main",
                "command_type": "RecordStateApplied",
                "data": { "request_id": "lamp-off.0" },
                "executor": { "by": "domain" },
                "summary": "Record that lamp took it",
            },
        ]),
        "act",
    );
    let mqtt = [("STEWARD_MQTT_URL", "mqtt://127.0.0.1:1883")];
    let completed = |plan: &str| {
        let events = read_json(dir, plan);
        events
            .iter()
            .any(|event| event["event_type"] == "PlanCompleted")
            .then_some(events)
    };
    while_serving_with(dir, &mqtt, || completed("plan-lamp-off")).expect("the plan completed");

    steward(dir)
        .args(["undo", "lamp-off"])
        .assert()
        .success()
        .stdout(predicate::str::contains("proposed plan undo-lamp-off"))
        .stdout(predicate::str::contains(
            "Set lamp back to power \"on\" over MQTT",
        ));
    let subscriber = StdCommand::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", "1883", "-C", "1", "-W", "60", "-t"])
        .arg(&topic)
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub runs (Debian package mosquitto-clients)");
    std::thread::sleep(Duration::from_millis(500));
    while_serving_with(dir, &mqtt, || completed("plan-undo-lamp-off"))
        .expect("the undo plan completed");

    let received = subscriber.wait_with_output().expect("mosquitto_sub ends");
    assert_eq!(
        String::from_utf8_lossy(&received.stdout).trim(),
        r#"{"state":"ON"}"#
    );
    let home = read_json(dir, "home-main");
    let asked_again = home
        .iter()
        .find(|event| event["data"]["request_id"] == "undo-lamp-off.0")
        .expect("the undo asked for the lamp's state");
    assert_eq!(asked_again["event_type"], "DesiredStateRequested");
    let last = &home[home.len() - 1];
    assert_eq!(last["event_type"], "DesiredStateApplied");
    assert_eq!(last["data"]["request_id"], "undo-lamp-off.0");
}
