//! Events of the inbox domain: mail received, triaged, put away and replied to.
//!
//! Three aggregates:
//! - a message (`message-<message_id>`), one stream per received message, so
//!   that a command on one message never loads a whole mailbox: its arrival,
//!   its triage, archive, snooze and labels, and the replies drafted to it up
//!   to their sending (the actuator sends; it reports back);
//! - a mailbox's triage rules (`triagerules-<account>`), the person's own
//!   rules, applied in order to every message received;
//! - a mailbox's sync (`mailbox-<account>`): how far the mail integration
//!   has read the mailbox at its server, so that it resumes there.
//!
//! Addresses, display names, subjects, bodies, drafts and free-text reasons
//! are personal: they travel in the sealed part and default when erased.
//! Events with personal text name the message's correspondents as subjects,
//! so that erasing a correspondent erases what was said about them too.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DomainEvent;
use crate::ids::SubjectId;

// ------------------------------------------------------------ shared types

/// A person on a message: an address and the display name that came with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Correspondent {
    /// The mail address (`jane@example.org`).
    pub address: String,
    /// The display name (`Jane Doe`), when the message gave one.
    #[serde(default)]
    pub name: Option<String>,
}

impl Correspondent {
    /// A correspondent known by address only.
    pub fn address(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            name: None,
        }
    }

    /// The address as a data subject, `contact:<address lowercased>`.
    pub fn subject(&self) -> Option<SubjectId> {
        contact_subject(&self.address)
    }
}

/// `contact:<address lowercased>`, unless the address is empty or unusable.
pub fn contact_subject(address: &str) -> Option<SubjectId> {
    let address = address.trim().to_lowercase();
    if address.is_empty() {
        return None;
    }
    SubjectId::parse(format!("contact:{address}")).ok()
}

/// The subjects of `addresses`, each once, in order.
fn subjects_of<'a>(addresses: impl IntoIterator<Item = &'a str>) -> Vec<SubjectId> {
    let unique: BTreeSet<SubjectId> = addresses.into_iter().filter_map(contact_subject).collect();
    unique.into_iter().collect()
}

/// What kind of attention a message needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriageCategory {
    /// Needs the person now.
    Urgent,
    /// Someone is waiting for an answer.
    NeedsReply,
    /// Worth knowing; nothing to do.
    Fyi,
    /// A newsletter or mailing.
    Newsletter,
    /// Unwanted mail.
    Spam,
}

/// How soon a message should be looked at.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Whenever.
    Low,
    /// In the day's normal pass.
    Normal,
    /// Before the normal pass.
    High,
    /// At once.
    Urgent,
}

/// Who triaged a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "by", rename_all = "snake_case", deny_unknown_fields)]
pub enum TriageDecider {
    /// One of the person's triage rules matched.
    Rule {
        /// The rule that matched.
        rule_id: String,
    },
    /// A model classified the message.
    Model {
        /// Which model.
        model: String,
        /// How sure it was, from 0 to 1.
        confidence: f64,
    },
    /// The person decided; no rule or model overrides this.
    Person {},
}

impl TriageDecider {
    /// Whether the person decided (which sticks).
    pub fn is_person(&self) -> bool {
        matches!(self, Self::Person {})
    }
}

/// One test a triage rule makes of a message. Text tests ignore case and
/// match anywhere in the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TriageCondition {
    /// The sender's address or display name contains `text`.
    FromContains {
        /// The text to find.
        text: String,
    },
    /// A recipient's (to or cc) address or display name contains `text`.
    ToContains {
        /// The text to find.
        text: String,
    },
    /// The subject contains `text`.
    SubjectContains {
        /// The text to find.
        text: String,
    },
    /// The body text contains `text`.
    BodyContains {
        /// The text to find.
        text: String,
    },
    /// The message has a `List-Unsubscribe` header (a mailing).
    HasListUnsubscribe {},
}

impl TriageCondition {
    /// The text the condition looks for, if it looks for one.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::FromContains { text }
            | Self::ToContains { text }
            | Self::SubjectContains { text }
            | Self::BodyContains { text } => Some(text),
            Self::HasListUnsubscribe {} => None,
        }
    }

    /// The contact a from/to test names, when its text is a whole address.
    fn contact(&self) -> Option<SubjectId> {
        let text = match self {
            Self::FromContains { text } | Self::ToContains { text } => text.trim(),
            _ => return None,
        };
        let (local, domain) = text.split_once('@')?;
        if local.is_empty() || domain.is_empty() {
            return None;
        }
        contact_subject(text)
    }
}

// ----------------------------------------------------------------- message

/// A message arrived in a mailbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageReceived {
    /// The message, as the mail integration names it (also its stream id).
    pub message_id: String,
    /// The mailbox it arrived in (its triage rules: `triagerules-<account>`).
    pub account: String,
    /// The conversation it belongs to.
    pub thread_id: String,
    /// Who sent it.
    #[serde(default)]
    pub from: Correspondent,
    /// Whom it was sent to.
    #[serde(default)]
    pub to: Vec<Correspondent>,
    /// Whom it was copied to.
    #[serde(default)]
    pub cc: Vec<Correspondent>,
    /// Its subject line.
    #[serde(default)]
    pub subject: String,
    /// Its body as plain text.
    #[serde(default)]
    pub body_text: String,
    /// When the mail server received it.
    pub received_at: DateTime<Utc>,
    /// Whether it has a `List-Unsubscribe` header.
    pub has_list_unsubscribe: bool,
    /// Its size in bytes, as the server counts it.
    pub size_bytes: u64,
    /// Its `Message-ID` header, without the angle brackets, when it had one:
    /// a reply names it in `In-Reply-To` and `References`, so the sender's
    /// mail program threads the reply.
    #[serde(default)]
    pub internet_message_id: Option<String>,
}

impl DomainEvent for MessageReceived {
    const EVENT_TYPE: &'static str = "MessageReceived";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["from", "to", "cc", "subject", "body_text"];

    fn subjects(&self) -> Vec<SubjectId> {
        let people = std::iter::once(&self.from)
            .chain(&self.to)
            .chain(&self.cc)
            .map(|c| c.address.as_str());
        subjects_of(people)
    }
}

/// A message was put in a triage category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageTriaged {
    /// The category.
    pub category: TriageCategory,
    /// How soon to look at it.
    pub priority: Priority,
    /// Who decided.
    pub decided_by: TriageDecider,
    /// Why, in words (a rule's name, a model's explanation); may quote the
    /// message, so it is personal.
    #[serde(default)]
    pub reason: String,
    /// The message's correspondents' addresses, lowercased: the subjects of
    /// `reason`.
    #[serde(default)]
    pub correspondents: Vec<String>,
    /// When it was triaged.
    pub at: DateTime<Utc>,
}

impl DomainEvent for MessageTriaged {
    const EVENT_TYPE: &'static str = "MessageTriaged";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["reason", "correspondents"];

    fn subjects(&self) -> Vec<SubjectId> {
        subjects_of(self.correspondents.iter().map(String::as_str))
    }
}

/// A message left the inbox, done with. Archiving ends a snooze.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageArchived {
    /// When.
    pub at: DateTime<Utc>,
}

impl DomainEvent for MessageArchived {
    const EVENT_TYPE: &'static str = "MessageArchived";
    const SCHEMA_VERSION: u16 = 1;
}

/// An archived message came back to the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageUnarchived {
    /// When.
    pub at: DateTime<Utc>,
}

impl DomainEvent for MessageUnarchived {
    const EVENT_TYPE: &'static str = "MessageUnarchived";
    const SCHEMA_VERSION: u16 = 1;
}

/// A message was put away until `until`, when it comes back to the inbox
/// (the timer then sends `EndSnooze` with this `until`). A later snooze
/// replaces this one; snoozing an archived message unarchives it at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageSnoozed {
    /// When it comes back.
    pub until: DateTime<Utc>,
    /// When it was snoozed.
    pub at: DateTime<Utc>,
}

impl DomainEvent for MessageSnoozed {
    const EVENT_TYPE: &'static str = "MessageSnoozed";
    const SCHEMA_VERSION: u16 = 1;
}

/// A snoozed message came back to the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageSnoozeEnded {
    /// The snooze that ended (its `until`).
    pub until: DateTime<Utc>,
    /// When it ended (before `until` if ended early).
    pub at: DateTime<Utc>,
}

impl DomainEvent for MessageSnoozeEnded {
    const EVENT_TYPE: &'static str = "MessageSnoozeEnded";
    const SCHEMA_VERSION: u16 = 1;
}

/// A label was put on a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageLabelled {
    /// The label.
    pub label: String,
}

impl DomainEvent for MessageLabelled {
    const EVENT_TYPE: &'static str = "MessageLabelled";
    const SCHEMA_VERSION: u16 = 1;
}

/// A label was taken off a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageUnlabelled {
    /// The label.
    pub label: String,
}

impl DomainEvent for MessageUnlabelled {
    const EVENT_TYPE: &'static str = "MessageUnlabelled";
    const SCHEMA_VERSION: u16 = 1;
}

/// A reply to the message was drafted, or a draft revised (same `draft_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyDrafted {
    /// The draft, as the caller names it.
    pub draft_id: String,
    /// Whom the reply goes to.
    #[serde(default)]
    pub to: Vec<Correspondent>,
    /// Whom it is copied to.
    #[serde(default)]
    pub cc: Vec<Correspondent>,
    /// Its subject line.
    #[serde(default)]
    pub subject: String,
    /// Its text.
    #[serde(default)]
    pub body_text: String,
    /// When it was drafted.
    pub at: DateTime<Utc>,
}

impl DomainEvent for ReplyDrafted {
    const EVENT_TYPE: &'static str = "ReplyDrafted";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["to", "cc", "subject", "body_text"];

    fn subjects(&self) -> Vec<SubjectId> {
        subjects_of(self.to.iter().chain(&self.cc).map(|c| c.address.as_str()))
    }
}

/// A draft was thrown away unsent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyDraftDiscarded {
    /// The draft.
    pub draft_id: String,
}

impl DomainEvent for ReplyDraftDiscarded {
    const EVENT_TYPE: &'static str = "ReplyDraftDiscarded";
    const SCHEMA_VERSION: u16 = 1;
}

/// The person asked for a draft to be sent. The planner and actuator send
/// it and report back ([`ReplySent`] or [`ReplySendFailed`]); the event
/// carries the reply as it was when asked, whatever happens to the draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplySendRequested {
    /// The draft to send.
    pub draft_id: String,
    /// The mailbox to send from.
    pub account: String,
    /// The conversation the reply joins.
    pub thread_id: String,
    /// The message replied to (Steward's id of it).
    pub in_reply_to: String,
    /// The `Message-ID` header of the message replied to, when it had one
    /// (for the reply's `In-Reply-To` and `References`).
    #[serde(default)]
    pub in_reply_to_internet_id: Option<String>,
    /// Whom it goes to.
    #[serde(default)]
    pub to: Vec<Correspondent>,
    /// Whom it is copied to.
    #[serde(default)]
    pub cc: Vec<Correspondent>,
    /// Its subject line.
    #[serde(default)]
    pub subject: String,
    /// Its text.
    #[serde(default)]
    pub body_text: String,
    /// When it was asked for.
    pub requested_at: DateTime<Utc>,
}

impl DomainEvent for ReplySendRequested {
    const EVENT_TYPE: &'static str = "ReplySendRequested";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["to", "cc", "subject", "body_text"];

    fn subjects(&self) -> Vec<SubjectId> {
        subjects_of(self.to.iter().chain(&self.cc).map(|c| c.address.as_str()))
    }
}

/// The actuator sent a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplySent {
    /// The draft that was sent.
    pub draft_id: String,
    /// The sent message's id at the mail provider, when it gave one.
    pub sent_message_id: Option<String>,
    /// When the provider took it.
    pub sent_at: DateTime<Utc>,
}

impl DomainEvent for ReplySent {
    const EVENT_TYPE: &'static str = "ReplySent";
    const SCHEMA_VERSION: u16 = 1;
}

/// The actuator could not send a reply; the person may ask again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplySendFailed {
    /// The draft.
    pub draft_id: String,
    /// What went wrong, as the provider said (it may quote addresses).
    #[serde(default)]
    pub reason: String,
    /// The reply's recipients' addresses, lowercased: the subjects of
    /// `reason`.
    #[serde(default)]
    pub correspondents: Vec<String>,
    /// When the failure was recorded.
    pub at: DateTime<Utc>,
}

impl DomainEvent for ReplySendFailed {
    const EVENT_TYPE: &'static str = "ReplySendFailed";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["reason", "correspondents"];

    fn subjects(&self) -> Vec<SubjectId> {
        subjects_of(self.correspondents.iter().map(String::as_str))
    }
}

// ------------------------------------------------------------ triage rules

/// A triage rule was added at the end of the mailbox's rules.
///
/// Its name and conditions are personal (they may name contacts); once
/// erased, the rule has no conditions and matches nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageRuleAdded {
    /// The rule, as the caller names it.
    pub rule_id: String,
    /// What the person calls it.
    #[serde(default)]
    pub name: String,
    /// What a message must satisfy, all of them, for the rule to match.
    #[serde(default)]
    pub conditions: Vec<TriageCondition>,
    /// The category a matching message goes in.
    pub category: TriageCategory,
    /// Its priority.
    pub priority: Priority,
}

impl DomainEvent for TriageRuleAdded {
    const EVENT_TYPE: &'static str = "TriageRuleAdded";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["name", "conditions"];

    fn subjects(&self) -> Vec<SubjectId> {
        let unique: BTreeSet<SubjectId> = self
            .conditions
            .iter()
            .filter_map(TriageCondition::contact)
            .collect();
        unique.into_iter().collect()
    }
}

/// A triage rule was removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageRuleRemoved {
    /// The rule.
    pub rule_id: String,
}

impl DomainEvent for TriageRuleRemoved {
    const EVENT_TYPE: &'static str = "TriageRuleRemoved";
    const SCHEMA_VERSION: u16 = 1;
}

/// The triage rules were put in a new order (the first match wins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageRulesReordered {
    /// Every rule, in the new order.
    pub rule_ids: Vec<String>,
}

impl DomainEvent for TriageRulesReordered {
    const EVENT_TYPE: &'static str = "TriageRulesReordered";
    const SCHEMA_VERSION: u16 = 1;
}

/// The mail integration read a mailbox's new messages up to `last_uid`:
/// it goes on after it. IMAP numbers a mailbox's messages with UIDs that
/// only grow for as long as the mailbox's UIDVALIDITY stays the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxSynced {
    /// The folder read (`INBOX`).
    pub folder: String,
    /// The folder's UIDVALIDITY at the server.
    pub uid_validity: u32,
    /// The highest UID read.
    pub last_uid: u32,
    /// How many messages this pass handed to the inbox.
    pub messages: u32,
    /// When.
    pub synced_at: DateTime<Utc>,
}

impl DomainEvent for MailboxSynced {
    const EVENT_TYPE: &'static str = "MailboxSynced";
    const SCHEMA_VERSION: u16 = 1;
}

crate::domain_events! {
    /// What a message stream holds.
    pub enum MessageEvent {
        /// It arrived.
        Received(MessageReceived),
        /// It was triaged.
        Triaged(MessageTriaged),
        /// It was archived.
        Archived(MessageArchived),
        /// It came back from the archive.
        Unarchived(MessageUnarchived),
        /// It was snoozed.
        Snoozed(MessageSnoozed),
        /// Its snooze ended.
        SnoozeEnded(MessageSnoozeEnded),
        /// It was labelled.
        Labelled(MessageLabelled),
        /// A label came off.
        Unlabelled(MessageUnlabelled),
        /// A reply was drafted.
        ReplyDrafted(ReplyDrafted),
        /// A draft was discarded.
        ReplyDraftDiscarded(ReplyDraftDiscarded),
        /// Sending a reply was asked for.
        ReplySendRequested(ReplySendRequested),
        /// A reply was sent.
        ReplySent(ReplySent),
        /// Sending a reply failed.
        ReplySendFailed(ReplySendFailed),
    }
}

crate::domain_events! {
    /// What a mailbox's triage rules stream holds.
    pub enum TriageRulesEvent {
        /// A rule was added.
        Added(TriageRuleAdded),
        /// A rule was removed.
        Removed(TriageRuleRemoved),
        /// The rules were reordered.
        Reordered(TriageRulesReordered),
    }
}

crate::domain_events! {
    /// What a mailbox's sync stream holds.
    pub enum MailboxEvent {
        /// New messages were read.
        Synced(MailboxSynced),
    }
}

/// The JSON Schema of every event type of the domain.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    use super::EventSet as _;
    let mut schemas = MessageEvent::schemas();
    schemas.extend(TriageRulesEvent::schemas());
    schemas.extend(MailboxEvent::schemas());
    schemas
}
