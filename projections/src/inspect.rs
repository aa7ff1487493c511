//! Reading any read-model table as JSON, for people looking at a replay or
//! a live model without knowing its columns.

use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Column as _, Row as _};

use crate::db::ReadDb;
use crate::error::ProjectionError;
use crate::tables::Tables;

/// Every row of the table `logical` in `tables`, each column as what it
/// holds (number, text, boolean or null).
pub async fn table_rows(
    db: &ReadDb,
    tables: &Tables,
    logical: &str,
) -> Result<Vec<Map<String, Value>>, ProjectionError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT * FROM {}",
        tables.name(logical)
    )))
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(row_to_json).collect())
}

fn row_to_json(row: &AnyRow) -> Map<String, Value> {
    row.columns()
        .iter()
        .map(|column| {
            let i = column.ordinal();
            let value = if let Ok(n) = row.try_get::<Option<i64>, _>(i) {
                n.map_or(Value::Null, Value::from)
            } else if let Ok(x) = row.try_get::<Option<f64>, _>(i) {
                x.map_or(Value::Null, Value::from)
            } else if let Ok(text) = row.try_get::<Option<String>, _>(i) {
                text.map_or(Value::Null, Value::from)
            } else if let Ok(flag) = row.try_get::<Option<bool>, _>(i) {
                flag.map_or(Value::Null, Value::from)
            } else {
                Value::from("<binary>")
            };
            (column.name().to_owned(), value)
        })
        .collect()
}
