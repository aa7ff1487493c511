//! The command envelope: from JSON to an aggregate's typed command.

use std::path::PathBuf;

use serde_json::json;
use steward_actors::catalog;
use steward_actors::command::{CommandEnvelope, CommandError, command_types};
use steward_actors::groceries::{ShoppingList, ShoppingListCommand};
use steward_events::domain::groceries::ListedBecause;
use steward_events::{StreamId, schema_files};

fn envelope(command_type: &str, data: serde_json::Value) -> CommandEnvelope {
    CommandEnvelope::new(
        StreamId::parse("shoppinglist-home").expect("valid"),
        command_type,
        data,
        "user:alice",
    )
}

#[test]
fn an_envelope_reaches_its_typed_command() {
    let command = envelope("ListItem", json!({ "item": "eggs", "quantity": 6 }))
        .typed::<ShoppingList>()
        .expect("a valid command");
    assert_eq!(
        command,
        ShoppingListCommand::ListItem {
            item: "eggs".into(),
            quantity: Some(6.0),
            unit: None,
            because: ListedBecause::Requested,
        }
    );
}

#[test]
fn an_unknown_command_names_the_ones_there_are() {
    let error = envelope("BuyEverything", json!({}))
        .typed::<ShoppingList>()
        .expect_err("unknown");
    let CommandError::UnknownCommand { known, .. } = &error else {
        panic!("expected an unknown command, got {error:?}");
    };
    assert_eq!(known, "ListItem, CheckOff, Unlist");
}

#[test]
fn data_that_does_not_fit_is_refused_with_the_reason() {
    for data in [
        json!({ "quantity": 6 }),
        json!({ "item": "eggs", "colour": "brown" }),
        json!({ "item": 12 }),
        json!([1, 2]),
    ] {
        let error = envelope("ListItem", data.clone())
            .typed::<ShoppingList>()
            .expect_err("invalid");
        assert!(
            matches!(&error, CommandError::InvalidData { reason, .. } if !reason.is_empty()),
            "{data}: {error:?}"
        );
    }
}

#[test]
fn a_command_id_must_be_a_short_word() {
    for id in ["", "has space", &"x".repeat(256)] {
        let mut command = envelope("CheckOff", json!({ "item": "eggs" }));
        command.command_id = id.to_owned();
        assert_eq!(
            command.typed::<ShoppingList>(),
            Err(CommandError::InvalidCommandId)
        );
    }
}

#[test]
fn an_envelope_decodes_from_json_and_refuses_unknown_fields() {
    let parsed: CommandEnvelope = serde_json::from_value(json!({
        "command_id": "c-1",
        "stream_id": "shoppinglist-home",
        "command_type": "CheckOff",
        "data": { "item": "eggs" },
        "actor": "user:alice",
    }))
    .expect("decodes");
    assert_eq!(parsed.command_id, "c-1");
    let extra = serde_json::from_value::<CommandEnvelope>(json!({
        "command_id": "c-1",
        "stream_id": "shoppinglist-home",
        "command_type": "CheckOff",
        "actor": "user:alice",
        "priority": "high",
    }));
    assert!(extra.is_err());
}

#[test]
fn every_category_lists_its_commands_and_events() {
    assert_eq!(command_types::<ShoppingList>().len(), 3);
    for category in catalog::categories() {
        assert!(!category.commands.is_empty(), "{}", category.category);
        assert!(!category.events.is_empty(), "{}", category.category);
        assert!(
            !category.category.contains('-'),
            "a category has no dash: {}",
            category.category
        );
    }
}

/// `schemas/commands/` is generated from the command types. Run with
/// `STEWARD_UPDATE_SCHEMAS=1` to regenerate after a change.
#[test]
fn committed_command_schemas_match_the_code() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/commands");
    let (drifted, stale) =
        schema_files::compare(&dir, &catalog::command_schemas()).expect("schemas/commands reads");
    assert!(
        drifted.is_empty() && stale.is_empty(),
        "schemas/commands is out of date (drifted: {drifted:?}, stale: {stale:?}); \
         regenerate with STEWARD_UPDATE_SCHEMAS=1 cargo test -p steward-actors"
    );
}

#[test]
fn categories_and_event_types_are_unique_across_domains() {
    let categories = catalog::categories();
    let mut names: Vec<&str> = categories.iter().map(|c| c.category).collect();
    let mut events: Vec<&str> = categories
        .iter()
        .flat_map(|c| c.events.iter().copied())
        .collect();
    let (all_names, all_events) = (names.len(), events.len());
    names.sort_unstable();
    names.dedup();
    events.sort_unstable();
    events.dedup();
    assert_eq!(names.len(), all_names, "a category is used twice");
    assert_eq!(events.len(), all_events, "an event type is used twice");
    assert!(
        all_names >= 10,
        "every domain's aggregates are in the catalog"
    );
}
