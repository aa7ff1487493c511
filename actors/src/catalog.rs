//! The stream categories Steward's aggregates live in: for each, its domain,
//! its commands and its events. The README's table, the server's access
//! rules and the NATS subjects are read from here.

use steward_events::domain::EventSet;

use crate::aggregate::Aggregate;
use crate::command::command_types;
use crate::groceries::{Pantry, ShoppingList};

/// One stream category and what lives in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// The category (`pantry`).
    pub category: &'static str,
    /// Its domain (`groceries`).
    pub domain: &'static str,
    /// Its command types.
    pub commands: Vec<String>,
    /// Its event types.
    pub events: &'static [&'static str],
}

/// The entry of one aggregate.
pub fn category<A: Aggregate>() -> Category {
    Category {
        category: A::CATEGORY,
        domain: A::DOMAIN,
        commands: command_types::<A>(),
        events: <A::Event as EventSet>::EVENT_TYPES,
    }
}

/// Every category, in the order the README lists them.
pub fn categories() -> Vec<Category> {
    vec![category::<Pantry>(), category::<ShoppingList>()]
}

/// The category of a name, if an aggregate lives there.
pub fn find(name: &str) -> Option<Category> {
    categories().into_iter().find(|c| c.category == name)
}

/// The JSON Schemas of commands, as committed under `schemas/commands/`:
/// the envelope, and for each category the `command_type`/`data` pairs it
/// takes.
pub fn command_schemas() -> Vec<(String, schemars::Schema)> {
    fn commands<A: Aggregate>() -> (String, schemars::Schema) {
        (
            format!("{}.commands.json", A::CATEGORY),
            schemars::schema_for!(A::Command),
        )
    }
    vec![
        (
            "envelope.json".to_owned(),
            schemars::schema_for!(crate::command::CommandEnvelope),
        ),
        commands::<Pantry>(),
        commands::<ShoppingList>(),
    ]
}
