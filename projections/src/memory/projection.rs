//! [`Memory`]: the projection that embeds the text-bearing events (messages
//! and replies, calendar events, appointments, goals, maintenance, shopping,
//! trips and reservations) into `memory_items`, one row per event, with its
//! vector stored as bytes beside its text and its source.
//!
//! Each row keeps two texts: the whole one (public and personal fields) that
//! was embedded, and its public part alone. Which subjects' personal data a
//! row holds is recorded in `memory_subjects`; when one of them is erased,
//! the row is embedded again from its public part (or deleted when it has
//! none), which is exactly what a rebuild from the log, reading that
//! personal part as erased, would write.
//!
//! Every write stamps the row with a *revision* (the position of the event
//! that wrote it), so a [`MemoryIndex`](super::MemoryIndex) catches up with
//! new and re-embedded rows alike by reading those above the highest
//! revision it holds.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use steward_events::domain::DomainEvent;
use steward_events::domain::subject::SubjectErased;
use steward_events::{Personal, RecordedEvent};

use super::Embedder;
use crate::db::{Dialect, sql_int};
use crate::error::ApplyError;
use crate::projection::{ApplyContext, Projection};
use crate::read_models::sql::{rows_of_subject, subjects_table};
use crate::read_models::text_of;
use crate::tables::Tables;

/// The memory table's logical name.
pub(crate) const ITEMS: &str = "memory_items";
/// Which rows hold whose personal data.
const SUBJECTS: &str = "memory_subjects";
/// The part of a row personal data goes into (rows have one).
const PERSONAL_PART: &str = "text";

/// The projection's name, as readers look its tables up.
pub const MEMORY_PROJECTION: &str = "memory";

/// Where an event type's memory text comes from.
struct Source {
    event_type: &'static str,
    /// The domain a search can be narrowed to.
    domain: &'static str,
    /// Top-level fields, in reading order, found in the event's `data` or
    /// its personal part.
    fields: &'static [&'static str],
}

/// The event types worth remembering and the fields that say what they are
/// about. Identifiers, times and amounts are left out: they mean nothing to
/// a sentence-embedding model.
const SOURCES: &[Source] = &[
    Source {
        event_type: "MessageReceived",
        domain: "inbox",
        fields: &["subject", "body_text"],
    },
    Source {
        event_type: "ReplySendRequested",
        domain: "inbox",
        fields: &["subject", "body_text"],
    },
    Source {
        event_type: "CalendarEventScheduled",
        domain: "calendar",
        fields: &["title", "location"],
    },
    Source {
        event_type: "AppointmentRequested",
        domain: "appointments",
        fields: &["purpose", "provider_name"],
    },
    Source {
        event_type: "AppointmentConfirmed",
        domain: "appointments",
        fields: &["purpose", "provider_name"],
    },
    Source {
        event_type: "AppointmentDeclined",
        domain: "appointments",
        fields: &["reason"],
    },
    Source {
        event_type: "GoalSet",
        domain: "goals",
        fields: &["title", "metric"],
    },
    Source {
        event_type: "GoalAbandoned",
        domain: "goals",
        fields: &["reason"],
    },
    Source {
        event_type: "AssetRegistered",
        domain: "maintenance",
        fields: &["name", "kind", "location"],
    },
    Source {
        event_type: "MaintenanceTaskAdded",
        domain: "maintenance",
        fields: &["title"],
    },
    Source {
        event_type: "ItemListed",
        domain: "groceries",
        fields: &["item"],
    },
    Source {
        event_type: "TripPlanned",
        domain: "travel",
        fields: &["title", "destination"],
    },
    Source {
        event_type: "ReservationAdded",
        domain: "travel",
        fields: &["kind", "provider", "address"],
    },
];

/// The vector-memory projection. It holds the embedder: embedding happens
/// while events are applied, so the vectors are part of the read model's
/// SQL state and a search never embeds anything but its query.
#[derive(Debug, Clone)]
pub struct Memory {
    embedder: Arc<Embedder>,
}

impl Memory {
    /// A memory projection embedding with `embedder`.
    pub fn new(embedder: Arc<Embedder>) -> Self {
        Self { embedder }
    }

    /// The domains a search can be narrowed to.
    pub fn domains() -> Vec<&'static str> {
        let mut domains: Vec<&'static str> = SOURCES.iter().map(|s| s.domain).collect();
        domains.dedup();
        domains
    }

    /// `texts` embedded on a blocking thread: inference is CPU-bound.
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<u8>>, ApplyError> {
        let embedder = Arc::clone(&self.embedder);
        let embeddings = tokio::task::spawn_blocking(move || {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            embedder.embed(&texts)
        })
        .await
        .map_err(|e| ApplyError::Invalid(format!("the embedding task failed: {e}")))?
        .map_err(|e| ApplyError::Invalid(e.to_string()))?;
        Ok(embeddings.iter().map(|e| e.to_bytes()).collect())
    }
}

#[async_trait]
impl Projection for Memory {
    fn name(&self) -> &'static str {
        MEMORY_PROJECTION
    }

    fn version(&self) -> u32 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        &[SUBJECTS, ITEMS]
    }

    fn create(&self, dialect: Dialect, tables: &Tables) -> Vec<String> {
        let items = tables.name(ITEMS);
        let bytes = match dialect {
            Dialect::Postgres => "BYTEA",
            Dialect::Sqlite => "BLOB",
        };
        let mut statements = vec![format!(
            "CREATE TABLE {items} (
                item_key BIGINT PRIMARY KEY,
                event_id TEXT NOT NULL,
                stream_id TEXT NOT NULL,
                category TEXT NOT NULL,
                domain TEXT NOT NULL,
                event_type TEXT NOT NULL,
                position_commit BIGINT NOT NULL,
                position_prepare BIGINT NOT NULL,
                recorded_at_ms BIGINT NOT NULL,
                public_text TEXT NOT NULL,
                text TEXT NOT NULL,
                model_id TEXT NOT NULL,
                embedding {bytes} NOT NULL,
                revision BIGINT NOT NULL
            )"
        )];
        statements.extend(subjects_table(tables, SUBJECTS));
        statements
    }

    fn create_indexes(&self, _dialect: Dialect, tables: &Tables) -> Vec<String> {
        let items = tables.name(ITEMS);
        [
            ("domain", "domain, recorded_at_ms"),
            ("recorded", "recorded_at_ms"),
            ("revision", "revision"),
        ]
        .into_iter()
        .map(|(suffix, columns)| {
            format!(
                "CREATE INDEX {} ON {items} ({columns})",
                tables.name(&format!("{ITEMS}_{suffix}"))
            )
        })
        .collect()
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
        // Rows go in a batch at a time; an erasure needs the rows before it
        // in place first.
        let mut pending = 0;
        for (i, event) in events.iter().enumerate() {
            if event.event_type.as_str() == SubjectErased::EVENT_TYPE {
                self.insert(connection, cx, &events[pending..i]).await?;
                let erased: SubjectErased = event.to_domain()?;
                self.forget(connection, cx, erased.subject.as_str(), revision(event))
                    .await?;
                pending = i + 1;
            }
        }
        self.insert(connection, cx, &events[pending..]).await
    }
}

/// What one event contributes to the memory.
struct Item<'a> {
    event: &'a RecordedEvent,
    domain: &'static str,
    /// The whole text: public and readable personal fields.
    text: String,
    /// The text without personal fields.
    public_text: String,
    /// Whether some of `text` came from the personal part.
    personal: bool,
}

/// The memory an event makes, if it carries text worth remembering.
fn item(event: &RecordedEvent) -> Option<Item<'_>> {
    let source = SOURCES
        .iter()
        .find(|source| source.event_type == event.event_type.as_str())?;
    // An erased (or sealed) personal part is no data: it is left out.
    let personal = match &event.personal {
        Some(Personal::Plain(value)) => Some(value),
        _ => None,
    };
    let mut text = Vec::new();
    let mut public_text = Vec::new();
    let mut from_personal = false;
    for field in source.fields {
        if let Some(words) = field_text(&event.data, field) {
            public_text.push(words.clone());
            text.push(words);
        } else if let Some(words) = personal.and_then(|p| field_text(p, field)) {
            from_personal = true;
            text.push(words);
        }
    }
    if text.is_empty() {
        return None;
    }
    Some(Item {
        event,
        domain: source.domain,
        text: text.join(". "),
        public_text: public_text.join(". "),
        personal: from_personal,
    })
}

/// The words of a top-level field, if it has any.
fn field_text(value: &Value, field: &str) -> Option<String> {
    let words = text_of(value.get(field)?);
    let words = words.trim();
    (!words.is_empty()).then(|| words.to_owned())
}

/// Rows per multi-row `INSERT`: well under both databases' limits on bound
/// parameters (14 per row).
const ROWS_PER_STATEMENT: usize = 200;

impl Memory {
    /// Embeds and stores the memories of consecutive events, in one model
    /// run for the lot.
    async fn insert(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), ApplyError> {
        let items: Vec<Item<'_>> = events.iter().filter_map(item).collect();
        if items.is_empty() {
            return Ok(());
        }
        let vectors = self
            .embed(items.iter().map(|item| item.text.clone()).collect())
            .await?;
        let model_id = self.embedder.model_id();
        let table = cx.tables.name(ITEMS);
        let rows: Vec<(&Item<'_>, Vec<u8>)> = items.iter().zip(vectors).collect();
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut statement = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {table} (item_key, event_id, stream_id, category, domain, event_type,
                    position_commit, position_prepare, recorded_at_ms, public_text, text,
                    model_id, embedding, revision)
                 VALUES {}",
                cx.dialect.value_rows(chunk.len(), 14)
            )));
            for (item, vector) in chunk {
                let event = item.event;
                statement = statement
                    .bind(key(event))
                    .bind(event.event_id.to_string())
                    .bind(event.stream_id.as_str().to_owned())
                    .bind(event.stream_id.category().to_owned())
                    .bind(item.domain)
                    .bind(event.event_type.as_str().to_owned())
                    .bind(sql_int(event.global_position.commit()))
                    .bind(sql_int(event.global_position.prepare()))
                    .bind(event.recorded_at.timestamp_millis())
                    .bind(item.public_text.clone())
                    .bind(item.text.clone())
                    .bind(model_id.to_owned())
                    .bind(vector.clone())
                    .bind(revision(event));
            }
            statement.execute(&mut *connection).await?;
        }

        let links: Vec<(String, String)> = items
            .iter()
            .filter(|item| item.personal)
            .flat_map(|item| {
                let row_key = key(item.event).to_string();
                item.event
                    .metadata
                    .subjects
                    .iter()
                    .map(move |subject| (subject.as_str().to_owned(), row_key.clone()))
            })
            .collect();
        let subjects = cx.tables.name(SUBJECTS);
        for chunk in links.chunks(ROWS_PER_STATEMENT) {
            let mut statement = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {subjects} (subject, part, row_key) VALUES {} ON CONFLICT DO NOTHING",
                cx.dialect.value_rows(chunk.len(), 3)
            )));
            for (subject, row_key) in chunk {
                statement = statement
                    .bind(subject.clone())
                    .bind(PERSONAL_PART)
                    .bind(row_key.clone());
            }
            statement.execute(&mut *connection).await?;
        }
        Ok(())
    }

    /// Drops `subject`'s personal data from every memory holding some: the
    /// row is embedded again from its public text, or deleted when it has
    /// none, and stamped with the erasure's `revision`.
    async fn forget(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        subject: &str,
        revision: i64,
    ) -> Result<(), ApplyError> {
        let items = cx.tables.name(ITEMS);
        let subjects = cx.tables.name(SUBJECTS);
        let of_subject = format!(
            "CAST(item_key AS TEXT) {}",
            rows_of_subject(&subjects, PERSONAL_PART)
        );
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT item_key, public_text FROM {items} WHERE {of_subject} ORDER BY item_key"
        )))
        .bind(subject)
        .fetch_all(&mut *connection)
        .await?;
        let mut keep = Vec::new();
        for row in &rows {
            let key: i64 = row.try_get("item_key")?;
            let public_text: String = row.try_get("public_text")?;
            if !public_text.is_empty() {
                keep.push((key, public_text));
            }
        }
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {items} WHERE public_text = '' AND {of_subject}"
        )))
        .bind(subject)
        .execute(&mut *connection)
        .await?;
        if !keep.is_empty() {
            let vectors = self
                .embed(keep.iter().map(|(_, text)| text.clone()).collect())
                .await?;
            for ((key, text), vector) in keep.into_iter().zip(vectors) {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {items} SET text = $1, embedding = $2, model_id = $3, revision = $4
                     WHERE item_key = $5"
                )))
                .bind(text)
                .bind(vector)
                .bind(self.embedder.model_id().to_owned())
                .bind(revision)
                .bind(key)
                .execute(&mut *connection)
                .await?;
            }
        }
        // The rows hold nobody's personal data any more.
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {subjects} WHERE part = $2 AND row_key IN
                (SELECT row_key FROM {subjects} WHERE subject = $1 AND part = $2)"
        )))
        .bind(subject)
        .bind(PERSONAL_PART)
        .execute(&mut *connection)
        .await?;
        Ok(())
    }
}

/// A memory's key: its event's prepare position, unique on every backend.
pub(crate) fn key(event: &RecordedEvent) -> i64 {
    sql_int(event.global_position.prepare())
}

/// The revision a write by `event` stamps.
fn revision(event: &RecordedEvent) -> i64 {
    key(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_names_its_domain_once_in_order() {
        let domains = Memory::domains();
        let mut unique = domains.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(domains.len(), unique.len());
    }
}
