//! Groceries: stock levels, usage rates and low stock; the shopping list
//! with items bought or taken off; erasure has nothing to drop.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use steward_events::domain::groceries::{
    ItemCheckedOff, ItemListed, ItemStocked, ItemUnlisted, ListedBecause, ReorderLevelSet,
    StockRanLow, StockUsed,
};
use steward_projections::read_models::groceries::{self, Groceries, PantryItem, ShoppingItem};

use crate::read_model_support::{OWNER, at, catch_up, erase, millis, rebuild, record, tables};
use crate::support::{Fixture, on_both_backends};

on_both_backends!(
    the_pantry_knows_stock_usage_and_what_runs_low,
    bought_and_unlisted_items_leave_the_shopping_list_and_erasure_changes_nothing,
);

async fn pantry(f: &Fixture, now: DateTime<Utc>, low_only: bool) -> Vec<PantryItem> {
    catch_up(f, Arc::new(Groceries)).await;
    let tables = tables(f, "groceries").await;
    groceries::pantry(&f.db, &tables, Some("home"), now, low_only)
        .await
        .expect("pantry")
}

async fn list(f: &Fixture) -> Vec<ShoppingItem> {
    catch_up(f, Arc::new(Groceries)).await;
    let tables = tables(f, "groceries").await;
    groceries::shopping_list(&f.db, &tables, Some("home"))
        .await
        .expect("shopping list")
}

fn stocked(item: &str, quantity: f64, unit: &str, when: &str) -> ItemStocked {
    ItemStocked {
        item: item.to_owned(),
        quantity,
        unit: unit.to_owned(),
        at: at(when),
    }
}

fn used(item: &str, quantity: f64, left: f64) -> StockUsed {
    StockUsed {
        item: item.to_owned(),
        quantity,
        left,
        at: at("2026-03-03T08:00:00Z"),
    }
}

async fn the_pantry_knows_stock_usage_and_what_runs_low(f: Fixture) {
    let now = at("2026-03-05T00:00:00Z");
    record(
        &f,
        "pantry-home",
        &stocked("Oat milk", 4.0, "l", "2026-03-01T00:00:00Z"),
    )
    .await;
    record(
        &f,
        "pantry-home",
        &ReorderLevelSet {
            item: "oat milk".to_owned(),
            reorder_below: 2.0,
            lead_days: 0.0,
            restock_to: 6.0,
        },
    )
    .await;
    let rice_stocked = record(
        &f,
        "pantry-home",
        &stocked("Rice", 2.0, "kg", "2026-03-01T00:00:00Z"),
    )
    .await;
    record(
        &f,
        "pantry-home",
        &stocked("Coffee", 1.0, "kg", "2026-03-01T00:00:00Z"),
    )
    .await;
    record(
        &f,
        "pantry-home",
        &ReorderLevelSet {
            item: "Coffee".to_owned(),
            reorder_below: 0.1,
            lead_days: 7.0,
            restock_to: 1.0,
        },
    )
    .await;
    let coffee_used = record(&f, "pantry-home", &used("coffee", 0.5, 0.5)).await;
    let milk_used = record(&f, "pantry-home", &used("OAT MILK", 1.0, 3.0)).await;

    let everything = pantry(&f, now, false).await;
    let coffee = PantryItem {
        household: "home".to_owned(),
        item: "Coffee".to_owned(),
        quantity: 0.5,
        unit: "kg".to_owned(),
        reorder_below: Some(0.1),
        lead_days: Some(7.0),
        restock_to: Some(1.0),
        // 0.5 kg in four days; what is left lasts four more, within the
        // week's lead time.
        usage_per_day: Some(0.125),
        days_left: Some(4.0),
        low: true,
        to_buy: Some(0.5),
        updated_at: millis(coffee_used.recorded_at),
    };
    let milk = PantryItem {
        household: "home".to_owned(),
        item: "Oat milk".to_owned(),
        quantity: 3.0,
        unit: "l".to_owned(),
        reorder_below: Some(2.0),
        lead_days: Some(0.0),
        restock_to: Some(6.0),
        usage_per_day: Some(0.25),
        days_left: Some(12.0),
        low: false,
        to_buy: None,
        updated_at: millis(milk_used.recorded_at),
    };
    let rice = PantryItem {
        household: "home".to_owned(),
        item: "Rice".to_owned(),
        quantity: 2.0,
        unit: "kg".to_owned(),
        reorder_below: None,
        lead_days: None,
        restock_to: None,
        usage_per_day: None,
        days_left: None,
        low: false,
        to_buy: None,
        updated_at: millis(rice_stocked.recorded_at),
    };
    assert_eq!(everything, [coffee.clone(), milk.clone(), rice]);
    assert_eq!(pantry(&f, now, true).await, std::slice::from_ref(&coffee));

    // Milk falls to its level: low, with what to buy.
    record(&f, "pantry-home", &used("oat milk", 1.5, 1.5)).await;
    let ran_low = record(
        &f,
        "pantry-home",
        &StockRanLow {
            item: "oat milk".to_owned(),
            left: 1.5,
            unit: "l".to_owned(),
            days_left: Some(2.4),
            buy: 4.5,
        },
    )
    .await;
    let low = pantry(&f, now, true).await;
    assert_eq!(low.len(), 2);
    assert_eq!(low[0], coffee);
    assert_eq!(
        low[1],
        PantryItem {
            quantity: 1.5,
            usage_per_day: Some(0.625),
            days_left: Some(2.4),
            low: true,
            to_buy: Some(4.5),
            updated_at: millis(ran_low.recorded_at),
            ..milk.clone()
        }
    );

    // Stocked up above its level, it no longer runs low.
    record(
        &f,
        "pantry-home",
        &stocked("oat milk ", 5.0, "l", "2026-03-04T00:00:00Z"),
    )
    .await;
    let after = pantry(&f, now, true).await;
    assert_eq!(after, [coffee]);
}

async fn bought_and_unlisted_items_leave_the_shopping_list_and_erasure_changes_nothing(f: Fixture) {
    let listed = |item: &str, quantity: Option<f64>, because| ItemListed {
        item: item.to_owned(),
        quantity,
        unit: quantity.map(|_| "l".to_owned()),
        because,
    };
    record(
        &f,
        "shoppinglist-home",
        &listed("Oat milk", Some(4.5), ListedBecause::LowStock),
    )
    .await;
    let bread = record(
        &f,
        "shoppinglist-home",
        &listed("Bread", None, ListedBecause::Requested),
    )
    .await;
    record(
        &f,
        "shoppinglist-home",
        &listed("Lemons", None, ListedBecause::Requested),
    )
    .await;
    // Another household's list.
    record(
        &f,
        "shoppinglist-cottage",
        &listed("Firewood", None, ListedBecause::Requested),
    )
    .await;
    record(
        &f,
        "shoppinglist-home",
        &ItemCheckedOff {
            item: "oat milk".to_owned(),
        },
    )
    .await;
    record(
        &f,
        "shoppinglist-home",
        &ItemUnlisted {
            item: "LEMONS".to_owned(),
        },
    )
    .await;
    let eggs = record(
        &f,
        "shoppinglist-home",
        &listed("Eggs", Some(12.0), ListedBecause::Requested),
    )
    .await;

    let expected = vec![
        ShoppingItem {
            household: "home".to_owned(),
            item: "Bread".to_owned(),
            quantity: None,
            unit: None,
            because: ListedBecause::Requested,
            listed_at: millis(bread.recorded_at),
        },
        ShoppingItem {
            household: "home".to_owned(),
            item: "Eggs".to_owned(),
            quantity: Some(12.0),
            unit: Some("l".to_owned()),
            because: ListedBecause::Requested,
            listed_at: millis(eggs.recorded_at),
        },
    ];
    assert_eq!(list(&f).await, expected);

    erase(&f, OWNER).await;
    assert_eq!(list(&f).await, expected);
    rebuild(&f, Arc::new(Groceries)).await;
    assert_eq!(list(&f).await, expected);
}
