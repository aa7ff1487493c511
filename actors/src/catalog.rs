//! The stream categories Steward's aggregates live in: for each, its domain,
//! its commands and its events. The README's table, the host's routes, the
//! server's access rules and the NATS subjects are all read from here.

use std::sync::LazyLock;

use steward_events::domain::EventSet;

use crate::aggregate::Aggregate;
use crate::command::command_types;

/// Something done once per aggregate type (registering its route, listing
/// its commands), in the catalog's order.
pub trait Visitor {
    /// Called for each aggregate type.
    fn visit<A: Aggregate>(&mut self);
}

/// Shows every aggregate of every domain to `visitor`, domain by domain.
pub fn visit_all<V: Visitor>(visitor: &mut V) {
    crate::inbox::visit(visitor);
    crate::calendar::visit(visitor);
    crate::home::visit(visitor);
    crate::travel::visit(visitor);
    crate::appointments::visit(visitor);
    crate::goals::visit(visitor);
    crate::groceries::visit(visitor);
    crate::maintenance::visit(visitor);
    crate::timers::visit(visitor);
    crate::access::visit(visitor);
    crate::webhooks::visit(visitor);
    crate::credentials::visit(visitor);
    crate::plans::visit(visitor);
    crate::policies::visit(visitor);
    crate::actuations::visit(visitor);
    crate::egress::visit(visitor);
}

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

/// Every category, in the catalog's order. Built once: listing an
/// aggregate's commands means building its commands' JSON Schema, far too
/// dear for every request that asks which domain a stream is in.
pub fn categories() -> &'static [Category] {
    static CATEGORIES: LazyLock<Vec<Category>> = LazyLock::new(|| {
        struct Collect(Vec<Category>);
        impl Visitor for Collect {
            fn visit<A: Aggregate>(&mut self) {
                self.0.push(category::<A>());
            }
        }
        let mut collect = Collect(Vec::new());
        visit_all(&mut collect);
        collect.0
    });
    &CATEGORIES
}

/// The category of a name, if an aggregate lives there.
pub fn find(name: &str) -> Option<&'static Category> {
    categories().iter().find(|c| c.category == name)
}

/// The JSON Schemas of commands, as committed under `schemas/commands/`:
/// the envelope, and for each category the `command_type`/`data` pairs it
/// takes.
pub fn command_schemas() -> Vec<(String, schemars::Schema)> {
    struct Collect(Vec<(String, schemars::Schema)>);
    impl Visitor for Collect {
        fn visit<A: Aggregate>(&mut self) {
            self.0.push((
                format!("{}.commands.json", A::CATEGORY),
                schemars::schema_for!(A::Command),
            ));
        }
    }
    let mut collect = Collect(vec![(
        "envelope.json".to_owned(),
        schemars::schema_for!(crate::command::CommandEnvelope),
    )]);
    visit_all(&mut collect);
    collect.0
}
