//! The timeline index: every event, findable by stream, category, type,
//! actor, correlation, time and text, paged newest first with a cursor.
//!
//! Personal data is searchable only while it is readable: the subjects of
//! each event are indexed, and when one is erased the personal text of
//! their events is dropped from the index.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use steward_events::domain::DomainEvent;
use steward_events::domain::subject::SubjectErased;
use steward_events::{Personal, Position, RecordedEvent, StreamId};

use crate::db::{Dialect, ReadDb, from_sql_int, instant, sql_int};
use crate::error::{ApplyError, ProjectionError};
use crate::projection::{ApplyContext, Projection};
use crate::read_models::sql::{Bind, Conditions};
use crate::read_models::text_of;
use crate::tables::Tables;

/// The timeline projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timeline;

const EVENTS: &str = "timeline_events";
const SUBJECTS: &str = "timeline_subjects";
/// SQLite's full-text index (PostgreSQL indexes an expression instead).
const TEXT: &str = "timeline_text";

#[async_trait]
impl Projection for Timeline {
    fn name(&self) -> &'static str {
        "timeline"
    }

    fn version(&self) -> u32 {
        // 2: indexes in page order (position_prepare too).
        2
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TEXT, SUBJECTS, EVENTS]
    }

    fn create(&self, dialect: Dialect, tables: &Tables) -> Vec<String> {
        let events = tables.name(EVENTS);
        let subjects = tables.name(SUBJECTS);
        let mut statements = vec![
            format!(
                "CREATE TABLE {events} (
                    position_commit BIGINT NOT NULL,
                    position_prepare BIGINT NOT NULL,
                    event_id TEXT NOT NULL,
                    stream_id TEXT NOT NULL,
                    category TEXT NOT NULL,
                    event_type TEXT NOT NULL,
                    schema_version BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    correlation_id TEXT NOT NULL,
                    causation_id TEXT,
                    command_id TEXT,
                    recorded_at_ms BIGINT NOT NULL,
                    public_text TEXT NOT NULL,
                    personal_text TEXT,
                    PRIMARY KEY (position_commit, position_prepare)
                )"
            ),
            format!(
                "CREATE TABLE {subjects} (
                    subject TEXT NOT NULL,
                    position_commit BIGINT NOT NULL,
                    position_prepare BIGINT NOT NULL,
                    PRIMARY KEY (subject, position_commit, position_prepare)
                )"
            ),
        ];
        if dialect == Dialect::Sqlite {
            statements.push(format!(
                "CREATE VIRTUAL TABLE {} USING fts5(body)",
                tables.name(TEXT)
            ));
        }
        statements
    }

    fn create_indexes(&self, dialect: Dialect, tables: &Tables) -> Vec<String> {
        let events = tables.name(EVENTS);
        let index = |suffix: &str| tables.name(&format!("{EVENTS}_{suffix}"));
        let mut statements: Vec<String> = [
            // In the order pages are read, so that a page is an index scan
            // that stops at its limit.
            ("stream", "stream_id, position_commit, position_prepare"),
            ("category", "category, position_commit, position_prepare"),
            ("type", "event_type, position_commit, position_prepare"),
            ("actor", "actor, position_commit, position_prepare"),
            (
                "correlation",
                "correlation_id, position_commit, position_prepare",
            ),
            ("causation", "causation_id"),
            ("event_id", "event_id"),
            ("recorded", "recorded_at_ms"),
        ]
        .into_iter()
        .map(|(suffix, columns)| format!("CREATE INDEX {} ON {events} ({columns})", index(suffix)))
        .collect();
        if dialect == Dialect::Postgres {
            statements.push(format!(
                "CREATE INDEX {} ON {events} USING GIN ({})",
                index("text"),
                postgres_document()
            ));
        }
        statements
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        event: &RecordedEvent,
    ) -> Result<(), ApplyError> {
        self.apply_batch(connection, cx, std::slice::from_ref(event))
            .await
    }

    async fn apply_batch(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), ApplyError> {
        // Rows go in many at a time; an erasure first needs the rows before
        // it in place.
        let mut pending = 0;
        for (i, event) in events.iter().enumerate() {
            if event.event_type.as_str() == SubjectErased::EVENT_TYPE {
                insert(connection, cx, &events[pending..=i]).await?;
                let erased: SubjectErased = event.to_domain()?;
                forget_personal_text(connection, cx, erased.subject.as_str()).await?;
                pending = i + 1;
            }
        }
        insert(connection, cx, &events[pending..]).await
    }
}

/// Rows per multi-row `INSERT`: well under both databases' limits on bound
/// parameters (14 per row).
const ROWS_PER_STATEMENT: usize = 250;

/// Indexes consecutive events.
async fn insert(
    connection: &mut AnyConnection,
    cx: ApplyContext<'_>,
    events: &[RecordedEvent],
) -> Result<(), ApplyError> {
    for chunk in events.chunks(ROWS_PER_STATEMENT) {
        let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
            continue;
        };
        let mut statement = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {} (position_commit, position_prepare, event_id, stream_id, category,
                event_type, schema_version, actor, correlation_id, causation_id, command_id,
                recorded_at_ms, public_text, personal_text)
             VALUES {}",
            cx.tables.name(EVENTS),
            cx.dialect.value_rows(chunk.len(), 14)
        )));
        let mut subjects = Vec::new();
        for event in chunk {
            let commit = sql_int(event.global_position.commit());
            let prepare = sql_int(event.global_position.prepare());
            let personal_text = match &event.personal {
                Some(Personal::Plain(value)) => Some(text_of(value)),
                _ => None,
            };
            statement = statement
                .bind(commit)
                .bind(prepare)
                .bind(event.event_id.to_string())
                .bind(event.stream_id.as_str().to_owned())
                .bind(event.stream_id.category().to_owned())
                .bind(event.event_type.as_str().to_owned())
                .bind(i64::from(event.schema_version))
                .bind(event.metadata.actor.clone())
                .bind(event.metadata.correlation_id.to_string())
                .bind(event.metadata.causation_id.map(|id| id.to_string()))
                .bind(event.metadata.command_id.clone())
                .bind(event.recorded_at.timestamp_millis())
                .bind(format!(
                    "{} {} {}",
                    event.event_type.as_str(),
                    event.stream_id.as_str(),
                    text_of(&event.data)
                ))
                .bind(personal_text);
            // The store keeps the subjects as given, repeats included.
            let distinct: std::collections::BTreeSet<&str> =
                event.metadata.subjects.iter().map(|s| s.as_str()).collect();
            subjects.extend(
                distinct
                    .into_iter()
                    .map(|subject| (subject.to_owned(), commit, prepare)),
            );
        }
        statement.execute(&mut *connection).await?;
        if !subjects.is_empty() {
            let mut statement = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {} (subject, position_commit, position_prepare) VALUES {}",
                cx.tables.name(SUBJECTS),
                cx.dialect.value_rows(subjects.len(), 3)
            )));
            for (subject, commit, prepare) in subjects {
                statement = statement.bind(subject).bind(commit).bind(prepare);
            }
            statement.execute(&mut *connection).await?;
        }
        if cx.dialect == Dialect::Sqlite {
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {text} (rowid, body)
                 SELECT rowid, {document} FROM {events}
                 WHERE (position_commit, position_prepare) >= ($1, $2)
                   AND (position_commit, position_prepare) <= ($3, $4)",
                text = cx.tables.name(TEXT),
                document = DOCUMENT,
                events = cx.tables.name(EVENTS),
            )))
            .bind(sql_int(first.global_position.commit()))
            .bind(sql_int(first.global_position.prepare()))
            .bind(sql_int(last.global_position.commit()))
            .bind(sql_int(last.global_position.prepare()))
            .execute(&mut *connection)
            .await?;
        }
    }
    Ok(())
}

/// Drops the personal text of every event about `subject`.
async fn forget_personal_text(
    connection: &mut AnyConnection,
    cx: ApplyContext<'_>,
    subject: &str,
) -> Result<(), ApplyError> {
    let events = cx.tables.name(EVENTS);
    let subjects = cx.tables.name(SUBJECTS);
    let about_subject = format!(
        "(position_commit, position_prepare) IN
            (SELECT position_commit, position_prepare FROM {subjects} WHERE subject = $1)"
    );
    if cx.dialect == Dialect::Sqlite {
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {text} SET body = (SELECT public_text FROM {events} WHERE {events}.rowid = {text}.rowid)
             WHERE rowid IN (SELECT rowid FROM {events} WHERE personal_text IS NOT NULL AND {about_subject})",
            text = cx.tables.name(TEXT),
        )))
        .bind(subject)
        .execute(&mut *connection)
        .await?;
    }
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE {events} SET personal_text = NULL WHERE personal_text IS NOT NULL AND {about_subject}"
    )))
    .bind(subject)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// The text an event is found by: its public text, and its personal text
/// while that is readable.
const DOCUMENT: &str = "public_text || COALESCE(' ' || personal_text, '')";

/// The text PostgreSQL indexes and searches (the same expression both times,
/// so the index is used).
fn postgres_document() -> String {
    format!("to_tsvector('simple', {DOCUMENT})")
}

/// What to look for in the timeline. Every filter set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineFilter {
    /// Events of this stream.
    pub stream: Option<String>,
    /// Events of streams of this category.
    pub category: Option<String>,
    /// Events of streams of any of these categories (what a household
    /// member may see); an empty list matches nothing.
    pub categories: Option<Vec<String>>,
    /// Events of this type.
    pub event_type: Option<String>,
    /// Events caused by this actor.
    pub actor: Option<String>,
    /// Events of this correlation.
    pub correlation_id: Option<String>,
    /// Events recorded at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Events recorded before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Events whose text contains all these words.
    pub text: Option<String>,
}

/// One event in the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    /// Its global position.
    pub position: Position,
    /// Its id.
    pub event_id: String,
    /// Its stream.
    pub stream_id: String,
    /// Its type.
    pub event_type: String,
    /// Who caused it.
    pub actor: String,
    /// Its correlation.
    pub correlation_id: String,
    /// What caused it.
    pub causation_id: Option<String>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// A page of the timeline, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelinePage {
    /// The events.
    pub entries: Vec<TimelineEntry>,
    /// Pass as `before` for the next (older) page; `None` on the last page.
    pub next: Option<Position>,
}

/// Events matching `filter`, newest first, older than `before` if given.
pub async fn query(
    db: &ReadDb,
    tables: &Tables,
    filter: &TimelineFilter,
    before: Option<Position>,
    limit: usize,
) -> Result<TimelinePage, ProjectionError> {
    let events = tables.name(EVENTS);
    let mut conditions = Conditions::default();
    if let Some(stream) = &filter.stream {
        // A stream's category is part of its id: checked here rather than
        // in SQL, where a second condition can lead the planner to scan a
        // whole category for one stream. An id that does not parse names
        // no stream, so nothing matches it.
        let allowed = StreamId::parse(stream.clone()).is_ok_and(|parsed| {
            let category = parsed.category();
            filter.category.as_deref().is_none_or(|c| c == category)
                && filter
                    .categories
                    .as_ref()
                    .is_none_or(|list| list.iter().any(|c| c == category))
        });
        if !allowed {
            return Ok(TimelinePage {
                entries: Vec::new(),
                next: None,
            });
        }
        conditions.add("stream_id = ?", [Bind::Text(stream.clone())]);
    } else {
        if let Some(category) = &filter.category {
            conditions.add("category = ?", [Bind::Text(category.clone())]);
        }
        if let Some(categories) = &filter.categories {
            conditions.add_in("category", categories);
        }
    }
    if let Some(event_type) = &filter.event_type {
        conditions.add("event_type = ?", [Bind::Text(event_type.clone())]);
    }
    if let Some(actor) = &filter.actor {
        conditions.add("actor = ?", [Bind::Text(actor.clone())]);
    }
    if let Some(correlation) = &filter.correlation_id {
        conditions.add("correlation_id = ?", [Bind::Text(correlation.clone())]);
    }
    if let Some(from) = filter.from {
        conditions.add("recorded_at_ms >= ?", [Bind::Int(from.timestamp_millis())]);
    }
    if let Some(until) = filter.until {
        conditions.add("recorded_at_ms < ?", [Bind::Int(until.timestamp_millis())]);
    }
    if let Some(before) = before {
        let (commit, prepare) = (sql_int(before.commit()), sql_int(before.prepare()));
        conditions.add(
            "(position_commit < ? OR (position_commit = ? AND position_prepare < ?))",
            [Bind::Int(commit), Bind::Int(commit), Bind::Int(prepare)],
        );
    }
    if let Some(text) = filter
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        match db.dialect() {
            Dialect::Postgres => conditions.add(
                &format!("{} @@ plainto_tsquery('simple', ?)", postgres_document()),
                [Bind::Text(text.to_owned())],
            ),
            Dialect::Sqlite => conditions.add(
                &format!(
                    "rowid IN (SELECT rowid FROM {text_table} WHERE {text_table} MATCH ?)",
                    text_table = tables.name(TEXT)
                ),
                [Bind::Text(fts5_all_words(text))],
            ),
        }
    }
    let sql = format!(
        "SELECT {ENTRY_COLUMNS}
         FROM {events} {}
         ORDER BY position_commit DESC, position_prepare DESC LIMIT {}",
        conditions.where_clause(),
        limit.saturating_add(1)
    );
    let rows = conditions.query(sql).fetch_all(db.pool()).await?;
    let mut entries = rows
        .iter()
        .map(entry_of)
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let next = if entries.len() > limit {
        entries.truncate(limit);
        entries.last().map(|entry| entry.position)
    } else {
        None
    };
    Ok(TimelinePage { entries, next })
}

/// The columns a [`TimelineEntry`] is read from.
const ENTRY_COLUMNS: &str = "position_commit, position_prepare, event_id, stream_id, event_type,
    actor, correlation_id, causation_id, recorded_at_ms";

fn entry_of(row: &AnyRow) -> Result<TimelineEntry, sqlx::Error> {
    Ok(TimelineEntry {
        position: Position::commit_prepare(
            from_sql_int(row.try_get("position_commit")?),
            from_sql_int(row.try_get("position_prepare")?),
        ),
        event_id: row.try_get("event_id")?,
        stream_id: row.try_get("stream_id")?,
        event_type: row.try_get("event_type")?,
        actor: row.try_get("actor")?,
        correlation_id: row.try_get("correlation_id")?,
        causation_id: row.try_get("causation_id")?,
        recorded_at: instant(row.try_get("recorded_at_ms")?),
    })
}

/// The event with id `event_id` (as the store writes it: a lower-case
/// hyphenated UUID), if the timeline has indexed it. Should the id be used
/// twice, the first in the log is returned.
pub async fn by_event_id(
    db: &ReadDb,
    tables: &Tables,
    event_id: &str,
) -> Result<Option<TimelineEntry>, ProjectionError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {ENTRY_COLUMNS} FROM {} WHERE event_id = $1
         ORDER BY position_commit, position_prepare LIMIT 1",
        tables.name(EVENTS)
    )))
    .bind(event_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.as_ref().map(entry_of).transpose()?)
}

/// The events whose `causation_id` is one of `causes`, in log order, at
/// most `limit` of them: one step down a causation tree (call it again with
/// their ids for the next).
pub async fn caused_by(
    db: &ReadDb,
    tables: &Tables,
    causes: &[String],
    limit: usize,
) -> Result<Vec<TimelineEntry>, ProjectionError> {
    if causes.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let placeholders = (1..=causes.len())
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut statement = sqlx::query(AssertSqlSafe(format!(
        "SELECT {ENTRY_COLUMNS} FROM {} WHERE causation_id IN ({placeholders})
         ORDER BY position_commit, position_prepare LIMIT {limit}",
        tables.name(EVENTS)
    )));
    for cause in causes {
        statement = statement.bind(cause.as_str());
    }
    let rows = statement.fetch_all(db.pool()).await?;
    Ok(rows
        .iter()
        .map(entry_of)
        .collect::<Result<Vec<_>, sqlx::Error>>()?)
}

/// Each word as an FTS5 string, so that punctuation in what people type is
/// never read as query syntax.
fn fts5_all_words(text: &str) -> String {
    text.split_whitespace()
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}
