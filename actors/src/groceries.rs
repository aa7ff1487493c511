//! Groceries: the pantry's stock and the shopping list.
//!
//! The pantry learns how fast each item is used and says when one runs low
//! ([`StockRanLow`]): at or below its reorder level, or due to run out within
//! its lead time at the usage rate. It says so once per dip; stocking up
//! above the level re-arms it. Putting the item on the shopping list is the
//! low-stock saga's job.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_events::domain::groceries::{
    ItemCheckedOff, ItemListed, ItemStocked, ItemUnlisted, ListedBecause, PantryEvent,
    ReorderLevelSet, ShoppingListEvent, StockRanLow, StockUsed,
};

use crate::aggregate::{Aggregate, Context, Rejection, ensure};
use crate::catalog::Visitor;

/// Shows the domain's aggregates to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<Pantry>();
    visitor.visit::<ShoppingList>();
}

/// An item's key: its name trimmed and lower-cased, so that `Oat milk` and
/// `oat milk ` are one item.
fn key(item: &str) -> String {
    item.trim().to_lowercase()
}

fn item_name(item: &str) -> Result<String, Rejection> {
    let name = item.trim();
    ensure(!name.is_empty(), "item_required", || {
        "name the item".to_owned()
    })?;
    ensure(name.chars().count() <= 200, "item_too_long", || {
        "an item name has at most 200 characters".to_owned()
    })?;
    Ok(name.to_owned())
}

fn quantity(value: f64, positive: bool) -> Result<f64, Rejection> {
    let valid = value.is_finite() && if positive { value > 0.0 } else { value >= 0.0 };
    ensure(valid, "quantity_invalid", || {
        let bound = if positive {
            "above zero"
        } else {
            "zero or more"
        };
        format!("a quantity must be a number {bound}, not {value}")
    })?;
    Ok(value)
}

// ---------------------------------------------------------------- pantry

/// Commands to a pantry (`pantry-<household>`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum PantryCommand {
    /// The pantry now holds `quantity` of `item` (counted, or after a shop).
    StockItem {
        /// The item.
        item: String,
        /// How much there is now.
        quantity: f64,
        /// Its unit (`l`, `kg`, `pcs`); fixed once stocked.
        unit: String,
    },
    /// Some of an item was used.
    UseItem {
        /// The item.
        item: String,
        /// How much, in its unit.
        quantity: f64,
    },
    /// When the item counts as running low, and how much to restock.
    SetReorderLevel {
        /// The item.
        item: String,
        /// Running low at or below this quantity.
        reorder_below: f64,
        /// Or when the stock lasts fewer days than this (default 0: off).
        #[serde(default)]
        lead_days: f64,
        /// Buy enough to reach this quantity.
        restock_to: f64,
    },
}

/// What the pantry knows of one item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PantryItem {
    /// Its name as last written.
    pub name: String,
    /// How much there is.
    pub quantity: f64,
    /// Its unit.
    pub unit: String,
    /// The reorder rule, once set.
    pub reorder: Option<ReorderLevelSet>,
    /// When it was first stocked, the start of the usage rate.
    pub since: Option<DateTime<Utc>>,
    /// How much has been used since then.
    pub used: f64,
    /// Whether the current dip was already reported.
    pub reported_low: bool,
}

impl PantryItem {
    /// Units used per day since it was first stocked (at least one day).
    pub fn usage_per_day(&self, now: DateTime<Utc>) -> Option<f64> {
        let since = self.since?;
        let days = ((now - since).num_seconds() as f64 / 86_400.0).max(1.0);
        (self.used > 0.0).then(|| self.used / days)
    }

    /// Whether `left` is low under the reorder rule, and the days it lasts.
    fn low_at(&self, left: f64, now: DateTime<Utc>) -> Option<StockRanLow> {
        let reorder = self.reorder.as_ref()?;
        let days_left = self.usage_per_day(now).map(|rate| left / rate);
        let low =
            left <= reorder.reorder_below || days_left.is_some_and(|days| days < reorder.lead_days);
        low.then(|| StockRanLow {
            item: self.name.clone(),
            left,
            unit: self.unit.clone(),
            days_left,
            buy: (reorder.restock_to - left).max(0.0),
        })
    }
}

/// A household's pantry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pantry {
    /// The items, by key.
    pub items: BTreeMap<String, PantryItem>,
}

impl Pantry {
    fn known(&self, item: &str) -> Result<&PantryItem, Rejection> {
        self.items.get(&key(item)).ok_or_else(|| {
            Rejection::new(
                "unknown_item",
                format!("the pantry has no `{}`; stock it first", item.trim()),
            )
        })
    }

    /// `events`, plus the low-stock report they lead to, if any.
    fn with_low_check(&self, events: Vec<PantryEvent>, context: &Context) -> Vec<PantryEvent> {
        let mut after = self.clone();
        for event in &events {
            after.apply(event);
        }
        let mut events = events;
        let item_key = match events.last() {
            Some(PantryEvent::Stocked(e)) => key(&e.item),
            Some(PantryEvent::Used(e)) => key(&e.item),
            Some(PantryEvent::ReorderLevelSet(e)) => key(&e.item),
            _ => return events,
        };
        if let Some(item) = after.items.get(&item_key)
            && !item.reported_low
            && let Some(low) = item.low_at(item.quantity, context.now)
        {
            events.push(PantryEvent::RanLow(low));
        }
        events
    }
}

impl Aggregate for Pantry {
    const CATEGORY: &'static str = "pantry";
    const DOMAIN: &'static str = "groceries";
    const STATE_VERSION: u32 = 1;
    type Command = PantryCommand;
    type Event = PantryEvent;

    fn decide(
        &self,
        command: PantryCommand,
        context: &Context,
    ) -> Result<Vec<PantryEvent>, Rejection> {
        let events = match command {
            PantryCommand::StockItem {
                item,
                quantity: amount,
                unit,
            } => {
                let item = item_name(&item)?;
                let amount = quantity(amount, false)?;
                let unit = unit.trim().to_owned();
                ensure(!unit.is_empty(), "unit_required", || {
                    "name the unit (`l`, `kg`, `pcs`…)".to_owned()
                })?;
                if let Some(existing) = self.items.get(&key(&item)) {
                    ensure(existing.unit == unit, "unit_mismatch", || {
                        format!("`{item}` is counted in {}, not {unit}", existing.unit)
                    })?;
                }
                vec![PantryEvent::Stocked(ItemStocked {
                    item,
                    quantity: amount,
                    unit,
                    at: context.now,
                })]
            }
            PantryCommand::UseItem {
                item,
                quantity: amount,
            } => {
                let existing = self.known(&item)?;
                let amount = quantity(amount, true)?;
                ensure(amount <= existing.quantity, "not_enough_stock", || {
                    format!(
                        "only {} {} of `{}` left",
                        existing.quantity, existing.unit, existing.name
                    )
                })?;
                vec![PantryEvent::Used(StockUsed {
                    item: existing.name.clone(),
                    quantity: amount,
                    left: existing.quantity - amount,
                    at: context.now,
                })]
            }
            PantryCommand::SetReorderLevel {
                item,
                reorder_below,
                lead_days,
                restock_to,
            } => {
                let existing = self.known(&item)?;
                let reorder_below = quantity(reorder_below, false)?;
                let restock_to = quantity(restock_to, true)?;
                ensure(
                    lead_days.is_finite() && lead_days >= 0.0,
                    "lead_days_invalid",
                    || format!("lead days must be zero or more, not {lead_days}"),
                )?;
                ensure(
                    restock_to > reorder_below,
                    "restock_not_above_reorder",
                    || {
                        format!(
                            "restocking to {restock_to} would leave it at or below its reorder level {reorder_below}"
                        )
                    },
                )?;
                vec![PantryEvent::ReorderLevelSet(ReorderLevelSet {
                    item: existing.name.clone(),
                    reorder_below,
                    lead_days,
                    restock_to,
                })]
            }
        };
        Ok(self.with_low_check(events, context))
    }

    fn apply(&mut self, event: &PantryEvent) {
        match event {
            PantryEvent::Stocked(e) => {
                let item = self.items.entry(key(&e.item)).or_default();
                item.name.clone_from(&e.item);
                item.unit.clone_from(&e.unit);
                item.since.get_or_insert(e.at);
                let above = item
                    .reorder
                    .as_ref()
                    .is_some_and(|r| e.quantity > r.reorder_below);
                if e.quantity > item.quantity && above {
                    item.reported_low = false;
                }
                item.quantity = e.quantity;
            }
            PantryEvent::Used(e) => {
                if let Some(item) = self.items.get_mut(&key(&e.item)) {
                    item.used += e.quantity;
                    item.quantity = e.left;
                }
            }
            PantryEvent::ReorderLevelSet(e) => {
                if let Some(item) = self.items.get_mut(&key(&e.item)) {
                    item.reorder = Some(e.clone());
                    item.reported_low = false;
                }
            }
            PantryEvent::RanLow(e) => {
                if let Some(item) = self.items.get_mut(&key(&e.item)) {
                    item.reported_low = true;
                }
            }
        }
    }
}

// ---------------------------------------------------------- shopping list

/// Commands to a shopping list (`shoppinglist-<household>`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum ShoppingListCommand {
    /// Put an item on the list; nothing happens if it is on it already.
    ListItem {
        /// The item.
        item: String,
        /// How much to buy.
        #[serde(default)]
        quantity: Option<f64>,
        /// The unit of `quantity`.
        #[serde(default)]
        unit: Option<String>,
        /// Why (default: a person asked).
        #[serde(default = "requested")]
        because: ListedBecause,
    },
    /// The item was bought.
    CheckOff {
        /// The item.
        item: String,
    },
    /// Take the item off unbought.
    Unlist {
        /// The item.
        item: String,
    },
}

fn requested() -> ListedBecause {
    ListedBecause::Requested
}

/// A household's shopping list: what is still to buy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShoppingList {
    /// The open items, by key.
    pub open: BTreeMap<String, ItemListed>,
    /// How many items were bought from it, ever.
    pub bought: u64,
}

impl ShoppingList {
    fn on_list(&self, item: &str) -> Result<&ItemListed, Rejection> {
        self.open.get(&key(item)).ok_or_else(|| {
            Rejection::new(
                "not_on_list",
                format!("`{}` is not on the shopping list", item.trim()),
            )
        })
    }
}

impl Aggregate for ShoppingList {
    const CATEGORY: &'static str = "shoppinglist";
    const DOMAIN: &'static str = "groceries";
    const STATE_VERSION: u32 = 1;
    type Command = ShoppingListCommand;
    type Event = ShoppingListEvent;

    fn decide(
        &self,
        command: ShoppingListCommand,
        _context: &Context,
    ) -> Result<Vec<ShoppingListEvent>, Rejection> {
        match command {
            ShoppingListCommand::ListItem {
                item,
                quantity: amount,
                unit,
                because,
            } => {
                let item = item_name(&item)?;
                if self.open.contains_key(&key(&item)) {
                    return Ok(Vec::new());
                }
                let amount = amount.map(|q| quantity(q, true)).transpose()?;
                let unit = unit.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
                Ok(vec![ShoppingListEvent::Listed(ItemListed {
                    item,
                    quantity: amount,
                    unit,
                    because,
                })])
            }
            ShoppingListCommand::CheckOff { item } => {
                let listed = self.on_list(&item)?;
                Ok(vec![ShoppingListEvent::CheckedOff(ItemCheckedOff {
                    item: listed.item.clone(),
                })])
            }
            ShoppingListCommand::Unlist { item } => {
                let listed = self.on_list(&item)?;
                Ok(vec![ShoppingListEvent::Unlisted(ItemUnlisted {
                    item: listed.item.clone(),
                })])
            }
        }
    }

    fn apply(&mut self, event: &ShoppingListEvent) {
        match event {
            ShoppingListEvent::Listed(e) => {
                self.open.insert(key(&e.item), e.clone());
            }
            ShoppingListEvent::CheckedOff(e) => {
                if self.open.remove(&key(&e.item)).is_some() {
                    self.bought += 1;
                }
            }
            ShoppingListEvent::Unlisted(e) => {
                self.open.remove(&key(&e.item));
            }
        }
    }
}
