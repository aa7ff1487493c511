//! Maintenance: tasks upcoming, due and overdue as of an instant, by date
//! and by usage; done, removed and retired; erasure has nothing to drop.

use std::sync::Arc;

use steward_events::domain::maintenance::{
    AssetRegistered, AssetRetired, AssetUsageRecorded, DueBecause, MaintenanceInterval,
    MaintenanceTaskAdded, MaintenanceTaskDone, MaintenanceTaskFellDue, MaintenanceTaskRemoved,
};
use steward_projections::read_models::maintenance::{
    self, Maintenance, MaintenanceTask, TaskFilter, TaskStatus,
};

use crate::read_model_support::{OWNER, at, catch_up, day, erase, rebuild, record, tables};
use crate::support::{Fixture, on_both_backends};

on_both_backends!(
    tasks_are_upcoming_due_and_overdue_as_of_an_instant,
    removed_tasks_and_retired_assets_disappear_and_erasure_changes_nothing,
);

async fn tasks_as_of(f: &Fixture, as_of: &str, due_only: bool) -> Vec<MaintenanceTask> {
    catch_up(f, Arc::new(Maintenance)).await;
    let tables = tables(f, "maintenance").await;
    let filter = TaskFilter {
        asset_id: None,
        due_only,
    };
    maintenance::tasks(&f.db, &tables, at(as_of), &filter)
        .await
        .expect("tasks")
}

async fn statuses(f: &Fixture, as_of: &str) -> Vec<(String, TaskStatus)> {
    tasks_as_of(f, as_of, false)
        .await
        .into_iter()
        .map(|t| (t.task_id, t.status))
        .collect()
}

async fn set_up(f: &Fixture) {
    record(
        f,
        "asset-boiler",
        &AssetRegistered {
            name: "Boiler".to_owned(),
            kind: "boiler".to_owned(),
            location: Some("utility room".to_owned()),
            usage_unit: None,
            at: at("2025-01-01T00:00:00Z"),
        },
    )
    .await;
    record(
        f,
        "asset-boiler",
        &MaintenanceTaskAdded {
            task_id: "service".to_owned(),
            title: "Annual service".to_owned(),
            interval: MaintenanceInterval {
                every_days: None,
                every_months: Some(12),
                every_usage: None,
            },
            grace_days: 7,
            due_on: Some(day("2026-03-10")),
            due_usage: None,
        },
    )
    .await;
    record(
        f,
        "asset-boiler",
        &MaintenanceTaskAdded {
            task_id: "pressure".to_owned(),
            title: "Check the pressure".to_owned(),
            interval: MaintenanceInterval {
                every_days: Some(30),
                every_months: None,
                every_usage: None,
            },
            grace_days: 3,
            due_on: Some(day("2026-04-01")),
            due_usage: None,
        },
    )
    .await;
    record(
        f,
        "asset-car",
        &AssetRegistered {
            name: "Family car".to_owned(),
            kind: "car".to_owned(),
            location: None,
            usage_unit: Some("km".to_owned()),
            at: at("2025-01-01T00:00:00Z"),
        },
    )
    .await;
    record(
        f,
        "asset-car",
        &MaintenanceTaskAdded {
            task_id: "oil".to_owned(),
            title: "Change the oil".to_owned(),
            interval: MaintenanceInterval {
                every_days: None,
                every_months: None,
                every_usage: Some(10_000.0),
            },
            grace_days: 14,
            due_on: None,
            due_usage: Some(60_000.0),
        },
    )
    .await;
    record(
        f,
        "asset-car",
        &AssetUsageRecorded {
            reading: 59_000.0,
            at: at("2026-03-01T00:00:00Z"),
        },
    )
    .await;
}

fn service() -> MaintenanceTask {
    MaintenanceTask {
        asset_id: "boiler".to_owned(),
        asset_name: "Boiler".to_owned(),
        asset_kind: "boiler".to_owned(),
        location: Some("utility room".to_owned()),
        task_id: "service".to_owned(),
        title: "Annual service".to_owned(),
        status: TaskStatus::Due,
        due_on: Some(day("2026-03-10")),
        due_usage: None,
        reading: None,
        usage_unit: None,
        due_because: None,
        due_since: Some(day("2026-03-10")),
        overdue_on: Some(day("2026-03-17")),
        last_done_at: None,
    }
}

fn oil() -> MaintenanceTask {
    MaintenanceTask {
        asset_id: "car".to_owned(),
        asset_name: "Family car".to_owned(),
        asset_kind: "car".to_owned(),
        location: None,
        task_id: "oil".to_owned(),
        title: "Change the oil".to_owned(),
        status: TaskStatus::Upcoming,
        due_on: None,
        due_usage: Some(60_000.0),
        reading: Some(59_000.0),
        usage_unit: Some("km".to_owned()),
        due_because: None,
        due_since: None,
        overdue_on: None,
        last_done_at: None,
    }
}

fn statuses_of(list: &[(&str, TaskStatus)]) -> Vec<(String, TaskStatus)> {
    list.iter()
        .map(|(id, status)| ((*id).to_owned(), *status))
        .collect()
}

async fn tasks_are_upcoming_due_and_overdue_as_of_an_instant(f: Fixture) {
    set_up(&f).await;
    use TaskStatus::{Due, Overdue, Upcoming};

    // The evening before the service's day nothing is due.
    assert!(
        tasks_as_of(&f, "2026-03-09T23:59:59Z", true)
            .await
            .is_empty()
    );
    assert_eq!(
        statuses(&f, "2026-03-09T23:59:59Z").await,
        statuses_of(&[
            ("oil", Upcoming),
            ("service", Upcoming),
            ("pressure", Upcoming)
        ])
    );
    // From its first instant the day makes it due, before the asset's timer
    // records it; a week later it is overdue.
    assert_eq!(
        tasks_as_of(&f, "2026-03-10T00:00:00Z", true).await,
        [service()]
    );
    assert_eq!(
        tasks_as_of(&f, "2026-03-17T00:00:00Z", true).await,
        [MaintenanceTask {
            status: Overdue,
            ..service()
        }]
    );

    // The asset records both falling due: the service by date, the oil
    // when the reading passes 60 000 km.
    record(
        &f,
        "asset-boiler",
        &MaintenanceTaskFellDue {
            task_id: "service".to_owned(),
            because: DueBecause::Date,
            since: day("2026-03-10"),
            overdue_on: day("2026-03-17"),
            reading: None,
        },
    )
    .await;
    record(
        &f,
        "asset-car",
        &AssetUsageRecorded {
            reading: 60_500.0,
            at: at("2026-03-12T08:00:00Z"),
        },
    )
    .await;
    // Reaching the reading makes the oil due at once.
    assert_eq!(
        statuses(&f, "2026-03-12T09:00:00Z").await,
        statuses_of(&[("oil", Due), ("service", Due), ("pressure", Upcoming)])
    );
    record(
        &f,
        "asset-car",
        &MaintenanceTaskFellDue {
            task_id: "oil".to_owned(),
            because: DueBecause::Usage,
            since: day("2026-03-12"),
            overdue_on: day("2026-03-26"),
            reading: Some(60_500.0),
        },
    )
    .await;
    let oil_due = MaintenanceTask {
        status: Due,
        reading: Some(60_500.0),
        due_because: Some(DueBecause::Usage),
        due_since: Some(day("2026-03-12")),
        overdue_on: Some(day("2026-03-26")),
        ..oil()
    };
    let service_fell_due = MaintenanceTask {
        due_because: Some(DueBecause::Date),
        ..service()
    };
    assert_eq!(
        tasks_as_of(&f, "2026-03-12T09:00:00Z", true).await,
        [service_fell_due.clone(), oil_due.clone()]
    );
    // Overdue comes first.
    assert_eq!(
        tasks_as_of(&f, "2026-03-20T09:00:00Z", true).await,
        [
            MaintenanceTask {
                status: Overdue,
                ..service_fell_due
            },
            oil_due.clone()
        ]
    );

    // Done, the service is next due in a year.
    record(
        &f,
        "asset-boiler",
        &MaintenanceTaskDone {
            task_id: "service".to_owned(),
            at: at("2026-03-21T10:00:00Z"),
            usage_reading: None,
            due_on: Some(day("2027-03-21")),
            due_usage: None,
        },
    )
    .await;
    assert_eq!(
        tasks_as_of(&f, "2026-03-21T11:00:00Z", false).await,
        [
            oil_due,
            MaintenanceTask {
                status: Upcoming,
                due_on: Some(day("2026-04-01")),
                due_since: None,
                overdue_on: None,
                task_id: "pressure".to_owned(),
                title: "Check the pressure".to_owned(),
                ..service()
            },
            MaintenanceTask {
                status: Upcoming,
                due_on: Some(day("2027-03-21")),
                due_since: None,
                overdue_on: None,
                last_done_at: Some(at("2026-03-21T10:00:00Z")),
                ..service()
            },
        ]
    );
}

async fn removed_tasks_and_retired_assets_disappear_and_erasure_changes_nothing(f: Fixture) {
    set_up(&f).await;
    let as_of = "2026-04-02T00:00:00Z";
    use TaskStatus::{Due, Overdue, Upcoming};
    assert_eq!(
        statuses(&f, as_of).await,
        statuses_of(&[("service", Overdue), ("pressure", Due), ("oil", Upcoming)])
    );
    record(
        &f,
        "asset-boiler",
        &MaintenanceTaskRemoved {
            task_id: "pressure".to_owned(),
        },
    )
    .await;
    record(
        &f,
        "asset-car",
        &AssetRetired {
            at: at("2026-03-30T00:00:00Z"),
        },
    )
    .await;
    let left = tasks_as_of(&f, as_of, false).await;
    assert_eq!(
        left,
        [MaintenanceTask {
            status: Overdue,
            ..service()
        }]
    );

    erase(&f, OWNER).await;
    assert_eq!(tasks_as_of(&f, as_of, false).await, left);
    rebuild(&f, Arc::new(Maintenance)).await;
    assert_eq!(tasks_as_of(&f, as_of, false).await, left);
}
