//! The home: every device with its room, what it can do, the state it last
//! reported (attribute by attribute) and the last state asked of it; and
//! every scene with its actions and when it was last activated.
//!
//! A report updates only the attributes it carries, as the home does; a
//! device registered again starts from an empty state; a device removed
//! disappears and leaves every scene. The last request of a device shows
//! whether the actuator has carried it out; a late answer to an older
//! request does not change it.
//!
//! Home events carry no personal data (the home domain keeps none), so an
//! erasure changes nothing here.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use steward_events::RecordedEvent;
use steward_events::domain::home::{Capability, DeviceKind, HomeEvent, SceneAction};

use crate::db::{Dialect, ReadDb};
use crate::error::{ApplyError, ProjectionError};
use crate::projection::{ApplyContext, Projection};
use crate::read_models::sql::{
    Bind, Conditions, decode_set, delete_where, from_json, from_name, instant, instant_opt,
    json_text, millis, name_of,
};
use crate::tables::Tables;

/// The home projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Home;

const DEVICES: &str = "home_devices";
const STATE: &str = "home_device_state";
const SCENES: &str = "home_scenes";

#[async_trait]
impl Projection for Home {
    fn name(&self) -> &'static str {
        "home"
    }

    fn version(&self) -> u32 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        &[DEVICES, STATE, SCENES]
    }

    fn create(&self, _dialect: Dialect, tables: &Tables) -> Vec<String> {
        let devices = tables.name(DEVICES);
        let scenes = tables.name(SCENES);
        vec![
            format!(
                "CREATE TABLE {devices} (
                    device_key TEXT PRIMARY KEY,
                    household TEXT NOT NULL,
                    device_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    room TEXT NOT NULL,
                    capabilities TEXT NOT NULL,
                    request_id TEXT,
                    request_attributes TEXT,
                    request_scene_id TEXT,
                    requested_at_ms BIGINT,
                    request_status TEXT,
                    request_failure TEXT
                )"
            ),
            format!(
                "CREATE INDEX {} ON {devices} (household, room)",
                tables.name(&format!("{DEVICES}_room"))
            ),
            format!(
                "CREATE TABLE {} (
                    device_key TEXT NOT NULL,
                    attribute TEXT NOT NULL,
                    value TEXT NOT NULL,
                    reported_at_ms BIGINT NOT NULL,
                    PRIMARY KEY (device_key, attribute)
                )",
                tables.name(STATE)
            ),
            format!(
                "CREATE TABLE {scenes} (
                    scene_key TEXT PRIMARY KEY,
                    household TEXT NOT NULL,
                    scene_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    actions TEXT NOT NULL,
                    activated_at_ms BIGINT,
                    activation_id TEXT,
                    activated_by_routine TEXT
                )"
            ),
            format!(
                "CREATE INDEX {} ON {scenes} (household)",
                tables.name(&format!("{SCENES}_household"))
            ),
        ]
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        event: &RecordedEvent,
    ) -> Result<(), ApplyError> {
        let Some(home_event) = decode_set::<HomeEvent>(event)? else {
            return Ok(());
        };
        let home = event.stream_id.as_str();
        let devices = cx.tables.name(DEVICES);
        let state = cx.tables.name(STATE);
        let scenes = cx.tables.name(SCENES);
        match home_event {
            HomeEvent::DeviceRegistered(e) => {
                let key = row_key(home, &e.device_id);
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {devices} (device_key, household, device_id, kind, room,
                        capabilities)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (device_key) DO UPDATE SET kind = excluded.kind,
                        room = excluded.room, capabilities = excluded.capabilities"
                )))
                .bind(&key)
                .bind(event.stream_id.id())
                .bind(&e.device_id)
                .bind(name_of(&e.kind)?)
                .bind(&e.room)
                .bind(json_text(&e.capabilities)?)
                .execute(&mut *connection)
                .await?;
                // Registered anew, it has reported nothing yet.
                delete_where(connection, &state, "device_key", &key).await?;
            }
            HomeEvent::DeviceMoved(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {devices} SET room = $2 WHERE device_key = $1"
                )))
                .bind(row_key(home, &e.device_id))
                .bind(&e.room)
                .execute(&mut *connection)
                .await?;
            }
            HomeEvent::DeviceRemoved(e) => {
                let key = row_key(home, &e.device_id);
                delete_where(connection, &devices, "device_key", &key).await?;
                delete_where(connection, &state, "device_key", &key).await?;
                leave_scenes(connection, &scenes, event.stream_id.id(), &e.device_id).await?;
            }
            HomeEvent::StateReported(e) => {
                let key = row_key(home, &e.device_id);
                for (attribute, value) in &e.attributes {
                    sqlx::query(AssertSqlSafe(format!(
                        "INSERT INTO {state} (device_key, attribute, value, reported_at_ms)
                         SELECT $1, $2, $3, $4 WHERE EXISTS
                            (SELECT 1 FROM {devices} WHERE device_key = $1)
                         ON CONFLICT (device_key, attribute) DO UPDATE SET
                            value = excluded.value, reported_at_ms = excluded.reported_at_ms"
                    )))
                    .bind(&key)
                    .bind(attribute)
                    .bind(json_text(value)?)
                    .bind(millis(event.recorded_at))
                    .execute(&mut *connection)
                    .await?;
                }
            }
            HomeEvent::StateRequested(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {devices} SET request_id = $2, request_attributes = $3,
                        request_scene_id = $4, requested_at_ms = $5, request_status = $6,
                        request_failure = NULL
                     WHERE device_key = $1"
                )))
                .bind(row_key(home, &e.device_id))
                .bind(&e.request_id)
                .bind(json_text(&e.attributes)?)
                .bind(e.scene_id.clone())
                .bind(millis(e.at))
                .bind(name_of(&RequestStatus::Pending)?)
                .execute(&mut *connection)
                .await?;
            }
            HomeEvent::StateApplied(e) => {
                settle(
                    connection,
                    &devices,
                    &row_key(home, &e.device_id),
                    &e.request_id,
                    RequestStatus::Applied,
                    None,
                )
                .await?;
            }
            HomeEvent::StateFailed(e) => {
                settle(
                    connection,
                    &devices,
                    &row_key(home, &e.device_id),
                    &e.request_id,
                    RequestStatus::Failed,
                    Some(e.reason.clone()),
                )
                .await?;
            }
            HomeEvent::SceneDefined(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {scenes} (scene_key, household, scene_id, name, actions)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (scene_key) DO UPDATE SET name = excluded.name,
                        actions = excluded.actions"
                )))
                .bind(row_key(home, &e.scene_id))
                .bind(event.stream_id.id())
                .bind(&e.scene_id)
                .bind(&e.name)
                .bind(json_text(&e.actions)?)
                .execute(&mut *connection)
                .await?;
            }
            HomeEvent::SceneRemoved(e) => {
                delete_where(
                    connection,
                    &scenes,
                    "scene_key",
                    &row_key(home, &e.scene_id),
                )
                .await?;
            }
            HomeEvent::SceneActivated(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {scenes} SET activated_at_ms = $2, activation_id = $3,
                        activated_by_routine = $4
                     WHERE scene_key = $1"
                )))
                .bind(row_key(home, &e.scene_id))
                .bind(millis(event.recorded_at))
                .bind(&e.activation_id)
                .bind(e.routine_id.clone())
                .execute(&mut *connection)
                .await?;
            }
            HomeEvent::RoutineDefined(_)
            | HomeEvent::RoutineEnabled(_)
            | HomeEvent::RoutineDisabled(_)
            | HomeEvent::RoutineRemoved(_)
            | HomeEvent::RoutineRan(_) => {}
        }
        Ok(())
    }
}

fn row_key(home: &str, id: &str) -> String {
    format!("{home}/{id}")
}

/// Settles the device's last request, if it is still `request_id`.
async fn settle(
    connection: &mut AnyConnection,
    devices: &str,
    key: &str,
    request_id: &str,
    status: RequestStatus,
    failure: Option<String>,
) -> Result<(), ApplyError> {
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE {devices} SET request_status = $3, request_failure = $4
         WHERE device_key = $1 AND request_id = $2"
    )))
    .bind(key)
    .bind(request_id)
    .bind(name_of(&status)?)
    .bind(failure)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Takes a removed device out of every scene of its household.
async fn leave_scenes(
    connection: &mut AnyConnection,
    scenes: &str,
    household: &str,
    device_id: &str,
) -> Result<(), ApplyError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT scene_key, actions FROM {scenes} WHERE household = $1"
    )))
    .bind(household)
    .fetch_all(&mut *connection)
    .await?;
    for row in rows {
        let key: String = row.try_get("scene_key")?;
        let stored: String = row.try_get("actions")?;
        let actions: Vec<SceneAction> = from_json(&stored)?;
        if actions.iter().all(|action| action.device_id != device_id) {
            continue;
        }
        let left: Vec<&SceneAction> = actions
            .iter()
            .filter(|action| action.device_id != device_id)
            .collect();
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {scenes} SET actions = $2 WHERE scene_key = $1"
        )))
        .bind(&key)
        .bind(json_text(&left)?)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

// ------------------------------------------------------------------ readers

/// Where the last state asked of a device stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// The actuator has not answered yet.
    Pending,
    /// Carried out.
    Applied,
    /// The actuator could not carry it out.
    Failed,
}

/// The last state asked of a device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceRequest {
    /// The request.
    pub request_id: String,
    /// The attributes asked for.
    pub attributes: BTreeMap<String, Value>,
    /// The scene whose activation asked, if one did.
    pub scene_id: Option<String>,
    /// When it was asked.
    pub requested_at: DateTime<Utc>,
    /// Where it stands.
    pub status: RequestStatus,
    /// Why it failed, if it did.
    pub failure: Option<String>,
}

/// A device and its state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    /// Its household (`main` for the stream `home-main`).
    pub household: String,
    /// The device.
    pub device_id: String,
    /// What sort of device it is.
    pub kind: DeviceKind,
    /// The room it is in.
    pub room: String,
    /// What it can do.
    pub capabilities: Vec<Capability>,
    /// What it last reported, attribute by attribute.
    pub state: BTreeMap<String, Value>,
    /// When it last reported anything.
    pub reported_at: Option<DateTime<Utc>>,
    /// The last state asked of it.
    pub last_request: Option<DeviceRequest>,
}

/// A scene.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scene {
    /// Its household (`main` for the stream `home-main`).
    pub household: String,
    /// The scene.
    pub scene_id: String,
    /// Its name.
    pub name: String,
    /// What each device is asked for (devices removed since are left out).
    pub actions: Vec<SceneAction>,
    /// When it was last activated.
    pub activated_at: Option<DateTime<Utc>>,
    /// Its last activation's id.
    pub activation_id: Option<String>,
    /// The routine that activated it last, if one did.
    pub activated_by_routine: Option<String>,
}

/// Which devices to list: every filter set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFilter {
    /// Devices of this household.
    pub household: Option<String>,
    /// Devices in this room.
    pub room: Option<String>,
}

/// The devices `filter` picks, by household, room and id.
pub async fn devices(
    db: &ReadDb,
    tables: &Tables,
    filter: &DeviceFilter,
) -> Result<Vec<Device>, ProjectionError> {
    let mut conditions = Conditions::default();
    if let Some(household) = &filter.household {
        conditions.add("household = ?", [Bind::Text(household.clone())]);
    }
    if let Some(room) = &filter.room {
        conditions.add("room = ?", [Bind::Text(room.clone())]);
    }
    let sql = format!(
        "SELECT device_key, household, device_id, kind, room, capabilities, request_id,
            request_attributes, request_scene_id, requested_at_ms, request_status, request_failure
         FROM {} {} ORDER BY household, room, device_id",
        tables.name(DEVICES),
        conditions.where_clause()
    );
    let rows = conditions.query(sql).fetch_all(db.pool()).await?;
    let mut states = states(db, tables, filter).await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let key: String = row.try_get("device_key")?;
        let kind: String = row.try_get("kind")?;
        let capabilities: String = row.try_get("capabilities")?;
        let last_request = match (
            row.try_get::<Option<String>, _>("request_id")?,
            row.try_get::<Option<String>, _>("request_attributes")?,
            row.try_get::<Option<i64>, _>("requested_at_ms")?,
            row.try_get::<Option<String>, _>("request_status")?,
        ) {
            (Some(request_id), Some(attributes), Some(at), Some(status)) => Some(DeviceRequest {
                request_id,
                attributes: from_json(&attributes)?,
                scene_id: row.try_get("request_scene_id")?,
                requested_at: instant(at),
                status: from_name(&status)?,
                failure: row.try_get("request_failure")?,
            }),
            _ => None,
        };
        let (state, reported_at) = states.remove(&key).unwrap_or_default();
        found.push(Device {
            household: row.try_get("household")?,
            device_id: row.try_get("device_id")?,
            kind: from_name(&kind)?,
            room: row.try_get("room")?,
            capabilities: from_json(&capabilities)?,
            state,
            reported_at,
            last_request,
        });
    }
    Ok(found)
}

type DeviceState = (BTreeMap<String, Value>, Option<DateTime<Utc>>);

/// The reported state of the devices `filter` picks, by device key.
async fn states(
    db: &ReadDb,
    tables: &Tables,
    filter: &DeviceFilter,
) -> Result<BTreeMap<String, DeviceState>, ProjectionError> {
    let devices = tables.name(DEVICES);
    let mut conditions = Conditions::default();
    if let Some(household) = &filter.household {
        conditions.add("d.household = ?", [Bind::Text(household.clone())]);
    }
    if let Some(room) = &filter.room {
        conditions.add("d.room = ?", [Bind::Text(room.clone())]);
    }
    let sql = format!(
        "SELECT s.device_key, s.attribute, s.value, s.reported_at_ms
         FROM {} s JOIN {devices} d ON d.device_key = s.device_key {}",
        tables.name(STATE),
        conditions.where_clause()
    );
    let mut states: BTreeMap<String, DeviceState> = BTreeMap::new();
    for row in conditions.query(sql).fetch_all(db.pool()).await? {
        let value: String = row.try_get("value")?;
        let reported_at = instant(row.try_get("reported_at_ms")?);
        let (state, latest) = states.entry(row.try_get("device_key")?).or_default();
        state.insert(row.try_get("attribute")?, from_json(&value)?);
        *latest = Some(latest.map_or(reported_at, |latest| latest.max(reported_at)));
    }
    Ok(states)
}

/// The scenes of `household` (of every household if `None`), by household
/// and name.
pub async fn scenes(
    db: &ReadDb,
    tables: &Tables,
    household: Option<&str>,
) -> Result<Vec<Scene>, ProjectionError> {
    let mut conditions = Conditions::default();
    if let Some(household) = household {
        conditions.add("household = ?", [Bind::Text(household.to_owned())]);
    }
    let sql = format!(
        "SELECT household, scene_id, name, actions, activated_at_ms, activation_id,
            activated_by_routine
         FROM {} {} ORDER BY household, name, scene_id",
        tables.name(SCENES),
        conditions.where_clause()
    );
    conditions
        .query(sql)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|row| {
            let actions: String = row.try_get("actions")?;
            Ok(Scene {
                household: row.try_get("household")?,
                scene_id: row.try_get("scene_id")?,
                name: row.try_get("name")?,
                actions: from_json(&actions)?,
                activated_at: instant_opt(row.try_get("activated_at_ms")?),
                activation_id: row.try_get("activation_id")?,
                activated_by_routine: row.try_get("activated_by_routine")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(ProjectionError::from)
}
