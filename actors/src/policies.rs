//! Planning policies (`policies-main`): per domain and action, how much the
//! planner may do alone (suggest, ask, act), who may approve and how long
//! an approval waits; and the limits that make it ask even where it may
//! act: quiet hours, devices that always need confirmation, spend caps.
//!
//! [`Policies::approval_for`] is what the planner calls for each plan: a
//! pure function of the rules, the plan's [`PlanFacts`] and the time, giving
//! the [`ApprovalPolicy`] recorded with the plan, with the reason whenever a
//! limit overrode the rule.
//!
//! With no rule at all the planner asks, any owner may answer, and the
//! question lapses after an hour; locks always need confirmation until the
//! limits say otherwise. Domain access `access`: only admins change them.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
pub use steward_events::domain::home::DeviceKind;
pub use steward_events::domain::plans::{ApprovalPolicy, Autonomy};
pub use steward_events::domain::policies::{Money, QuietHours};
use steward_events::domain::policies::{
    PolicyEvent, PolicyLimitsSet, PolicyRuleRemoved, PolicyRuleSet,
};

use crate::aggregate::{Aggregate, Context, Rejection, ensure, is_snake_name};
use crate::catalog::Visitor;
use crate::plans::is_intent_label;

/// Shows the policies aggregate to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<Policies>();
}

/// The scope of the rule that applies to everything.
pub const EVERYTHING: &str = "*";

/// How long an approval waits when no rule says: an hour.
pub const DEFAULT_APPROVAL_TIMEOUT_MINUTES: u32 = 60;

/// The longest an approval may wait: a week, in minutes.
pub const MAX_APPROVAL_TIMEOUT_MINUTES: u32 = 7 * 24 * 60;

/// Commands to the policies (`policies-main`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum PolicyCommand {
    /// Set the rule of a scope, replacing the one before.
    SetRule {
        /// `<domain>.<action>` (`home.set_device`), `<domain>` (`home`) or
        /// `*`.
        scope: String,
        /// How much a plan in the scope may do alone.
        autonomy: Autonomy,
        /// The users who may approve; empty: any owner.
        #[serde(default)]
        approvers: Vec<String>,
        /// How long an approval waits, 1 to 10080 minutes; default 60.
        #[serde(default)]
        approval_timeout_minutes: Option<u32>,
        /// The most a plan may spend without asking.
        #[serde(default)]
        spend_cap: Option<Money>,
    },
    /// Remove a scope's rule.
    RemoveRule {
        /// The scope.
        scope: String,
    },
    /// Set the limits that hold across all rules, replacing the ones before.
    SetLimits {
        /// When nothing acts without asking.
        #[serde(default)]
        quiet_hours: Option<QuietHours>,
        /// Kinds of device that always need confirmation.
        #[serde(default)]
        confirm_device_kinds: Vec<DeviceKind>,
        /// Devices that always need confirmation.
        #[serde(default)]
        confirm_devices: Vec<String>,
    },
}

/// One scope's rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// How much a plan may do alone.
    pub autonomy: Autonomy,
    /// Who may approve; empty: any owner.
    pub approvers: Vec<String>,
    /// How long an approval waits.
    pub approval_timeout_minutes: u32,
    /// The most a plan may spend without asking.
    pub spend_cap: Option<Money>,
}

impl Default for Rule {
    /// Ask any owner, for an hour.
    fn default() -> Self {
        Self {
            autonomy: Autonomy::Ask,
            approvers: Vec::new(),
            approval_timeout_minutes: DEFAULT_APPROVAL_TIMEOUT_MINUTES,
            spend_cap: None,
        }
    }
}

/// The limits across all rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// When nothing acts without asking.
    pub quiet_hours: Option<QuietHours>,
    /// Kinds of device that always need confirmation.
    pub confirm_device_kinds: Vec<DeviceKind>,
    /// Devices that always need confirmation.
    pub confirm_devices: Vec<String>,
}

impl Default for Limits {
    /// Locks always need confirmation.
    fn default() -> Self {
        Self {
            quiet_hours: None,
            confirm_device_kinds: vec![DeviceKind::Lock],
            confirm_devices: Vec::new(),
        }
    }
}

/// A device a plan would act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRef {
    /// Its id.
    pub device_id: String,
    /// Its kind.
    pub kind: DeviceKind,
}

/// What the policies need to know of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlanFacts {
    /// Its intent, `<domain>.<action>`.
    pub intent: String,
    /// The devices it would act on.
    pub devices: Vec<DeviceRef>,
    /// What it would spend, if anything.
    pub spend: Option<Money>,
}

/// The household's planning policies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Policies {
    /// The rules by scope.
    pub rules: BTreeMap<String, Rule>,
    /// The limits.
    pub limits: Limits,
}

impl Policies {
    /// The rule that applies to `intent`: its own, its domain's, the one for
    /// everything, or the default.
    pub fn rule_for(&self, intent: &str) -> Rule {
        let domain = intent.split_once('.').map_or(intent, |(domain, _)| domain);
        [intent, domain, EVERYTHING]
            .iter()
            .find_map(|scope| self.rules.get(*scope))
            .cloned()
            .unwrap_or_default()
    }

    /// The approval a plan with `facts` needs at `now`.
    pub fn approval_for(&self, facts: &PlanFacts, now: DateTime<Utc>) -> ApprovalPolicy {
        let rule = self.rule_for(&facts.intent);
        let mut autonomy = rule.autonomy;
        let mut reason = None;
        if autonomy == Autonomy::Act {
            reason = self.limit_reached(&rule, facts, now);
            if reason.is_some() {
                autonomy = Autonomy::Ask;
            }
        }
        ApprovalPolicy {
            autonomy,
            approvers: rule.approvers,
            expires_at: (autonomy == Autonomy::Ask)
                .then(|| now + Duration::minutes(i64::from(rule.approval_timeout_minutes))),
            reason,
        }
    }

    /// Why a plan that may act must ask instead, if it must.
    fn limit_reached(&self, rule: &Rule, facts: &PlanFacts, now: DateTime<Utc>) -> Option<String> {
        let limits = &self.limits;
        if let Some(device) = facts.devices.iter().find(|device| {
            limits.confirm_devices.contains(&device.device_id)
                || limits.confirm_device_kinds.contains(&device.kind)
        }) {
            return Some(format!("{} always needs confirmation", device.device_id));
        }
        if let Some(spend) = facts.spend.as_ref().filter(|spend| spend.minor_units > 0) {
            let Some(cap) = &rule.spend_cap else {
                return Some(format!(
                    "it spends {} {} and no spend cap allows it",
                    spend.minor_units, spend.currency
                ));
            };
            if spend.currency != cap.currency {
                return Some(format!(
                    "it spends {}, and the cap is in {}",
                    spend.currency, cap.currency
                ));
            }
            if spend.minor_units > cap.minor_units {
                return Some(format!(
                    "it spends {} {}, over the cap of {} {}",
                    spend.minor_units, spend.currency, cap.minor_units, cap.currency
                ));
            }
        }
        if let Some(quiet) = &limits.quiet_hours
            && within_quiet_hours(quiet, now)
        {
            return Some(format!(
                "it is within quiet hours ({}–{} {})",
                quiet.starts.format("%H:%M"),
                quiet.ends.format("%H:%M"),
                quiet.time_zone
            ));
        }
        None
    }
}

/// Whether `now` falls in the quiet hours, in their time zone. A window
/// whose end is before its start runs past midnight; an unknown time zone
/// was refused when the limits were set, so it reads as never quiet.
fn within_quiet_hours(quiet: &QuietHours, now: DateTime<Utc>) -> bool {
    let Ok(zone) = quiet.time_zone.parse::<Tz>() else {
        return false;
    };
    let local: NaiveTime = now.with_timezone(&zone).time();
    if quiet.starts <= quiet.ends {
        quiet.starts <= local && local < quiet.ends
    } else {
        local >= quiet.starts || local < quiet.ends
    }
}

impl Aggregate for Policies {
    const CATEGORY: &'static str = "policies";
    const DOMAIN: &'static str = "access";
    const STATE_VERSION: u32 = 1;
    type Command = PolicyCommand;
    type Event = PolicyEvent;

    fn decide(
        &self,
        command: PolicyCommand,
        _context: &Context,
    ) -> Result<Vec<PolicyEvent>, Rejection> {
        match command {
            PolicyCommand::SetRule {
                scope,
                autonomy,
                approvers,
                approval_timeout_minutes,
                spend_cap,
            } => {
                let scope = checked_scope(&scope)?;
                let approval_timeout_minutes =
                    approval_timeout_minutes.unwrap_or(DEFAULT_APPROVAL_TIMEOUT_MINUTES);
                ensure(
                    (1..=MAX_APPROVAL_TIMEOUT_MINUTES).contains(&approval_timeout_minutes),
                    "bad_timeout",
                    || {
                        format!(
                            "an approval waits 1 to {MAX_APPROVAL_TIMEOUT_MINUTES} minutes, not {approval_timeout_minutes}"
                        )
                    },
                )?;
                let mut approvers: Vec<String> =
                    approvers.iter().map(|a| a.trim().to_owned()).collect();
                ensure(
                    approvers.iter().all(|a| !a.is_empty()),
                    "bad_approver",
                    || "an approver's user id is empty".to_owned(),
                )?;
                approvers.sort();
                approvers.dedup();
                let spend_cap = spend_cap.map(checked_money).transpose()?;
                let rule = Rule {
                    autonomy,
                    approvers,
                    approval_timeout_minutes,
                    spend_cap,
                };
                if self.rules.get(&scope) == Some(&rule) {
                    return Ok(Vec::new());
                }
                Ok(vec![PolicyEvent::RuleSet(PolicyRuleSet {
                    scope,
                    autonomy: rule.autonomy,
                    approvers: rule.approvers,
                    approval_timeout_minutes: rule.approval_timeout_minutes,
                    spend_cap: rule.spend_cap,
                })])
            }
            PolicyCommand::RemoveRule { scope } => {
                let scope = checked_scope(&scope)?;
                if !self.rules.contains_key(&scope) {
                    return Ok(Vec::new());
                }
                Ok(vec![PolicyEvent::RuleRemoved(PolicyRuleRemoved { scope })])
            }
            PolicyCommand::SetLimits {
                quiet_hours,
                confirm_device_kinds,
                mut confirm_devices,
            } => {
                if let Some(quiet) = &quiet_hours {
                    ensure(
                        quiet.time_zone.parse::<Tz>().is_ok(),
                        "unknown_time_zone",
                        || format!("`{}` is not an IANA time zone", quiet.time_zone),
                    )?;
                    ensure(quiet.starts != quiet.ends, "empty_quiet_hours", || {
                        "quiet hours start and end at the same time".to_owned()
                    })?;
                }
                confirm_devices = confirm_devices
                    .iter()
                    .map(|d| d.trim().to_owned())
                    .collect();
                ensure(
                    confirm_devices.iter().all(|d| !d.is_empty()),
                    "bad_device",
                    || "a device id is empty".to_owned(),
                )?;
                confirm_devices.sort();
                confirm_devices.dedup();
                let mut kinds: Vec<DeviceKind> = Vec::new();
                for kind in confirm_device_kinds {
                    if !kinds.contains(&kind) {
                        kinds.push(kind);
                    }
                }
                let limits = Limits {
                    quiet_hours,
                    confirm_device_kinds: kinds,
                    confirm_devices,
                };
                if self.limits == limits {
                    return Ok(Vec::new());
                }
                Ok(vec![PolicyEvent::LimitsSet(PolicyLimitsSet {
                    quiet_hours: limits.quiet_hours,
                    confirm_device_kinds: limits.confirm_device_kinds,
                    confirm_devices: limits.confirm_devices,
                })])
            }
        }
    }

    fn apply(&mut self, event: &PolicyEvent) {
        match event {
            PolicyEvent::RuleSet(set) => {
                self.rules.insert(
                    set.scope.clone(),
                    Rule {
                        autonomy: set.autonomy,
                        approvers: set.approvers.clone(),
                        approval_timeout_minutes: set.approval_timeout_minutes,
                        spend_cap: set.spend_cap.clone(),
                    },
                );
            }
            PolicyEvent::RuleRemoved(removed) => {
                self.rules.remove(&removed.scope);
            }
            PolicyEvent::LimitsSet(set) => {
                self.limits = Limits {
                    quiet_hours: set.quiet_hours.clone(),
                    confirm_device_kinds: set.confirm_device_kinds.clone(),
                    confirm_devices: set.confirm_devices.clone(),
                };
            }
        }
    }
}

/// `*`, `<domain>` or `<domain>.<action>`, in lowercase letters, digits
/// and `_`.
fn checked_scope(scope: &str) -> Result<String, Rejection> {
    let scope = scope.trim();
    let valid = scope == EVERYTHING || is_snake_name(scope) || is_intent_label(scope);
    ensure(valid, "bad_scope", || {
        format!("scope `{scope}` is not `*`, `<domain>` or `<domain>.<action>`")
    })?;
    Ok(scope.to_owned())
}

fn checked_money(money: Money) -> Result<Money, Rejection> {
    let currency = money.currency.trim().to_ascii_uppercase();
    ensure(
        currency.len() == 3 && currency.chars().all(|c| c.is_ascii_uppercase()),
        "bad_currency",
        || format!("`{}` is not an ISO 4217 currency code", money.currency),
    )?;
    Ok(Money {
        minor_units: money.minor_units,
        currency,
    })
}
