//! The key vault: `subject_keys` and the master-key check in `store_meta`.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;
use steward_events::{StoreError, SubjectId};
use steward_store_core::{KeyVault, StoredKey};

use crate::error::query_failed;
use crate::store::PostgresStore;

/// The `store_meta` key of the master-key check value.
const KEY_CHECK: &str = "master_key_check";

fn stored_keys(rows: &[PgRow]) -> Result<HashMap<SubjectId, StoredKey>, StoreError> {
    let mut keys = HashMap::with_capacity(rows.len());
    for row in rows {
        let subject: String = row.try_get("subject_id").map_err(query_failed)?;
        let wrapped: Option<Vec<u8>> = row.try_get("wrapped_key").map_err(query_failed)?;
        let subject = SubjectId::parse(subject)?;
        keys.insert(
            subject,
            wrapped.map_or(StoredKey::Erased, StoredKey::Wrapped),
        );
    }
    Ok(keys)
}

fn names(subjects: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<String> {
    subjects
        .into_iter()
        .map(|s| s.as_ref().to_owned())
        .collect()
}

#[async_trait]
impl KeyVault for PostgresStore {
    async fn init_key_check(&self, check: &[u8]) -> Result<Vec<u8>, StoreError> {
        // Two statements: the second sees a value a racing first open
        // committed while the insert waited for it.
        sqlx::query(
            "INSERT INTO store_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(KEY_CHECK)
        .bind(check)
        .execute(self.pool())
        .await
        .map_err(query_failed)?;
        sqlx::query_scalar("SELECT value FROM store_meta WHERE key = $1")
            .bind(KEY_CHECK)
            .fetch_one(self.pool())
            .await
            .map_err(query_failed)
    }

    async fn has_key_check(&self) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM store_meta WHERE key = $1)")
            .bind(KEY_CHECK)
            .fetch_one(self.pool())
            .await
            .map_err(query_failed)
    }

    async fn subject_keys(
        &self,
        subjects: &[SubjectId],
    ) -> Result<HashMap<SubjectId, StoredKey>, StoreError> {
        if subjects.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = sqlx::query(
            "SELECT subject_id, wrapped_key FROM subject_keys WHERE subject_id = ANY($1)",
        )
        .bind(names(subjects.iter().map(SubjectId::as_str)))
        .fetch_all(self.pool())
        .await
        .map_err(query_failed)?;
        stored_keys(&rows)
    }

    async fn create_subject_keys(
        &self,
        mut keys: Vec<(SubjectId, Vec<u8>)>,
    ) -> Result<HashMap<SubjectId, StoredKey>, StoreError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        // One order for every writer, so that racing inserts cannot deadlock.
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        keys.dedup_by(|a, b| a.0 == b.0);
        let subjects = names(keys.iter().map(|(s, _)| s.as_str()));
        let wrapped: Vec<Vec<u8>> = keys.into_iter().map(|(_, key)| key).collect();
        sqlx::query(
            "INSERT INTO subject_keys (subject_id, wrapped_key) \
             SELECT * FROM unnest($1::text[], $2::bytea[]) \
             ON CONFLICT (subject_id) DO NOTHING",
        )
        .bind(&subjects)
        .bind(wrapped)
        .execute(self.pool())
        .await
        .map_err(query_failed)?;
        let rows = sqlx::query(
            "SELECT subject_id, wrapped_key FROM subject_keys WHERE subject_id = ANY($1)",
        )
        .bind(subjects)
        .fetch_all(self.pool())
        .await
        .map_err(query_failed)?;
        stored_keys(&rows)
    }

    async fn destroy_subject_key(&self, subject: &SubjectId) -> Result<bool, StoreError> {
        // A row comes back only if this statement erased the key (or left
        // the first tombstone of a subject who never had one).
        let destroyed = sqlx::query(
            "INSERT INTO subject_keys (subject_id, wrapped_key, erased_at) VALUES ($1, NULL, now()) \
             ON CONFLICT (subject_id) DO UPDATE SET wrapped_key = NULL, erased_at = now() \
             WHERE subject_keys.erased_at IS NULL \
             RETURNING subject_id",
        )
        .bind(subject.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(query_failed)?;
        Ok(destroyed.is_some())
    }

    async fn all_subject_keys(&self) -> Result<Vec<(SubjectId, StoredKey)>, StoreError> {
        let rows =
            sqlx::query("SELECT subject_id, wrapped_key FROM subject_keys ORDER BY subject_id")
                .fetch_all(self.pool())
                .await
                .map_err(query_failed)?;
        let mut keys: Vec<(SubjectId, StoredKey)> = stored_keys(&rows)?.into_iter().collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(keys)
    }

    async fn import_subject_keys(
        &self,
        keys: Vec<(SubjectId, StoredKey)>,
    ) -> Result<(), StoreError> {
        crate::import::import_keys(self.pool(), &keys).await
    }
}
