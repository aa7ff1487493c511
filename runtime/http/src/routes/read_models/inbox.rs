//! The inbox's triage queue, filtered and paged.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_events::domain::access::Scope;
use steward_events::domain::inbox::{Priority, TriageCategory};
use steward_projections::read_models::inbox::{
    self, InboxMessage, InboxQuery, InboxReply, InboxTriage, InboxView,
};
use utoipa::{IntoParams, ToSchema};

use super::{choice, json_of, live, name_of, text};
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::routes::events::page_size;
use crate::state::ApiState;

const DEFAULT_PAGE: usize = 50;

/// Which messages of the queue; every filter set must match.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxParams {
    /// `inbox` (default: in the inbox now), `untriaged`, `snoozed`
    /// (soonest back first), `archived` or `all`.
    pub view: Option<String>,
    /// One mailbox.
    pub account: Option<String>,
    /// Triaged into `urgent`, `needs_reply`, `fyi`, `newsletter` or `spam`.
    pub category: Option<String>,
    /// Triaged at this priority or above: `low`, `normal`, `high`, `urgent`.
    pub min_priority: Option<String>,
    /// Carrying this label (case ignored).
    pub label: Option<String>,
    /// Messages per page, 1 to 500 (default 50).
    pub limit: Option<String>,
    /// The `next_offset` of the previous page.
    pub offset: Option<String>,
}

/// How a message was triaged.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriageView {
    /// `urgent`, `needs_reply`, `fyi`, `newsletter` or `spam`.
    pub category: String,
    /// `low`, `normal`, `high` or `urgent`.
    pub priority: String,
    /// Who decided: `{"by": "person"}`, `{"by": "rule", "rule_id": …}` or
    /// `{"by": "model", "model": …, "confidence": …}`.
    #[schema(value_type = Object)]
    pub decided_by: Value,
    /// Why, in words; absent once erased.
    pub reason: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A reply to a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplyView {
    /// The draft's id.
    pub draft_id: String,
    /// `drafted`, `send_requested`, `sent` or `send_failed`.
    pub status: String,
    /// Its subject line; absent once erased.
    pub subject: Option<String>,
    /// Why sending failed, when it did.
    pub failure_reason: Option<String>,
    /// Its id at the mail provider, once sent.
    pub sent_message_id: Option<String>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// One message in the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    /// The message (`m1` for the stream `message-m1`).
    pub message_id: String,
    /// Its mailbox.
    pub account: String,
    /// Its conversation.
    pub thread_id: String,
    /// The sender's address; absent once erased.
    pub from_address: Option<String>,
    /// The sender's name, if given and not erased.
    pub from_name: Option<String>,
    /// The subject line; absent once erased.
    pub subject: Option<String>,
    /// When the mail server received it.
    pub received_at: DateTime<Utc>,
    /// Whether it is a mailing (`List-Unsubscribe`).
    pub has_list_unsubscribe: bool,
    /// Its triage, once triaged.
    pub triage: Option<TriageView>,
    /// `inbox`, `snoozed` or `archived`, now.
    pub state: String,
    /// When a snooze ends, while one is set.
    pub snoozed_until: Option<DateTime<Utc>>,
    /// Its labels.
    pub labels: Vec<String>,
    /// Its replies, oldest change first.
    pub replies: Vec<ReplyView>,
}

/// A page of the queue: by priority (untriaged ranks as normal), newest
/// first within one; snoozed messages by when they come back.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxPage {
    /// The messages.
    pub messages: Vec<MessageView>,
    /// Pass as `offset` for the next page; absent on the last.
    pub next_offset: Option<usize>,
}

fn triage_view(triage: InboxTriage) -> Result<TriageView, ApiError> {
    Ok(TriageView {
        category: name_of(&triage.category),
        priority: name_of(&triage.priority),
        decided_by: json_of(&triage.decided_by)?,
        reason: triage.reason,
        at: triage.at,
    })
}

fn reply_view(reply: InboxReply) -> ReplyView {
    ReplyView {
        draft_id: reply.draft_id,
        status: name_of(&reply.status),
        subject: reply.subject,
        failure_reason: reply.failure_reason,
        sent_message_id: reply.sent_message_id,
        updated_at: reply.updated_at,
    }
}

fn message_view(message: InboxMessage) -> Result<MessageView, ApiError> {
    Ok(MessageView {
        message_id: message.message_id,
        account: message.account,
        thread_id: message.thread_id,
        from_address: message.from_address,
        from_name: message.from_name,
        subject: message.subject,
        received_at: message.received_at,
        has_list_unsubscribe: message.has_list_unsubscribe,
        triage: message.triage.map(triage_view).transpose()?,
        state: name_of(&message.state),
        snoozed_until: message.snoozed_until,
        labels: message.labels,
        replies: message.replies.into_iter().map(reply_view).collect(),
    })
}

impl InboxParams {
    fn query(&self) -> Result<InboxQuery, ApiError> {
        let view = match self.view.as_deref() {
            None => InboxView::Inbox,
            Some("inbox") => InboxView::Inbox,
            Some("untriaged") => InboxView::Untriaged,
            Some("snoozed") => InboxView::Snoozed,
            Some("archived") => InboxView::Archived,
            Some("all") => InboxView::All,
            Some(other) => {
                return Err(ApiError::invalid(
                    "view",
                    format!(
                        "`view` is one of inbox, untriaged, snoozed, archived, all, not {other:?}"
                    ),
                ));
            }
        };
        let offset = match self.offset.as_deref() {
            None => 0,
            Some(value) => value.parse::<usize>().map_err(|_| {
                ApiError::invalid(
                    "offset",
                    format!("`offset` is a whole number from 0, not {value:?}"),
                )
            })?,
        };
        Ok(InboxQuery {
            view,
            account: text(self.account.as_deref()),
            category: choice::<TriageCategory>(
                "category",
                self.category.as_deref(),
                "urgent, needs_reply, fyi, newsletter, spam",
            )?,
            min_priority: choice::<Priority>(
                "min_priority",
                self.min_priority.as_deref(),
                "low, normal, high, urgent",
            )?,
            label: text(self.label.as_deref()),
            limit: page_size(self.limit.as_deref(), DEFAULT_PAGE)?,
            offset,
        })
    }
}

/// The inbox's triage queue as of now, filtered and paged.
#[utoipa::path(get, path = "/api/v1/inbox", operation_id = "inbox_queue", tag = "read models",
    params(InboxParams),
    responses(
        (status = 200, description = "A page of the queue", body = InboxPage),
        (status = 400, description = "A parameter is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `read_models:read`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The inbox read model is not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["read_models:read"])))]
#[get("/api/v1/inbox")]
pub(crate) async fn queue(
    state: web::Data<ApiState>,
    caller: Caller,
    params: web::Query<InboxParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReadModelsRead)?;
    caller.require_domain("inbox")?;
    let mut query = params.query()?;
    let limit = query.limit;
    // One more than a page says whether another follows.
    query.limit = limit + 1;
    let tables = live(&state, "inbox").await?;
    let mut messages = inbox::queue(state.read_models(), &tables, &query, state.now()).await?;
    let next_offset = (messages.len() > limit).then(|| query.offset + limit);
    messages.truncate(limit);
    Ok(HttpResponse::Ok().json(InboxPage {
        messages: messages
            .into_iter()
            .map(message_view)
            .collect::<Result<_, _>>()?,
        next_offset,
    }))
}
