//! Webhooks: register a subscriber (its signing secret is shown in this
//! answer only), list, read, change and delete them, read a subscriber's
//! delivery log, redeliver one delivery, replay from a position. Admin
//! only; each change is an event of `webhooks-main`.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_actors::CommandEnvelope;
use steward_actors::webhooks::{Delivery, Webhook, Webhooks};
use steward_events::domain::access::Scope;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::extract::JsonBody;
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;
use crate::webhooks::{new_secret, webhooks_stream};

/// A new subscriber.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookRequest {
    /// Where deliveries go (`https://…`).
    pub url: String,
    /// The stream categories it gets (`pantry`, `calendar`); all when empty.
    #[serde(default)]
    pub categories: Vec<String>,
    /// The event types it gets; all when empty.
    #[serde(default)]
    pub event_types: Vec<String>,
    /// Whether deliveries carry events' personal parts (default: no).
    #[serde(default)]
    pub personal: bool,
}

/// A change to a subscriber: the fields given replace the current ones.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChange {
    /// Where deliveries go.
    pub url: Option<String>,
    /// The stream categories it gets; all when empty.
    pub categories: Option<Vec<String>>,
    /// The event types it gets; all when empty.
    pub event_types: Option<Vec<String>>,
    /// Whether deliveries carry personal parts.
    pub personal: Option<bool>,
    /// Whether deliveries are on.
    pub enabled: Option<bool>,
}

/// Where a replay resumes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Every matching event after this global position is delivered again
    /// (0: from the beginning of the log).
    pub from: u64,
}

/// A subscriber as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    /// Its id.
    pub webhook_id: String,
    /// Where deliveries go.
    pub url: String,
    /// The categories it gets; all when empty.
    pub categories: Vec<String>,
    /// The event types it gets; all when empty.
    pub event_types: Vec<String>,
    /// Whether deliveries carry personal parts.
    pub personal: bool,
    /// Whether deliveries are on.
    pub enabled: bool,
    /// Why it was disabled (`by_admin`, `failing: …`).
    pub disabled_reason: Option<String>,
    /// The global position of the last event settled.
    pub cursor: u64,
}

/// A subscriber just registered, with its secret: store it now, it is not
/// shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    /// The subscriber as listed.
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The signing secret (`whsec_…`), for verifying `webhook-signature`.
    pub secret: String,
}

/// One delivery of the log: its latest attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The delivery (`webhook-id` on the wire).
    pub delivery_id: String,
    /// The event's global position.
    pub position: u64,
    /// The event's type.
    pub event_type: String,
    /// `pending` (retrying), `delivered` or `dead_letter`.
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// The latest response's status code.
    pub status_code: Option<u16>,
    /// The latest attempt's latency in milliseconds.
    pub latency_ms: u64,
    /// When the first attempt was sent.
    pub first_attempt_at: DateTime<Utc>,
    /// When the latest attempt was sent.
    pub last_attempt_at: DateTime<Utc>,
    /// What went wrong last.
    pub error: Option<String>,
}

fn view(hook: &Webhook) -> WebhookView {
    WebhookView {
        webhook_id: hook.webhook_id.clone(),
        url: hook.url.clone(),
        categories: hook.categories.clone(),
        event_types: hook.event_types.clone(),
        personal: hook.personal,
        enabled: hook.enabled,
        disabled_reason: hook.disabled_reason.clone(),
        cursor: hook.cursor,
    }
}

fn delivery_view(delivery: &Delivery) -> DeliveryView {
    DeliveryView {
        delivery_id: delivery.delivery_id.clone(),
        position: delivery.position,
        event_type: delivery.event_type.clone(),
        status: delivery.status.clone(),
        attempts: delivery.attempts,
        status_code: delivery.status_code,
        latency_ms: delivery.latency_ms,
        first_attempt_at: delivery.first_attempt_at,
        last_attempt_at: delivery.last_attempt_at,
        error: delivery.error.clone(),
    }
}

async fn load(state: &ApiState) -> Result<Webhooks, ApiError> {
    let (webhooks, _) = state
        .host()
        .load::<Webhooks>(&webhooks_stream(), true)
        .await?;
    Ok(webhooks)
}

async fn find(state: &ApiState, webhook_id: &str) -> Result<Webhook, ApiError> {
    load(state)
        .await?
        .webhooks
        .remove(webhook_id)
        .ok_or_else(|| ApiError::NotFound(format!("there is no webhook `{webhook_id}`")))
}

async fn send(
    state: &ApiState,
    caller: &Caller,
    command: &str,
    data: serde_json::Value,
) -> Result<(), ApiError> {
    let envelope = CommandEnvelope::new(webhooks_stream(), command, data, caller.actor());
    state.host().execute(envelope).await?;
    Ok(())
}

/// Registers a subscriber; deliveries start with the next event.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks",
    request_body = NewWebhookRequest,
    responses(
        (status = 201, description = "The subscriber, with its secret shown this once", body = CreatedWebhook),
        (status = 400, description = "The request is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused: not an http(s) URL…", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[post("/api/v1/webhooks")]
pub(crate) async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    body: JsonBody<NewWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let request = body.0;
    let secret = new_secret().map_err(ApiError::internal)?;
    let webhook_id = uuid::Uuid::now_v7().simple().to_string();
    let after = state.store().head().await?.map_or(0, |head| head.commit());
    send(
        &state,
        &caller,
        "RegisterWebhook",
        json!({
            "webhook_id": webhook_id,
            "url": request.url,
            "categories": request.categories,
            "event_types": request.event_types,
            "personal": request.personal,
            "after": after,
            "secret": secret,
        }),
    )
    .await?;
    let hook = find(&state, &webhook_id).await?;
    Ok(HttpResponse::Created().json(CreatedWebhook {
        webhook: view(&hook),
        secret,
    }))
}

/// Every subscriber; never their secrets.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses(
        (status = 200, description = "The subscribers", body = Vec<WebhookView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[get("/api/v1/webhooks")]
pub(crate) async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let hooks: Vec<WebhookView> = load(&state).await?.webhooks.values().map(view).collect();
    Ok(HttpResponse::Ok().json(hooks))
}

/// One subscriber.
#[utoipa::path(get, path = "/api/v1/webhooks/{webhook_id}", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "The subscriber")),
    responses(
        (status = 200, description = "The subscriber", body = WebhookView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscriber", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[get("/api/v1/webhooks/{webhook_id}")]
pub(crate) async fn read(
    state: web::Data<ApiState>,
    caller: Caller,
    webhook_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(HttpResponse::Ok().json(view(&find(&state, &webhook_id).await?)))
}

/// Changes a subscriber's URL, filter, grant, or whether it is on
/// (enabling one that was disabled resumes at its cursor).
#[utoipa::path(patch, path = "/api/v1/webhooks/{webhook_id}", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "The subscriber")),
    request_body = WebhookChange,
    responses(
        (status = 200, description = "The subscriber now", body = WebhookView),
        (status = 400, description = "The request is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscriber", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused: not an http(s) URL…", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[patch("/api/v1/webhooks/{webhook_id}")]
pub(crate) async fn update(
    state: web::Data<ApiState>,
    caller: Caller,
    webhook_id: web::Path<String>,
    body: JsonBody<WebhookChange>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let change = body.0;
    let hook = find(&state, &webhook_id).await?;
    send(
        &state,
        &caller,
        "UpdateWebhook",
        json!({
            "webhook_id": hook.webhook_id,
            "url": change.url.unwrap_or_else(|| hook.url.clone()),
            "categories": change.categories.unwrap_or_else(|| hook.categories.clone()),
            "event_types": change.event_types.unwrap_or_else(|| hook.event_types.clone()),
            "personal": change.personal.unwrap_or(hook.personal),
        }),
    )
    .await?;
    if let Some(enabled) = change.enabled {
        let command = if enabled {
            "EnableWebhook"
        } else {
            "DisableWebhook"
        };
        send(
            &state,
            &caller,
            command,
            json!({ "webhook_id": hook.webhook_id }),
        )
        .await?;
    }
    Ok(HttpResponse::Ok().json(view(&find(&state, &webhook_id).await?)))
}

/// Deletes a subscriber: nothing more is delivered to it.
#[utoipa::path(delete, path = "/api/v1/webhooks/{webhook_id}", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "The subscriber")),
    responses(
        (status = 204, description = "Deleted (or already was)"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[delete("/api/v1/webhooks/{webhook_id}")]
pub(crate) async fn remove(
    state: web::Data<ApiState>,
    caller: Caller,
    webhook_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    send(
        &state,
        &caller,
        "DeleteWebhook",
        json!({ "webhook_id": webhook_id.into_inner() }),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A subscriber's delivery log, newest first (the latest 200 deliveries;
/// every attempt is an event of `webhooks-main`).
#[utoipa::path(get, path = "/api/v1/webhooks/{webhook_id}/deliveries", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "The subscriber")),
    responses(
        (status = 200, description = "The deliveries", body = Vec<DeliveryView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscriber", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[get("/api/v1/webhooks/{webhook_id}/deliveries")]
pub(crate) async fn deliveries(
    state: web::Data<ApiState>,
    caller: Caller,
    webhook_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let hook = find(&state, &webhook_id).await?;
    let log: Vec<DeliveryView> = hook.deliveries.iter().rev().map(delivery_view).collect();
    Ok(HttpResponse::Ok().json(log))
}

/// Sends one delivery of the log again (a dead letter, or one the
/// subscriber lost), under its `webhook-id`.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "The subscriber"),
           ("delivery_id" = String, Path, description = "The delivery")),
    responses(
        (status = 202, description = "It will be sent again"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscriber", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such delivery", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[post("/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")]
pub(crate) async fn redeliver(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let (webhook_id, delivery_id) = path.into_inner();
    find(&state, &webhook_id).await?;
    send(
        &state,
        &caller,
        "Redeliver",
        json!({ "webhook_id": webhook_id, "delivery_id": delivery_id }),
    )
    .await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Delivers every matching event after `from` again, in order.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook_id}/replay", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "The subscriber")),
    request_body = ReplayRequest,
    responses(
        (status = 202, description = "Deliveries resume after `from`"),
        (status = 400, description = "The request is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscriber", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused: `from` is ahead of the cursor", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[post("/api/v1/webhooks/{webhook_id}/replay")]
pub(crate) async fn replay(
    state: web::Data<ApiState>,
    caller: Caller,
    webhook_id: web::Path<String>,
    body: JsonBody<ReplayRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    find(&state, &webhook_id).await?;
    send(
        &state,
        &caller,
        "Replay",
        json!({ "webhook_id": webhook_id.into_inner(), "after": body.0.from }),
    )
    .await?;
    Ok(HttpResponse::Accepted().finish())
}
