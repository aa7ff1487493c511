//! `reply_mail`: a reply asked to be sent goes to the actuator as a mail,
//! and what became of it goes back to the message.
//!
//! | event | command |
//! |---|---|
//! | `ReplySendRequested` (`message-<m>`) | `RequestActuation` of an `smtp` mail to `actuation-reply-<event id>` |
//! | `ActuationSucceeded` with a `reply` | `RecordSent {draft_id, sent_message_id, sent_at}` to `message-<m>` |
//! | `ActuationFailed` with a `reply` and no `retry_at` (failed for good) | `RecordSendFailed {draft_id, reason}` |
//! | `ActuationSimulated` with a `reply` (a dry run) | `RecordSendFailed`: nothing was sent |
//!
//! Each send request is its own actuation, named by the request's event:
//! asking again after a failure sends again, while the same request seen
//! twice (a restart) is the same actuation. The mail carries everything the
//! request recorded (recipients, subject, text, and the `Message-ID` it
//! answers, for threading); a request whose personal fields were erased
//! before it was sent has no recipients left, and the mail integration
//! refuses it, which the message then records as a failed send.

use serde_json::{Value, json};
use steward_events::domain::DomainEvent as _;
use steward_events::domain::actuations::{
    ActuationFailed, ActuationSimulated, ActuationSucceeded, ReplyRef,
};
use steward_events::domain::inbox::ReplySendRequested;
use steward_events::{RecordedEvent, StreamId};

use super::{Reaction, Saga, decode};
use crate::actuations::Actuation;
use crate::aggregate::Aggregate as _;
use crate::inbox::Message;

/// The integration that sends mail.
pub const MAIL_INTEGRATION: &str = "smtp";

/// Sends requested replies through the actuator and reports their outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplyMail;

impl ReplyMail {
    fn send(event: &RecordedEvent) -> Option<Reaction> {
        if event.stream_id.category() != Message::CATEGORY {
            return None;
        }
        let request = decode::<ReplySendRequested>(event)?;
        let message_id = event.stream_id.id().to_owned();
        let actuation =
            StreamId::new(Actuation::CATEGORY, format!("reply-{}", event.event_id)).ok()?;
        let references: Vec<&String> = request.in_reply_to_internet_id.iter().collect();
        let action = json!({
            "account": request.account,
            "to": request.to,
            "cc": request.cc,
            "subject": request.subject,
            "body_text": request.body_text,
            "in_reply_to": request.in_reply_to_internet_id,
            "references": references,
        });
        Some(Reaction::new(
            "send",
            actuation,
            "RequestActuation",
            json!({
                "integration": MAIL_INTEGRATION,
                "action": action,
                "reply": ReplyRef { message_id, draft_id: request.draft_id },
            }),
        ))
    }

    fn to_message(reply: &ReplyRef, command_type: &str, data: Value) -> Option<Reaction> {
        let message = StreamId::new(Message::CATEGORY, &reply.message_id).ok()?;
        Some(Reaction::new("reply", message, command_type, data))
    }

    fn outcome(event: &RecordedEvent) -> Option<Reaction> {
        if event.stream_id.category() != Actuation::CATEGORY {
            return None;
        }
        match event.event_type.as_str() {
            ActuationSucceeded::EVENT_TYPE => {
                let succeeded = decode::<ActuationSucceeded>(event)?;
                let reply = succeeded.reply.as_ref()?;
                let sent_message_id = succeeded.result.get("message_id").and_then(Value::as_str);
                Self::to_message(
                    reply,
                    "RecordSent",
                    json!({
                        "draft_id": reply.draft_id,
                        "sent_message_id": sent_message_id,
                        "sent_at": event.recorded_at,
                    }),
                )
            }
            ActuationFailed::EVENT_TYPE => {
                let failed = decode::<ActuationFailed>(event)?;
                if failed.retry_at.is_some() {
                    return None;
                }
                let reply = failed.reply.as_ref()?;
                let reason = if failed.error.trim().is_empty() {
                    format!("sending failed at attempt {}", failed.attempt)
                } else {
                    failed.error.clone()
                };
                Self::to_message(
                    reply,
                    "RecordSendFailed",
                    json!({ "draft_id": reply.draft_id, "reason": reason }),
                )
            }
            ActuationSimulated::EVENT_TYPE => {
                let simulated = decode::<ActuationSimulated>(event)?;
                let reply = simulated.reply.as_ref()?;
                Self::to_message(
                    reply,
                    "RecordSendFailed",
                    json!({
                        "draft_id": reply.draft_id,
                        "reason": "a dry run: the reply was not sent",
                    }),
                )
            }
            _ => None,
        }
    }
}

impl Saga for ReplyMail {
    fn name(&self) -> &'static str {
        "reply_mail"
    }

    fn reacts_to(&self) -> &'static [&'static str] {
        &[
            ReplySendRequested::EVENT_TYPE,
            ActuationSucceeded::EVENT_TYPE,
            ActuationFailed::EVENT_TYPE,
            ActuationSimulated::EVENT_TYPE,
        ]
    }

    fn react(&self, event: &RecordedEvent) -> Vec<Reaction> {
        let reaction = if event.event_type.as_str() == ReplySendRequested::EVENT_TYPE {
            Self::send(event)
        } else {
            Self::outcome(event)
        };
        reaction.into_iter().collect()
    }
}
