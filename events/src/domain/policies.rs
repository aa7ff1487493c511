//! Events of the household's planning policies (`policies-main`): how much
//! the planner may do on its own in each domain and action, and the limits
//! that make it ask anyway.
//!
//! A rule applies to a scope: an intent (`home.set_device`), a whole domain
//! (`home`) or everything (`*`); the most specific rule wins. The limits
//! hold across all rules: quiet hours, devices that always need a person's
//! confirmation (locks, the oven, the garage door), and each rule's spend
//! cap.

use chrono::NaiveTime;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DomainEvent;
use super::home::DeviceKind;
use super::plans::Autonomy;

/// An amount of money, in the currency's minor unit (cents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// The amount in minor units (`1250` for 12.50).
    pub minor_units: u64,
    /// The ISO 4217 code (`EUR`).
    pub currency: String,
}

/// A policy rule was set for a scope, replacing the one before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRuleSet {
    /// `<domain>.<action>`, `<domain>` or `*`.
    pub scope: String,
    /// How much a plan in the scope may do alone.
    pub autonomy: Autonomy,
    /// The users who may approve; empty: any owner.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// How long an approval waits before it lapses.
    pub approval_timeout_minutes: u32,
    /// The most a plan may spend without asking.
    #[serde(default)]
    pub spend_cap: Option<Money>,
}

impl DomainEvent for PolicyRuleSet {
    const EVENT_TYPE: &'static str = "PolicyRuleSet";
    const SCHEMA_VERSION: u16 = 1;
}

/// A scope's rule was removed: the next less specific one applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRuleRemoved {
    /// The scope.
    pub scope: String,
}

impl DomainEvent for PolicyRuleRemoved {
    const EVENT_TYPE: &'static str = "PolicyRuleRemoved";
    const SCHEMA_VERSION: u16 = 1;
}

/// A daily window, in a time zone, in which nothing acts without asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// When they start (`22:00`).
    pub starts: NaiveTime,
    /// When they end (`07:00`); before `starts`, they run past midnight.
    pub ends: NaiveTime,
    /// The IANA time zone they are in (`Europe/Berlin`).
    pub time_zone: String,
}

/// The limits that hold across all rules were set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyLimitsSet {
    /// When nothing acts without asking.
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    /// Kinds of device that always need confirmation (`lock`).
    #[serde(default)]
    pub confirm_device_kinds: Vec<DeviceKind>,
    /// Devices that always need confirmation (`switch.oven`,
    /// `cover.garage_door`).
    #[serde(default)]
    pub confirm_devices: Vec<String>,
}

impl DomainEvent for PolicyLimitsSet {
    const EVENT_TYPE: &'static str = "PolicyLimitsSet";
    const SCHEMA_VERSION: u16 = 1;
}

crate::domain_events! {
    /// What the policies stream holds.
    pub enum PolicyEvent {
        /// A scope's rule was set.
        RuleSet(PolicyRuleSet),
        /// A scope's rule was removed.
        RuleRemoved(PolicyRuleRemoved),
        /// The limits were set.
        LimitsSet(PolicyLimitsSet),
    }
}

/// The JSON Schema of every event type of the domain.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    use super::EventSet as _;
    PolicyEvent::schemas()
}
