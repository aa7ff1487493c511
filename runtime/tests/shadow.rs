//! `steward planner shadow` end to end: past plans replayed with the
//! planner as it is now (real models, from where ops/dev/models.sh installs
//! them), each with its verdict, and nothing written.

use std::path::Path;

use serde_json::{Value, json};

mod support;
use support::{json_lines, steward};

/// Proposes a plan for `request` as if an older planner had made it.
fn propose(dir: &Path, plan: &str, request: &str, intent: &str, item: &str) {
    let data = json!({
        "request": request,
        "intent": intent,
        "confidence": 0.9,
        "steps": [{
            "stream_id": "shoppinglist-main",
            "command_type": "ListItem",
            "data": { "item": item },
            "executor": { "by": "domain" },
            "summary": format!("Put {item} on the shopping list"),
        }],
        "model": { "name": "steward-planner", "version": "old", "location": { "ran": "local" } },
        "approval": { "autonomy": "suggest" },
    });
    steward(dir)
        .args(["command", &format!("plan-{plan}"), "ProposePlan", "--data"])
        .arg(data.to_string())
        .assert()
        .success();
}

/// Every event in the log, as exported.
fn every_event(dir: &Path) -> Vec<Value> {
    let output = steward(dir).arg("export").output().expect("exports");
    assert!(output.status.success(), "{output:?}");
    json_lines(&output.stdout)
}

#[test]
fn past_requests_are_planned_again_and_compared_without_writing_anything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    propose(
        dir,
        "milk",
        "add oat milk to the shopping list",
        "groceries.add_to_list",
        "oat milk",
    );
    propose(
        dir,
        "bread",
        "add bread to the shopping list",
        "groceries.add_to_list",
        "brioche",
    );
    propose(
        dir,
        "eggs",
        "take eggs off the shopping list",
        "groceries.add_to_list",
        "eggs",
    );
    propose(
        dir,
        "peru",
        "what is the capital of Peru?",
        "groceries.add_to_list",
        "peru",
    );
    steward(dir)
        .args(["projections", "run", "home"])
        .assert()
        .success();
    let before = every_event(dir);

    let output = steward(dir)
        .args(["planner", "shadow", "--json"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{output:?}");
    let verdicts: Vec<(String, String)> = json_lines(&output.stdout)
        .iter()
        .map(|row| {
            (
                row["then"]["plan_id"].as_str().expect("a plan").to_owned(),
                row["verdict"].as_str().expect("a verdict").to_owned(),
            )
        })
        .collect();
    let expected = [
        ("milk", "same"),
        ("bread", "other_steps"),
        ("eggs", "other_intent"),
        ("peru", "now_declines"),
    ];
    assert_eq!(
        verdicts,
        expected.map(|(plan, verdict)| (plan.to_owned(), verdict.to_owned())),
    );
    assert_eq!(every_event(dir).len(), before.len(), "nothing was written");

    let table = steward(dir)
        .args(["planner", "shadow"])
        .output()
        .expect("runs");
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("4 plans replayed: 1 the same, 1 other steps, 1 another intent"),
        "{table}"
    );

    // Only what came after a position.
    let milk = before
        .iter()
        .find(|e| e["event_type"] == "PlanProposed" && e["stream_id"] == "plan-milk")
        .expect("the first plan");
    let after = milk["position"].as_str().expect("a position");
    let output = steward(dir)
        .args(["planner", "shadow", "--json", "--after", after])
        .output()
        .expect("runs");
    assert_eq!(json_lines(&output.stdout).len(), 3);

    let refused = steward(dir)
        .args(["planner", "shadow", "--after", "yesterday"])
        .output()
        .expect("runs");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--after"));
}
