//! The inbox triage queue: every received message with its triage
//! (category, priority, who decided), its labels, whether it is archived or
//! snoozed, and where its replies stand.
//!
//! A snoozed message is hidden from the inbox until its snooze is due, as
//! of the instant a reader asks about (`now`): it shows again at `until`
//! even if the timer's `MessageSnoozeEnded` has not been recorded yet.
//!
//! Senders, subjects, triage reasons, reply subjects and send failures are
//! personal: each is stored only while readable, and dropped when one of
//! the subjects of the event that wrote it is erased.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use steward_events::RecordedEvent;
use steward_events::domain::inbox::{MessageEvent, Priority, TriageCategory, TriageDecider};

use crate::db::{Dialect, ReadDb};
use crate::error::{ApplyError, ProjectionError};
use crate::projection::{ApplyContext, Projection};
use crate::read_models::sql::{
    Bind, Conditions, decode_set, erased_subject, flag, forget_row, forget_subject, from_json,
    from_name, instant, instant_opt, json_text, millis, name_of, personal, placeholders,
    remember_subjects, rows_of_subject, subjects_table,
};
use crate::tables::Tables;

/// The inbox projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inbox;

const MESSAGES: &str = "inbox_messages";
const LABELS: &str = "inbox_labels";
const REPLIES: &str = "inbox_replies";
const SUBJECTS: &str = "inbox_subjects";

/// The parts of rows that hold personal data, by the event that writes them.
const PART_MESSAGE: &str = "message";
const PART_TRIAGE: &str = "triage";
const PART_REPLY: &str = "reply";
const PART_FAILURE: &str = "failure";

/// The rank of an untriaged message among priorities: with the normal ones.
const UNTRIAGED_RANK: i64 = 1;

fn priority_rank(priority: Priority) -> i64 {
    match priority {
        Priority::Low => 0,
        Priority::Normal => 1,
        Priority::High => 2,
        Priority::Urgent => 3,
    }
}

#[async_trait]
impl Projection for Inbox {
    fn name(&self) -> &'static str {
        "inbox"
    }

    fn version(&self) -> u32 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        &[MESSAGES, LABELS, REPLIES, SUBJECTS]
    }

    fn create(&self, _dialect: Dialect, tables: &Tables) -> Vec<String> {
        let messages = tables.name(MESSAGES);
        let labels = tables.name(LABELS);
        let replies = tables.name(REPLIES);
        let mut statements = vec![
            format!(
                "CREATE TABLE {messages} (
                    message_key TEXT PRIMARY KEY,
                    message_id TEXT NOT NULL,
                    account TEXT NOT NULL,
                    thread_id TEXT NOT NULL,
                    from_address TEXT,
                    from_name TEXT,
                    subject TEXT,
                    received_at_ms BIGINT NOT NULL,
                    has_list_unsubscribe BIGINT NOT NULL,
                    size_bytes BIGINT NOT NULL,
                    category TEXT,
                    priority TEXT,
                    priority_rank BIGINT NOT NULL,
                    decided_by TEXT,
                    triage_reason TEXT,
                    triaged_at_ms BIGINT,
                    archived BIGINT NOT NULL,
                    snoozed_until_ms BIGINT
                )"
            ),
            format!(
                "CREATE INDEX {} ON {messages} (archived, priority_rank, received_at_ms)",
                tables.name(&format!("{MESSAGES}_queue"))
            ),
            format!(
                "CREATE INDEX {} ON {messages} (account)",
                tables.name(&format!("{MESSAGES}_account"))
            ),
            format!(
                "CREATE TABLE {labels} (
                    message_key TEXT NOT NULL,
                    label_key TEXT NOT NULL,
                    label TEXT NOT NULL,
                    PRIMARY KEY (message_key, label_key)
                )"
            ),
            format!(
                "CREATE INDEX {} ON {labels} (label_key)",
                tables.name(&format!("{LABELS}_label"))
            ),
            format!(
                "CREATE TABLE {replies} (
                    reply_key TEXT PRIMARY KEY,
                    message_key TEXT NOT NULL,
                    draft_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    subject TEXT,
                    failure_reason TEXT,
                    sent_message_id TEXT,
                    updated_at_ms BIGINT NOT NULL
                )"
            ),
            format!(
                "CREATE INDEX {} ON {replies} (message_key)",
                tables.name(&format!("{REPLIES}_message"))
            ),
        ];
        statements.extend(subjects_table(tables, SUBJECTS));
        statements
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        event: &RecordedEvent,
    ) -> Result<(), ApplyError> {
        if let Some(subject) = erased_subject(event)? {
            return forget(connection, cx.tables, &subject).await;
        }
        let Some(message_event) = decode_set::<MessageEvent>(event)? else {
            return Ok(());
        };
        let messages = cx.tables.name(MESSAGES);
        let replies = cx.tables.name(REPLIES);
        let subjects = cx.tables.name(SUBJECTS);
        let key = event.stream_id.as_str();
        match message_event {
            MessageEvent::Received(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {messages} (message_key, message_id, account, thread_id,
                        from_address, from_name, subject, received_at_ms, has_list_unsubscribe,
                        size_bytes, priority_rank, archived)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0)
                     ON CONFLICT (message_key) DO UPDATE SET
                        message_id = excluded.message_id, account = excluded.account,
                        thread_id = excluded.thread_id, from_address = excluded.from_address,
                        from_name = excluded.from_name, subject = excluded.subject,
                        received_at_ms = excluded.received_at_ms,
                        has_list_unsubscribe = excluded.has_list_unsubscribe,
                        size_bytes = excluded.size_bytes"
                )))
                .bind(key)
                .bind(&e.message_id)
                .bind(&e.account)
                .bind(&e.thread_id)
                .bind(personal(event, e.from.address.clone()))
                .bind(personal(event, e.from.name.clone()).flatten())
                .bind(personal(event, e.subject.clone()))
                .bind(millis(e.received_at))
                .bind(flag(e.has_list_unsubscribe))
                .bind(i64::try_from(e.size_bytes).unwrap_or(i64::MAX))
                .bind(UNTRIAGED_RANK)
                .execute(&mut *connection)
                .await?;
                remember_subjects(connection, &subjects, PART_MESSAGE, key, event).await?;
            }
            MessageEvent::Triaged(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {messages} SET category = $2, priority = $3, priority_rank = $4,
                        decided_by = $5, triage_reason = $6, triaged_at_ms = $7
                     WHERE message_key = $1"
                )))
                .bind(key)
                .bind(name_of(&e.category)?)
                .bind(name_of(&e.priority)?)
                .bind(priority_rank(e.priority))
                .bind(json_text(&e.decided_by)?)
                .bind(personal(event, e.reason.clone()))
                .bind(millis(e.at))
                .execute(&mut *connection)
                .await?;
                remember_subjects(connection, &subjects, PART_TRIAGE, key, event).await?;
            }
            MessageEvent::Archived(_) => {
                set(
                    connection,
                    &messages,
                    key,
                    "archived = 1, snoozed_until_ms = NULL",
                )
                .await?;
            }
            MessageEvent::Unarchived(_) => {
                set(connection, &messages, key, "archived = 0").await?;
            }
            MessageEvent::Snoozed(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {messages} SET archived = 0, snoozed_until_ms = $2
                     WHERE message_key = $1"
                )))
                .bind(key)
                .bind(millis(e.until))
                .execute(&mut *connection)
                .await?;
            }
            MessageEvent::SnoozeEnded(_) => {
                set(connection, &messages, key, "snoozed_until_ms = NULL").await?;
            }
            MessageEvent::Labelled(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {} (message_key, label_key, label) VALUES ($1, $2, $3)
                     ON CONFLICT (message_key, label_key) DO UPDATE SET label = excluded.label",
                    cx.tables.name(LABELS)
                )))
                .bind(key)
                .bind(label_key(&e.label))
                .bind(e.label.trim())
                .execute(&mut *connection)
                .await?;
            }
            MessageEvent::Unlabelled(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM {} WHERE message_key = $1 AND label_key = $2",
                    cx.tables.name(LABELS)
                )))
                .bind(key)
                .bind(label_key(&e.label))
                .execute(&mut *connection)
                .await?;
            }
            MessageEvent::ReplyDrafted(e) => {
                let reply = reply_key(key, &e.draft_id);
                upsert_reply(
                    connection,
                    &replies,
                    ReplyWrite {
                        reply_key: &reply,
                        message_key: key,
                        draft_id: &e.draft_id,
                        status: ReplyStatus::Drafted,
                        subject: personal(event, e.subject.clone()),
                        at: e.at,
                    },
                )
                .await?;
                remember_subjects(connection, &subjects, PART_REPLY, &reply, event).await?;
                forget_row(connection, &subjects, PART_FAILURE, &reply).await?;
            }
            MessageEvent::ReplySendRequested(e) => {
                let reply = reply_key(key, &e.draft_id);
                upsert_reply(
                    connection,
                    &replies,
                    ReplyWrite {
                        reply_key: &reply,
                        message_key: key,
                        draft_id: &e.draft_id,
                        status: ReplyStatus::SendRequested,
                        subject: personal(event, e.subject.clone()),
                        at: e.requested_at,
                    },
                )
                .await?;
                remember_subjects(connection, &subjects, PART_REPLY, &reply, event).await?;
                forget_row(connection, &subjects, PART_FAILURE, &reply).await?;
            }
            MessageEvent::ReplyDraftDiscarded(e) => {
                let reply = reply_key(key, &e.draft_id);
                sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM {replies} WHERE reply_key = $1"
                )))
                .bind(&reply)
                .execute(&mut *connection)
                .await?;
                forget_row(connection, &subjects, PART_REPLY, &reply).await?;
                forget_row(connection, &subjects, PART_FAILURE, &reply).await?;
            }
            MessageEvent::ReplySent(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {replies} SET status = $2, sent_message_id = $3, failure_reason = NULL,
                        updated_at_ms = $4
                     WHERE reply_key = $1"
                )))
                .bind(reply_key(key, &e.draft_id))
                .bind(name_of(&ReplyStatus::Sent)?)
                .bind(e.sent_message_id.clone())
                .bind(millis(e.sent_at))
                .execute(&mut *connection)
                .await?;
                forget_row(
                    connection,
                    &subjects,
                    PART_FAILURE,
                    &reply_key(key, &e.draft_id),
                )
                .await?;
            }
            MessageEvent::ReplySendFailed(e) => {
                let reply = reply_key(key, &e.draft_id);
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {replies} SET status = $2, failure_reason = $3, updated_at_ms = $4
                     WHERE reply_key = $1"
                )))
                .bind(&reply)
                .bind(name_of(&ReplyStatus::SendFailed)?)
                .bind(personal(event, e.reason.clone()))
                .bind(millis(e.at))
                .execute(&mut *connection)
                .await?;
                remember_subjects(connection, &subjects, PART_FAILURE, &reply, event).await?;
            }
        }
        Ok(())
    }
}

/// Sets columns of one message (`assignments` holds no values).
async fn set(
    connection: &mut AnyConnection,
    messages: &str,
    key: &str,
    assignments: &str,
) -> Result<(), ApplyError> {
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE {messages} SET {assignments} WHERE message_key = $1"
    )))
    .bind(key)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

struct ReplyWrite<'a> {
    reply_key: &'a str,
    message_key: &'a str,
    draft_id: &'a str,
    status: ReplyStatus,
    subject: Option<String>,
    at: DateTime<Utc>,
}

async fn upsert_reply(
    connection: &mut AnyConnection,
    replies: &str,
    reply: ReplyWrite<'_>,
) -> Result<(), ApplyError> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {replies} (reply_key, message_key, draft_id, status, subject, updated_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (reply_key) DO UPDATE SET status = excluded.status,
            subject = excluded.subject, failure_reason = NULL,
            updated_at_ms = excluded.updated_at_ms"
    )))
    .bind(reply.reply_key)
    .bind(reply.message_key)
    .bind(reply.draft_id)
    .bind(name_of(&reply.status)?)
    .bind(reply.subject)
    .bind(millis(reply.at))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Drops the personal data of `subject` from every message and reply.
async fn forget(
    connection: &mut AnyConnection,
    tables: &Tables,
    subject: &str,
) -> Result<(), ApplyError> {
    let messages = tables.name(MESSAGES);
    let replies = tables.name(REPLIES);
    let subjects = tables.name(SUBJECTS);
    let of = |part| rows_of_subject(&subjects, part);
    forget_subject(
        connection,
        &subjects,
        subject,
        &[
            format!(
                "UPDATE {messages} SET from_address = NULL, from_name = NULL, subject = NULL
                 WHERE message_key {}",
                of(PART_MESSAGE)
            ),
            format!(
                "UPDATE {messages} SET triage_reason = NULL WHERE message_key {}",
                of(PART_TRIAGE)
            ),
            format!(
                "UPDATE {replies} SET subject = NULL WHERE reply_key {}",
                of(PART_REPLY)
            ),
            format!(
                "UPDATE {replies} SET failure_reason = NULL WHERE reply_key {}",
                of(PART_FAILURE)
            ),
        ],
    )
    .await
}

/// A label's key: trimmed and lower-cased, as the inbox compares labels.
fn label_key(label: &str) -> String {
    label.trim().to_lowercase()
}

fn reply_key(message_key: &str, draft_id: &str) -> String {
    format!("{message_key}/{draft_id}")
}

// ------------------------------------------------------------------ readers

/// Which messages to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxView {
    /// In the inbox now: not archived, not snoozed past now.
    #[default]
    Inbox,
    /// In the inbox now and not triaged yet.
    Untriaged,
    /// Snoozed until after now (hidden from the inbox), soonest back first.
    Snoozed,
    /// Archived.
    Archived,
    /// Every message received.
    All,
}

/// What to list from the inbox. Every filter set must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxQuery {
    /// Which messages.
    pub view: InboxView,
    /// Messages of this mailbox.
    pub account: Option<String>,
    /// Messages triaged into this category.
    pub category: Option<TriageCategory>,
    /// Messages triaged at this priority or above.
    pub min_priority: Option<Priority>,
    /// Messages with this label (case ignored).
    pub label: Option<String>,
    /// The most messages returned.
    pub limit: usize,
    /// How many of the matching messages, in order, to skip first: with
    /// `limit`, one page of the queue.
    pub offset: usize,
}

impl Default for InboxQuery {
    fn default() -> Self {
        Self {
            view: InboxView::Inbox,
            account: None,
            category: None,
            min_priority: None,
            label: None,
            limit: 100,
            offset: 0,
        }
    }
}

/// Where a message is, as of the instant asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// In the inbox.
    Inbox,
    /// Snoozed: out of the inbox until `snoozed_until`.
    Snoozed,
    /// Archived.
    Archived,
}

/// How a message was triaged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboxTriage {
    /// Its category.
    pub category: TriageCategory,
    /// Its priority.
    pub priority: Priority,
    /// Who decided.
    pub decided_by: TriageDecider,
    /// Why, in words; `None` once erased.
    pub reason: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Where a reply stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyStatus {
    /// A draft.
    Drafted,
    /// Asked to be sent; the actuator has it.
    SendRequested,
    /// Sent.
    Sent,
    /// The last attempt to send it failed: it needs the person again.
    SendFailed,
}

/// A reply to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxReply {
    /// The draft's id.
    pub draft_id: String,
    /// Where it stands.
    pub status: ReplyStatus,
    /// Its subject line; `None` once erased.
    pub subject: Option<String>,
    /// Why sending failed, when it did; `None` once erased.
    pub failure_reason: Option<String>,
    /// Its id at the mail provider, once sent.
    pub sent_message_id: Option<String>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// One message in the triage queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboxMessage {
    /// The message's id.
    pub message_id: String,
    /// Its mailbox.
    pub account: String,
    /// Its conversation.
    pub thread_id: String,
    /// The sender's address; `None` once erased.
    pub from_address: Option<String>,
    /// The sender's display name, if given and not erased.
    pub from_name: Option<String>,
    /// The subject line; `None` once erased.
    pub subject: Option<String>,
    /// When the mail server received it.
    pub received_at: DateTime<Utc>,
    /// Whether it is a mailing (`List-Unsubscribe`).
    pub has_list_unsubscribe: bool,
    /// Its triage, once triaged.
    pub triage: Option<InboxTriage>,
    /// Where it is as of the instant asked about.
    pub state: MessageState,
    /// When a snooze ends, while one is set (due or not).
    pub snoozed_until: Option<DateTime<Utc>>,
    /// Its labels, by name.
    pub labels: Vec<String>,
    /// Its replies, oldest change first.
    pub replies: Vec<InboxReply>,
}

/// The messages `query` asks for, as of `now`: by priority (untriaged ones
/// rank as normal), newest first within a priority; snoozed ones by when
/// they come back.
pub async fn queue(
    db: &ReadDb,
    tables: &Tables,
    query: &InboxQuery,
    now: DateTime<Utc>,
) -> Result<Vec<InboxMessage>, ProjectionError> {
    let messages = tables.name(MESSAGES);
    let now_ms = millis(now);
    let mut conditions = Conditions::default();
    let in_inbox = "archived = 0 AND (snoozed_until_ms IS NULL OR snoozed_until_ms <= ?)";
    match query.view {
        InboxView::Inbox => conditions.add(in_inbox, [Bind::Int(now_ms)]),
        InboxView::Untriaged => {
            conditions.add(in_inbox, [Bind::Int(now_ms)]);
            conditions.add("category IS NULL", []);
        }
        InboxView::Snoozed => {
            conditions.add("archived = 0 AND snoozed_until_ms > ?", [Bind::Int(now_ms)]);
        }
        InboxView::Archived => conditions.add("archived = 1", []),
        InboxView::All => {}
    }
    if let Some(account) = &query.account {
        conditions.add("account = ?", [Bind::Text(account.clone())]);
    }
    if let Some(category) = &query.category {
        conditions.add("category = ?", [Bind::Text(name_of(category)?)]);
    }
    if let Some(priority) = query.min_priority {
        conditions.add(
            "priority IS NOT NULL AND priority_rank >= ?",
            [Bind::Int(priority_rank(priority))],
        );
    }
    if let Some(label) = &query.label {
        conditions.add(
            &format!(
                "message_key IN (SELECT message_key FROM {} WHERE label_key = ?)",
                tables.name(LABELS)
            ),
            [Bind::Text(label_key(label))],
        );
    }
    let order = match query.view {
        InboxView::Snoozed => "snoozed_until_ms, message_key",
        _ => "priority_rank DESC, received_at_ms DESC, message_key",
    };
    let sql = format!(
        "SELECT message_key, message_id, account, thread_id, from_address, from_name, subject,
            received_at_ms, has_list_unsubscribe, category, priority, decided_by, triage_reason,
            triaged_at_ms, archived, snoozed_until_ms
         FROM {messages} {} ORDER BY {order} LIMIT {} OFFSET {}",
        conditions.where_clause(),
        query.limit,
        query.offset
    );
    let rows = conditions.query(sql).fetch_all(db.pool()).await?;
    let keys: Vec<String> = rows
        .iter()
        .map(|row| row.try_get("message_key"))
        .collect::<Result<_, _>>()?;
    let mut labels = labels_of(db, tables, &keys).await?;
    let mut replies = replies_of(db, tables, &keys).await?;
    let mut found = Vec::with_capacity(rows.len());
    for (row, key) in rows.iter().zip(&keys) {
        let triage = match (
            row.try_get::<Option<String>, _>("category")?,
            row.try_get::<Option<String>, _>("priority")?,
            row.try_get::<Option<String>, _>("decided_by")?,
            row.try_get::<Option<i64>, _>("triaged_at_ms")?,
        ) {
            (Some(category), Some(priority), Some(decided_by), Some(at)) => Some(InboxTriage {
                category: from_name(&category)?,
                priority: from_name(&priority)?,
                decided_by: from_json(&decided_by)?,
                reason: row.try_get("triage_reason")?,
                at: instant(at),
            }),
            _ => None,
        };
        let snoozed_until = instant_opt(row.try_get("snoozed_until_ms")?);
        let state = if row.try_get::<i64, _>("archived")? != 0 {
            MessageState::Archived
        } else if snoozed_until.is_some_and(|until| until > now) {
            MessageState::Snoozed
        } else {
            MessageState::Inbox
        };
        found.push(InboxMessage {
            message_id: row.try_get("message_id")?,
            account: row.try_get("account")?,
            thread_id: row.try_get("thread_id")?,
            from_address: row.try_get("from_address")?,
            from_name: row.try_get("from_name")?,
            subject: row.try_get("subject")?,
            received_at: instant(row.try_get("received_at_ms")?),
            has_list_unsubscribe: row.try_get::<i64, _>("has_list_unsubscribe")? != 0,
            triage,
            state,
            snoozed_until,
            labels: labels.remove(key).unwrap_or_default(),
            replies: replies.remove(key).unwrap_or_default(),
        });
    }
    Ok(found)
}

async fn labels_of(
    db: &ReadDb,
    tables: &Tables,
    keys: &[String],
) -> Result<HashMap<String, Vec<String>>, ProjectionError> {
    let mut labels: HashMap<String, Vec<String>> = HashMap::new();
    if keys.is_empty() {
        return Ok(labels);
    }
    let sql = format!(
        "SELECT message_key, label FROM {} WHERE message_key IN ({}) ORDER BY message_key, label_key",
        tables.name(LABELS),
        placeholders(1, keys.len())
    );
    let mut statement = sqlx::query(AssertSqlSafe(sql));
    for key in keys {
        statement = statement.bind(key.clone());
    }
    for row in statement.fetch_all(db.pool()).await? {
        labels
            .entry(row.try_get("message_key")?)
            .or_default()
            .push(row.try_get("label")?);
    }
    Ok(labels)
}

async fn replies_of(
    db: &ReadDb,
    tables: &Tables,
    keys: &[String],
) -> Result<HashMap<String, Vec<InboxReply>>, ProjectionError> {
    let mut replies: HashMap<String, Vec<InboxReply>> = HashMap::new();
    if keys.is_empty() {
        return Ok(replies);
    }
    let sql = format!(
        "SELECT message_key, draft_id, status, subject, failure_reason, sent_message_id,
            updated_at_ms
         FROM {} WHERE message_key IN ({}) ORDER BY message_key, updated_at_ms, draft_id",
        tables.name(REPLIES),
        placeholders(1, keys.len())
    );
    let mut statement = sqlx::query(AssertSqlSafe(sql));
    for key in keys {
        statement = statement.bind(key.clone());
    }
    for row in statement.fetch_all(db.pool()).await? {
        let status: String = row.try_get("status")?;
        replies
            .entry(row.try_get("message_key")?)
            .or_default()
            .push(InboxReply {
                draft_id: row.try_get("draft_id")?,
                status: from_name(&status)?,
                subject: row.try_get("subject")?,
                failure_reason: row.try_get("failure_reason")?,
                sent_message_id: row.try_get("sent_message_id")?,
                updated_at: instant(row.try_get("updated_at_ms")?),
            });
    }
    Ok(replies)
}

/// Which conversations [`threads_with`] finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadsWith {
    /// Threads with a message from one of these addresses (case ignored).
    pub correspondents: Vec<String>,
    /// Only messages received from this instant on count.
    pub since: DateTime<Utc>,
    /// The most threads returned, newest first.
    pub limit: usize,
}

/// One conversation with some correspondents, as far as the inbox holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxThread {
    /// Its mailbox.
    pub account: String,
    /// The conversation.
    pub thread_id: String,
    /// The subject line of its newest message; `None` once erased.
    pub subject: Option<String>,
    /// The addresses its messages came from, lower-cased and sorted;
    /// erased ones left out.
    pub correspondents: Vec<String>,
    /// How many of its messages arrived since the query's `since`.
    pub messages: u32,
    /// When its newest message arrived.
    pub last_message_at: DateTime<Utc>,
    /// Whether its newest message was triaged as needing a reply (or as
    /// urgent) and no reply to it was sent or asked to be sent.
    pub awaiting_reply: bool,
}

/// Mail that is no conversation: left out of [`threads_with`].
const NOT_CONVERSATIONS: &str = "('spam', 'newsletter')";

/// The threads holding a message from one of `query.correspondents`
/// received since `query.since` (spam and newsletters left out), newest
/// first: what a meeting's briefing names. Each counts only its messages
/// since `query.since`.
pub async fn threads_with(
    db: &ReadDb,
    tables: &Tables,
    query: &ThreadsWith,
) -> Result<Vec<InboxThread>, ProjectionError> {
    let mut addresses: Vec<String> = query
        .correspondents
        .iter()
        .map(|address| address.trim().to_lowercase())
        .filter(|address| !address.is_empty())
        .collect();
    addresses.sort();
    addresses.dedup();
    if addresses.is_empty() || query.limit == 0 {
        return Ok(Vec::new());
    }
    let messages = tables.name(MESSAGES);
    let conversation = format!("(category IS NULL OR category NOT IN {NOT_CONVERSATIONS})");
    let sql = format!(
        "SELECT message_key, account, thread_id, from_address, subject, received_at_ms, category
         FROM {messages} m
         WHERE received_at_ms >= $1 AND {conversation}
           AND EXISTS (
             SELECT 1 FROM {messages} o
             WHERE o.account = m.account AND o.thread_id = m.thread_id
               AND o.received_at_ms >= $2
               AND (o.category IS NULL OR o.category NOT IN {NOT_CONVERSATIONS})
               AND LOWER(o.from_address) IN ({}))
         ORDER BY received_at_ms DESC, message_key",
        placeholders(3, addresses.len())
    );
    let since = millis(query.since);
    let mut statement = sqlx::query(AssertSqlSafe(sql)).bind(since).bind(since);
    for address in &addresses {
        statement = statement.bind(address.clone());
    }
    let rows = statement.fetch_all(db.pool()).await?;

    // Rows come newest first, so a thread's first row is its newest message.
    let mut threads: Vec<InboxThread> = Vec::new();
    let mut newest: Vec<(String, Option<String>)> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for row in &rows {
        let account: String = row.try_get("account")?;
        let thread_id: String = row.try_get("thread_id")?;
        let from: Option<String> = row.try_get("from_address")?;
        let at = match index.get(&(account.clone(), thread_id.clone())) {
            Some(&at) => at,
            None => {
                if threads.len() == query.limit {
                    continue;
                }
                index.insert((account.clone(), thread_id.clone()), threads.len());
                newest.push((row.try_get("message_key")?, row.try_get("category")?));
                threads.push(InboxThread {
                    account,
                    thread_id,
                    subject: row.try_get("subject")?,
                    correspondents: Vec::new(),
                    messages: 0,
                    last_message_at: instant(row.try_get("received_at_ms")?),
                    awaiting_reply: false,
                });
                threads.len() - 1
            }
        };
        let thread = &mut threads[at];
        thread.messages = thread.messages.saturating_add(1);
        if let Some(from) = from
            .map(|f| f.trim().to_lowercase())
            .filter(|f| !f.is_empty())
            && !thread.correspondents.contains(&from)
        {
            thread.correspondents.push(from);
        }
    }
    let keys: Vec<String> = newest.iter().map(|(key, _)| key.clone()).collect();
    let replies = replies_of(db, tables, &keys).await?;
    let asks_for_reply = [
        name_of(&TriageCategory::NeedsReply)?,
        name_of(&TriageCategory::Urgent)?,
    ];
    for (thread, (key, category)) in threads.iter_mut().zip(&newest) {
        thread.correspondents.sort();
        let answered = replies.get(key).is_some_and(|replies| {
            replies
                .iter()
                .any(|reply| matches!(reply.status, ReplyStatus::Sent | ReplyStatus::SendRequested))
        });
        thread.awaiting_reply = !answered
            && category
                .as_ref()
                .is_some_and(|c| asks_for_reply.contains(c));
    }
    Ok(threads)
}
