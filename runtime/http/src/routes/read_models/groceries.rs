//! Groceries: the shopping list and the pantry.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use steward_events::domain::access::Scope;
use steward_projections::read_models::groceries::{self, PantryItem, ShoppingItem};
use utoipa::{IntoParams, ToSchema};

use super::{flag, live, name_of, text};
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

const GROCERIES: &str = "groceries";

/// Which shopping list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// One household (`home` for the stream `shoppinglist-home`; default:
    /// every one).
    pub household: Option<String>,
}

/// An item on the shopping list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShoppingItemView {
    /// Its household.
    pub household: String,
    /// The item.
    pub item: String,
    /// How much, if said.
    pub quantity: Option<f64>,
    /// In what unit, if said.
    pub unit: Option<String>,
    /// `requested` (a person listed it) or `low_stock` (the pantry ran low).
    pub because: String,
    /// When it was listed.
    pub listed_at: DateTime<Utc>,
}

/// Which pantry items.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PantryParams {
    /// One household (`home` for the stream `pantry-home`; default: every
    /// one).
    pub household: Option<String>,
    /// `true`: only the items running low.
    pub low_only: Option<String>,
}

/// An item in the pantry, as of now.
#[derive(Debug, Serialize, ToSchema)]
pub struct PantryItemView {
    /// Its household.
    pub household: String,
    /// The item.
    pub item: String,
    /// How much is left.
    pub quantity: f64,
    /// In what unit.
    pub unit: String,
    /// The level at or below which it is low, once set.
    pub reorder_below: Option<f64>,
    /// Days it takes to restock, once set.
    pub lead_days: Option<f64>,
    /// The level a restock brings it to, once set.
    pub restock_to: Option<f64>,
    /// How much is used a day, once some was.
    pub usage_per_day: Option<f64>,
    /// Days until it runs out at that rate.
    pub days_left: Option<f64>,
    /// Whether it is running low (reported, at its level, or within its
    /// lead time).
    pub low: bool,
    /// How much to buy, when low and a restock level is set.
    pub to_buy: Option<f64>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

fn shopping_view(item: ShoppingItem) -> ShoppingItemView {
    ShoppingItemView {
        household: item.household,
        item: item.item,
        quantity: item.quantity,
        unit: item.unit,
        because: name_of(&item.because),
        listed_at: item.listed_at,
    }
}

fn pantry_view(item: PantryItem) -> PantryItemView {
    PantryItemView {
        household: item.household,
        item: item.item,
        quantity: item.quantity,
        unit: item.unit,
        reorder_below: item.reorder_below,
        lead_days: item.lead_days,
        restock_to: item.restock_to,
        usage_per_day: item.usage_per_day,
        days_left: item.days_left,
        low: item.low,
        to_buy: item.to_buy,
        updated_at: item.updated_at,
    }
}

/// The shopping list, by household, in the order items were listed.
#[utoipa::path(get, path = "/api/v1/groceries/shopping-list", operation_id = "groceries_shopping_list", tag = "read models",
    params(ListParams),
    responses(
        (status = 200, description = "The items on the list", body = Vec<ShoppingItemView>),
        (status = 400, description = "A parameter is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `read_models:read`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The groceries read model is not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["read_models:read"])))]
#[get("/api/v1/groceries/shopping-list")]
pub(crate) async fn shopping_list(
    state: web::Data<ApiState>,
    caller: Caller,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReadModelsRead)?;
    caller.require_domain("groceries")?;
    let household = text(params.household.as_deref());
    let tables = live(&state, GROCERIES).await?;
    let items =
        groceries::shopping_list(state.read_models(), &tables, household.as_deref()).await?;
    let views: Vec<ShoppingItemView> = items.into_iter().map(shopping_view).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// The pantry as of now, by household and item, with usage and what to buy.
#[utoipa::path(get, path = "/api/v1/groceries/pantry", operation_id = "groceries_pantry", tag = "read models",
    params(PantryParams),
    responses(
        (status = 200, description = "The pantry's items", body = Vec<PantryItemView>),
        (status = 400, description = "A parameter is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `read_models:read`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The groceries read model is not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["read_models:read"])))]
#[get("/api/v1/groceries/pantry")]
pub(crate) async fn pantry(
    state: web::Data<ApiState>,
    caller: Caller,
    params: web::Query<PantryParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReadModelsRead)?;
    caller.require_domain("groceries")?;
    let household = text(params.household.as_deref());
    let low_only = flag("low_only", params.low_only.as_deref())?;
    let tables = live(&state, GROCERIES).await?;
    let items = groceries::pantry(
        state.read_models(),
        &tables,
        household.as_deref(),
        state.now(),
        low_only,
    )
    .await?;
    let views: Vec<PantryItemView> = items.into_iter().map(pantry_view).collect();
    Ok(HttpResponse::Ok().json(views))
}
