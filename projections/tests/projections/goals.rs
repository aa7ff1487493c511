//! Goals: progress and pace as of a day (on track, behind, reached,
//! missed), adjustments, streaks, closed goals, erasure of the reason a
//! goal was given up.

use std::sync::Arc;

use chrono::NaiveDate;
use steward_events::domain::goals::{
    GoalAbandoned, GoalAtRisk, GoalCompleted, GoalDeadlineAdjusted, GoalDirection, GoalMeasure,
    GoalProgressRecorded, GoalSet, GoalStreakBroken, GoalStreakExtended, GoalTargetAdjusted,
    GoalTargetReached,
};
use steward_projections::read_models::goals::{
    self, GoalStatus, GoalView, Goals, Pace, PaceState, Streak,
};

use crate::read_model_support::{OWNER, at, catch_up, day, erase, rebuild, record, tables};
use crate::support::{Fixture, on_both_backends};

on_both_backends!(
    pace_is_on_track_behind_reached_or_missed_as_of_a_day,
    habits_keep_their_streak_and_closed_goals_are_left_out,
    erasing_the_owner_drops_why_a_goal_was_given_up,
);

async fn goals_on(f: &Fixture, today: &str, include_closed: bool) -> Vec<GoalView> {
    catch_up(f, Arc::new(Goals)).await;
    let tables = tables(f, "goals").await;
    goals::goals(&f.db, &tables, day(today), include_closed)
        .await
        .expect("goals")
}

async fn pace_on(f: &Fixture, today: &str) -> Option<Pace> {
    goals_on(f, today, false).await.remove(0).pace
}

/// Run 100 km from 1 to 21 March: twenty days.
fn run() -> GoalSet {
    GoalSet {
        title: "Run 100 km in March".to_owned(),
        metric: "distance".to_owned(),
        unit: "km".to_owned(),
        baseline: 0.0,
        target: 100.0,
        direction: GoalDirection::Increase,
        measure: GoalMeasure::Cumulative,
        start: day("2026-03-01"),
        deadline: day("2026-03-21"),
        habit: false,
    }
}

fn progress(value: f64, on: &str, current: f64) -> GoalProgressRecorded {
    GoalProgressRecorded {
        value,
        on: day(on),
        current,
        at: at("2026-03-09T20:00:00Z"),
    }
}

fn view(goal: &GoalSet, id: &str, current: f64, progress: f64) -> GoalView {
    GoalView {
        goal_id: id.to_owned(),
        title: goal.title.clone(),
        metric: goal.metric.clone(),
        unit: goal.unit.clone(),
        baseline: goal.baseline,
        target: goal.target,
        current,
        direction: goal.direction,
        measure: goal.measure,
        start: goal.start,
        deadline: goal.deadline,
        status: GoalStatus::Active,
        progress,
        target_reached_on: None,
        latest_progress_on: None,
        pace: None,
        at_risk: false,
        streak: None,
        closed_at: None,
        abandon_reason: None,
    }
}

async fn pace_is_on_track_behind_reached_or_missed_as_of_a_day(f: Fixture) {
    record(&f, "goal-run", &run()).await;
    record(&f, "goal-run", &progress(25.0, "2026-03-05", 25.0)).await;
    record(&f, "goal-run", &progress(15.0, "2026-03-09", 40.0)).await;
    // A late record for an earlier day does not move the latest day back.
    record(&f, "goal-run", &progress(0.0, "2026-03-02", 40.0)).await;

    // On its first day nothing is judged.
    assert_eq!(
        pace_on(&f, "2026-03-01").await.map(|p| p.state),
        Some(PaceState::NotStarted)
    );
    // Ten days in, 40 km: 4 km a day where the rest needs 6.
    assert_eq!(
        goals_on(&f, "2026-03-11", false).await,
        [GoalView {
            latest_progress_on: Some(day("2026-03-09")),
            pace: Some(Pace {
                state: PaceState::Behind,
                observed_per_day: 4.0,
                needed_per_day: 6.0,
                days_left: 10,
                time_elapsed: 0.5,
            }),
            ..view(&run(), "run", 40.0, 0.4)
        }]
    );
    record(&f, "goal-run", &progress(20.0, "2026-03-11", 60.0)).await;
    record(
        &f,
        "goal-run",
        &GoalAtRisk {
            on: day("2026-03-11"),
            current: 40.0,
            needed_per_day: 6.0,
            observed_per_day: 4.0,
            days_left: 10,
        },
    )
    .await;
    // 60 km: 6 a day where the rest needs 4.
    let on_track = goals_on(&f, "2026-03-11", false).await.remove(0);
    assert_eq!(
        on_track.pace,
        Some(Pace {
            state: PaceState::OnTrack,
            observed_per_day: 6.0,
            needed_per_day: 4.0,
            days_left: 10,
            time_elapsed: 0.5,
        })
    );
    // The domain's last verdict is kept beside this one.
    assert!(on_track.at_risk);
    // Past the deadline short of the target: missed.
    assert_eq!(
        pace_on(&f, "2026-03-25")
            .await
            .map(|p| (p.state, p.days_left)),
        Some((PaceState::Missed, -4))
    );

    // A later deadline and a lower target, then reached.
    record(
        &f,
        "goal-run",
        &GoalDeadlineAdjusted {
            deadline: day("2026-04-02"),
        },
    )
    .await;
    record(&f, "goal-run", &GoalTargetAdjusted { target: 80.0 }).await;
    record(&f, "goal-run", &progress(20.0, "2026-03-12", 80.0)).await;
    record(
        &f,
        "goal-run",
        &GoalTargetReached {
            current: 80.0,
            on: day("2026-03-12"),
        },
    )
    .await;
    let adjusted = GoalSet {
        target: 80.0,
        deadline: day("2026-04-02"),
        ..run()
    };
    assert_eq!(
        goals_on(&f, "2026-03-17", false).await,
        [GoalView {
            latest_progress_on: Some(day("2026-03-12")),
            target_reached_on: Some(day("2026-03-12")),
            at_risk: true,
            pace: Some(Pace {
                state: PaceState::Reached,
                observed_per_day: 5.0,
                needed_per_day: 0.0,
                days_left: 16,
                time_elapsed: 0.5,
            }),
            ..view(&adjusted, "run", 80.0, 1.0)
        }]
    );
}

async fn habits_keep_their_streak_and_closed_goals_are_left_out(f: Fixture) {
    let meditate = GoalSet {
        title: "Meditate daily".to_owned(),
        metric: "sessions".to_owned(),
        unit: String::new(),
        baseline: 0.0,
        target: 30.0,
        direction: GoalDirection::Increase,
        measure: GoalMeasure::Cumulative,
        start: day("2026-03-01"),
        deadline: day("2026-03-31"),
        habit: true,
    };
    let weight = GoalSet {
        title: "Weigh 75 kg".to_owned(),
        metric: "weight".to_owned(),
        unit: "kg".to_owned(),
        baseline: 80.0,
        target: 75.0,
        direction: GoalDirection::Decrease,
        measure: GoalMeasure::Absolute,
        start: day("2026-03-01"),
        deadline: day("2026-05-30"),
        habit: false,
    };
    record(&f, "goal-meditate", &meditate).await;
    record(&f, "goal-weight", &weight).await;
    record(&f, "goal-run", &run()).await;
    for (n, on) in [
        (1.0, "2026-03-01"),
        (2.0, "2026-03-02"),
        (3.0, "2026-03-03"),
    ] {
        record(&f, "goal-meditate", &progress(1.0, on, n)).await;
    }
    for length in 1..=3 {
        record(
            &f,
            "goal-meditate",
            &GoalStreakExtended {
                length,
                through: NaiveDate::from_ymd_opt(2026, 3, length).expect("a day"),
            },
        )
        .await;
    }
    record(&f, "goal-weight", &progress(78.0, "2026-03-05", 78.0)).await;
    record(
        &f,
        "goal-run",
        &GoalCompleted {
            at: at("2026-03-06T10:00:00Z"),
            current: 0.0,
            target_reached: false,
        },
    )
    .await;

    let active = goals_on(&f, "2026-03-04", false).await;
    let ids: Vec<_> = active.iter().map(|g| g.goal_id.as_str()).collect();
    assert_eq!(ids, ["meditate", "weight"]);
    assert_eq!(
        active[0].streak,
        Some(Streak {
            current: 3,
            through: Some(day("2026-03-03")),
            longest: 3,
        })
    );
    assert_eq!(active[0].progress, 0.1);
    // Down from 80 to 78 of the way to 75: two fifths.
    assert_eq!(active[1].progress, 0.4);
    assert_eq!(active[1].streak, None);

    record(
        &f,
        "goal-meditate",
        &GoalStreakBroken {
            length: 3,
            last_day: day("2026-03-03"),
        },
    )
    .await;
    let broken = goals_on(&f, "2026-03-05", false).await.remove(0);
    assert_eq!(
        broken.streak,
        Some(Streak {
            current: 0,
            through: None,
            longest: 3,
        })
    );

    let all = goals_on(&f, "2026-03-06", true).await;
    let ids: Vec<_> = all.iter().map(|g| g.goal_id.as_str()).collect();
    assert_eq!(ids, ["run", "meditate", "weight"]);
    assert_eq!(
        all[0],
        GoalView {
            status: GoalStatus::Completed,
            closed_at: Some(at("2026-03-06T10:00:00Z")),
            ..view(&run(), "run", 0.0, 0.0)
        }
    );
}

async fn erasing_the_owner_drops_why_a_goal_was_given_up(f: Fixture) {
    record(&f, "goal-run", &run()).await;
    record(
        &f,
        "goal-run",
        &GoalAbandoned {
            at: at("2026-03-08T09:00:00Z"),
            reason: Some("Knee injury".to_owned()),
        },
    )
    .await;
    let abandoned = |reason: Option<&str>| GoalView {
        status: GoalStatus::Abandoned,
        closed_at: Some(at("2026-03-08T09:00:00Z")),
        abandon_reason: reason.map(str::to_owned),
        ..view(&run(), "run", 0.0, 0.0)
    };
    assert!(goals_on(&f, "2026-03-09", false).await.is_empty());
    assert_eq!(
        goals_on(&f, "2026-03-09", true).await,
        [abandoned(Some("Knee injury"))]
    );

    erase(&f, OWNER).await;
    assert_eq!(goals_on(&f, "2026-03-09", true).await, [abandoned(None)]);
    rebuild(&f, Arc::new(Goals)).await;
    assert_eq!(goals_on(&f, "2026-03-09", true).await, [abandoned(None)]);
}
