//! `steward command`: every domain driven end to end from the command line,
//! on the embedded SQLite store in a temporary directory.

use predicates::prelude::*;
use serde_json::{Value, json};

mod support;
use support::steward;

/// Runs `steward command --json` and returns the outcome.
fn command(dir: &std::path::Path, stream: &str, command_type: &str, data: Value) -> Value {
    let output = steward(dir)
        .args(["command", stream, command_type, "--json", "--data"])
        .arg(data.to_string())
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{command_type} on {stream} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON outcome")
}

fn event_types(outcome: &Value) -> Vec<&str> {
    outcome["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event_type"].as_str().expect("a type"))
        .collect()
}

#[test]
fn groceries_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let stocked = command(
        dir,
        "pantry-home",
        "StockItem",
        json!({ "item": "oat milk", "quantity": 3, "unit": "l" }),
    );
    assert_eq!(event_types(&stocked), ["ItemStocked"]);
    let reorder = command(
        dir,
        "pantry-home",
        "SetReorderLevel",
        json!({ "item": "oat milk", "reorder_below": 1, "restock_to": 4 }),
    );
    assert_eq!(event_types(&reorder), ["ReorderLevelSet"]);
    let used = command(
        dir,
        "pantry-home",
        "UseItem",
        json!({ "item": "oat milk", "quantity": 2 }),
    );
    assert_eq!(event_types(&used), ["StockUsed", "StockRanLow"]);
    assert_eq!(used["version"], 3);

    let listed = command(
        dir,
        "shoppinglist-home",
        "ListItem",
        json!({ "item": "eggs" }),
    );
    assert_eq!(event_types(&listed), ["ItemListed"]);
    let bought = command(
        dir,
        "shoppinglist-home",
        "CheckOff",
        json!({ "item": "eggs" }),
    );
    assert_eq!(event_types(&bought), ["ItemCheckedOff"]);

    // The log holds what the commands decided, with the command ids.
    let output = steward(dir)
        .args(["events", "read", "shoppinglist-home", "--json"])
        .output()
        .expect("runs");
    let events: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["metadata"]["command_id"], bought["command_id"]);
    assert_eq!(events[1]["metadata"]["actor"], "user:cli");
}

#[test]
fn a_repeated_command_id_prints_the_first_result_and_appends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let send = || {
        steward(dir.path())
            .args([
                "command",
                "shoppinglist-home",
                "ListItem",
                "--command-id",
                "c-42",
            ])
            .args(["--data", r#"{"item":"tea"}"#])
            .assert()
            .success()
    };
    send().stdout(predicate::str::contains("shoppinglist-home@0 ItemListed"));
    send().stdout(
        predicate::str::contains("command c-42 was already handled")
            .and(predicate::str::contains("shoppinglist-home@0 ItemListed")),
    );
    steward(dir.path())
        .args(["events", "read", "shoppinglist-home"])
        .assert()
        .success()
        .stdout(predicate::function(|out: &str| out.lines().count() == 1));
}

#[test]
fn a_rejection_exits_4_naming_the_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    steward(dir.path())
        .args([
            "command",
            "shoppinglist-home",
            "CheckOff",
            "--data",
            r#"{"item":"tea"}"#,
        ])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("rejected (not_on_list)"));
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&[&str], &str); 6] = [
        (&["no_dash", "ListItem"], "stream"),
        (
            &["garden-home", "Water"],
            "no aggregate lives in `garden-…` streams",
        ),
        (&["shoppinglist-home", "BuyAll"], "has no command `BuyAll`"),
        (
            &["shoppinglist-home", "ListItem", "--data", "{"],
            "--data is not JSON",
        ),
        (
            &["shoppinglist-home", "ListItem", "--data", "[1]"],
            "must be a JSON object",
        ),
        (
            &[
                "shoppinglist-home",
                "ListItem",
                "--data",
                r#"{"item":"tea","colour":"green"}"#,
            ],
            "unknown field `colour`",
        ),
    ];
    for (args, message) in cases {
        steward(dir.path())
            .arg("command")
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
    }
    steward(dir.path())
        .args(["events", "read", "shoppinglist-home"])
        .assert()
        .success()
        .stdout(predicate::str::is_empty());
}
