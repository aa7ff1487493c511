//! `steward memory search` end to end: a message arrives through `steward
//! command`, the memory projection embeds it (real model, from where
//! ops/dev/models.sh installs it: the test runs the binary without any
//! `STEWARD_*` variable), and a search by meaning finds it, from an index
//! persisted under the data directory.

use std::path::Path;

use serde_json::json;

mod support;
use support::{json_lines, steward};

fn receive(dir: &Path, stream: &str, id: &str, subject: &str, body: &str) {
    let data = json!({
        "message_id": id,
        "account": "personal",
        "from": { "address": "bob@example.org", "name": "Bob" },
        "to": [{ "address": "me@example.org" }],
        "subject": subject,
        "body_text": body,
        "received_at": "2030-01-07T08:30:00Z",
    });
    steward(dir)
        .args(["command", stream, "Receive", "--data"])
        .arg(data.to_string())
        .assert()
        .success();
}

#[test]
fn a_message_is_found_by_meaning() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let dir = dir.path();
    receive(
        dir,
        "message-m1",
        "m1",
        "Lunch",
        "Can we move lunch to Thursday?",
    );
    receive(
        dir,
        "message-m2",
        "m2",
        "Invoice 42",
        "Your electricity invoice is attached.",
    );

    // Not built yet: said so, with what to run.
    let output = steward(dir)
        .args(["memory", "search", "reschedule our lunch"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("steward projections run memory"),
        "{output:?}"
    );

    steward(dir)
        .args(["projections", "run", "memory"])
        .assert()
        .success();
    let output = steward(dir)
        .args([
            "memory",
            "search",
            "reschedule our lunch",
            "--k",
            "2",
            "--json",
        ])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{output:?}");
    let hits = json_lines(&output.stdout);
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[0]["stream_id"], "message-m1");
    assert_eq!(hits[0]["text"], "Lunch. Can we move lunch to Thursday?");
    assert_eq!(hits[0]["event_type"], "MessageReceived");
    assert_eq!(hits[0]["domain"], "inbox");
    assert!(
        hits[0]["score"].as_f64().expect("a score") > hits[1]["score"].as_f64().expect("a score")
    );
    assert!(dir.join("data/memory-index/memory.usearch").is_file());

    // The table, from the persisted index; filters apply.
    let output = steward(dir)
        .args([
            "memory",
            "search",
            "reschedule our lunch",
            "--domain",
            "travel",
        ])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("no memories found"));
    steward(dir)
        .args(["memory", "search", "electricity bill"])
        .assert()
        .success()
        .stdout(predicates::str::contains("Invoice 42"));
}

#[test]
fn a_missing_model_is_a_clear_error_and_memory_can_be_turned_off() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let dir = dir.path();
    let output = steward(dir)
        .env("STEWARD_EMBEDDING_MODEL", dir.join("nowhere/model.onnx"))
        .args(["projections", "status"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let message = String::from_utf8_lossy(&output.stderr);
    for needle in ["nowhere/model.onnx", "ops/dev/models.sh", "memory = false"] {
        assert!(message.contains(needle), "{needle} in {message}");
    }
    steward(dir)
        .env("STEWARD_EMBEDDING_MODEL", dir.join("nowhere/model.onnx"))
        .env("STEWARD_MEMORY", "false")
        .args(["projections", "status"])
        .assert()
        .success();
}
