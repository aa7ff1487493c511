//! Groceries: the pantry's stock (with its usage rate and whether each
//! item runs low) and the shopping list.
//!
//! Items are one whatever their case and surrounding spaces (`Oat milk` is
//! `oat milk `), as the pantry and the list take them. An item runs low when
//! the pantry said so ([`StockRanLow`], until stocked up above its level or
//! given a new level), or when, as of the instant asked about, it is at or
//! below its reorder level or will last fewer days than its lead time at
//! the rate it has been used since first stocked. A bought or unlisted item
//! leaves the list.
//!
//! Grocery events carry no personal data, so an erasure changes nothing
//! here.
//!
//! [`StockRanLow`]: steward_events::domain::groceries::StockRanLow

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use steward_events::RecordedEvent;
use steward_events::domain::groceries::{ListedBecause, PantryEvent, ShoppingListEvent};

use crate::db::{Dialect, ReadDb};
use crate::error::{ApplyError, ProjectionError};
use crate::projection::{ApplyContext, Projection};
use crate::read_models::sql::{
    Bind, Conditions, decode_set, flag, from_name, instant, millis, name_of, unprepared,
};
use crate::tables::Tables;

/// The groceries projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Groceries;

const PANTRY: &str = "groceries_pantry";
const LIST: &str = "groceries_list";

/// A day in milliseconds, for usage rates.
const DAY_MS: f64 = 86_400_000.0;

#[async_trait]
impl Projection for Groceries {
    fn name(&self) -> &'static str {
        "groceries"
    }

    fn version(&self) -> u32 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        &[PANTRY, LIST]
    }

    fn create(&self, _dialect: Dialect, tables: &Tables) -> Vec<String> {
        let pantry = tables.name(PANTRY);
        let list = tables.name(LIST);
        vec![
            format!(
                "CREATE TABLE {pantry} (
                    item_key TEXT PRIMARY KEY,
                    household TEXT NOT NULL,
                    item TEXT NOT NULL,
                    quantity DOUBLE PRECISION NOT NULL,
                    unit TEXT NOT NULL,
                    reorder_below DOUBLE PRECISION,
                    lead_days DOUBLE PRECISION,
                    restock_to DOUBLE PRECISION,
                    first_stocked_at_ms BIGINT NOT NULL,
                    used DOUBLE PRECISION NOT NULL,
                    reported_low BIGINT NOT NULL,
                    updated_at_ms BIGINT NOT NULL
                )"
            ),
            format!(
                "CREATE INDEX {} ON {pantry} (household, item)",
                tables.name(&format!("{PANTRY}_household"))
            ),
            format!(
                "CREATE TABLE {list} (
                    entry_key TEXT PRIMARY KEY,
                    household TEXT NOT NULL,
                    item TEXT NOT NULL,
                    quantity DOUBLE PRECISION,
                    unit TEXT,
                    because TEXT NOT NULL,
                    listed_at_ms BIGINT NOT NULL
                )"
            ),
            format!(
                "CREATE INDEX {} ON {list} (household, listed_at_ms)",
                tables.name(&format!("{LIST}_household"))
            ),
        ]
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        event: &RecordedEvent,
    ) -> Result<(), ApplyError> {
        if let Some(pantry_event) = decode_set::<PantryEvent>(event)? {
            return apply_pantry(connection, cx, event, pantry_event).await;
        }
        if let Some(list_event) = decode_set::<ShoppingListEvent>(event)? {
            return apply_list(connection, cx, event, list_event).await;
        }
        Ok(())
    }
}

/// An item's key within a stream: its name trimmed and lower-cased.
fn item_key(stream: &str, item: &str) -> String {
    format!("{stream}/{}", item.trim().to_lowercase())
}

async fn apply_pantry(
    connection: &mut AnyConnection,
    cx: ApplyContext<'_>,
    event: &RecordedEvent,
    pantry_event: PantryEvent,
) -> Result<(), ApplyError> {
    let pantry = cx.tables.name(PANTRY);
    let stream = event.stream_id.as_str();
    let at = millis(event.recorded_at);
    match pantry_event {
        PantryEvent::Stocked(e) => {
            let key = item_key(stream, &e.item);
            let known = sqlx::query(AssertSqlSafe(format!(
                "SELECT quantity, reorder_below, reported_low FROM {pantry} WHERE item_key = $1"
            )))
            .bind(&key)
            .fetch_optional(&mut *connection)
            .await?;
            let Some(known) = known else {
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {pantry} (item_key, household, item, quantity, unit,
                        first_stocked_at_ms, used, reported_low, updated_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $7)"
                )))
                .bind(&key)
                .bind(event.stream_id.id())
                .bind(e.item.trim())
                .bind(e.quantity)
                .bind(&e.unit)
                .bind(millis(e.at))
                .bind(at)
                .execute(&mut *connection)
                .await?;
                return Ok(());
            };
            let quantity: f64 = known.try_get("quantity")?;
            let reorder_below: Option<f64> = known.try_get("reorder_below")?;
            // Stocking up above the level re-arms the low-stock warning.
            let stocked_up =
                e.quantity > quantity && reorder_below.is_some_and(|level| e.quantity > level);
            let reported_low = known.try_get::<i64, _>("reported_low")? != 0 && !stocked_up;
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE {pantry} SET item = $2, quantity = $3, unit = $4, reported_low = $5,
                    updated_at_ms = $6
                 WHERE item_key = $1"
            )))
            .bind(&key)
            .bind(e.item.trim())
            .bind(e.quantity)
            .bind(&e.unit)
            .bind(flag(reported_low))
            .bind(at)
            .execute(&mut *connection)
            .await?;
        }
        PantryEvent::Used(e) => {
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE {pantry} SET quantity = $2, used = used + $3, updated_at_ms = $4
                 WHERE item_key = $1"
            )))
            .bind(item_key(stream, &e.item))
            .bind(e.left)
            .bind(e.quantity)
            .bind(at)
            .execute(&mut *connection)
            .await?;
        }
        PantryEvent::ReorderLevelSet(e) => {
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE {pantry} SET reorder_below = $2, lead_days = $3, restock_to = $4,
                    reported_low = 0, updated_at_ms = $5
                 WHERE item_key = $1"
            )))
            .bind(item_key(stream, &e.item))
            .bind(e.reorder_below)
            .bind(e.lead_days)
            .bind(e.restock_to)
            .bind(at)
            .execute(&mut *connection)
            .await?;
        }
        PantryEvent::RanLow(e) => {
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE {pantry} SET reported_low = 1, updated_at_ms = $2 WHERE item_key = $1"
            )))
            .bind(item_key(stream, &e.item))
            .bind(at)
            .execute(&mut *connection)
            .await?;
        }
    }
    Ok(())
}

async fn apply_list(
    connection: &mut AnyConnection,
    cx: ApplyContext<'_>,
    event: &RecordedEvent,
    list_event: ShoppingListEvent,
) -> Result<(), ApplyError> {
    let list = cx.tables.name(LIST);
    let stream = event.stream_id.as_str();
    match list_event {
        ShoppingListEvent::Listed(e) => {
            unprepared(format!(
                "INSERT INTO {list} (entry_key, household, item, quantity, unit, because,
                    listed_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (entry_key) DO UPDATE SET item = excluded.item,
                    quantity = excluded.quantity, unit = excluded.unit,
                    because = excluded.because"
            ))
            .bind(item_key(stream, &e.item))
            .bind(event.stream_id.id())
            .bind(e.item.trim())
            .bind(e.quantity)
            .bind(e.unit.clone())
            .bind(name_of(&e.because)?)
            .bind(millis(event.recorded_at))
            .execute(&mut *connection)
            .await?;
        }
        ShoppingListEvent::CheckedOff(e) => {
            delete_entry(connection, &list, &item_key(stream, &e.item)).await?;
        }
        ShoppingListEvent::Unlisted(e) => {
            delete_entry(connection, &list, &item_key(stream, &e.item)).await?;
        }
    }
    Ok(())
}

async fn delete_entry(
    connection: &mut AnyConnection,
    list: &str,
    key: &str,
) -> Result<(), ApplyError> {
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM {list} WHERE entry_key = $1"
    )))
    .bind(key)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

// ------------------------------------------------------------------ readers

/// An item in the pantry, as of the instant asked about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PantryItem {
    /// Its household (`home` for the stream `pantry-home`).
    pub household: String,
    /// Its name as last written.
    pub item: String,
    /// How much there is.
    pub quantity: f64,
    /// Its unit.
    pub unit: String,
    /// Running low at or below this, once set.
    pub reorder_below: Option<f64>,
    /// Or when it lasts fewer days than this, once set (0: off).
    pub lead_days: Option<f64>,
    /// Restocked to this, once set.
    pub restock_to: Option<f64>,
    /// Units used per day since it was first stocked (at least a day),
    /// once some was used.
    pub usage_per_day: Option<f64>,
    /// Days until it runs out at that rate.
    pub days_left: Option<f64>,
    /// Whether it runs low.
    pub low: bool,
    /// How much to buy to reach its restock level, when it runs low.
    pub to_buy: Option<f64>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// An item on the shopping list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShoppingItem {
    /// Its household (`home` for the stream `shoppinglist-home`).
    pub household: String,
    /// The item.
    pub item: String,
    /// How much to buy, if said.
    pub quantity: Option<f64>,
    /// The unit of `quantity`.
    pub unit: Option<String>,
    /// Why it is on the list.
    pub because: ListedBecause,
    /// When it was put there.
    pub listed_at: DateTime<Utc>,
}

/// The pantry of `household` (every household if `None`) as of `now`, by
/// household and item; only the items running low if `low_only`.
pub async fn pantry(
    db: &ReadDb,
    tables: &Tables,
    household: Option<&str>,
    now: DateTime<Utc>,
    low_only: bool,
) -> Result<Vec<PantryItem>, ProjectionError> {
    let mut conditions = Conditions::default();
    if let Some(household) = household {
        conditions.add("household = ?", [Bind::Text(household.to_owned())]);
    }
    let sql = format!(
        "SELECT household, item, quantity, unit, reorder_below, lead_days, restock_to,
            first_stocked_at_ms, used, reported_low, updated_at_ms
         FROM {} {} ORDER BY household, item_key",
        tables.name(PANTRY),
        conditions.where_clause()
    );
    let mut items = Vec::new();
    for row in conditions.query(sql).fetch_all(db.pool()).await? {
        let quantity: f64 = row.try_get("quantity")?;
        let used: f64 = row.try_get("used")?;
        let reorder_below: Option<f64> = row.try_get("reorder_below")?;
        let lead_days: Option<f64> = row.try_get("lead_days")?;
        let restock_to: Option<f64> = row.try_get("restock_to")?;
        let since = row.try_get::<i64, _>("first_stocked_at_ms")?;
        let days = ((millis(now) - since) as f64 / DAY_MS).max(1.0);
        let usage_per_day = (used > 0.0).then(|| used / days);
        let days_left = usage_per_day.map(|rate| quantity / rate);
        let at_level = reorder_below.is_some_and(|level| quantity <= level);
        let within_lead = match (lead_days, days_left) {
            (Some(lead), Some(left)) => lead > 0.0 && left < lead,
            _ => false,
        };
        let low = row.try_get::<i64, _>("reported_low")? != 0 || at_level || within_lead;
        if low_only && !low {
            continue;
        }
        items.push(PantryItem {
            household: row.try_get("household")?,
            item: row.try_get("item")?,
            quantity,
            unit: row.try_get("unit")?,
            reorder_below,
            lead_days,
            restock_to,
            usage_per_day,
            days_left,
            low,
            to_buy: restock_to
                .filter(|_| low)
                .map(|level| (level - quantity).max(0.0)),
            updated_at: instant(row.try_get("updated_at_ms")?),
        });
    }
    Ok(items)
}

/// The shopping list of `household` (every household if `None`), in the
/// order items were put on it.
pub async fn shopping_list(
    db: &ReadDb,
    tables: &Tables,
    household: Option<&str>,
) -> Result<Vec<ShoppingItem>, ProjectionError> {
    let mut conditions = Conditions::default();
    if let Some(household) = household {
        conditions.add("household = ?", [Bind::Text(household.to_owned())]);
    }
    let sql = format!(
        "SELECT household, item, quantity, unit, because, listed_at_ms
         FROM {} {} ORDER BY household, listed_at_ms, entry_key",
        tables.name(LIST),
        conditions.where_clause()
    );
    conditions
        .query(sql)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|row| {
            let because: String = row.try_get("because")?;
            Ok(ShoppingItem {
                household: row.try_get("household")?,
                item: row.try_get("item")?,
                quantity: row.try_get("quantity")?,
                unit: row.try_get("unit")?,
                because: from_name(&because)?,
                listed_at: instant(row.try_get("listed_at_ms")?),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(ProjectionError::from)
}
