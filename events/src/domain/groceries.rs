//! Events of the groceries domain: what the pantry holds and what to buy.
//!
//! Two aggregates: the pantry (`pantry-<household>`), which tracks stock and
//! how fast it is used, and the shopping list (`shoppinglist-<household>`).
//! A pantry item running low is put on the list by a saga, not by the pantry.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DomainEvent;

/// Stock of an item was counted or bought: the pantry now holds `quantity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemStocked {
    /// The item, as the household names it (`oat milk`).
    pub item: String,
    /// How much the pantry holds now.
    pub quantity: f64,
    /// The unit of `quantity` (`l`, `kg`, `pcs`).
    pub unit: String,
    /// When it was counted.
    pub at: DateTime<Utc>,
}

impl DomainEvent for ItemStocked {
    const EVENT_TYPE: &'static str = "ItemStocked";
    const SCHEMA_VERSION: u16 = 1;
}

/// Some of an item was used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StockUsed {
    /// The item.
    pub item: String,
    /// How much was used, in the item's unit.
    pub quantity: f64,
    /// How much is left.
    pub left: f64,
    /// When it was used.
    pub at: DateTime<Utc>,
}

impl DomainEvent for StockUsed {
    const EVENT_TYPE: &'static str = "StockUsed";
    const SCHEMA_VERSION: u16 = 1;
}

/// When an item counts as running low, and how much to restock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReorderLevelSet {
    /// The item.
    pub item: String,
    /// Running low at or below this quantity.
    pub reorder_below: f64,
    /// Or when the stock will last fewer days than this at the usage rate.
    pub lead_days: f64,
    /// Buy enough to reach this quantity.
    pub restock_to: f64,
}

impl DomainEvent for ReorderLevelSet {
    const EVENT_TYPE: &'static str = "ReorderLevelSet";
    const SCHEMA_VERSION: u16 = 1;
}

/// An item fell to its reorder level, or will run out within its lead time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StockRanLow {
    /// The item.
    pub item: String,
    /// How much is left.
    pub left: f64,
    /// The item's unit.
    pub unit: String,
    /// Days until it runs out at the usage rate, when a rate is known.
    pub days_left: Option<f64>,
    /// How much to buy to reach the restock level.
    pub buy: f64,
}

impl DomainEvent for StockRanLow {
    const EVENT_TYPE: &'static str = "StockRanLow";
    const SCHEMA_VERSION: u16 = 1;
}

/// Why an item is on the shopping list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListedBecause {
    /// A person put it there.
    Requested,
    /// The pantry ran low.
    LowStock,
}

/// An item was put on the shopping list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemListed {
    /// The item.
    pub item: String,
    /// How much to buy, if said.
    pub quantity: Option<f64>,
    /// The unit of `quantity`.
    pub unit: Option<String>,
    /// Why.
    pub because: ListedBecause,
}

impl DomainEvent for ItemListed {
    const EVENT_TYPE: &'static str = "ItemListed";
    const SCHEMA_VERSION: u16 = 1;
}

/// An item on the list was bought.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemCheckedOff {
    /// The item.
    pub item: String,
}

impl DomainEvent for ItemCheckedOff {
    const EVENT_TYPE: &'static str = "ItemCheckedOff";
    const SCHEMA_VERSION: u16 = 1;
}

/// An item was taken off the list unbought.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemUnlisted {
    /// The item.
    pub item: String,
}

impl DomainEvent for ItemUnlisted {
    const EVENT_TYPE: &'static str = "ItemUnlisted";
    const SCHEMA_VERSION: u16 = 1;
}

crate::domain_events! {
    /// What a pantry stream holds.
    pub enum PantryEvent {
        /// Stock was counted or bought.
        Stocked(ItemStocked),
        /// Some was used.
        Used(StockUsed),
        /// The reorder level changed.
        ReorderLevelSet(ReorderLevelSet),
        /// An item ran low.
        RanLow(StockRanLow),
    }
}

crate::domain_events! {
    /// What a shopping list stream holds.
    pub enum ShoppingListEvent {
        /// An item was put on the list.
        Listed(ItemListed),
        /// An item was bought.
        CheckedOff(ItemCheckedOff),
        /// An item was taken off unbought.
        Unlisted(ItemUnlisted),
    }
}

/// The JSON Schema of every event type of the domain.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    use super::EventSet as _;
    let mut schemas = PantryEvent::schemas();
    schemas.extend(ShoppingListEvent::schemas());
    schemas
}
