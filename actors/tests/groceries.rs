//! Pantry and shopping list: given events / when command / then events.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use steward_actors::groceries::{Pantry, PantryCommand, ShoppingList, ShoppingListCommand};
use steward_actors::testing::{default_now, given, live_and_replayed};
use steward_events::domain::groceries::{
    ItemCheckedOff, ItemListed, ItemStocked, ItemUnlisted, ListedBecause, PantryEvent,
    ReorderLevelSet, ShoppingListEvent, StockRanLow, StockUsed,
};

fn now() -> DateTime<Utc> {
    default_now()
}

fn stocked(item: &str, quantity: f64, unit: &str, at: DateTime<Utc>) -> PantryEvent {
    PantryEvent::Stocked(ItemStocked {
        item: item.into(),
        quantity,
        unit: unit.into(),
        at,
    })
}

fn reorder(item: &str, below: f64, lead_days: f64, to: f64) -> PantryEvent {
    PantryEvent::ReorderLevelSet(ReorderLevelSet {
        item: item.into(),
        reorder_below: below,
        lead_days,
        restock_to: to,
    })
}

fn use_item(item: &str, quantity: f64) -> PantryCommand {
    PantryCommand::UseItem {
        item: item.into(),
        quantity,
    }
}

// ------------------------------------------------------------- StockItem

#[test]
fn stocking_a_new_item_records_it() {
    given::<Pantry>([])
        .when(PantryCommand::StockItem {
            item: " Oat milk ".into(),
            quantity: 4.0,
            unit: "l".into(),
        })
        .then([stocked("Oat milk", 4.0, "l", now())]);
}

#[test]
fn stocking_in_another_unit_is_refused() {
    given::<Pantry>([stocked("oat milk", 4.0, "l", now())])
        .when(PantryCommand::StockItem {
            item: "Oat Milk".into(),
            quantity: 2.0,
            unit: "pcs".into(),
        })
        .then_rejected("unit_mismatch");
}

#[test]
fn stocking_needs_a_name_a_unit_and_a_quantity() {
    let stock = |item: &str, quantity: f64, unit: &str| PantryCommand::StockItem {
        item: item.into(),
        quantity,
        unit: unit.into(),
    };
    given::<Pantry>([])
        .when(stock("  ", 1.0, "l"))
        .then_rejected("item_required");
    given::<Pantry>([])
        .when(stock("rice", 1.0, " "))
        .then_rejected("unit_required");
    given::<Pantry>([])
        .when(stock("rice", -1.0, "kg"))
        .then_rejected("quantity_invalid");
    given::<Pantry>([])
        .when(stock("rice", f64::NAN, "kg"))
        .then_rejected("quantity_invalid");
    given::<Pantry>([])
        .when(stock(&"x".repeat(201), 1.0, "kg"))
        .then_rejected("item_too_long");
}

#[test]
fn stocking_below_the_reorder_level_reports_it_low() {
    given::<Pantry>([
        stocked("rice", 2.0, "kg", now()),
        reorder("rice", 1.0, 0.0, 3.0),
    ])
    .when(PantryCommand::StockItem {
        item: "rice".into(),
        quantity: 0.5,
        unit: "kg".into(),
    })
    .then([
        stocked("rice", 0.5, "kg", now()),
        PantryEvent::RanLow(StockRanLow {
            item: "rice".into(),
            left: 0.5,
            unit: "kg".into(),
            days_left: None,
            buy: 2.5,
        }),
    ]);
}

// --------------------------------------------------------------- UseItem

#[test]
fn using_an_item_records_what_is_left() {
    given::<Pantry>([stocked("rice", 2.0, "kg", now())])
        .when(use_item("Rice", 0.5))
        .then([PantryEvent::Used(StockUsed {
            item: "rice".into(),
            quantity: 0.5,
            left: 1.5,
            at: now(),
        })]);
}

#[test]
fn using_an_unknown_item_or_too_much_is_refused() {
    given::<Pantry>([])
        .when(use_item("rice", 1.0))
        .then_rejected("unknown_item");
    given::<Pantry>([stocked("rice", 2.0, "kg", now())])
        .when(use_item("rice", 2.5))
        .then_rejected("not_enough_stock");
    given::<Pantry>([stocked("rice", 2.0, "kg", now())])
        .when(use_item("rice", 0.0))
        .then_rejected("quantity_invalid");
}

#[test]
fn falling_to_the_reorder_level_reports_it_low_once() {
    let start = now() - Duration::days(10);
    let state = given::<Pantry>([
        stocked("milk", 5.0, "l", start),
        reorder("milk", 2.0, 0.0, 6.0),
    ])
    .when(use_item("milk", 3.0))
    .then([
        PantryEvent::Used(StockUsed {
            item: "milk".into(),
            quantity: 3.0,
            left: 2.0,
            at: now(),
        }),
        PantryEvent::RanLow(StockRanLow {
            item: "milk".into(),
            left: 2.0,
            unit: "l".into(),
            // 3 l over 10 days: 0.3 l a day, so 2 l lasts 6.67 days.
            days_left: Some(2.0 / 0.3),
            buy: 4.0,
        }),
    ]);
    assert!(state.items["milk"].reported_low);
    // Already reported: using more says nothing new.
    let events: Vec<PantryEvent> = vec![
        stocked("milk", 5.0, "l", start),
        reorder("milk", 2.0, 0.0, 6.0),
        PantryEvent::Used(StockUsed {
            item: "milk".into(),
            quantity: 3.0,
            left: 2.0,
            at: now(),
        }),
        PantryEvent::RanLow(StockRanLow {
            item: "milk".into(),
            left: 2.0,
            unit: "l".into(),
            days_left: Some(2.0 / 0.3),
            buy: 4.0,
        }),
    ];
    given::<Pantry>(events.clone())
        .when(use_item("milk", 1.0))
        .then([PantryEvent::Used(StockUsed {
            item: "milk".into(),
            quantity: 1.0,
            left: 1.0,
            at: now(),
        })]);
    // Stocking up above the level re-arms the report.
    let mut restocked = events;
    restocked.push(stocked("milk", 6.0, "l", now()));
    let state = given::<Pantry>(restocked).state().clone();
    assert!(!state.items["milk"].reported_low);
}

#[test]
fn running_out_within_the_lead_time_reports_it_low() {
    // 7 kg used over 7 days: 1 kg a day; the 3 kg left last 3 days < 4.
    let start = now() - Duration::days(7);
    given::<Pantry>([
        stocked("flour", 10.0, "kg", start),
        reorder("flour", 0.5, 4.0, 10.0),
    ])
    .when(use_item("flour", 7.0))
    .then_matches(|events| {
        assert_eq!(events.len(), 2);
        let PantryEvent::RanLow(low) = &events[1] else {
            panic!("expected a low-stock report, got {events:?}");
        };
        assert_eq!(low.left, 3.0);
        assert_eq!(low.days_left, Some(3.0));
        assert_eq!(low.buy, 7.0);
    });
}

// ------------------------------------------------------- SetReorderLevel

#[test]
fn setting_a_reorder_level_records_it() {
    given::<Pantry>([stocked("rice", 5.0, "kg", now())])
        .when(PantryCommand::SetReorderLevel {
            item: "rice".into(),
            reorder_below: 1.0,
            lead_days: 2.0,
            restock_to: 4.0,
        })
        .then([reorder("rice", 1.0, 2.0, 4.0)]);
}

#[test]
fn a_reorder_level_needs_a_known_item_and_a_restock_above_it() {
    let set = |below: f64, lead: f64, to: f64| PantryCommand::SetReorderLevel {
        item: "rice".into(),
        reorder_below: below,
        lead_days: lead,
        restock_to: to,
    };
    given::<Pantry>([])
        .when(set(1.0, 0.0, 4.0))
        .then_rejected("unknown_item");
    let rice = || [stocked("rice", 5.0, "kg", now())];
    given::<Pantry>(rice())
        .when(set(4.0, 0.0, 4.0))
        .then_rejected("restock_not_above_reorder");
    given::<Pantry>(rice())
        .when(set(1.0, -1.0, 4.0))
        .then_rejected("lead_days_invalid");
    given::<Pantry>(rice())
        .when(set(-1.0, 0.0, 4.0))
        .then_rejected("quantity_invalid");
}

#[test]
fn a_reorder_level_above_the_stock_reports_it_low_at_once() {
    given::<Pantry>([stocked("rice", 1.0, "kg", now())])
        .when(PantryCommand::SetReorderLevel {
            item: "rice".into(),
            reorder_below: 2.0,
            lead_days: 0.0,
            restock_to: 5.0,
        })
        .then([
            reorder("rice", 2.0, 0.0, 5.0),
            PantryEvent::RanLow(StockRanLow {
                item: "rice".into(),
                left: 1.0,
                unit: "kg".into(),
                days_left: None,
                buy: 4.0,
            }),
        ]);
}

// ---------------------------------------------------------- shopping list

fn listed(item: &str, because: ListedBecause) -> ShoppingListEvent {
    ShoppingListEvent::Listed(ItemListed {
        item: item.into(),
        quantity: None,
        unit: None,
        because,
    })
}

#[test]
fn listing_an_item_puts_it_on_the_list() {
    given::<ShoppingList>([])
        .when(ShoppingListCommand::ListItem {
            item: "Eggs".into(),
            quantity: Some(12.0),
            unit: Some("pcs".into()),
            because: ListedBecause::Requested,
        })
        .then([ShoppingListEvent::Listed(ItemListed {
            item: "Eggs".into(),
            quantity: Some(12.0),
            unit: Some("pcs".into()),
            because: ListedBecause::Requested,
        })]);
}

#[test]
fn listing_an_item_already_on_the_list_changes_nothing() {
    given::<ShoppingList>([listed("eggs", ListedBecause::Requested)])
        .when(ShoppingListCommand::ListItem {
            item: "EGGS".into(),
            quantity: None,
            unit: None,
            because: ListedBecause::LowStock,
        })
        .then([]);
}

#[test]
fn listing_needs_a_name_and_a_positive_quantity() {
    given::<ShoppingList>([])
        .when(ShoppingListCommand::ListItem {
            item: "".into(),
            quantity: None,
            unit: None,
            because: ListedBecause::Requested,
        })
        .then_rejected("item_required");
    given::<ShoppingList>([])
        .when(ShoppingListCommand::ListItem {
            item: "eggs".into(),
            quantity: Some(0.0),
            unit: None,
            because: ListedBecause::Requested,
        })
        .then_rejected("quantity_invalid");
}

#[test]
fn checking_off_an_item_takes_it_off_as_bought() {
    let state = given::<ShoppingList>([listed("eggs", ListedBecause::Requested)])
        .when(ShoppingListCommand::CheckOff {
            item: "eggs ".into(),
        })
        .then([ShoppingListEvent::CheckedOff(ItemCheckedOff {
            item: "eggs".into(),
        })]);
    assert!(state.open.is_empty());
    assert_eq!(state.bought, 1);
}

#[test]
fn checking_off_or_unlisting_what_is_not_listed_is_refused() {
    given::<ShoppingList>([])
        .when(ShoppingListCommand::CheckOff {
            item: "eggs".into(),
        })
        .then_rejected("not_on_list");
    given::<ShoppingList>([
        listed("eggs", ListedBecause::Requested),
        ShoppingListEvent::CheckedOff(ItemCheckedOff {
            item: "eggs".into(),
        }),
    ])
    .when(ShoppingListCommand::Unlist {
        item: "eggs".into(),
    })
    .then_rejected("not_on_list");
}

#[test]
fn unlisting_takes_an_item_off_unbought() {
    let state = given::<ShoppingList>([listed("eggs", ListedBecause::LowStock)])
        .when(ShoppingListCommand::Unlist {
            item: "Eggs".into(),
        })
        .then([ShoppingListEvent::Unlisted(ItemUnlisted {
            item: "eggs".into(),
        })]);
    assert_eq!(state.bought, 0);
}

// ------------------------------------------------------------- properties

fn pantry_command() -> impl Strategy<Value = PantryCommand> {
    let item = prop::sample::select(vec!["rice", "Rice", "milk", "eggs"]);
    let unit = prop::sample::select(vec!["kg", "l"]);
    prop_oneof![
        (item.clone(), 0.0..10.0f64, unit).prop_map(|(item, quantity, unit)| {
            PantryCommand::StockItem {
                item: item.into(),
                quantity,
                unit: unit.into(),
            }
        }),
        (item.clone(), 0.0..5.0f64).prop_map(|(item, quantity)| use_item(item, quantity)),
        (item, 0.0..3.0f64, 0.0..5.0f64, 0.0..12.0f64).prop_map(|(item, below, lead, to)| {
            PantryCommand::SetReorderLevel {
                item: item.into(),
                reorder_below: below,
                lead_days: lead,
                restock_to: to,
            }
        }),
    ]
}

fn list_command() -> impl Strategy<Value = ShoppingListCommand> {
    let item = prop::sample::select(vec!["eggs", "Eggs", "bread", "tea"]);
    prop_oneof![
        (item.clone(), prop::option::of(0.5..6.0f64)).prop_map(|(item, quantity)| {
            ShoppingListCommand::ListItem {
                item: item.into(),
                quantity,
                unit: None,
                because: ListedBecause::Requested,
            }
        }),
        item.clone()
            .prop_map(|item| ShoppingListCommand::CheckOff { item: item.into() }),
        item.prop_map(|item| ShoppingListCommand::Unlist { item: item.into() }),
    ]
}

proptest! {
    #[test]
    fn a_replayed_pantry_equals_the_live_one(
        commands in prop::collection::vec((pantry_command(), 0i64..72), 0..40)
    ) {
        let mut at = now();
        let timed = commands.into_iter().map(|(command, hours)| {
            at += Duration::hours(hours);
            (command, at)
        });
        let (live, replayed) = live_and_replayed::<Pantry>(timed);
        prop_assert_eq!(live, replayed);
    }

    #[test]
    fn a_replayed_shopping_list_equals_the_live_one(
        commands in prop::collection::vec(list_command(), 0..40)
    ) {
        let (live, replayed) =
            live_and_replayed::<ShoppingList>(commands.into_iter().map(|c| (c, now())));
        prop_assert_eq!(live, replayed);
    }
}
