//! The home: devices with the state they reported and the state last asked
//! of them, and scenes.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_events::domain::access::Scope;
use steward_projections::read_models::home::{self, Device, DeviceFilter, DeviceRequest, Scene};
use utoipa::{IntoParams, ToSchema};

use super::{json_of, live, name_of, text};
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

const HOME: &str = "home";

/// Which devices; every filter set must match.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeviceParams {
    /// One household (`flat` for the stream `home-flat`).
    pub household: Option<String>,
    /// One room.
    pub room: Option<String>,
}

/// The state last asked of a device, and how that went.
#[derive(Debug, Serialize, ToSchema)]
pub struct DesiredStateView {
    /// The request.
    pub request_id: String,
    /// The attributes asked for, by name.
    #[schema(value_type = Object)]
    pub attributes: BTreeMap<String, Value>,
    /// The scene that asked, if one did.
    pub scene_id: Option<String>,
    /// When it was asked.
    pub requested_at: DateTime<Utc>,
    /// `pending`, `applied` or `failed`.
    pub status: String,
    /// Why it failed, when it did.
    pub failure: Option<String>,
}

/// A device.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    /// Its household.
    pub household: String,
    /// The device.
    pub device_id: String,
    /// What it is (`light`, `switch`, `thermostat`…).
    pub kind: String,
    /// Its room.
    pub room: String,
    /// What it can be asked to do, as `DeviceRegistered` describes it.
    #[schema(value_type = Vec<Object>)]
    pub capabilities: Value,
    /// The state it last reported, by attribute.
    #[schema(value_type = Object)]
    pub reported: BTreeMap<String, Value>,
    /// When it last reported.
    pub reported_at: Option<DateTime<Utc>>,
    /// The state last asked of it.
    pub desired: Option<DesiredStateView>,
}

/// Which household.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HouseholdParams {
    /// One household (default: every one).
    pub household: Option<String>,
}

/// A scene.
#[derive(Debug, Serialize, ToSchema)]
pub struct SceneView {
    /// Its household.
    pub household: String,
    /// The scene.
    pub scene_id: String,
    /// Its name.
    pub name: String,
    /// What it asks of which device, as `SceneDefined` describes it.
    #[schema(value_type = Vec<Object>)]
    pub actions: Value,
    /// When it was last activated.
    pub activated_at: Option<DateTime<Utc>>,
    /// That activation's id.
    pub activation_id: Option<String>,
    /// The routine that activated it, if one did.
    pub activated_by_routine: Option<String>,
}

fn desired_view(request: DeviceRequest) -> DesiredStateView {
    DesiredStateView {
        request_id: request.request_id,
        attributes: request.attributes,
        scene_id: request.scene_id,
        requested_at: request.requested_at,
        status: name_of(&request.status),
        failure: request.failure,
    }
}

fn device_view(device: Device) -> Result<DeviceView, ApiError> {
    Ok(DeviceView {
        household: device.household,
        device_id: device.device_id,
        kind: name_of(&device.kind),
        room: device.room,
        capabilities: json_of(&device.capabilities)?,
        reported: device.state,
        reported_at: device.reported_at,
        desired: device.last_request.map(desired_view),
    })
}

fn scene_view(scene: Scene) -> Result<SceneView, ApiError> {
    Ok(SceneView {
        household: scene.household,
        scene_id: scene.scene_id,
        name: scene.name,
        actions: json_of(&scene.actions)?,
        activated_at: scene.activated_at,
        activation_id: scene.activation_id,
        activated_by_routine: scene.activated_by_routine,
    })
}

/// The devices, by household, room and id, with their reported and
/// desired state.
#[utoipa::path(get, path = "/api/v1/home/devices", operation_id = "home_devices", tag = "read models",
    params(DeviceParams),
    responses(
        (status = 200, description = "The devices", body = Vec<DeviceView>),
        (status = 400, description = "A parameter is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `read_models:read`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The home read model is not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["read_models:read"])))]
#[get("/api/v1/home/devices")]
pub(crate) async fn devices(
    state: web::Data<ApiState>,
    caller: Caller,
    params: web::Query<DeviceParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReadModelsRead)?;
    caller.require_domain("home")?;
    let filter = DeviceFilter {
        household: text(params.household.as_deref()),
        room: text(params.room.as_deref()),
    };
    let tables = live(&state, HOME).await?;
    let found = home::devices(state.read_models(), &tables, &filter).await?;
    let views: Vec<DeviceView> = found
        .into_iter()
        .map(device_view)
        .collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(views))
}

/// The scenes, by household and name.
#[utoipa::path(get, path = "/api/v1/home/scenes", operation_id = "home_scenes", tag = "read models",
    params(HouseholdParams),
    responses(
        (status = 200, description = "The scenes", body = Vec<SceneView>),
        (status = 400, description = "A parameter is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `read_models:read`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The home read model is not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["read_models:read"])))]
#[get("/api/v1/home/scenes")]
pub(crate) async fn scenes(
    state: web::Data<ApiState>,
    caller: Caller,
    params: web::Query<HouseholdParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReadModelsRead)?;
    caller.require_domain("home")?;
    let household = text(params.household.as_deref());
    let tables = live(&state, HOME).await?;
    let found = home::scenes(state.read_models(), &tables, household.as_deref()).await?;
    let views: Vec<SceneView> = found
        .into_iter()
        .map(scene_view)
        .collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(views))
}
