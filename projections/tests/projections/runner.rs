//! Checkpoints, batching, failures, rebuilds and replays, with the
//! `Ledger` test projection.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;
use steward_projections::{
    AsOf, ProjectionMetrics, Request, RunnerOptions, State, catalog, live_tables, replay, status,
};
use tokio_util::sync::CancellationToken;

use crate::support::{Fixture, Ledger, eventually, ledger_rows, live_ledger, on_both_backends};

on_both_backends!(
    catching_up_applies_every_event_once_in_order,
    catching_up_batches_and_live_applies_one_at_a_time,
    a_poison_event_stops_the_projection_there_until_fixed,
    a_new_version_is_built_beside_the_live_tables_and_swapped,
    a_requested_rebuild_serves_whole_answers_throughout,
    replay_as_of_a_position_equals_the_live_model_then,
    replay_as_of_an_instant_takes_events_recorded_until_then,
    status_reports_position_lag_and_state,
    projections_catch_up_side_by_side,
    a_rebuild_asked_for_while_running_keeps_the_live_model_following,
);

async fn catching_up_applies_every_event_once_in_order(f: Fixture) {
    let mut positions = Vec::new();
    for n in 0..7 {
        positions.push(
            f.append(&format!("note-{}", n % 3), "Noted", json!({"n": n}))
                .await,
        );
    }
    let ledger = Arc::new(Ledger::new(1));
    let live = f
        .runner(ledger.clone())
        .catch_up()
        .await
        .expect("catches up");
    assert_eq!(live.position, positions[6].global_position);
    assert_eq!(live.events_applied, 7);
    // Again: nothing new, nothing applied twice.
    let again = f.runner(ledger).catch_up().await.expect("catches up");
    assert_eq!(again.events_applied, 7);
    let expected: Vec<_> = positions
        .iter()
        .map(|event| {
            (
                i64::try_from(event.global_position.commit()).expect("small"),
                "Noted".to_owned(),
            )
        })
        .collect();
    assert_eq!(live_ledger(&f.db).await, expected);
}

async fn catching_up_batches_and_live_applies_one_at_a_time(f: Fixture) {
    for n in 0..25 {
        f.append("note-1", "Noted", json!({"n": n})).await;
    }
    let registry = prometheus::Registry::new();
    let metrics = ProjectionMetrics::new(&registry).expect("metrics");
    let runner = f
        .runner_with(
            Arc::new(Ledger::new(1)),
            RunnerOptions {
                max_batch: 10,
                ..RunnerOptions::default()
            },
        )
        .with_metrics(metrics.clone());
    let batches = |metrics: &ProjectionMetrics| {
        metrics
            .batch_duration
            .with_label_values(&["ledger"])
            .get_sample_count()
    };
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { runner.run(stop).await }
    });
    // The metrics count a batch just after its commit: wait for both.
    eventually("the stored events", || async {
        (live_tables(&f.db, "ledger").await.is_ok()
            && live_ledger(&f.db).await.len() == 25
            && batches(&metrics) >= 3)
            .then_some(())
    })
    .await;
    // 25 stored events in batches of at most 10.
    assert_eq!(batches(&metrics), 3);
    for n in 0..3 {
        f.append("note-1", "Noted", json!({"live": n})).await;
        let expected = 4 + n as u64;
        eventually("a live event", || async {
            (live_ledger(&f.db).await.len() == 26 + n && batches(&metrics) >= expected)
                .then_some(())
        })
        .await;
        assert_eq!(
            batches(&metrics),
            expected,
            "each live event in its own transaction"
        );
    }
    stop.cancel();
    running.await.expect("joins").expect("runs");
}

async fn a_poison_event_stops_the_projection_there_until_fixed(f: Fixture) {
    let before = f.append("note-1", "Noted", json!({})).await;
    let poison = f.append("note-1", "Poison", json!({})).await;
    let after = f.append("note-1", "Noted", json!({})).await;
    let ledger = Arc::new(Ledger::new(1));
    let runner = f.runner(ledger.clone());

    let stopped = runner.catch_up().await.expect("records the failure");
    assert_eq!(
        stopped.position, before.global_position,
        "kept its last good state"
    );
    let failure = stopped.failure.expect("a failure is recorded");
    assert_eq!(failure.position, poison.global_position.to_string());
    assert_eq!(failure.event_id, poison.event_id.to_string());
    assert!(
        failure.message.contains("poison is not food"),
        "{}",
        failure.message
    );
    let statuses = status(&f.db, &f.store, &[ledger.clone() as _])
        .await
        .expect("status");
    assert_eq!(statuses[0].state, State::Failed);
    // Not skipped: trying again stops at the same event.
    let again = runner.catch_up().await.expect("records the failure");
    assert_eq!(again.position, before.global_position);

    // A fix (here: the projection learns to take poison) and it resumes.
    ledger.cured.store(true, Ordering::SeqCst);
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let stop = stop.clone();
        let runner = f.runner(ledger.clone());
        async move { runner.run(stop).await }
    });
    eventually("the projection to resume", || async {
        let rows = ledger_rows(
            &f.db,
            &catalog::generations(&f.db, "ledger")
                .await
                .ok()?
                .last()?
                .tables(),
        )
        .await;
        (rows.len() == 3).then_some(())
    })
    .await;
    stop.cancel();
    running.await.expect("joins").expect("runs");
    let live = catalog::live(&f.db, "ledger")
        .await
        .expect("catalog")
        .expect("live");
    assert_eq!(live.position, after.global_position);
    assert_eq!(live.failure, None);
    let statuses = status(&f.db, &f.store, &[ledger as _])
        .await
        .expect("status");
    assert_eq!(statuses[0].state, State::Live);
}

async fn a_new_version_is_built_beside_the_live_tables_and_swapped(f: Fixture) {
    for n in 0..5 {
        f.append("note-1", "Noted", json!({"n": n})).await;
    }
    let v1 = f
        .runner(Arc::new(Ledger::new(1)))
        .catch_up()
        .await
        .expect("v1");
    let v2 = f
        .runner(Arc::new(Ledger::new(2)))
        .catch_up()
        .await
        .expect("v2");
    assert_eq!(v2.version, 2);
    assert_ne!(v1.generation, v2.generation);
    assert_eq!(
        live_tables(&f.db, "ledger").await.expect("live"),
        v2.tables()
    );
    assert_eq!(ledger_rows(&f.db, &v2.tables()).await.len(), 5);
    let generations = catalog::generations(&f.db, "ledger")
        .await
        .expect("catalog");
    let old = generations
        .iter()
        .find(|g| g.generation == v1.generation)
        .expect("old");
    assert_eq!(old.state, steward_projections::GenerationState::Retired);
    // Kept for readers that looked it up just before the swap.
    assert_eq!(ledger_rows(&f.db, &v1.tables()).await.len(), 5);
}

async fn a_requested_rebuild_serves_whole_answers_throughout(f: Fixture) {
    for n in 0..40 {
        f.append(&format!("note-{}", n % 4), "Noted", json!({"n": n}))
            .await;
    }
    f.runner(Arc::new(Ledger::new(1)))
        .catch_up()
        .await
        .expect("built");
    let first = live_tables(&f.db, "ledger").await.expect("live");
    catalog::request(&f.db, "ledger", Request::Rebuild)
        .await
        .expect("request");

    let slow = Arc::new(Ledger {
        delay: Some(Duration::from_millis(10)),
        ..Ledger::new(1)
    });
    let rebuilding = tokio::spawn({
        let runner = f.runner_with(
            slow,
            RunnerOptions {
                max_batch: 5,
                ..RunnerOptions::default()
            },
        );
        async move { runner.catch_up().await }
    });
    let mut reads = 0;
    let mut saw_rebuilding = false;
    while !rebuilding.is_finished() {
        let statuses = status(&f.db, &f.store, &[Arc::new(Ledger::new(1)) as _])
            .await
            .expect("status");
        saw_rebuilding |= statuses[0].state == State::Rebuilding;
        let tables = live_tables(&f.db, "ledger")
            .await
            .expect("always a live generation");
        assert_eq!(
            ledger_rows(&f.db, &tables).await.len(),
            40,
            "never a half-built model"
        );
        reads += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rebuilt = rebuilding.await.expect("joins").expect("rebuilds");
    assert!(
        reads > 5 && saw_rebuilding,
        "read {reads} times while rebuilding"
    );
    let now = live_tables(&f.db, "ledger").await.expect("live");
    assert_ne!(now, first, "a new generation serves");
    assert_eq!(now, rebuilt.tables());
    assert_eq!(live_ledger(&f.db).await.len(), 40);
    let pending = catalog::generations(&f.db, "ledger")
        .await
        .expect("catalog");
    assert!(
        pending
            .iter()
            .all(|g| g.state != steward_projections::GenerationState::Building)
    );
}

async fn replay_as_of_a_position_equals_the_live_model_then(f: Fixture) {
    let ledger = Arc::new(Ledger::new(1));
    for n in 0..6 {
        f.append("note-1", "Noted", json!({"n": n})).await;
    }
    f.runner(ledger.clone())
        .catch_up()
        .await
        .expect("caught up");
    let then = live_ledger(&f.db).await;
    let head_then = f.head().await;
    for n in 0..4 {
        f.append("note-2", "Amended", json!({"n": n})).await;
    }
    f.runner(ledger.clone())
        .catch_up()
        .await
        .expect("caught up");
    assert_eq!(live_ledger(&f.db).await.len(), 10);

    let replayed = replay(&f.db, &f.store, ledger.clone(), AsOf::Position(head_then))
        .await
        .expect("replays");
    assert_eq!(replayed.reached(), Some(head_then));
    assert_eq!(ledger_rows(&f.db, replayed.tables()).await, then);
    let tables = replayed.tables().clone();
    replayed.discard().await.expect("dropped");
    let gone = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {}",
        tables.name("ledger_events")
    )))
    .fetch_one(f.db.pool())
    .await;
    assert!(gone.is_err(), "the replay's tables are dropped");
    // The live model is untouched.
    assert_eq!(live_ledger(&f.db).await.len(), 10);
}

async fn replay_as_of_an_instant_takes_events_recorded_until_then(f: Fixture) {
    let ledger = Arc::new(Ledger::new(1));
    let first = f.append("note-1", "Noted", json!({})).await;
    let second = f.append("note-1", "Noted", json!({})).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    f.append("note-1", "Amended", json!({})).await;
    let replayed = replay(&f.db, &f.store, ledger, AsOf::Time(second.recorded_at))
        .await
        .expect("replays");
    let rows = ledger_rows(&f.db, replayed.tables()).await;
    assert_eq!(
        rows.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
        ["Noted", "Noted"]
    );
    assert_eq!(
        rows[0].0,
        i64::try_from(first.global_position.commit()).expect("small")
    );
    replayed.discard().await.expect("dropped");
}

async fn status_reports_position_lag_and_state(f: Fixture) {
    let ledger = Arc::new(Ledger::new(1));
    let projections = [ledger.clone() as _];
    let before = status(&f.db, &f.store, &projections).await.expect("status");
    assert_eq!(before[0].state, State::NotBuilt);
    for n in 0..3 {
        f.append("note-1", "Noted", json!({"n": n})).await;
    }
    f.runner(ledger.clone())
        .catch_up()
        .await
        .expect("caught up");
    let third = f.append("note-1", "Noted", json!({})).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let behind = status(&f.db, &f.store, &projections).await.expect("status");
    assert_eq!(behind[0].state, State::CatchingUp);
    assert_eq!(behind[0].events_applied, 3);
    assert!(behind[0].lag_events >= 1);
    assert!(behind[0].lag_seconds >= 1.0, "{}", behind[0].lag_seconds);
    f.runner(ledger).catch_up().await.expect("caught up");
    let live = status(&f.db, &f.store, &projections).await.expect("status");
    assert_eq!(live[0].state, State::Live);
    assert_eq!(live[0].position, third.global_position);
    assert_eq!(live[0].lag_events, 0);
    assert_eq!(live[0].lag_seconds, 0.0);
}

async fn projections_catch_up_side_by_side(f: Fixture) {
    for n in 0..150 {
        f.append(&format!("note-{}", n % 7), "Noted", json!({"n": n}))
            .await;
    }
    let projections: Vec<Arc<dyn steward_projections::Projection>> = vec![
        Arc::new(Ledger::new(1)),
        Arc::new(steward_projections::read_models::timeline::Timeline),
        Arc::new(steward_projections::read_models::inbox::Inbox),
    ];
    let mut running = Vec::new();
    for projection in projections {
        let runner = f.runner_with(
            projection,
            RunnerOptions {
                max_batch: 3,
                ..RunnerOptions::default()
            },
        );
        running.push(tokio::spawn(async move { runner.catch_up().await }));
    }
    for runner in running {
        let generation = runner
            .await
            .expect("joins")
            .expect("catches up beside the others");
        assert_eq!(generation.events_applied, 150);
        assert_eq!(generation.state, steward_projections::GenerationState::Live);
    }
}

async fn a_rebuild_asked_for_while_running_keeps_the_live_model_following(f: Fixture) {
    for n in 0..30 {
        f.append("note-1", "Noted", json!({"n": n})).await;
    }
    let slow = Arc::new(Ledger {
        delay: Some(Duration::from_millis(30)),
        ..Ledger::new(1)
    });
    let runner = f.runner_with(
        slow,
        RunnerOptions {
            max_batch: 5,
            housekeeping_every: Duration::from_millis(50),
            ..RunnerOptions::default()
        },
    );
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { runner.run(stop).await }
    });
    eventually("the first generation", || async {
        (live_tables(&f.db, "ledger").await.is_ok() && live_ledger(&f.db).await.len() == 30)
            .then_some(())
    })
    .await;
    let first = live_tables(&f.db, "ledger").await.expect("live");

    catalog::request(&f.db, "ledger", Request::Rebuild)
        .await
        .expect("request");
    eventually("the rebuild to start", || async {
        let generations = catalog::generations(&f.db, "ledger").await.ok()?;
        generations
            .iter()
            .any(|g| g.state == steward_projections::GenerationState::Building)
            .then_some(())
    })
    .await;
    for n in 0..3 {
        f.append("note-1", "Noted", json!({"late": n})).await;
    }
    // The old generation takes the new events while the new one is built.
    eventually("the live generation to follow", || async {
        (ledger_rows(&f.db, &first).await.len() == 33).then_some(())
    })
    .await;
    assert_eq!(
        live_tables(&f.db, "ledger").await.expect("live"),
        first,
        "not swapped yet"
    );
    // Then the rebuilt one takes over, with every event.
    eventually("the swap", || async {
        let now = live_tables(&f.db, "ledger").await.ok()?;
        (now != first && ledger_rows(&f.db, &now).await.len() == 33).then_some(())
    })
    .await;
    assert!(
        !catalog::is_requested(&f.db, "ledger", Request::Rebuild)
            .await
            .expect("catalog"),
        "the request is done"
    );
    // And it follows the log from there.
    f.append("note-1", "Noted", json!({"after": true})).await;
    eventually("the new generation to follow", || async {
        (live_ledger(&f.db).await.len() == 34).then_some(())
    })
    .await;
    stop.cancel();
    running.await.expect("joins").expect("runs");
}
