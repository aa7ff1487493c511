//! `low_stock`: a pantry item running low goes on the household's shopping
//! list.
//!
//! On [`StockRanLow`] in `pantry-<household>` it sends `ListItem` to
//! `shoppinglist-<household>` (key `list`), `because: low_stock`, with the
//! quantity to buy and its unit when there is something to buy. An item
//! already on the list stays as it is (the list takes the repeat as no
//! change).

use serde_json::{Value, json};
use steward_events::domain::DomainEvent as _;
use steward_events::domain::groceries::StockRanLow;
use steward_events::{RecordedEvent, StreamId};

use super::{Reaction, Saga, decode};
use crate::aggregate::Aggregate as _;
use crate::groceries::{Pantry, ShoppingList};

/// Puts what runs low on the shopping list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LowStock;

impl Saga for LowStock {
    fn name(&self) -> &'static str {
        "low_stock"
    }

    fn reacts_to(&self) -> &'static [&'static str] {
        &[StockRanLow::EVENT_TYPE]
    }

    fn react(&self, event: &RecordedEvent) -> Vec<Reaction> {
        if event.stream_id.category() != Pantry::CATEGORY {
            return Vec::new();
        }
        let (Some(low), Ok(list)) = (
            decode::<StockRanLow>(event),
            StreamId::new(ShoppingList::CATEGORY, event.stream_id.id()),
        ) else {
            return Vec::new();
        };
        let mut data = json!({ "item": low.item, "because": "low_stock" });
        // Nothing to buy (restocked to no more than is left) lists the
        // item without an amount, rather than an amount the list refuses.
        let buy = low.buy.is_finite() && low.buy > 0.0;
        if let (true, Value::Object(fields)) = (buy, &mut data) {
            fields.insert("quantity".to_owned(), Value::from(low.buy));
            let unit = low.unit.trim();
            if !unit.is_empty() {
                fields.insert("unit".to_owned(), Value::from(unit));
            }
        }
        vec![Reaction::new("list", list, "ListItem", data)]
    }
}
