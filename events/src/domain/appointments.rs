//! Events of the appointments domain: asking a provider (a doctor, a
//! garage, a hairdresser) for an appointment, and their answer.
//!
//! One aggregate, the appointment (`appointment-<id>`), moving from
//! requested to proposed (the provider offers a time) to confirmed, or
//! ending declined, cancelled or expired (no answer by the deadline). The
//! provider's name and contact, the purpose and free-text reasons are
//! personal.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DomainEvent;
use crate::ids::SubjectId;

/// A span of time the owner could come, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// From.
    pub starts_at: DateTime<Utc>,
    /// Until (after `starts_at`).
    pub ends_at: DateTime<Utc>,
}

impl TimeWindow {
    /// Whether `starts_at..ends_at` lies wholly inside the window.
    pub fn holds(&self, starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> bool {
        self.starts_at <= starts_at && ends_at <= self.ends_at
    }
}

/// An appointment was asked of a provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentRequested {
    /// Who is asked: a practice, a person, a business (personal).
    #[serde(default)]
    pub provider_name: String,
    /// How to reach them: an e-mail address or a phone number (personal).
    #[serde(default)]
    pub provider_contact: Option<String>,
    /// What it is for (`check-up`); personal, as it may say much about the
    /// owner.
    #[serde(default)]
    pub purpose: String,
    /// When the owner could come, in order, not overlapping.
    pub preferred_windows: Vec<TimeWindow>,
    /// How long it lasts, in minutes.
    pub duration_minutes: u32,
    /// When the request lapses without an answer; the timer sends
    /// `ExpireRequest` then.
    pub respond_by: Option<DateTime<Utc>>,
    /// When it was asked.
    pub requested_at: DateTime<Utc>,
}

impl DomainEvent for AppointmentRequested {
    const EVENT_TYPE: &'static str = "AppointmentRequested";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] =
        &["provider_name", "provider_contact", "purpose"];

    fn subjects(&self) -> Vec<SubjectId> {
        provider_subject(&self.provider_name, self.provider_contact.as_deref())
    }
}

/// The provider proposed a time (a later proposal replaces an earlier one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentTimeProposed {
    /// From.
    pub starts_at: DateTime<Utc>,
    /// Until: `starts_at` plus the requested duration.
    pub ends_at: DateTime<Utc>,
    /// Whether it lies inside one of the preferred windows.
    pub fits_preferences: bool,
}

impl DomainEvent for AppointmentTimeProposed {
    const EVENT_TYPE: &'static str = "AppointmentTimeProposed";
    const SCHEMA_VERSION: u16 = 1;
}

/// The appointment was agreed. It carries the provider and purpose, so that
/// a saga putting it on the calendar reads nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentConfirmed {
    /// From.
    pub starts_at: DateTime<Utc>,
    /// Until.
    pub ends_at: DateTime<Utc>,
    /// Whether it lies inside one of the preferred windows.
    pub fits_preferences: bool,
    /// The provider (personal).
    #[serde(default)]
    pub provider_name: String,
    /// How to reach them (personal).
    #[serde(default)]
    pub provider_contact: Option<String>,
    /// What it is for (personal).
    #[serde(default)]
    pub purpose: String,
}

impl DomainEvent for AppointmentConfirmed {
    const EVENT_TYPE: &'static str = "AppointmentConfirmed";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] =
        &["provider_name", "provider_contact", "purpose"];

    fn subjects(&self) -> Vec<SubjectId> {
        provider_subject(&self.provider_name, self.provider_contact.as_deref())
    }
}

/// The provider turned the request down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentDeclined {
    /// Why, in the provider's words (personal).
    #[serde(default)]
    pub reason: String,
}

impl DomainEvent for AppointmentDeclined {
    const EVENT_TYPE: &'static str = "AppointmentDeclined";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["reason"];
}

/// The owner called the appointment (or the request) off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentCancelled {
    /// Why, if said (personal).
    #[serde(default)]
    pub reason: Option<String>,
    /// Whether it had been confirmed (it may be on the calendar).
    pub was_confirmed: bool,
}

impl DomainEvent for AppointmentCancelled {
    const EVENT_TYPE: &'static str = "AppointmentCancelled";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["reason"];
}

/// Nobody answered the request by its deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentRequestExpired {
    /// The deadline that passed.
    pub respond_by: DateTime<Utc>,
}

impl DomainEvent for AppointmentRequestExpired {
    const EVENT_TYPE: &'static str = "AppointmentRequestExpired";
    const SCHEMA_VERSION: u16 = 1;
}

/// The provider's subject: by contact when it is an e-mail address, else by
/// name (see [`super::named_subject`]).
fn provider_subject(name: &str, contact: Option<&str>) -> Vec<SubjectId> {
    match contact
        .map(str::trim)
        .filter(|contact| contact.contains('@'))
    {
        Some(address) => SubjectId::parse(format!("contact:{}", address.to_lowercase()))
            .ok()
            .into_iter()
            .collect(),
        None => super::named_subject(name).into_iter().collect(),
    }
}

crate::domain_events! {
    /// What an appointment stream holds.
    pub enum AppointmentEvent {
        /// It was requested.
        Requested(AppointmentRequested),
        /// The provider proposed a time.
        TimeProposed(AppointmentTimeProposed),
        /// It was agreed.
        Confirmed(AppointmentConfirmed),
        /// The provider declined.
        Declined(AppointmentDeclined),
        /// The owner called it off.
        Cancelled(AppointmentCancelled),
        /// Nobody answered in time.
        RequestExpired(AppointmentRequestExpired),
    }
}

/// The JSON Schema of every event type of the domain.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    use super::EventSet as _;
    AppointmentEvent::schemas()
}
