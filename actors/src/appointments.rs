//! Appointments: asking a provider for an appointment, and their answer.
//!
//! An [`Appointment`] (`appointment-<id>`) starts as a request with the
//! windows the owner could come in. The provider may propose a time
//! (recorded with whether it fits those windows), and the appointment is
//! then confirmed, declined by the provider, or cancelled by the owner:
//!
//! - requested → proposed (again, to change the time) → confirmed;
//! - requested → confirmed (agreed at once, by phone);
//! - requested or proposed → declined (by the provider) or cancelled;
//! - confirmed → cancelled (before it ends);
//! - requested → expired (no answer by `respond_by`).
//!
//! A request with a `respond_by` deadline is due to lapse then: the timer
//! worker sends [`AppointmentCommand::ExpireRequest`] at that instant, which
//! changes nothing once the provider answered (a proposal is an answer).

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
pub use steward_events::domain::appointments::TimeWindow;
use steward_events::domain::appointments::{
    AppointmentCancelled, AppointmentConfirmed, AppointmentDeclined, AppointmentEvent,
    AppointmentRequestExpired, AppointmentRequested, AppointmentTimeProposed,
};

use crate::aggregate::{Aggregate, Context, Rejection, ensure};
use crate::catalog::Visitor;

/// Shows the domain's aggregates to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<Appointment>();
}

/// The longest appointment accepted: a day, in minutes.
pub const MAX_DURATION_MINUTES: u32 = 24 * 60;

/// The most preferred windows one request may list.
pub const MAX_WINDOWS: usize = 50;

/// The longest name, contact, purpose or reason accepted, in characters.
const MAX_TEXT_CHARS: usize = 500;

/// Commands to an appointment (`appointment-<id>`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum AppointmentCommand {
    /// Ask a provider for an appointment. Asking again the same changes
    /// nothing.
    RequestAppointment {
        /// Who is asked: a practice, a person, a business.
        provider_name: String,
        /// How to reach them: an e-mail address or a phone number.
        #[serde(default)]
        provider_contact: Option<String>,
        /// What it is for.
        purpose: String,
        /// When the owner could come (UTC): at least one, in the future,
        /// not overlapping, each at least as long as the appointment.
        preferred_windows: Vec<TimeWindow>,
        /// How long it lasts, in minutes (1 to 1440).
        duration_minutes: u32,
        /// When the request lapses without an answer (in the future).
        #[serde(default)]
        respond_by: Option<DateTime<Utc>>,
    },
    /// The provider proposed a time; a later proposal replaces an earlier
    /// one.
    ProposeTime {
        /// When it would start (in the future).
        starts_at: DateTime<Utc>,
    },
    /// The appointment is agreed.
    ConfirmAppointment {
        /// When it starts (in the future); default: the proposed time.
        #[serde(default)]
        starts_at: Option<DateTime<Utc>>,
    },
    /// The provider turned the request down.
    DeclineAppointment {
        /// Why, in their words.
        #[serde(default)]
        reason: String,
    },
    /// The owner calls the appointment (or the request) off.
    CancelAppointment {
        /// Why, if said.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Timer: the request's `respond_by` came. Lapses a request nobody
    /// answered; changes nothing otherwise.
    ExpireRequest {},
}

/// Where an appointment stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    /// Nothing asked yet.
    #[default]
    NotRequested,
    /// Asked, no answer yet.
    Requested,
    /// The provider proposed a time.
    Proposed,
    /// Agreed.
    Confirmed,
    /// The provider turned it down.
    Declined,
    /// The owner called it off.
    Cancelled,
    /// Nobody answered in time.
    Expired,
}

impl AppointmentStatus {
    /// Whether the request still waits for an agreement.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Requested | Self::Proposed)
    }
}

/// An appointment: the request, the latest proposal, the agreed time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Appointment {
    /// Where it stands.
    pub status: AppointmentStatus,
    /// The request, once made.
    pub request: Option<AppointmentRequested>,
    /// The provider's latest proposal.
    pub proposal: Option<AppointmentTimeProposed>,
    /// The agreed time, once confirmed.
    pub confirmed: Option<AppointmentConfirmed>,
}

impl Appointment {
    fn requested(&self) -> Result<&AppointmentRequested, Rejection> {
        self.request
            .as_ref()
            .ok_or_else(|| Rejection::new("not_requested", "no appointment was requested here"))
    }

    fn awaiting_answer(&self) -> Result<(), Rejection> {
        ensure(self.status.is_open(), "not_awaiting_answer", || {
            format!(
                "the appointment is {}, no longer awaiting an answer",
                status_name(self.status)
            )
        })
    }

    /// The time `starts_at` as the appointment would take it: its end and
    /// whether it fits a preferred window.
    fn slot(
        request: &AppointmentRequested,
        starts_at: DateTime<Utc>,
        context: &Context,
    ) -> Result<(DateTime<Utc>, bool), Rejection> {
        ensure(starts_at > context.now, "time_in_past", || {
            format!("{starts_at} has passed")
        })?;
        let ends_at = starts_at + Duration::minutes(i64::from(request.duration_minutes));
        let fits = request
            .preferred_windows
            .iter()
            .any(|window| window.holds(starts_at, ends_at));
        Ok((ends_at, fits))
    }
}

fn status_name(status: AppointmentStatus) -> &'static str {
    match status {
        AppointmentStatus::NotRequested => "not requested",
        AppointmentStatus::Requested => "requested",
        AppointmentStatus::Proposed => "proposed",
        AppointmentStatus::Confirmed => "confirmed",
        AppointmentStatus::Declined => "declined",
        AppointmentStatus::Cancelled => "cancelled",
        AppointmentStatus::Expired => "expired",
    }
}

impl Aggregate for Appointment {
    const CATEGORY: &'static str = "appointment";
    const DOMAIN: &'static str = "appointments";
    const STATE_VERSION: u32 = 1;
    type Command = AppointmentCommand;
    type Event = AppointmentEvent;

    fn decide(
        &self,
        command: AppointmentCommand,
        context: &Context,
    ) -> Result<Vec<AppointmentEvent>, Rejection> {
        match command {
            AppointmentCommand::RequestAppointment {
                provider_name,
                provider_contact,
                purpose,
                preferred_windows,
                duration_minutes,
                respond_by,
            } => {
                let provider_contact = provider_contact
                    .as_deref()
                    .map(str::trim)
                    .filter(|contact| !contact.is_empty())
                    .map(str::to_owned);
                if let Some(existing) = &self.request {
                    // Compared before the checks against the clock, so that
                    // a retry after the windows began is still no error.
                    let mut windows = preferred_windows;
                    windows.sort_by_key(|window| window.starts_at);
                    let same = existing.provider_name == provider_name.trim()
                        && existing.provider_contact == provider_contact
                        && existing.purpose == purpose.trim()
                        && existing.preferred_windows == windows
                        && existing.duration_minutes == duration_minutes
                        && existing.respond_by == respond_by;
                    ensure(same, "appointment_exists", || {
                        "another appointment was requested here; request it under a new id"
                            .to_owned()
                    })?;
                    return Ok(Vec::new());
                }
                let request = AppointmentRequested {
                    provider_name: required_text(
                        &provider_name,
                        "provider_required",
                        "name the provider",
                    )?,
                    provider_contact: provider_contact.as_deref().map(within_limit).transpose()?,
                    purpose: required_text(&purpose, "purpose_required", "say what it is for")?,
                    preferred_windows: windows_of(preferred_windows, duration_minutes, context)?,
                    duration_minutes,
                    respond_by,
                    requested_at: context.now,
                };
                if let Some(respond_by) = respond_by {
                    ensure(respond_by > context.now, "respond_by_in_past", || {
                        format!("the deadline {respond_by} has passed")
                    })?;
                }
                Ok(vec![AppointmentEvent::Requested(request)])
            }
            AppointmentCommand::ProposeTime { starts_at } => {
                let request = self.requested()?;
                self.awaiting_answer()?;
                let already = self.status == AppointmentStatus::Proposed
                    && self
                        .proposal
                        .as_ref()
                        .is_some_and(|p| p.starts_at == starts_at);
                if already {
                    return Ok(Vec::new());
                }
                let (ends_at, fits_preferences) = Self::slot(request, starts_at, context)?;
                Ok(vec![AppointmentEvent::TimeProposed(
                    AppointmentTimeProposed {
                        starts_at,
                        ends_at,
                        fits_preferences,
                    },
                )])
            }
            AppointmentCommand::ConfirmAppointment { starts_at } => {
                let request = self.requested()?;
                if let Some(confirmed) = &self.confirmed
                    && self.status == AppointmentStatus::Confirmed
                {
                    let agreed = confirmed.starts_at;
                    ensure(
                        starts_at.is_none_or(|asked| asked == agreed),
                        "already_confirmed",
                        || {
                            format!(
                                "it is confirmed for {agreed}; cancel it and request a new one to move it"
                            )
                        },
                    )?;
                    return Ok(Vec::new());
                }
                self.awaiting_answer()?;
                let starts_at = starts_at
                    .or_else(|| self.proposal.as_ref().map(|p| p.starts_at))
                    .ok_or_else(|| {
                        Rejection::new(
                            "time_required",
                            "nothing was proposed: say when the appointment starts",
                        )
                    })?;
                let (ends_at, fits_preferences) = Self::slot(request, starts_at, context)?;
                Ok(vec![AppointmentEvent::Confirmed(AppointmentConfirmed {
                    starts_at,
                    ends_at,
                    fits_preferences,
                    provider_name: request.provider_name.clone(),
                    provider_contact: request.provider_contact.clone(),
                    purpose: request.purpose.clone(),
                })])
            }
            AppointmentCommand::DeclineAppointment { reason } => {
                self.requested()?;
                if self.status == AppointmentStatus::Declined {
                    return Ok(Vec::new());
                }
                self.awaiting_answer()?;
                Ok(vec![AppointmentEvent::Declined(AppointmentDeclined {
                    reason: within_limit(reason.trim())?,
                })])
            }
            AppointmentCommand::CancelAppointment { reason } => {
                self.requested()?;
                match self.status {
                    AppointmentStatus::Cancelled => return Ok(Vec::new()),
                    AppointmentStatus::Declined | AppointmentStatus::Expired => {
                        return Err(Rejection::new(
                            "appointment_closed",
                            format!(
                                "the request was {} already; there is nothing to cancel",
                                status_name(self.status)
                            ),
                        ));
                    }
                    _ => {}
                }
                if let Some(confirmed) = &self.confirmed {
                    ensure(confirmed.ends_at > context.now, "appointment_past", || {
                        format!("the appointment ended at {}", confirmed.ends_at)
                    })?;
                }
                let reason = reason
                    .as_deref()
                    .map(str::trim)
                    .filter(|reason| !reason.is_empty())
                    .map(within_limit)
                    .transpose()?;
                Ok(vec![AppointmentEvent::Cancelled(AppointmentCancelled {
                    reason,
                    was_confirmed: self.status == AppointmentStatus::Confirmed,
                })])
            }
            AppointmentCommand::ExpireRequest {} => {
                let due = self
                    .request
                    .as_ref()
                    .and_then(|request| request.respond_by)
                    .filter(|respond_by| *respond_by <= context.now);
                match due {
                    Some(respond_by) if self.status == AppointmentStatus::Requested => {
                        Ok(vec![AppointmentEvent::RequestExpired(
                            AppointmentRequestExpired { respond_by },
                        )])
                    }
                    _ => Ok(Vec::new()),
                }
            }
        }
    }

    fn apply(&mut self, event: &AppointmentEvent) {
        match event {
            AppointmentEvent::Requested(e) => {
                self.status = AppointmentStatus::Requested;
                self.request = Some(e.clone());
            }
            AppointmentEvent::TimeProposed(e) => {
                self.status = AppointmentStatus::Proposed;
                self.proposal = Some(e.clone());
            }
            AppointmentEvent::Confirmed(e) => {
                self.status = AppointmentStatus::Confirmed;
                self.confirmed = Some(e.clone());
            }
            AppointmentEvent::Declined(_) => self.status = AppointmentStatus::Declined,
            AppointmentEvent::Cancelled(_) => self.status = AppointmentStatus::Cancelled,
            AppointmentEvent::RequestExpired(_) => self.status = AppointmentStatus::Expired,
        }
    }
}

fn required_text(value: &str, rule: &'static str, ask: &str) -> Result<String, Rejection> {
    let text = value.trim();
    ensure(!text.is_empty(), rule, || ask.to_owned())?;
    within_limit(text)
}

fn within_limit(text: &str) -> Result<String, Rejection> {
    ensure(
        text.chars().count() <= MAX_TEXT_CHARS,
        "text_too_long",
        || format!("a name, contact, purpose or reason has at most {MAX_TEXT_CHARS} characters"),
    )?;
    Ok(text.to_owned())
}

/// The preferred windows in order, checked against the duration and `now`.
fn windows_of(
    mut windows: Vec<TimeWindow>,
    duration_minutes: u32,
    context: &Context,
) -> Result<Vec<TimeWindow>, Rejection> {
    ensure(
        (1..=MAX_DURATION_MINUTES).contains(&duration_minutes),
        "duration_invalid",
        || {
            format!(
                "an appointment lasts 1 to {MAX_DURATION_MINUTES} minutes, not {duration_minutes}"
            )
        },
    )?;
    ensure(!windows.is_empty(), "window_required", || {
        "give at least one window the appointment could be in".to_owned()
    })?;
    ensure(windows.len() <= MAX_WINDOWS, "too_many_windows", || {
        format!("give at most {MAX_WINDOWS} windows")
    })?;
    let duration = Duration::minutes(i64::from(duration_minutes));
    for window in &windows {
        ensure(window.ends_at > window.starts_at, "window_invalid", || {
            format!(
                "a window ends after it starts, not at {} for one starting {}",
                window.ends_at, window.starts_at
            )
        })?;
        ensure(window.starts_at > context.now, "window_in_past", || {
            format!("the window starting {} has begun", window.starts_at)
        })?;
        ensure(
            window.ends_at - window.starts_at >= duration,
            "window_shorter_than_duration",
            || {
                format!(
                    "the window starting {} is shorter than the {duration_minutes} minutes asked",
                    window.starts_at
                )
            },
        )?;
    }
    windows.sort_by_key(|window| window.starts_at);
    for pair in windows.windows(2) {
        let [earlier, later] = pair else {
            continue;
        };
        ensure(
            later.starts_at >= earlier.ends_at,
            "windows_overlap",
            || {
                format!(
                    "the windows starting {} and {} overlap; merge them",
                    earlier.starts_at, later.starts_at
                )
            },
        )?;
    }
    Ok(windows)
}
