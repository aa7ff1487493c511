//! What the domain read models share: reading events whose personal part
//! may be gone, remembering whose personal data a row holds so an erasure
//! can drop it, and SQL values and `WHERE` clauses that both dialects read.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AssertSqlSafe};
use steward_events::domain::subject::SubjectErased;
use steward_events::domain::{DomainEvent, EventSet};
use steward_events::{Personal, RecordedEvent};

use crate::error::ApplyError;
use crate::tables::Tables;

/// Whether the event's personal fields, if it has any, can be read: a part
/// that is erased (or still sealed) decodes as defaults, which a read model
/// must not mistake for data.
pub(crate) fn personal_readable(event: &RecordedEvent) -> bool {
    !matches!(event.personal, Some(Personal::Erased | Personal::Sealed(_)))
}

/// `value` when the event's personal part is readable, `None` otherwise.
pub(crate) fn personal<T>(event: &RecordedEvent, value: T) -> Option<T> {
    personal_readable(event).then_some(value)
}

/// Reads `event` as one of the set `S` if its type belongs to the set.
pub(crate) fn decode_set<S: EventSet>(event: &RecordedEvent) -> Result<Option<S>, ApplyError> {
    if !S::EVENT_TYPES.contains(&event.event_type.as_str()) {
        return Ok(None);
    }
    Ok(Some(S::from_recorded(event)?))
}

/// The subject an event erases, if it is a [`SubjectErased`].
pub(crate) fn erased_subject(event: &RecordedEvent) -> Result<Option<String>, ApplyError> {
    if event.event_type.as_str() != SubjectErased::EVENT_TYPE {
        return Ok(None);
    }
    let erased: SubjectErased = event.to_domain()?;
    Ok(Some(erased.subject.as_str().to_owned()))
}

/// The statements creating a `<model>_subjects` table (logical name
/// `logical`): which part of which row holds whose personal data.
///
/// A row's personal columns come in *parts*, each written by one kind of
/// event (a message's sender and subject by its arrival, its triage reason
/// by its triage). Each part remembers the subjects of the event that last
/// wrote it, so erasing a subject drops exactly the parts a rebuild from the
/// log would find erased.
pub(crate) fn subjects_table(tables: &Tables, logical: &str) -> Vec<String> {
    let table = tables.name(logical);
    vec![
        format!(
            "CREATE TABLE {table} (
                subject TEXT NOT NULL,
                part TEXT NOT NULL,
                row_key TEXT NOT NULL,
                PRIMARY KEY (subject, part, row_key)
            )"
        ),
        format!(
            "CREATE INDEX {} ON {table} (row_key, part)",
            tables.name(&format!("{logical}_row"))
        ),
    ]
}

/// Records that `part` of the row `row_key` now holds what `event` says:
/// its subjects replace those of whatever the part held before (none when
/// the event carries no readable personal data).
pub(crate) async fn remember_subjects(
    connection: &mut AnyConnection,
    table: &str,
    part: &str,
    row_key: &str,
    event: &RecordedEvent,
) -> Result<(), ApplyError> {
    forget_row(connection, table, part, row_key).await?;
    if !matches!(event.personal, Some(Personal::Plain(_))) {
        return Ok(());
    }
    for subject in &event.metadata.subjects {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {table} (subject, part, row_key) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING"
        )))
        .bind(subject.as_str())
        .bind(part)
        .bind(row_key)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

/// `IN (…)` naming the rows whose `part` holds personal data of the subject
/// bound as `$1`.
pub(crate) fn rows_of_subject(table: &str, part: &str) -> String {
    format!("IN (SELECT row_key FROM {table} WHERE subject = $1 AND part = '{part}')")
}

/// Drops what the rows of `subject` hold about them: runs each of
/// `statements` (which pick their rows with [`rows_of_subject`]) with the
/// subject bound as `$1`, then forgets the subject's links.
pub(crate) async fn forget_subject(
    connection: &mut AnyConnection,
    table: &str,
    subject: &str,
    statements: &[String],
) -> Result<(), ApplyError> {
    for statement in statements {
        sqlx::query(AssertSqlSafe(statement.clone()))
            .bind(subject)
            .execute(&mut *connection)
            .await?;
    }
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM {table} WHERE subject = $1"
    )))
    .bind(subject)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Forgets the links of one part of a row (it is gone, or rewritten).
pub(crate) async fn forget_row(
    connection: &mut AnyConnection,
    table: &str,
    part: &str,
    row_key: &str,
) -> Result<(), ApplyError> {
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM {table} WHERE row_key = $1 AND part = $2"
    )))
    .bind(row_key)
    .bind(part)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Deletes the rows of `table` whose `column` is `value`.
pub(crate) async fn delete_where(
    connection: &mut AnyConnection,
    table: &str,
    column: &str,
    value: &str,
) -> Result<(), ApplyError> {
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM {table} WHERE {column} = $1"
    )))
    .bind(value)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// A statement that binds an `Option<f64>`, never kept prepared.
///
/// sqlx 0.9's `Any` driver declares a missing `f64` to PostgreSQL as a
/// `float4` (`AnyArguments` swaps the `Real` and `Double` nulls), and a
/// statement prepared that way then refuses a present `f64` ("incorrect
/// binary data format"): prepared afresh each time, every execution declares
/// the types of its own values.
pub(crate) fn unprepared(sql: String) -> Query<'static, Any, AnyArguments> {
    sqlx::query(AssertSqlSafe(sql)).persistent(false)
}

/// An instant as stored: milliseconds since the Unix epoch.
pub(crate) fn millis(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_millis()
}

pub(crate) use crate::db::instant;

/// A stored optional instant read back.
pub(crate) fn instant_opt(millis: Option<i64>) -> Option<DateTime<Utc>> {
    millis.map(instant)
}

/// A flag as stored: SQLite has no booleans, so both dialects keep 0 or 1.
pub(crate) fn flag(value: bool) -> i64 {
    i64::from(value)
}

/// A day as stored: `YYYY-MM-DD`, which sorts as the days do.
pub(crate) fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// A stored day read back.
pub(crate) fn day(text: &str) -> Result<NaiveDate, sqlx::Error> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| stored_value("day", text, e))
}

/// A stored optional day read back.
pub(crate) fn day_opt(text: Option<String>) -> Result<Option<NaiveDate>, sqlx::Error> {
    text.as_deref().map(day).transpose()
}

/// A local date-time as stored: `YYYY-MM-DDTHH:MM:SS`.
pub(crate) fn local_text(local: NaiveDateTime) -> String {
    local.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// A stored local date-time read back.
pub(crate) fn local(text: &str) -> Result<NaiveDateTime, sqlx::Error> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .map_err(|e| stored_value("local time", text, e))
}

/// A value as stored JSON text.
pub(crate) fn json_text<T: Serialize>(value: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// A snake_case enum as its stored name (`"needs_reply"`).
pub(crate) fn name_of<T: Serialize>(value: &T) -> Result<String, sqlx::Error> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => Ok(name),
        Ok(other) => Err(sqlx::Error::Encode(
            format!("expected a name, found {other}").into(),
        )),
        Err(e) => Err(sqlx::Error::Encode(Box::new(e))),
    }
}

/// An enum read back from its stored name.
pub(crate) fn from_name<T: DeserializeOwned>(name: &str) -> Result<T, sqlx::Error> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|e| stored_value("name", name, e))
}

/// A value read back from stored JSON text.
pub(crate) fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| stored_value("JSON", text, e))
}

fn stored_value(what: &str, text: &str, error: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored {what} `{text}` does not read back: {error}").into())
}

/// A value bound to a statement built at run time.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
}

/// `WHERE` conditions written with `?` and numbered as they are added, since
/// PostgreSQL wants `$n` (which SQLite also reads).
#[derive(Debug, Default)]
pub(crate) struct Conditions {
    conditions: Vec<String>,
    binds: Vec<Bind>,
}

impl Conditions {
    /// Adds a condition whose `?` take `binds` in order.
    pub(crate) fn add(&mut self, condition: &str, binds: impl IntoIterator<Item = Bind>) {
        let binds: Vec<Bind> = binds.into_iter().collect();
        let mut numbered = String::with_capacity(condition.len() + 4 * binds.len());
        for (i, part) in condition.split('?').enumerate() {
            if i > 0 {
                numbered.push_str(&format!("${}", self.binds.len() + i));
            }
            numbered.push_str(part);
        }
        self.conditions.push(numbered);
        self.binds.extend(binds);
    }

    /// `column IN (…)` over `values`; nothing matches an empty list.
    pub(crate) fn add_in(&mut self, column: &str, values: &[String]) {
        if values.is_empty() {
            self.conditions.push("1 = 0".to_owned());
            return;
        }
        self.conditions.push(format!(
            "{column} IN ({})",
            placeholders(self.binds.len() + 1, values.len())
        ));
        self.binds
            .extend(values.iter().map(|value| Bind::Text(value.clone())));
    }

    /// `WHERE …`, or nothing when there is no condition.
    pub(crate) fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// `sql` (which must end with [`Conditions::where_clause`] and what
    /// follows it) with the values bound.
    pub(crate) fn query(self, sql: String) -> Query<'static, Any, AnyArguments> {
        let mut statement = sqlx::query(AssertSqlSafe(sql));
        for bind in self.binds {
            statement = match bind {
                Bind::Text(text) => statement.bind(text),
                Bind::Int(n) => statement.bind(n),
            };
        }
        statement
    }
}

/// `$first, $first+1, …` for `count` values: the list of an `IN (…)`.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
