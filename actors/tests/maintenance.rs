//! Assets and their maintenance tasks: given events / when command / then
//! events.

use chrono::{DateTime, Duration, NaiveDate, TimeZone as _, Utc};
use proptest::prelude::*;
use steward_actors::maintenance::{Asset, AssetCommand, NextDue};
use steward_actors::testing::{default_now, given, live_and_replayed};
use steward_events::domain::maintenance::{
    AssetEvent, AssetRegistered, AssetRetired, AssetUsageRecorded, DueBecause, MaintenanceInterval,
    MaintenanceTaskAdded, MaintenanceTaskDone, MaintenanceTaskFellDue, MaintenanceTaskOverdue,
    MaintenanceTaskRemoved,
};

fn now() -> DateTime<Utc> {
    default_now()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid day")
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 9, 0, 0)
        .single()
        .expect("a valid instant")
}

fn today() -> NaiveDate {
    now().date_naive()
}

fn boiler() -> AssetEvent {
    AssetEvent::Registered(AssetRegistered {
        name: "Boiler".into(),
        kind: "boiler".into(),
        location: Some("utility room".into()),
        usage_unit: None,
        at: now(),
    })
}

fn car() -> AssetEvent {
    AssetEvent::Registered(AssetRegistered {
        name: "Family car".into(),
        kind: "car".into(),
        location: None,
        usage_unit: Some("km".into()),
        at: now(),
    })
}

fn usage(reading: f64) -> AssetEvent {
    AssetEvent::UsageRecorded(AssetUsageRecorded { reading, at: now() })
}

fn every_days(days: u32) -> MaintenanceInterval {
    MaintenanceInterval {
        every_days: Some(days),
        every_months: None,
        every_usage: None,
    }
}

fn every_months(months: u32) -> MaintenanceInterval {
    MaintenanceInterval {
        every_days: None,
        every_months: Some(months),
        every_usage: None,
    }
}

fn every_km(km: f64) -> MaintenanceInterval {
    MaintenanceInterval {
        every_days: None,
        every_months: None,
        every_usage: Some(km),
    }
}

fn added(
    task_id: &str,
    interval: MaintenanceInterval,
    due_on: Option<NaiveDate>,
    due_usage: Option<f64>,
) -> AssetEvent {
    AssetEvent::TaskAdded(MaintenanceTaskAdded {
        task_id: task_id.into(),
        title: "Service".into(),
        interval,
        grace_days: 7,
        due_on,
        due_usage,
    })
}

fn add(task_id: &str, interval: MaintenanceInterval) -> AssetCommand {
    AssetCommand::AddMaintenanceTask {
        task_id: task_id.into(),
        title: "Service".into(),
        interval,
        first_due: None,
        first_due_usage: None,
        grace_days: None,
    }
}

fn fell_due(
    task_id: &str,
    because: DueBecause,
    since: NaiveDate,
    reading: Option<f64>,
) -> AssetEvent {
    AssetEvent::TaskFellDue(MaintenanceTaskFellDue {
        task_id: task_id.into(),
        because,
        since,
        overdue_on: since + Duration::days(7),
        reading,
    })
}

fn overdue(task_id: &str, since: NaiveDate) -> AssetEvent {
    AssetEvent::TaskOverdue(MaintenanceTaskOverdue {
        task_id: task_id.into(),
        since,
        overdue_on: since + Duration::days(7),
    })
}

fn done(task_id: &str, when: DateTime<Utc>) -> AssetCommand {
    AssetCommand::RecordTaskDone {
        task_id: task_id.into(),
        at: Some(when),
        usage_reading: None,
    }
}

/// The boiler with its yearly service due on 1 April 2026.
fn serviced_boiler() -> Vec<AssetEvent> {
    vec![
        boiler(),
        added("service", every_months(12), Some(day(2026, 4, 1)), None),
    ]
}

// ---------------------------------------------------------- RegisterAsset

#[test]
fn registering_an_asset_records_it() {
    let state = given::<Asset>([])
        .when(AssetCommand::RegisterAsset {
            name: " Boiler ".into(),
            kind: "Boiler".into(),
            location: Some("utility room".into()),
            usage_unit: Some(" ".into()),
        })
        .then([boiler()]);
    assert!(state.registered.is_some());
}

#[test]
fn registering_again_changes_nothing_unless_it_differs() {
    let register = |name: &str| AssetCommand::RegisterAsset {
        name: name.into(),
        kind: "boiler".into(),
        location: Some("utility room".into()),
        usage_unit: None,
    };
    given::<Asset>([boiler()]).when(register("Boiler")).then([]);
    given::<Asset>([boiler()])
        .when(register("Old boiler"))
        .then_rejected("asset_already_registered");
    given::<Asset>([boiler(), AssetEvent::Retired(AssetRetired { at: now() })])
        .when(register("Boiler"))
        .then_rejected("asset_retired");
}

#[test]
fn an_asset_needs_a_name_and_a_kind() {
    let register = |name: &str, kind: &str| AssetCommand::RegisterAsset {
        name: name.into(),
        kind: kind.into(),
        location: None,
        usage_unit: None,
    };
    given::<Asset>([])
        .when(register(" ", "boiler"))
        .then_rejected("name_required");
    given::<Asset>([])
        .when(register("Boiler", ""))
        .then_rejected("kind_required");
    given::<Asset>([])
        .when(register(&"b".repeat(201), "boiler"))
        .then_rejected("too_long");
}

// ----------------------------------------------------- AddMaintenanceTask

#[test]
fn a_task_in_days_is_first_due_that_many_days_from_today() {
    let state = given::<Asset>([boiler()])
        .when(add("pressure", every_days(30)))
        .then([added(
            "pressure",
            every_days(30),
            Some(day(2026, 4, 1)),
            None,
        )]);
    assert_eq!(
        state.next_due("pressure"),
        Some(NextDue {
            on: Some(day(2026, 4, 1)),
            usage: None
        })
    );
    assert_eq!(state.next_due("nothing"), None);
}

#[test]
fn a_task_in_months_is_first_due_that_many_months_from_today() {
    given::<Asset>([boiler()])
        .when(add("service", every_months(12)))
        .then([added(
            "service",
            every_months(12),
            Some(day(2027, 3, 2)),
            None,
        )]);
}

#[test]
fn a_task_by_usage_is_first_due_that_much_from_the_reading() {
    given::<Asset>([car(), usage(42_000.0)])
        .when(add("oil", every_km(15_000.0)))
        .then([added("oil", every_km(15_000.0), None, Some(57_000.0))]);
    given::<Asset>([car()])
        .when(AssetCommand::AddMaintenanceTask {
            task_id: "oil".into(),
            title: "Service".into(),
            interval: every_km(15_000.0),
            first_due: None,
            first_due_usage: Some(50_000.0),
            grace_days: None,
        })
        .then([added("oil", every_km(15_000.0), None, Some(50_000.0))]);
}

#[test]
fn a_task_first_due_in_the_past_falls_due_at_once_and_may_be_overdue() {
    let long_ago = day(2026, 2, 1);
    given::<Asset>([boiler()])
        .when(AssetCommand::AddMaintenanceTask {
            task_id: "service".into(),
            title: "Service".into(),
            interval: every_months(12),
            first_due: Some(long_ago),
            first_due_usage: None,
            grace_days: None,
        })
        .then([
            added("service", every_months(12), Some(long_ago), None),
            fell_due("service", DueBecause::Date, long_ago, None),
            overdue("service", long_ago),
        ]);
}

#[test]
fn adding_the_same_task_again_changes_nothing_but_another_under_its_id_is_refused() {
    given::<Asset>(serviced_boiler())
        .when(add("service", every_months(12)))
        .then([]);
    given::<Asset>(serviced_boiler())
        .when(add("service", every_months(6)))
        .then_rejected("task_exists");
}

#[test]
fn a_task_needs_a_registered_asset_an_id_a_title_and_a_sound_interval() {
    given::<Asset>([])
        .when(add("service", every_months(12)))
        .then_rejected("asset_not_registered");
    given::<Asset>([boiler(), AssetEvent::Retired(AssetRetired { at: now() })])
        .when(add("service", every_months(12)))
        .then_rejected("asset_retired");
    given::<Asset>([boiler()])
        .when(add("a service", every_months(12)))
        .then_rejected("id_invalid");
    given::<Asset>([boiler()])
        .when(AssetCommand::AddMaintenanceTask {
            task_id: "service".into(),
            title: "".into(),
            interval: every_months(12),
            first_due: None,
            first_due_usage: None,
            grace_days: None,
        })
        .then_rejected("title_required");
    given::<Asset>([boiler()])
        .when(add(
            "service",
            MaintenanceInterval {
                every_days: None,
                every_months: None,
                every_usage: None,
            },
        ))
        .then_rejected("interval_required");
    given::<Asset>([boiler()])
        .when(add(
            "service",
            MaintenanceInterval {
                every_days: Some(30),
                every_months: Some(1),
                every_usage: None,
            },
        ))
        .then_rejected("interval_invalid");
    given::<Asset>([boiler()])
        .when(add("service", every_days(0)))
        .then_rejected("interval_invalid");
    given::<Asset>([car(), usage(1.0)])
        .when(add("oil", every_km(-5.0)))
        .then_rejected("interval_invalid");
    given::<Asset>([car(), usage(1.0)])
        .when(AssetCommand::AddMaintenanceTask {
            task_id: "oil".into(),
            title: "Oil".into(),
            interval: every_km(15_000.0),
            first_due: Some(day(2026, 6, 1)),
            first_due_usage: None,
            grace_days: None,
        })
        .then_rejected("interval_invalid");
    given::<Asset>([boiler()])
        .when(AssetCommand::AddMaintenanceTask {
            task_id: "service".into(),
            title: "Service".into(),
            interval: every_months(12),
            first_due: None,
            first_due_usage: None,
            grace_days: Some(400),
        })
        .then_rejected("grace_invalid");
}

#[test]
fn a_due_date_beyond_the_calendar_is_refused() {
    given::<Asset>([boiler()])
        .when(add("forever", every_days(u32::MAX)))
        .then_rejected("due_date_out_of_range");
}

#[test]
fn a_task_by_usage_needs_a_meter_and_a_reading() {
    given::<Asset>([boiler()])
        .when(add("hours", every_km(1_000.0)))
        .then_rejected("no_usage_meter");
    given::<Asset>([car()])
        .when(add("oil", every_km(15_000.0)))
        .then_rejected("usage_reading_required");
}

// --------------------------------------------------------- RecordTaskDone

#[test]
fn a_task_done_is_next_due_one_interval_later() {
    let state = given::<Asset>(serviced_boiler())
        .when(done("service", now()))
        .then([AssetEvent::TaskDone(MaintenanceTaskDone {
            task_id: "service".into(),
            at: now(),
            usage_reading: None,
            due_on: Some(day(2027, 3, 2)),
            due_usage: None,
        })]);
    assert_eq!(state.tasks["service"].last_done, Some(now()));
}

#[test]
fn a_monthly_task_done_at_the_end_of_a_month_is_due_at_the_end_of_a_shorter_one() {
    let monthly = || {
        vec![
            boiler(),
            added("filter", every_months(1), Some(day(2030, 1, 1)), None),
        ]
    };
    let next_due = |when: DateTime<Utc>| {
        let state = given::<Asset>(monthly())
            .at(when)
            .when(done("filter", when))
            .then_matches(|events| assert_eq!(events.len(), 1, "{events:?}"));
        state.next_due("filter").and_then(|due| due.on)
    };
    assert_eq!(next_due(at(2026, 1, 31)), Some(day(2026, 2, 28)));
    assert_eq!(next_due(at(2028, 1, 31)), Some(day(2028, 2, 29)));
    assert_eq!(next_due(at(2026, 3, 31)), Some(day(2026, 4, 30)));
    assert_eq!(next_due(at(2026, 2, 28)), Some(day(2026, 3, 28)));
    // Yearly from a leap day: the next 28 February.
    let yearly = given::<Asset>([
        boiler(),
        added("service", every_months(12), Some(day(2030, 1, 1)), None),
    ])
    .at(at(2028, 2, 29))
    .when(done("service", at(2028, 2, 29)))
    .then_matches(|_| {});
    assert_eq!(
        yearly.next_due("service").and_then(|due| due.on),
        Some(day(2029, 2, 28))
    );
}

#[test]
fn a_task_done_with_a_reading_counts_its_usage_from_it() {
    let events = vec![
        car(),
        usage(40_000.0),
        added("oil", every_km(15_000.0), None, Some(55_000.0)),
    ];
    let state = given::<Asset>(events.clone())
        .when(AssetCommand::RecordTaskDone {
            task_id: "oil".into(),
            at: None,
            usage_reading: Some(52_000.0),
        })
        .then([AssetEvent::TaskDone(MaintenanceTaskDone {
            task_id: "oil".into(),
            at: now(),
            usage_reading: Some(52_000.0),
            due_on: None,
            due_usage: Some(67_000.0),
        })]);
    assert_eq!(state.reading, Some(52_000.0));
    // Without a reading, from the last one.
    given::<Asset>(events)
        .when(done("oil", now()))
        .then([AssetEvent::TaskDone(MaintenanceTaskDone {
            task_id: "oil".into(),
            at: now(),
            usage_reading: None,
            due_on: None,
            due_usage: Some(55_000.0),
        })]);
}

#[test]
fn a_task_done_long_ago_may_be_due_again_at_once() {
    let then = now() - Duration::days(40);
    given::<Asset>([
        boiler(),
        added("pressure", every_days(30), Some(day(2026, 4, 1)), None),
    ])
    .when(done("pressure", then))
    .then([
        AssetEvent::TaskDone(MaintenanceTaskDone {
            task_id: "pressure".into(),
            at: then,
            usage_reading: None,
            due_on: Some(day(2026, 2, 20)),
            due_usage: None,
        }),
        fell_due("pressure", DueBecause::Date, day(2026, 2, 20), None),
        overdue("pressure", day(2026, 2, 20)),
    ]);
}

#[test]
fn a_task_done_is_refused_when_unknown_future_or_below_the_reading() {
    given::<Asset>(serviced_boiler())
        .when(done("descale", now()))
        .then_rejected("unknown_task");
    given::<Asset>(serviced_boiler())
        .when(done("service", now() + Duration::hours(1)))
        .then_rejected("done_in_future");
    given::<Asset>([])
        .when(done("service", now()))
        .then_rejected("asset_not_registered");
    let car_with_oil = vec![
        car(),
        usage(40_000.0),
        added("oil", every_km(15_000.0), None, Some(55_000.0)),
    ];
    given::<Asset>(car_with_oil)
        .when(AssetCommand::RecordTaskDone {
            task_id: "oil".into(),
            at: None,
            usage_reading: Some(39_000.0),
        })
        .then_rejected("usage_decreased");
    // Due by a given first reading, never read: its reading is needed.
    given::<Asset>([
        car(),
        added("oil", every_km(15_000.0), None, Some(15_000.0)),
    ])
    .when(done("oil", now()))
    .then_rejected("usage_reading_required");
}

// ------------------------------------------------------------ RecordUsage

#[test]
fn a_reading_is_recorded_and_may_make_a_task_due() {
    let events = vec![
        car(),
        usage(40_000.0),
        added("oil", every_km(15_000.0), None, Some(55_000.0)),
    ];
    given::<Asset>(events.clone())
        .when(AssetCommand::RecordUsage { reading: 50_000.0 })
        .then([AssetEvent::UsageRecorded(AssetUsageRecorded {
            reading: 50_000.0,
            at: now(),
        })]);
    let state = given::<Asset>(events)
        .when(AssetCommand::RecordUsage { reading: 55_010.0 })
        .then([
            AssetEvent::UsageRecorded(AssetUsageRecorded {
                reading: 55_010.0,
                at: now(),
            }),
            fell_due("oil", DueBecause::Usage, today(), Some(55_010.0)),
        ]);
    assert_eq!(state.tasks["oil"].due_since, Some(today()));
}

#[test]
fn a_task_due_by_usage_falls_due_once_per_cycle() {
    given::<Asset>([
        car(),
        usage(40_000.0),
        added("oil", every_km(15_000.0), None, Some(55_000.0)),
        usage(56_000.0),
        fell_due("oil", DueBecause::Usage, today(), Some(56_000.0)),
    ])
    .when(AssetCommand::RecordUsage { reading: 57_000.0 })
    .then([AssetEvent::UsageRecorded(AssetUsageRecorded {
        reading: 57_000.0,
        at: now(),
    })]);
}

#[test]
fn a_repeated_reading_changes_nothing_and_a_lower_one_is_refused() {
    given::<Asset>([car(), usage(40_000.0)])
        .when(AssetCommand::RecordUsage { reading: 40_000.0 })
        .then([]);
    given::<Asset>([car(), usage(40_000.0)])
        .when(AssetCommand::RecordUsage { reading: 39_999.0 })
        .then_rejected("usage_decreased");
    given::<Asset>([car()])
        .when(AssetCommand::RecordUsage { reading: f64::NAN })
        .then_rejected("reading_invalid");
    given::<Asset>([boiler()])
        .when(AssetCommand::RecordUsage { reading: 10.0 })
        .then_rejected("no_usage_meter");
}

// --------------------------------------------------------------- CheckDue

#[test]
fn a_task_falls_due_on_its_day_once() {
    let due = day(2026, 4, 1);
    let on_the_day = at(2026, 4, 1);
    given::<Asset>(serviced_boiler())
        .at(on_the_day - Duration::days(1))
        .when(AssetCommand::CheckDue {})
        .then([]);
    let state = given::<Asset>(serviced_boiler())
        .at(on_the_day)
        .when(AssetCommand::CheckDue {})
        .then([fell_due("service", DueBecause::Date, due, None)]);
    assert_eq!(state.tasks["service"].due_since, Some(due));
    let mut fell = serviced_boiler();
    fell.push(fell_due("service", DueBecause::Date, due, None));
    given::<Asset>(fell)
        .at(on_the_day + Duration::days(3))
        .when(AssetCommand::CheckDue {})
        .then([]);
}

#[test]
fn a_task_becomes_overdue_after_its_grace_days_once() {
    let due = day(2026, 4, 1);
    let mut fell = serviced_boiler();
    fell.push(fell_due("service", DueBecause::Date, due, None));
    given::<Asset>(fell.clone())
        .at(at(2026, 4, 7))
        .when(AssetCommand::CheckDue {})
        .then([]);
    let state = given::<Asset>(fell.clone())
        .at(at(2026, 4, 8))
        .when(AssetCommand::CheckDue {})
        .then([overdue("service", due)]);
    assert!(state.tasks["service"].overdue);
    fell.push(overdue("service", due));
    given::<Asset>(fell)
        .at(at(2026, 4, 20))
        .when(AssetCommand::CheckDue {})
        .then([]);
}

#[test]
fn a_late_check_reports_due_and_overdue_together_and_a_grace_can_be_chosen() {
    given::<Asset>(serviced_boiler())
        .at(at(2026, 5, 1))
        .when(AssetCommand::CheckDue {})
        .then([
            fell_due("service", DueBecause::Date, day(2026, 4, 1), None),
            overdue("service", day(2026, 4, 1)),
        ]);
    let no_grace = AssetEvent::TaskAdded(MaintenanceTaskAdded {
        task_id: "alarm".into(),
        title: "Test the smoke alarm".into(),
        interval: every_days(7),
        grace_days: 0,
        due_on: Some(day(2026, 3, 2)),
        due_usage: None,
    });
    given::<Asset>([boiler(), no_grace])
        .when(AssetCommand::CheckDue {})
        .then([
            AssetEvent::TaskFellDue(MaintenanceTaskFellDue {
                task_id: "alarm".into(),
                because: DueBecause::Date,
                since: today(),
                overdue_on: today(),
                reading: None,
            }),
            AssetEvent::TaskOverdue(MaintenanceTaskOverdue {
                task_id: "alarm".into(),
                since: today(),
                overdue_on: today(),
            }),
        ]);
}

#[test]
fn whichever_comes_first_makes_a_task_due() {
    let both = MaintenanceInterval {
        every_days: None,
        every_months: Some(12),
        every_usage: Some(15_000.0),
    };
    let events = vec![
        car(),
        usage(40_000.0),
        added("service", both, Some(day(2027, 3, 2)), Some(55_000.0)),
    ];
    // The usage first.
    given::<Asset>(events.clone())
        .when(AssetCommand::RecordUsage { reading: 55_000.0 })
        .then_matches(|events| {
            assert!(matches!(
                &events[1],
                AssetEvent::TaskFellDue(MaintenanceTaskFellDue {
                    because: DueBecause::Usage,
                    ..
                })
            ));
        });
    // The date first.
    given::<Asset>(events)
        .at(at(2027, 3, 2))
        .when(AssetCommand::CheckDue {})
        .then([fell_due(
            "service",
            DueBecause::Date,
            day(2027, 3, 2),
            Some(40_000.0),
        )]);
}

#[test]
fn a_done_task_starts_a_new_cycle() {
    let due = day(2026, 4, 1);
    let mut events = serviced_boiler();
    events.push(fell_due("service", DueBecause::Date, due, None));
    events.push(overdue("service", due));
    events.push(AssetEvent::TaskDone(MaintenanceTaskDone {
        task_id: "service".into(),
        at: at(2026, 4, 10),
        usage_reading: None,
        due_on: Some(day(2027, 4, 10)),
        due_usage: None,
    }));
    let state = given::<Asset>(events.clone()).state().clone();
    assert_eq!(state.tasks["service"].due_since, None);
    assert!(!state.tasks["service"].overdue);
    given::<Asset>(events)
        .at(at(2027, 4, 10))
        .when(AssetCommand::CheckDue {})
        .then([fell_due(
            "service",
            DueBecause::Date,
            day(2027, 4, 10),
            None,
        )]);
}

#[test]
fn checking_an_unregistered_or_retired_asset_does_nothing() {
    given::<Asset>([]).when(AssetCommand::CheckDue {}).then([]);
    let mut retired = serviced_boiler();
    retired.push(AssetEvent::Retired(AssetRetired { at: now() }));
    given::<Asset>(retired)
        .at(at(2026, 6, 1))
        .when(AssetCommand::CheckDue {})
        .then([]);
}

// ------------------------------------------------------------- RemoveTask

#[test]
fn removing_a_task() {
    let removed = AssetEvent::TaskRemoved(MaintenanceTaskRemoved {
        task_id: "service".into(),
    });
    let state = given::<Asset>(serviced_boiler())
        .when(AssetCommand::RemoveTask {
            task_id: "service".into(),
        })
        .then([removed.clone()]);
    assert!(state.tasks.is_empty());
    let mut events = serviced_boiler();
    events.push(removed);
    given::<Asset>(events)
        .when(AssetCommand::RemoveTask {
            task_id: "service".into(),
        })
        .then([]);
    given::<Asset>([boiler()])
        .when(AssetCommand::RemoveTask {
            task_id: "service".into(),
        })
        .then_rejected("unknown_task");
}

// ------------------------------------------------------------ RetireAsset

#[test]
fn retiring_an_asset_ends_its_tasks() {
    let retired = AssetEvent::Retired(AssetRetired { at: now() });
    let state = given::<Asset>(serviced_boiler())
        .when(AssetCommand::RetireAsset {})
        .then([retired.clone()]);
    assert!(state.retired);
    let mut events = serviced_boiler();
    events.push(retired);
    given::<Asset>(events.clone())
        .when(AssetCommand::RetireAsset {})
        .then([]);
    given::<Asset>(events)
        .when(done("service", now()))
        .then_rejected("asset_retired");
    given::<Asset>([])
        .when(AssetCommand::RetireAsset {})
        .then_rejected("asset_not_registered");
}

// ------------------------------------------------------------- properties

fn asset_command() -> impl Strategy<Value = AssetCommand> {
    let task = prop::sample::select(vec!["service", "oil", "tyres"]);
    let interval = prop_oneof![
        (1u32..60).prop_map(every_days),
        (1u32..13).prop_map(every_months),
        (1u32..20).prop_map(|thousands| every_km(f64::from(thousands) * 1_000.0)),
        (1u32..13, 1u32..20).prop_map(|(months, thousands)| MaintenanceInterval {
            every_days: None,
            every_months: Some(months),
            every_usage: Some(f64::from(thousands) * 1_000.0),
        }),
    ];
    prop_oneof![
        3 => any::<bool>().prop_map(|metered| AssetCommand::RegisterAsset {
            name: "Car".into(),
            kind: "car".into(),
            location: None,
            usage_unit: metered.then(|| "km".to_owned()),
        }),
        4 => (task.clone(), interval, prop::option::of(0u32..15)).prop_map(
            |(task, interval, grace)| AssetCommand::AddMaintenanceTask {
                task_id: task.into(),
                title: "Task".into(),
                interval,
                first_due: None,
                first_due_usage: None,
                grace_days: grace,
            }
        ),
        4 => (task.clone(), prop::option::of(0u32..100)).prop_map(|(task, reading)| {
            AssetCommand::RecordTaskDone {
                task_id: task.into(),
                at: None,
                usage_reading: reading.map(|r| f64::from(r) * 1_000.0),
            }
        }),
        4 => (0u32..100).prop_map(|r| AssetCommand::RecordUsage {
            reading: f64::from(r) * 1_000.0
        }),
        4 => Just(AssetCommand::CheckDue {}),
        2 => task.prop_map(|task| AssetCommand::RemoveTask {
            task_id: task.into()
        }),
        1 => Just(AssetCommand::RetireAsset {}),
    ]
}

proptest! {
    #[test]
    fn a_replayed_asset_equals_the_live_one(
        commands in prop::collection::vec((asset_command(), 0i64..40), 0..50)
    ) {
        let mut when = now();
        let timed = commands.into_iter().map(|(command, days)| {
            when += Duration::days(days);
            (command, when)
        });
        let (live, replayed) = live_and_replayed::<Asset>(timed);
        prop_assert_eq!(live, replayed);
    }
}

// ------------------------------------------------------------- JSON shape

#[test]
fn commands_read_from_the_envelope_s_json() {
    use serde_json::json;
    use steward_actors::CommandEnvelope;
    use steward_events::StreamId;

    let command = CommandEnvelope::new(
        StreamId::parse("asset-car").expect("a valid stream id"),
        "AddMaintenanceTask",
        json!({
            "task_id": "service",
            "title": "Service",
            "interval": { "every_months": 12, "every_usage": 15000 },
            "first_due": "2026-09-30",
        }),
        "user:alice",
    )
    .typed::<Asset>()
    .expect("a valid command");
    assert_eq!(
        command,
        AssetCommand::AddMaintenanceTask {
            task_id: "service".into(),
            title: "Service".into(),
            interval: MaintenanceInterval {
                every_days: None,
                every_months: Some(12),
                every_usage: Some(15_000.0),
            },
            first_due: Some(day(2026, 9, 30)),
            first_due_usage: None,
            grace_days: None,
        }
    );
    let check = CommandEnvelope::new(
        StreamId::parse("asset-car").expect("a valid stream id"),
        "CheckDue",
        json!({}),
        "timer",
    )
    .typed::<Asset>()
    .expect("a valid command");
    assert_eq!(check, AssetCommand::CheckDue {});
}
