//! Inbox: messages received, triaged, put away and replied to.
//!
//! Each received message is its own aggregate ([`Message`],
//! `message-<message_id>`): a command on one message loads that message
//! only, however large the mailbox grows. The person's triage rules are one
//! aggregate per mailbox ([`TriageRules`], `triagerules-<account>`), and so
//! is how far the mail integration has read the mailbox at its server
//! ([`Mailbox`], `mailbox-<account>`).
//!
//! Triage by rule is a saga's job: on `MessageReceived` it reads the
//! mailbox's rules, calls [`apply_rules`] and sends the decision's
//! [`TriageDecision::into_command`] to the message. A person's own triage
//! sticks: a later rule or model triage of the same message changes nothing
//! (it is accepted as a no-op, so the saga sees no failure).
//!
//! Sending goes through the planner and actuator: `RequestSend` records the
//! request with the reply as it stands, the actuator sends it and reports
//! back with `RecordSent` or `RecordSendFailed`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_events::domain::inbox::{
    Correspondent, MailboxEvent, MailboxSynced, MessageArchived, MessageEvent, MessageLabelled,
    MessageReceived, MessageSnoozeEnded, MessageSnoozed, MessageTriaged, MessageUnarchived,
    MessageUnlabelled, Priority, ReplyDraftDiscarded, ReplyDrafted, ReplySendFailed,
    ReplySendRequested, ReplySent, TriageCategory, TriageCondition, TriageDecider, TriageRuleAdded,
    TriageRuleRemoved, TriageRulesEvent, TriageRulesReordered,
};

use crate::aggregate::{Aggregate, Context, Rejection, ensure};
use crate::catalog::Visitor;

/// Shows the domain's aggregates to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<Message>();
    visitor.visit::<TriageRules>();
    visitor.visit::<Mailbox>();
}

/// The longest id (message, thread, account, draft, rule) accepted: a
/// stream id's limit.
const MAX_ID_LEN: usize = 255;
/// The longest label.
const MAX_LABEL_LEN: usize = 100;
/// The longest rule name.
const MAX_RULE_NAME_LEN: usize = 200;
/// The most triage rules a mailbox keeps; each message is tested against
/// all of them.
pub const MAX_TRIAGE_RULES: usize = 500;

/// A caller-chosen id: 1 to 255 characters without white space, so that it
/// can also name a stream.
fn id(kind: &str, value: &str) -> Result<String, Rejection> {
    let value = value.trim();
    ensure(
        !value.is_empty()
            && value.len() <= MAX_ID_LEN
            && !value.chars().any(|c| c.is_whitespace() || c.is_control()),
        "id_invalid",
        || format!("a {kind} is 1 to {MAX_ID_LEN} characters without spaces, not `{value}`"),
    )?;
    Ok(value.to_owned())
}

/// The longest `Message-ID` accepted; real ones are well under 100.
const MAX_INTERNET_ID_LEN: usize = 500;

/// A `Message-ID` header without its angle brackets: printable ASCII, no
/// white space, as RFC 5322 has it, so that it goes back out in a reply's
/// `In-Reply-To` exactly as it came.
fn internet_id(value: &str) -> Result<String, Rejection> {
    let value = value.trim();
    let value = value
        .strip_prefix('<')
        .and_then(|inner| inner.strip_suffix('>'))
        .unwrap_or(value);
    ensure(
        !value.is_empty()
            && value.len() <= MAX_INTERNET_ID_LEN
            && value
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '<' && c != '>'),
        "internet_message_id_invalid",
        || {
            format!(
                "a Message-ID is 1 to {MAX_INTERNET_ID_LEN} printable ASCII characters without \
                 spaces (`<id@host>`)"
            )
        },
    )?;
    Ok(value.to_owned())
}

/// The correspondent trimmed, with an empty display name dropped.
fn tidy(correspondent: Correspondent) -> Correspondent {
    Correspondent {
        address: correspondent.address.trim().to_owned(),
        name: correspondent
            .name
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty()),
    }
}

/// The correspondents trimmed, those without an address left out (a mail
/// server reports what it got; an empty entry names nobody).
fn tidy_all(correspondents: Vec<Correspondent>) -> Vec<Correspondent> {
    correspondents
        .into_iter()
        .map(tidy)
        .filter(|c| !c.address.is_empty())
        .collect()
}

/// The addresses, lowercased, each once.
fn addresses<'a>(people: impl IntoIterator<Item = &'a Correspondent>) -> Vec<String> {
    let unique: BTreeSet<String> = people
        .into_iter()
        .map(|c| c.address.trim().to_lowercase())
        .filter(|a| !a.is_empty())
        .collect();
    unique.into_iter().collect()
}

/// A label's key: trimmed and lowercased, so `Work` and `work ` are one.
fn label_key(label: &str) -> String {
    label.trim().to_lowercase()
}

fn label_name(label: &str) -> Result<String, Rejection> {
    let label = label.trim();
    ensure(!label.is_empty(), "label_required", || {
        "name the label".to_owned()
    })?;
    ensure(
        label.chars().count() <= MAX_LABEL_LEN,
        "label_too_long",
        || format!("a label has at most {MAX_LABEL_LEN} characters"),
    )?;
    Ok(label.to_owned())
}

// ----------------------------------------------------------------- message

/// Commands to a message (`message-<message_id>`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum MessageCommand {
    /// The mail integration got the message; receiving it again changes
    /// nothing.
    Receive {
        /// The message's id (the stream's id too), chosen by the integration.
        message_id: String,
        /// The mailbox it arrived in.
        account: String,
        /// Its conversation (default: a thread of its own, the message id).
        #[serde(default)]
        thread_id: Option<String>,
        /// Who sent it.
        from: Correspondent,
        /// Whom it was sent to.
        #[serde(default)]
        to: Vec<Correspondent>,
        /// Whom it was copied to.
        #[serde(default)]
        cc: Vec<Correspondent>,
        /// Its subject line.
        #[serde(default)]
        subject: String,
        /// Its body as plain text.
        #[serde(default)]
        body_text: String,
        /// When the mail server received it (not when Steward heard of it).
        received_at: DateTime<Utc>,
        /// Whether it has a `List-Unsubscribe` header.
        #[serde(default)]
        has_list_unsubscribe: bool,
        /// Its size in bytes.
        #[serde(default)]
        size_bytes: u64,
        /// Its `Message-ID` header, with or without the angle brackets.
        #[serde(default)]
        internet_message_id: Option<String>,
    },
    /// Put the message in a category. A person's triage is never replaced
    /// by a rule's or a model's: those are then accepted and change nothing.
    Triage {
        /// The category.
        category: TriageCategory,
        /// How soon to look at it.
        priority: Priority,
        /// Who decides.
        decided_by: TriageDecider,
        /// Why, in words.
        #[serde(default)]
        reason: String,
    },
    /// Take the message out of the inbox; ends a snooze.
    Archive {},
    /// Bring an archived message back to the inbox.
    Unarchive {},
    /// Put the message away until `until`; a new snooze replaces the last.
    Snooze {
        /// When it comes back (after now).
        until: DateTime<Utc>,
    },
    /// Bring a snoozed message back: the timer sends it at `until`, a person
    /// may send it earlier. Changes nothing unless the message is snoozed
    /// until exactly `until` (a stale or repeated timer).
    EndSnooze {
        /// The `until` of the snooze to end.
        until: DateTime<Utc>,
    },
    /// Put a label on the message (labels ignore case).
    Label {
        /// The label.
        label: String,
    },
    /// Take a label off.
    Unlabel {
        /// The label.
        label: String,
    },
    /// Draft a reply, or revise the draft `draft_id` (until it is sent).
    DraftReply {
        /// The draft, named by the caller.
        draft_id: String,
        /// Whom it goes to (default: the sender).
        #[serde(default)]
        to: Vec<Correspondent>,
        /// Whom to copy.
        #[serde(default)]
        cc: Vec<Correspondent>,
        /// Its subject line (default: `Re: ` and the message's subject).
        #[serde(default)]
        subject: Option<String>,
        /// Its text.
        body_text: String,
    },
    /// Throw a draft away unsent.
    DiscardDraft {
        /// The draft.
        draft_id: String,
    },
    /// Ask for a draft to be sent (through the planner and actuator).
    /// Asking again while it is on its way, or once sent, changes nothing.
    RequestSend {
        /// The draft.
        draft_id: String,
    },
    /// The actuator's report: the reply was sent.
    RecordSent {
        /// The draft that was sent.
        draft_id: String,
        /// The sent message's id at the provider, if it gave one.
        #[serde(default)]
        sent_message_id: Option<String>,
        /// When the provider took it.
        sent_at: DateTime<Utc>,
    },
    /// The actuator's report: the reply could not be sent.
    RecordSendFailed {
        /// The draft.
        draft_id: String,
        /// What went wrong.
        #[serde(default)]
        reason: String,
    },
}

/// The message's current triage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Triage {
    /// The category.
    pub category: TriageCategory,
    /// How soon to look at it.
    pub priority: Priority,
    /// Who decided.
    pub decided_by: TriageDecider,
    /// Why.
    pub reason: String,
}

/// Where a reply stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyStatus {
    /// A draft, still open to change.
    Drafted,
    /// Asked to be sent; the actuator has it.
    SendRequested,
    /// Sent.
    Sent,
    /// The last attempt failed; it may be revised or asked for again.
    SendFailed,
}

/// A reply to the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// Whom it goes to.
    pub to: Vec<Correspondent>,
    /// Whom it is copied to.
    pub cc: Vec<Correspondent>,
    /// Its subject line.
    pub subject: String,
    /// Its text.
    pub body_text: String,
    /// Where it stands.
    pub status: ReplyStatus,
    /// Its id at the provider, once sent.
    pub sent_message_id: Option<String>,
}

/// One received message and what became of it.
///
/// The state keeps the addresses and subject (a reply is addressed from
/// them) and the replies' text (a send request carries it), not the body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Whether it was received (every other command needs it).
    pub received: bool,
    /// Its id.
    pub message_id: String,
    /// Its mailbox.
    pub account: String,
    /// Its conversation.
    pub thread_id: String,
    /// Who sent it.
    pub from: Correspondent,
    /// Whom it was sent to.
    pub to: Vec<Correspondent>,
    /// Whom it was copied to.
    pub cc: Vec<Correspondent>,
    /// Its subject line.
    pub subject: String,
    /// When the mail server received it.
    pub received_at: Option<DateTime<Utc>>,
    /// Whether it has a `List-Unsubscribe` header.
    pub has_list_unsubscribe: bool,
    /// Its `Message-ID` header, without the angle brackets.
    pub internet_message_id: Option<String>,
    /// Its triage, once triaged.
    pub triage: Option<Triage>,
    /// Whether it is archived.
    pub archived: bool,
    /// When it comes back, while snoozed.
    pub snoozed_until: Option<DateTime<Utc>>,
    /// Its labels, by key.
    pub labels: BTreeMap<String, String>,
    /// Its replies, by draft id.
    pub replies: BTreeMap<String, Reply>,
}

impl Message {
    /// Whether it shows in the inbox: neither archived nor snoozed.
    pub fn in_inbox(&self) -> bool {
        self.received && !self.archived && self.snoozed_until.is_none()
    }

    fn known(&self) -> Result<(), Rejection> {
        ensure(self.received, "unknown_message", || {
            "no such message has been received".to_owned()
        })
    }

    fn reply(&self, draft_id: &str) -> Result<&Reply, Rejection> {
        self.replies.get(draft_id.trim()).ok_or_else(|| {
            Rejection::new(
                "no_draft",
                format!("the message has no draft `{}`", draft_id.trim()),
            )
        })
    }

    fn not_spam(&self) -> Result<(), Rejection> {
        let spam = self
            .triage
            .as_ref()
            .is_some_and(|t| t.category == TriageCategory::Spam);
        ensure(!spam, "reply_to_spam", || {
            "the message is triaged as spam; replying would confirm the address to its sender \
             (triage it otherwise first)"
                .to_owned()
        })
    }

    /// `Re: <subject>`, unless the subject already starts so.
    fn reply_subject(&self) -> String {
        let subject = self.subject.trim();
        let already = subject
            .get(..3)
            .is_some_and(|start| start.eq_ignore_ascii_case("re:"));
        if already {
            subject.to_owned()
        } else {
            format!("Re: {subject}").trim_end().to_owned()
        }
    }

    fn decide_triage(
        &self,
        category: TriageCategory,
        priority: Priority,
        decided_by: TriageDecider,
        reason: String,
        context: &Context,
    ) -> Result<Vec<MessageEvent>, Rejection> {
        let decided_by = match decided_by {
            TriageDecider::Rule { rule_id } => TriageDecider::Rule {
                rule_id: id("rule id", &rule_id)?,
            },
            TriageDecider::Model { model, confidence } => {
                let model = model.trim().to_owned();
                ensure(!model.is_empty(), "model_required", || {
                    "name the model that triaged the message".to_owned()
                })?;
                ensure(
                    (0.0..=1.0).contains(&confidence),
                    "confidence_invalid",
                    || format!("a confidence is from 0 to 1, not {confidence}"),
                )?;
                TriageDecider::Model { model, confidence }
            }
            TriageDecider::Person {} => TriageDecider::Person {},
        };
        let triage = Triage {
            category,
            priority,
            decided_by,
            reason: reason.trim().to_owned(),
        };
        if let Some(current) = &self.triage {
            // The person's own decision sticks: rules and models that run
            // later (or again) must not undo it.
            let overrides_person = current.decided_by.is_person() && !triage.decided_by.is_person();
            if overrides_person || *current == triage {
                return Ok(Vec::new());
            }
        }
        Ok(vec![MessageEvent::Triaged(MessageTriaged {
            category: triage.category,
            priority: triage.priority,
            decided_by: triage.decided_by,
            reason: triage.reason,
            correspondents: addresses(std::iter::once(&self.from).chain(&self.to).chain(&self.cc)),
            at: context.now,
        })])
    }

    fn decide_draft(
        &self,
        draft_id: String,
        to: Vec<Correspondent>,
        cc: Vec<Correspondent>,
        subject: Option<String>,
        body_text: String,
        context: &Context,
    ) -> Result<Vec<MessageEvent>, Rejection> {
        self.not_spam()?;
        let draft_id = id("draft id", &draft_id)?;
        ensure(!body_text.trim().is_empty(), "draft_empty", || {
            "write the reply's text".to_owned()
        })?;
        let mut to = tidy_all(to);
        if to.is_empty() {
            to = tidy_all(vec![self.from.clone()]);
        }
        ensure(!to.is_empty(), "no_recipients", || {
            "say whom the reply goes to (the sender's address is not known)".to_owned()
        })?;
        let cc = tidy_all(cc);
        if let Some(bad) = to
            .iter()
            .chain(&cc)
            .find(|c| !looks_like_address(&c.address))
        {
            return Err(Rejection::new(
                "recipient_invalid",
                format!("`{}` is not a mail address", bad.address),
            ));
        }
        let subject = subject
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| self.reply_subject());
        if let Some(existing) = self.replies.get(&draft_id) {
            ensure_open(&draft_id, existing)?;
            let unchanged = existing.status == ReplyStatus::Drafted
                && existing.to == to
                && existing.cc == cc
                && existing.subject == subject
                && existing.body_text == body_text;
            if unchanged {
                return Ok(Vec::new());
            }
        }
        Ok(vec![MessageEvent::ReplyDrafted(ReplyDrafted {
            draft_id,
            to,
            cc,
            subject,
            body_text,
            at: context.now,
        })])
    }
}

/// Refuses to change a reply that is on its way or gone.
fn ensure_open(draft_id: &str, reply: &Reply) -> Result<(), Rejection> {
    ensure(
        reply.status != ReplyStatus::SendRequested,
        "send_pending",
        || format!("draft `{draft_id}` is being sent; wait for the outcome"),
    )?;
    ensure(reply.status != ReplyStatus::Sent, "already_sent", || {
        format!("draft `{draft_id}` was sent; draft a new reply instead")
    })
}

/// `local@domain`, without white space: enough to refuse a slip, not a
/// full RFC 5322 check (the provider has the last word).
fn looks_like_address(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Aggregate for Message {
    const CATEGORY: &'static str = "message";
    const DOMAIN: &'static str = "inbox";
    // 2: the message's `Message-ID`.
    const STATE_VERSION: u32 = 2;
    type Command = MessageCommand;
    type Event = MessageEvent;

    fn decide(
        &self,
        command: MessageCommand,
        context: &Context,
    ) -> Result<Vec<MessageEvent>, Rejection> {
        // Nothing happens to a message before it arrives.
        if !matches!(command, MessageCommand::Receive { .. }) {
            self.known()?;
        }
        match command {
            MessageCommand::Receive {
                message_id,
                account,
                thread_id,
                from,
                to,
                cc,
                subject,
                body_text,
                received_at,
                has_list_unsubscribe,
                size_bytes,
                internet_message_id,
            } => {
                let message_id = id("message id", &message_id)?;
                if self.received {
                    ensure(self.message_id == message_id, "message_id_mismatch", || {
                        format!(
                            "this stream holds message `{}`, not `{message_id}`",
                            self.message_id
                        )
                    })?;
                    return Ok(Vec::new());
                }
                let account = id("mail account", &account)?;
                let thread_id = match thread_id {
                    Some(thread) => id("thread id", &thread)?,
                    None => message_id.clone(),
                };
                let from = tidy(from);
                ensure(!from.address.is_empty(), "from_required", || {
                    "a received message has a sender address".to_owned()
                })?;
                Ok(vec![MessageEvent::Received(MessageReceived {
                    message_id,
                    account,
                    thread_id,
                    from,
                    to: tidy_all(to),
                    cc: tidy_all(cc),
                    subject,
                    body_text,
                    received_at,
                    has_list_unsubscribe,
                    size_bytes,
                    internet_message_id: internet_message_id
                        .map(|id| internet_id(&id))
                        .transpose()?,
                })])
            }
            MessageCommand::Triage {
                category,
                priority,
                decided_by,
                reason,
            } => self.decide_triage(category, priority, decided_by, reason, context),
            MessageCommand::Archive {} => {
                if self.archived {
                    return Ok(Vec::new());
                }
                Ok(vec![MessageEvent::Archived(MessageArchived {
                    at: context.now,
                })])
            }
            MessageCommand::Unarchive {} => {
                if !self.archived {
                    return Ok(Vec::new());
                }
                Ok(vec![MessageEvent::Unarchived(MessageUnarchived {
                    at: context.now,
                })])
            }
            MessageCommand::Snooze { until } => {
                ensure(until > context.now, "snooze_in_past", || {
                    format!(
                        "snooze until a time after now ({}), not {until}",
                        context.now
                    )
                })?;
                if self.snoozed_until == Some(until) {
                    return Ok(Vec::new());
                }
                Ok(vec![MessageEvent::Snoozed(MessageSnoozed {
                    until,
                    at: context.now,
                })])
            }
            MessageCommand::EndSnooze { until } => {
                // Timers fire at least once and a re-snooze leaves the old
                // timer running: only the current snooze's timer ends it.
                if self.snoozed_until != Some(until) {
                    return Ok(Vec::new());
                }
                Ok(vec![MessageEvent::SnoozeEnded(MessageSnoozeEnded {
                    until,
                    at: context.now,
                })])
            }
            MessageCommand::Label { label } => {
                let label = label_name(&label)?;
                if self.labels.contains_key(&label_key(&label)) {
                    return Ok(Vec::new());
                }
                Ok(vec![MessageEvent::Labelled(MessageLabelled { label })])
            }
            MessageCommand::Unlabel { label } => {
                let label = label_name(&label)?;
                let Some(existing) = self.labels.get(&label_key(&label)) else {
                    return Ok(Vec::new());
                };
                Ok(vec![MessageEvent::Unlabelled(MessageUnlabelled {
                    label: existing.clone(),
                })])
            }
            MessageCommand::DraftReply {
                draft_id,
                to,
                cc,
                subject,
                body_text,
            } => self.decide_draft(draft_id, to, cc, subject, body_text, context),
            MessageCommand::DiscardDraft { draft_id } => {
                let reply = self.reply(&draft_id)?;
                let draft_id = draft_id.trim().to_owned();
                ensure_open(&draft_id, reply)?;
                Ok(vec![MessageEvent::ReplyDraftDiscarded(
                    ReplyDraftDiscarded { draft_id },
                )])
            }
            MessageCommand::RequestSend { draft_id } => {
                let reply = self.reply(&draft_id)?;
                let draft_id = draft_id.trim().to_owned();
                if matches!(reply.status, ReplyStatus::SendRequested | ReplyStatus::Sent) {
                    return Ok(Vec::new());
                }
                self.not_spam()?;
                Ok(vec![MessageEvent::ReplySendRequested(ReplySendRequested {
                    draft_id,
                    account: self.account.clone(),
                    thread_id: self.thread_id.clone(),
                    in_reply_to: self.message_id.clone(),
                    in_reply_to_internet_id: self.internet_message_id.clone(),
                    to: reply.to.clone(),
                    cc: reply.cc.clone(),
                    subject: reply.subject.clone(),
                    body_text: reply.body_text.clone(),
                    requested_at: context.now,
                })])
            }
            MessageCommand::RecordSent {
                draft_id,
                sent_message_id,
                sent_at,
            } => {
                let reply = self.reply(&draft_id)?;
                let draft_id = draft_id.trim().to_owned();
                match reply.status {
                    // A report delivered twice.
                    ReplyStatus::Sent => Ok(Vec::new()),
                    ReplyStatus::Drafted => Err(not_requested(&draft_id)),
                    // A success after a reported failure still went out.
                    ReplyStatus::SendRequested | ReplyStatus::SendFailed => {
                        Ok(vec![MessageEvent::ReplySent(ReplySent {
                            draft_id,
                            sent_message_id: sent_message_id
                                .map(|id| id.trim().to_owned())
                                .filter(|id| !id.is_empty()),
                            sent_at,
                        })])
                    }
                }
            }
            MessageCommand::RecordSendFailed { draft_id, reason } => {
                let reply = self.reply(&draft_id)?;
                let draft_id = draft_id.trim().to_owned();
                match reply.status {
                    // Repeated, or overtaken by a success: nothing to add.
                    ReplyStatus::Sent | ReplyStatus::SendFailed => Ok(Vec::new()),
                    ReplyStatus::Drafted => Err(not_requested(&draft_id)),
                    ReplyStatus::SendRequested => {
                        Ok(vec![MessageEvent::ReplySendFailed(ReplySendFailed {
                            draft_id,
                            reason: reason.trim().to_owned(),
                            correspondents: addresses(reply.to.iter().chain(&reply.cc)),
                            at: context.now,
                        })])
                    }
                }
            }
        }
    }

    fn apply(&mut self, event: &MessageEvent) {
        match event {
            MessageEvent::Received(e) => {
                self.received = true;
                self.message_id.clone_from(&e.message_id);
                self.account.clone_from(&e.account);
                self.thread_id.clone_from(&e.thread_id);
                self.from = e.from.clone();
                self.to.clone_from(&e.to);
                self.cc.clone_from(&e.cc);
                self.subject.clone_from(&e.subject);
                self.received_at = Some(e.received_at);
                self.has_list_unsubscribe = e.has_list_unsubscribe;
                self.internet_message_id.clone_from(&e.internet_message_id);
            }
            MessageEvent::Triaged(e) => {
                self.triage = Some(Triage {
                    category: e.category,
                    priority: e.priority,
                    decided_by: e.decided_by.clone(),
                    reason: e.reason.clone(),
                });
            }
            MessageEvent::Archived(_) => {
                self.archived = true;
                self.snoozed_until = None;
            }
            MessageEvent::Unarchived(_) => self.archived = false,
            MessageEvent::Snoozed(e) => {
                // Out of the archive now, back in the inbox when it ends.
                self.archived = false;
                self.snoozed_until = Some(e.until);
            }
            MessageEvent::SnoozeEnded(_) => self.snoozed_until = None,
            MessageEvent::Labelled(e) => {
                self.labels.insert(label_key(&e.label), e.label.clone());
            }
            MessageEvent::Unlabelled(e) => {
                self.labels.remove(&label_key(&e.label));
            }
            MessageEvent::ReplyDrafted(e) => {
                self.replies.insert(
                    e.draft_id.clone(),
                    Reply {
                        to: e.to.clone(),
                        cc: e.cc.clone(),
                        subject: e.subject.clone(),
                        body_text: e.body_text.clone(),
                        status: ReplyStatus::Drafted,
                        sent_message_id: None,
                    },
                );
            }
            MessageEvent::ReplyDraftDiscarded(e) => {
                self.replies.remove(&e.draft_id);
            }
            MessageEvent::ReplySendRequested(e) => {
                if let Some(reply) = self.replies.get_mut(&e.draft_id) {
                    reply.status = ReplyStatus::SendRequested;
                }
            }
            MessageEvent::ReplySent(e) => {
                if let Some(reply) = self.replies.get_mut(&e.draft_id) {
                    reply.status = ReplyStatus::Sent;
                    reply.sent_message_id.clone_from(&e.sent_message_id);
                }
            }
            MessageEvent::ReplySendFailed(e) => {
                if let Some(reply) = self.replies.get_mut(&e.draft_id) {
                    reply.status = ReplyStatus::SendFailed;
                }
            }
        }
    }
}

fn not_requested(draft_id: &str) -> Rejection {
    Rejection::new(
        "send_not_requested",
        format!("draft `{draft_id}` was not asked to be sent"),
    )
}

// ------------------------------------------------------------ triage rules

/// Commands to a mailbox's triage rules (`triagerules-<account>`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum TriageRulesCommand {
    /// Add a rule after the others; adding the same rule again changes
    /// nothing.
    AddTriageRule {
        /// The rule, named by the caller.
        rule_id: String,
        /// What the person calls it.
        #[serde(default)]
        name: String,
        /// What a message must satisfy, all of them (at least one).
        conditions: Vec<TriageCondition>,
        /// The category a matching message goes in.
        category: TriageCategory,
        /// Its priority.
        priority: Priority,
    },
    /// Remove a rule.
    RemoveTriageRule {
        /// The rule.
        rule_id: String,
    },
    /// Put the rules in a new order: the first that matches a message wins.
    ReorderTriageRules {
        /// Every rule's id, each once, in the new order.
        rule_ids: Vec<String>,
    },
}

/// One of the person's triage rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriageRule {
    /// Its id.
    pub rule_id: String,
    /// What the person calls it.
    pub name: String,
    /// What a message must satisfy, all of them; none (after an erasure)
    /// matches nothing.
    pub conditions: Vec<TriageCondition>,
    /// The category a matching message goes in.
    pub category: TriageCategory,
    /// Its priority.
    pub priority: Priority,
}

/// A mailbox's triage rules, in the order they are tried.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriageRules {
    /// The rules, first tried first.
    pub rules: Vec<TriageRule>,
}

impl TriageRules {
    fn position(&self, rule_id: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.rule_id == rule_id)
    }
}

fn condition(condition: TriageCondition) -> Result<TriageCondition, Rejection> {
    let text = |text: String| {
        let text = text.trim().to_owned();
        ensure(!text.is_empty(), "condition_text_required", || {
            "a text condition needs the text to look for".to_owned()
        })?;
        Ok::<_, Rejection>(text)
    };
    Ok(match condition {
        TriageCondition::FromContains { text: t } => {
            TriageCondition::FromContains { text: text(t)? }
        }
        TriageCondition::ToContains { text: t } => TriageCondition::ToContains { text: text(t)? },
        TriageCondition::SubjectContains { text: t } => {
            TriageCondition::SubjectContains { text: text(t)? }
        }
        TriageCondition::BodyContains { text: t } => {
            TriageCondition::BodyContains { text: text(t)? }
        }
        TriageCondition::HasListUnsubscribe {} => TriageCondition::HasListUnsubscribe {},
    })
}

impl Aggregate for TriageRules {
    const CATEGORY: &'static str = "triagerules";
    const DOMAIN: &'static str = "inbox";
    const STATE_VERSION: u32 = 1;
    type Command = TriageRulesCommand;
    type Event = TriageRulesEvent;

    fn decide(
        &self,
        command: TriageRulesCommand,
        _context: &Context,
    ) -> Result<Vec<TriageRulesEvent>, Rejection> {
        match command {
            TriageRulesCommand::AddTriageRule {
                rule_id,
                name,
                conditions,
                category,
                priority,
            } => {
                let rule_id = id("rule id", &rule_id)?;
                let name = name.trim().to_owned();
                ensure(
                    name.chars().count() <= MAX_RULE_NAME_LEN,
                    "rule_name_too_long",
                    || format!("a rule's name has at most {MAX_RULE_NAME_LEN} characters"),
                )?;
                ensure(!conditions.is_empty(), "conditions_required", || {
                    "a rule needs at least one condition; one without would catch every message"
                        .to_owned()
                })?;
                let conditions = conditions
                    .into_iter()
                    .map(condition)
                    .collect::<Result<Vec<_>, _>>()?;
                let rule = TriageRule {
                    rule_id,
                    name,
                    conditions,
                    category,
                    priority,
                };
                if let Some(at) = self.position(&rule.rule_id) {
                    ensure(self.rules[at] == rule, "rule_id_taken", || {
                        format!(
                            "another rule is called `{}`; remove it first or choose another id",
                            rule.rule_id
                        )
                    })?;
                    return Ok(Vec::new());
                }
                ensure(
                    self.rules.len() < MAX_TRIAGE_RULES,
                    "too_many_rules",
                    || format!("a mailbox keeps at most {MAX_TRIAGE_RULES} triage rules"),
                )?;
                Ok(vec![TriageRulesEvent::Added(TriageRuleAdded {
                    rule_id: rule.rule_id,
                    name: rule.name,
                    conditions: rule.conditions,
                    category: rule.category,
                    priority: rule.priority,
                })])
            }
            TriageRulesCommand::RemoveTriageRule { rule_id } => {
                let rule_id = rule_id.trim().to_owned();
                ensure(self.position(&rule_id).is_some(), "unknown_rule", || {
                    format!("there is no triage rule `{rule_id}`")
                })?;
                Ok(vec![TriageRulesEvent::Removed(TriageRuleRemoved {
                    rule_id,
                })])
            }
            TriageRulesCommand::ReorderTriageRules { rule_ids } => {
                let rule_ids: Vec<String> =
                    rule_ids.iter().map(|id| id.trim().to_owned()).collect();
                let mut asked = rule_ids.clone();
                asked.sort();
                let mut existing: Vec<String> =
                    self.rules.iter().map(|r| r.rule_id.clone()).collect();
                let unchanged = existing == rule_ids;
                existing.sort();
                ensure(asked == existing, "order_mismatch", || {
                    "list every rule exactly once, and no others".to_owned()
                })?;
                if unchanged {
                    return Ok(Vec::new());
                }
                Ok(vec![TriageRulesEvent::Reordered(TriageRulesReordered {
                    rule_ids,
                })])
            }
        }
    }

    fn apply(&mut self, event: &TriageRulesEvent) {
        match event {
            TriageRulesEvent::Added(e) => {
                let rule = TriageRule {
                    rule_id: e.rule_id.clone(),
                    name: e.name.clone(),
                    conditions: e.conditions.clone(),
                    category: e.category,
                    priority: e.priority,
                };
                match self.position(&e.rule_id) {
                    Some(at) => self.rules[at] = rule,
                    None => self.rules.push(rule),
                }
            }
            TriageRulesEvent::Removed(e) => self.rules.retain(|r| r.rule_id != e.rule_id),
            TriageRulesEvent::Reordered(e) => {
                // Listed rules first, in the new order; any not listed keep
                // their relative order after them.
                let rank = |rule: &TriageRule| {
                    e.rule_ids
                        .iter()
                        .position(|id| *id == rule.rule_id)
                        .unwrap_or(usize::MAX)
                };
                self.rules.sort_by_key(rank);
            }
        }
    }
}

// ------------------------------------------------------------ mailbox sync

/// Commands to a mailbox's sync (`mailbox-<account>`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum MailboxCommand {
    /// The mail integration handed the folder's messages up to `last_uid`
    /// to the inbox. Reporting a point already passed changes nothing; a new
    /// `uid_validity` (the server renumbered the folder) starts over.
    RecordSync {
        /// The folder (`INBOX`).
        folder: String,
        /// The folder's UIDVALIDITY.
        uid_validity: u32,
        /// The highest UID handed on.
        last_uid: u32,
        /// How many messages were handed on.
        #[serde(default)]
        messages: u32,
    },
}

/// How far the mail integration has read a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderSync {
    /// The folder's UIDVALIDITY when it was read.
    pub uid_validity: u32,
    /// The highest UID read.
    pub last_uid: u32,
}

/// How far the mail integration has read a mailbox at its server, folder by
/// folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mailbox {
    /// Each folder read, by name.
    pub folders: BTreeMap<String, FolderSync>,
}

impl Mailbox {
    /// Where to go on reading `folder` whose UIDVALIDITY is now
    /// `uid_validity`: after the last UID read, or from the start when the
    /// folder was never read or has been renumbered since.
    pub fn resume_after(&self, folder: &str, uid_validity: u32) -> u32 {
        self.folders
            .get(folder)
            .filter(|sync| sync.uid_validity == uid_validity)
            .map_or(0, |sync| sync.last_uid)
    }
}

impl Aggregate for Mailbox {
    const CATEGORY: &'static str = "mailbox";
    const DOMAIN: &'static str = "inbox";
    const STATE_VERSION: u32 = 1;
    type Command = MailboxCommand;
    type Event = MailboxEvent;

    fn decide(
        &self,
        command: MailboxCommand,
        context: &Context,
    ) -> Result<Vec<MailboxEvent>, Rejection> {
        match command {
            MailboxCommand::RecordSync {
                folder,
                uid_validity,
                last_uid,
                messages,
            } => {
                let folder = folder.trim().to_owned();
                ensure(
                    !folder.is_empty() && folder.len() <= MAX_ID_LEN,
                    "folder_invalid",
                    || format!("name the folder, in at most {MAX_ID_LEN} bytes"),
                )?;
                ensure(uid_validity > 0, "uid_validity_invalid", || {
                    "a folder's UIDVALIDITY is a positive number".to_owned()
                })?;
                let already = self.folders.get(&folder).is_some_and(|read| {
                    read.uid_validity == uid_validity && read.last_uid >= last_uid
                });
                if already {
                    return Ok(Vec::new());
                }
                Ok(vec![MailboxEvent::Synced(MailboxSynced {
                    folder,
                    uid_validity,
                    last_uid,
                    messages,
                    synced_at: context.now,
                })])
            }
        }
    }

    fn apply(&mut self, event: &MailboxEvent) {
        match event {
            MailboxEvent::Synced(e) => {
                self.folders.insert(
                    e.folder.clone(),
                    FolderSync {
                        uid_validity: e.uid_validity,
                        last_uid: e.last_uid,
                    },
                );
            }
        }
    }
}

// ---------------------------------------------------------- applying rules

/// The parts of a message a triage rule looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MessageFields<'a> {
    /// Who sent it.
    pub from: &'a Correspondent,
    /// Whom it was sent to.
    pub to: &'a [Correspondent],
    /// Whom it was copied to.
    pub cc: &'a [Correspondent],
    /// Its subject line.
    pub subject: &'a str,
    /// Its body text.
    pub body_text: &'a str,
    /// Whether it has a `List-Unsubscribe` header.
    pub has_list_unsubscribe: bool,
}

impl<'a> From<&'a MessageReceived> for MessageFields<'a> {
    fn from(message: &'a MessageReceived) -> Self {
        Self {
            from: &message.from,
            to: &message.to,
            cc: &message.cc,
            subject: &message.subject,
            body_text: &message.body_text,
            has_list_unsubscribe: message.has_list_unsubscribe,
        }
    }
}

/// What a rule decided about a message.
#[derive(Debug, Clone, PartialEq)]
pub struct TriageDecision {
    /// The category.
    pub category: TriageCategory,
    /// The priority.
    pub priority: Priority,
    /// The rule (`TriageDecider::Rule`).
    pub decided_by: TriageDecider,
    /// The rule's name, as the reason.
    pub reason: String,
}

impl TriageDecision {
    /// The `Triage` command to send to the message.
    pub fn into_command(self) -> MessageCommand {
        MessageCommand::Triage {
            category: self.category,
            priority: self.priority,
            decided_by: self.decided_by,
            reason: self.reason,
        }
    }
}

/// Whether `needle` occurs in `haystack`, ignoring case.
fn contains(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

fn mentions(person: &Correspondent, text: &str) -> bool {
    contains(&person.address, text) || person.name.as_deref().is_some_and(|n| contains(n, text))
}

/// Whether the message satisfies the condition.
pub fn condition_matches(condition: &TriageCondition, message: &MessageFields<'_>) -> bool {
    match condition {
        TriageCondition::FromContains { text } => mentions(message.from, text),
        TriageCondition::ToContains { text } => message
            .to
            .iter()
            .chain(message.cc)
            .any(|person| mentions(person, text)),
        TriageCondition::SubjectContains { text } => contains(message.subject, text),
        TriageCondition::BodyContains { text } => contains(message.body_text, text),
        TriageCondition::HasListUnsubscribe {} => message.has_list_unsubscribe,
    }
}

/// The decision of the first rule, in order, whose conditions the message
/// all satisfies; `None` when no rule matches. A rule without conditions
/// (its personal part erased) matches nothing.
pub fn apply_rules(rules: &TriageRules, message: &MessageFields<'_>) -> Option<TriageDecision> {
    rules
        .rules
        .iter()
        .find(|rule| {
            !rule.conditions.is_empty()
                && rule
                    .conditions
                    .iter()
                    .all(|condition| condition_matches(condition, message))
        })
        .map(|rule| TriageDecision {
            category: rule.category,
            priority: rule.priority,
            decided_by: TriageDecider::Rule {
                rule_id: rule.rule_id.clone(),
            },
            reason: rule.name.clone(),
        })
}
