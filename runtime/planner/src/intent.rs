//! The intents a request can carry: one per action a person asks of a
//! domain, named `<domain>.<action>` as the classifier's labels are.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The domain an intent belongs to; evaluation is reported per domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Domain {
    /// Meetings, agenda and free time.
    Calendar,
    /// Mail: replies, archiving, snoozing, labels.
    Inbox,
    /// Devices, scenes and routines.
    Home,
    /// The shopping list and the pantry.
    Groceries,
    /// Recurring upkeep of the home's assets.
    Maintenance,
    /// Trips and their reservations.
    Travel,
    /// Appointments with providers (dentist, doctor, mechanic…).
    Appointments,
    /// Personal goals and their progress.
    Goals,
    /// Requests Steward has no domain for.
    OutOfScope,
}

impl Domain {
    /// Every domain, in report order.
    pub const ALL: [Domain; 9] = [
        Domain::Calendar,
        Domain::Inbox,
        Domain::Home,
        Domain::Groceries,
        Domain::Maintenance,
        Domain::Travel,
        Domain::Appointments,
        Domain::Goals,
        Domain::OutOfScope,
    ];

    /// The name used in intent labels and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Calendar => "calendar",
            Domain::Inbox => "inbox",
            Domain::Home => "home",
            Domain::Groceries => "groceries",
            Domain::Maintenance => "maintenance",
            Domain::Travel => "travel",
            Domain::Appointments => "appointments",
            Domain::Goals => "goals",
            Domain::OutOfScope => "none",
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A label that names no [`Intent`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown intent `{0}`")]
pub struct UnknownIntent(pub String);

macro_rules! intents {
    ($($variant:ident => $domain:ident, $label:literal, $doc:literal;)+) => {
        /// What a request asks for.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Intent {
            $(#[doc = $doc] $variant,)+
        }

        impl Intent {
            /// Every intent, in catalog order.
            pub const ALL: &'static [Intent] = &[$(Intent::$variant,)+];

            /// The label, `<domain>.<action>`, as in the classifier's
            /// manifest and the labelled data.
            pub fn label(self) -> &'static str {
                match self {
                    $(Intent::$variant => $label,)+
                }
            }

            /// What it asks for, in words ("Put an item on the shopping
            /// list."), for questions to the person.
            pub fn description(self) -> &'static str {
                match self {
                    $(Intent::$variant => $doc,)+
                }
            }

            /// The domain it belongs to.
            pub fn domain(self) -> Domain {
                match self {
                    $(Intent::$variant => Domain::$domain,)+
                }
            }
        }

        impl FromStr for Intent {
            type Err = UnknownIntent;

            fn from_str(label: &str) -> Result<Self, Self::Err> {
                match label {
                    $($label => Ok(Intent::$variant),)+
                    other => Err(UnknownIntent(other.to_owned())),
                }
            }
        }
    };
}

intents! {
    ScheduleEvent => Calendar, "calendar.schedule_event", "Put a new event in the calendar.";
    RescheduleEvent => Calendar, "calendar.reschedule_event", "Move an event to another time.";
    CancelEvent => Calendar, "calendar.cancel_event", "Cancel a calendar event.";
    ShowAgenda => Calendar, "calendar.show_agenda", "What is on a day or week.";
    FindFreeTime => Calendar, "calendar.find_free_time", "When there is time free.";
    ReplyToMessage => Inbox, "inbox.reply_to_message", "Answer a message.";
    ArchiveMessage => Inbox, "inbox.archive_message", "Archive a message.";
    SnoozeMessage => Inbox, "inbox.snooze_message", "Bring a message back later.";
    ShowInbox => Inbox, "inbox.show_inbox", "What is waiting in the inbox.";
    LabelMessage => Inbox, "inbox.label_message", "Put a label on a message.";
    SetDevice => Home, "home.set_device", "Switch, dim, open, lock or set a device.";
    ActivateScene => Home, "home.activate_scene", "Set a scene.";
    DeviceStatus => Home, "home.device_status", "How a device is.";
    RunRoutine => Home, "home.run_routine", "Run a routine now.";
    AddToList => Groceries, "groceries.add_to_list", "Put an item on the shopping list.";
    RemoveFromList => Groceries, "groceries.remove_from_list", "Take an item off the shopping list.";
    ShowList => Groceries, "groceries.show_list", "What is on the shopping list.";
    RecordPantry => Groceries, "groceries.record_pantry", "What was bought or used up.";
    ShowDue => Maintenance, "maintenance.show_due", "What upkeep is due or overdue.";
    RecordDone => Maintenance, "maintenance.record_done", "An upkeep task was done.";
    AddTask => Maintenance, "maintenance.add_task", "A new recurring upkeep task.";
    PlanTrip => Travel, "travel.plan_trip", "Plan a trip.";
    AddReservation => Travel, "travel.add_reservation", "Add a booking to a trip.";
    CancelReservation => Travel, "travel.cancel_reservation", "Cancel a trip's booking.";
    ShowItinerary => Travel, "travel.show_itinerary", "A trip's plan.";
    BookAppointment => Appointments, "appointments.book_appointment", "Ask a provider for an appointment.";
    CancelAppointment => Appointments, "appointments.cancel_appointment", "Cancel an appointment.";
    ShowAppointments => Appointments, "appointments.show_appointments", "Upcoming appointments.";
    SetGoal => Goals, "goals.set_goal", "Set a new goal.";
    RecordProgress => Goals, "goals.record_progress", "Progress towards a goal.";
    ShowProgress => Goals, "goals.show_progress", "How a goal is going.";
    OutOfScope => OutOfScope, "none.out_of_scope", "Something Steward has no domain for.";
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Serialize for Intent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.label())
    }
}

impl<'de> Deserialize<'de> for Intent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let label = String::deserialize(deserializer)?;
        label.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_their_domain_and_parse_back() {
        for intent in Intent::ALL {
            let (domain, action) = intent.label().split_once('.').expect("a dotted label");
            assert_eq!(domain, intent.domain().as_str(), "{intent}");
            assert!(!action.is_empty(), "{intent}");
            assert_eq!(intent.label().parse::<Intent>(), Ok(*intent));
        }
        assert_eq!(
            "calendar.fly".parse::<Intent>(),
            Err(UnknownIntent("calendar.fly".to_owned()))
        );
    }

    #[test]
    fn every_domain_has_an_intent() {
        for domain in Domain::ALL {
            assert!(
                Intent::ALL.iter().any(|intent| intent.domain() == domain),
                "{domain}"
            );
        }
    }
}
