//! Planning policies: given events / when command / then events, and the
//! approval each plan gets.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use steward_actors::policies::{
    ApprovalPolicy, Autonomy, DEFAULT_APPROVAL_TIMEOUT_MINUTES, DeviceKind, DeviceRef, Money,
    PlanFacts, Policies, PolicyCommand, QuietHours,
};
use steward_actors::testing::{default_now, given, live_and_replayed};
use steward_events::domain::policies::{
    PolicyEvent, PolicyLimitsSet, PolicyRuleRemoved, PolicyRuleSet,
};

fn now() -> DateTime<Utc> {
    default_now()
}

fn euros(euros: u64) -> Money {
    Money {
        minor_units: euros * 100,
        currency: "EUR".into(),
    }
}

fn set_rule(scope: &str, autonomy: Autonomy) -> PolicyCommand {
    PolicyCommand::SetRule {
        scope: scope.into(),
        autonomy,
        approvers: Vec::new(),
        approval_timeout_minutes: None,
        spend_cap: None,
    }
}

fn rule_set(scope: &str, autonomy: Autonomy) -> PolicyEvent {
    PolicyEvent::RuleSet(PolicyRuleSet {
        scope: scope.into(),
        autonomy,
        approvers: Vec::new(),
        approval_timeout_minutes: DEFAULT_APPROVAL_TIMEOUT_MINUTES,
        spend_cap: None,
    })
}

fn facts(intent: &str) -> PlanFacts {
    PlanFacts {
        intent: intent.into(),
        ..PlanFacts::default()
    }
}

fn policies(events: impl IntoIterator<Item = PolicyEvent>) -> Policies {
    given::<Policies>(events).state().clone()
}

#[test]
fn with_no_rule_the_planner_asks_any_owner_for_an_hour() {
    let approval = Policies::default().approval_for(&facts("groceries.add_to_list"), now());
    assert_eq!(
        approval,
        ApprovalPolicy {
            autonomy: Autonomy::Ask,
            approvers: Vec::new(),
            expires_at: Some(now() + Duration::hours(1)),
            reason: None,
        }
    );
}

#[test]
fn the_most_specific_rule_wins() {
    let policies = policies([
        rule_set("*", Autonomy::Suggest),
        rule_set("home", Autonomy::Act),
        rule_set("home.run_routine", Autonomy::Ask),
    ]);
    let autonomy = |intent: &str| policies.approval_for(&facts(intent), now()).autonomy;
    assert_eq!(autonomy("home.set_device"), Autonomy::Act);
    assert_eq!(autonomy("home.run_routine"), Autonomy::Ask);
    assert_eq!(autonomy("travel.plan_trip"), Autonomy::Suggest);

    let suggested = policies.approval_for(&facts("travel.plan_trip"), now());
    assert_eq!(suggested.expires_at, None, "a suggestion never lapses");
    let acting = policies.approval_for(&facts("home.set_device"), now());
    assert_eq!((acting.expires_at, acting.reason), (None, None));
}

#[test]
fn a_rule_is_set_replaced_and_removed() {
    given::<Policies>([])
        .when(PolicyCommand::SetRule {
            scope: " home ".into(),
            autonomy: Autonomy::Act,
            approvers: vec!["user-b".into(), "user-a".into(), "user-b".into()],
            approval_timeout_minutes: Some(15),
            spend_cap: Some(Money {
                minor_units: 5_000,
                currency: "eur".into(),
            }),
        })
        .then([PolicyEvent::RuleSet(PolicyRuleSet {
            scope: "home".into(),
            autonomy: Autonomy::Act,
            approvers: vec!["user-a".into(), "user-b".into()],
            approval_timeout_minutes: 15,
            spend_cap: Some(euros(50)),
        })]);
    given::<Policies>([rule_set("home", Autonomy::Act)])
        .when(set_rule("home", Autonomy::Act))
        .then([]);
    let policies = given::<Policies>([rule_set("home", Autonomy::Act)])
        .when(PolicyCommand::RemoveRule {
            scope: "home".into(),
        })
        .then([PolicyEvent::RuleRemoved(PolicyRuleRemoved {
            scope: "home".into(),
        })]);
    assert!(policies.rules.is_empty());
    given::<Policies>([])
        .when(PolicyCommand::RemoveRule {
            scope: "home".into(),
        })
        .then([]);
}

#[test]
fn bad_rules_and_limits_are_refused() {
    for scope in ["", "Home", "home.", ".x", "home.set.device", "home-x"] {
        given::<Policies>([])
            .when(set_rule(scope, Autonomy::Act))
            .then_rejected("bad_scope");
    }
    for minutes in [0, 7 * 24 * 60 + 1] {
        given::<Policies>([])
            .when(PolicyCommand::SetRule {
                scope: "home".into(),
                autonomy: Autonomy::Ask,
                approvers: Vec::new(),
                approval_timeout_minutes: Some(minutes),
                spend_cap: None,
            })
            .then_rejected("bad_timeout");
    }
    given::<Policies>([])
        .when(PolicyCommand::SetRule {
            scope: "travel".into(),
            autonomy: Autonomy::Act,
            approvers: vec![" ".into()],
            approval_timeout_minutes: None,
            spend_cap: None,
        })
        .then_rejected("bad_approver");
    given::<Policies>([])
        .when(PolicyCommand::SetRule {
            scope: "travel".into(),
            autonomy: Autonomy::Act,
            approvers: Vec::new(),
            approval_timeout_minutes: None,
            spend_cap: Some(Money {
                minor_units: 1,
                currency: "euro".into(),
            }),
        })
        .then_rejected("bad_currency");
    let quiet = |time_zone: &str, starts: u32, ends: u32| PolicyCommand::SetLimits {
        quiet_hours: Some(QuietHours {
            starts: NaiveTime::from_hms_opt(starts, 0, 0).expect("a time"),
            ends: NaiveTime::from_hms_opt(ends, 0, 0).expect("a time"),
            time_zone: time_zone.into(),
        }),
        confirm_device_kinds: Vec::new(),
        confirm_devices: Vec::new(),
    };
    given::<Policies>([])
        .when(quiet("Mars/Olympus", 22, 7))
        .then_rejected("unknown_time_zone");
    given::<Policies>([])
        .when(quiet("Europe/Berlin", 7, 7))
        .then_rejected("empty_quiet_hours");
}

fn home_may_act_with(limits: PolicyLimitsSet) -> Policies {
    let mut travel = rule_set("travel", Autonomy::Act);
    if let PolicyEvent::RuleSet(rule) = &mut travel {
        rule.spend_cap = Some(euros(200));
    }
    policies([
        rule_set("home", Autonomy::Act),
        travel,
        PolicyEvent::LimitsSet(limits),
    ])
}

#[test]
fn devices_that_need_confirmation_make_an_acting_plan_ask() {
    let lock = DeviceRef {
        device_id: "lock.front_door".into(),
        kind: DeviceKind::Lock,
    };
    let oven = DeviceRef {
        device_id: "switch.oven".into(),
        kind: DeviceKind::Switch,
    };
    let lamp = DeviceRef {
        device_id: "light.desk".into(),
        kind: DeviceKind::Light,
    };
    let with_devices = |devices: Vec<DeviceRef>| PlanFacts {
        intent: "home.set_device".into(),
        devices,
        spend: None,
    };

    // By default, locks need confirmation and nothing else does.
    let defaults = policies([rule_set("home", Autonomy::Act)]);
    let approval = defaults.approval_for(&with_devices(vec![lamp.clone(), lock.clone()]), now());
    assert_eq!(approval.autonomy, Autonomy::Ask);
    assert_eq!(
        approval.reason.as_deref(),
        Some("lock.front_door always needs confirmation")
    );
    assert_eq!(approval.expires_at, Some(now() + Duration::hours(1)));
    let lamp_only = defaults.approval_for(&with_devices(vec![lamp.clone()]), now());
    assert_eq!(lamp_only.autonomy, Autonomy::Act);

    let oven_listed = home_may_act_with(PolicyLimitsSet {
        quiet_hours: None,
        confirm_device_kinds: Vec::new(),
        confirm_devices: vec!["switch.oven".into()],
    });
    assert_eq!(
        oven_listed
            .approval_for(&with_devices(vec![oven]), now())
            .autonomy,
        Autonomy::Ask
    );
    assert_eq!(
        oven_listed
            .approval_for(&with_devices(vec![lock]), now())
            .autonomy,
        Autonomy::Act,
        "the limits no longer name locks"
    );
}

#[test]
fn spending_over_the_cap_or_in_another_currency_asks() {
    let policies = home_may_act_with(PolicyLimitsSet {
        quiet_hours: None,
        confirm_device_kinds: Vec::new(),
        confirm_devices: Vec::new(),
    });
    let spending = |money: Money| PlanFacts {
        intent: "travel.add_reservation".into(),
        devices: Vec::new(),
        spend: Some(money),
    };
    assert_eq!(
        policies.approval_for(&spending(euros(200)), now()).autonomy,
        Autonomy::Act
    );
    let over = policies.approval_for(&spending(euros(201)), now());
    assert_eq!(over.autonomy, Autonomy::Ask);
    assert!(
        over.reason
            .as_deref()
            .is_some_and(|r| r.contains("over the cap")),
        "{over:?}"
    );
    // A domain without a cap may act, but not spend.
    let home_spending = PlanFacts {
        intent: "home.set_device".into(),
        devices: Vec::new(),
        spend: Some(euros(5)),
    };
    let uncapped = policies.approval_for(&home_spending, now());
    assert_eq!(uncapped.autonomy, Autonomy::Ask);
    assert!(
        uncapped
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("no spend cap")),
        "{uncapped:?}"
    );
    let dollars = policies.approval_for(
        &spending(Money {
            minor_units: 100,
            currency: "USD".into(),
        }),
        now(),
    );
    assert_eq!(dollars.autonomy, Autonomy::Ask);
}

#[test]
fn quiet_hours_make_an_acting_plan_ask_in_their_own_time_zone() {
    let policies = home_may_act_with(PolicyLimitsSet {
        quiet_hours: Some(QuietHours {
            starts: NaiveTime::from_hms_opt(22, 0, 0).expect("a time"),
            ends: NaiveTime::from_hms_opt(7, 0, 0).expect("a time"),
            time_zone: "Europe/Berlin".into(),
        }),
        confirm_device_kinds: Vec::new(),
        confirm_devices: Vec::new(),
    });
    // Berlin is UTC+1 in January.
    let at = |hour: u32, minute: u32| {
        Utc.with_ymd_and_hms(2026, 1, 15, hour, minute, 0)
            .single()
            .expect("an instant")
    };
    let autonomy = |at| {
        policies
            .approval_for(&facts("home.set_device"), at)
            .autonomy
    };
    assert_eq!(autonomy(at(20, 59)), Autonomy::Act, "21:59 in Berlin");
    assert_eq!(autonomy(at(21, 0)), Autonomy::Ask, "22:00 in Berlin");
    assert_eq!(autonomy(at(2, 0)), Autonomy::Ask, "03:00 in Berlin");
    assert_eq!(autonomy(at(5, 59)), Autonomy::Ask, "06:59 in Berlin");
    assert_eq!(autonomy(at(6, 0)), Autonomy::Act, "07:00 in Berlin");
    let reason = policies
        .approval_for(&facts("home.set_device"), at(23, 0))
        .reason;
    assert_eq!(
        reason.as_deref(),
        Some("it is within quiet hours (22:00–07:00 Europe/Berlin)")
    );
}

#[test]
fn limits_are_set_once_and_replayed_alike() {
    let limits = PolicyCommand::SetLimits {
        quiet_hours: None,
        confirm_device_kinds: vec![DeviceKind::Lock, DeviceKind::Lock, DeviceKind::Blind],
        confirm_devices: vec![" cover.garage_door ".into()],
    };
    let expected = PolicyLimitsSet {
        quiet_hours: None,
        confirm_device_kinds: vec![DeviceKind::Lock, DeviceKind::Blind],
        confirm_devices: vec!["cover.garage_door".into()],
    };
    given::<Policies>([])
        .when(limits.clone())
        .then([PolicyEvent::LimitsSet(expected.clone())]);
    given::<Policies>([PolicyEvent::LimitsSet(expected)])
        .when(limits.clone())
        .then([]);
    let (live, replayed) = live_and_replayed::<Policies>([
        (set_rule("home", Autonomy::Act), now()),
        (limits, now()),
        (set_rule("*", Autonomy::Suggest), now()),
    ]);
    assert_eq!(live, replayed);
    assert_eq!(live.rules.len(), 2);
}
