//! The key-vault half of the SQLite backend.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use sqlx::Row;
use steward_events::{StoreError, SubjectId};
use steward_store_core::{KeyVault, StoredKey};

use crate::SqliteLog;
use crate::codec::micros;

const KEY_CHECK: &str = "master_key_check";

fn db(error: sqlx::Error) -> StoreError {
    StoreError::backend(error)
}

#[async_trait]
impl KeyVault for SqliteLog {
    async fn init_key_check(&self, check: &[u8]) -> Result<Vec<u8>, StoreError> {
        sqlx::query(
            "INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        )
        .bind(KEY_CHECK)
        .bind(check)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        sqlx::query_scalar("SELECT value FROM store_meta WHERE key = ?")
            .bind(KEY_CHECK)
            .fetch_one(&self.pool)
            .await
            .map_err(db)
    }

    async fn has_key_check(&self) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM store_meta WHERE key = ?")
            .bind(KEY_CHECK)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(found.is_some())
    }

    async fn subject_keys(
        &self,
        subjects: &[SubjectId],
    ) -> Result<HashMap<SubjectId, StoredKey>, StoreError> {
        let mut keys = HashMap::with_capacity(subjects.len());
        if subjects.is_empty() {
            return Ok(keys);
        }
        let list = serde_json::to_string(subjects).map_err(StoreError::backend)?;
        let rows = sqlx::query(
            "SELECT subject_id, wrapped_key FROM subject_keys \
             WHERE subject_id IN (SELECT value FROM json_each(?))",
        )
        .bind(list)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        for row in rows {
            let subject: String = row.try_get(0).map_err(db)?;
            let wrapped: Option<Vec<u8>> = row.try_get(1).map_err(db)?;
            keys.insert(
                SubjectId::parse(subject)?,
                wrapped.map_or(StoredKey::Erased, StoredKey::Wrapped),
            );
        }
        Ok(keys)
    }

    async fn create_subject_keys(
        &self,
        keys: Vec<(SubjectId, Vec<u8>)>,
    ) -> Result<HashMap<SubjectId, StoredKey>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let now = micros(Utc::now());
        for (subject, wrapped) in &keys {
            sqlx::query(
                "INSERT INTO subject_keys (subject_id, wrapped_key, created_at) VALUES (?, ?, ?) \
                 ON CONFLICT (subject_id) DO NOTHING",
            )
            .bind(subject.as_str())
            .bind(wrapped)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        let subjects: Vec<SubjectId> = keys.into_iter().map(|(subject, _)| subject).collect();
        self.subject_keys(&subjects).await
    }

    async fn destroy_subject_key(&self, subject: &SubjectId) -> Result<bool, StoreError> {
        let now = micros(Utc::now());
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let destroyed = sqlx::query(
            "UPDATE subject_keys SET wrapped_key = NULL, erased_at = ? \
             WHERE subject_id = ? AND wrapped_key IS NOT NULL",
        )
        .bind(now)
        .bind(subject.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected()
            > 0;
        // A subject never seen still gets a tombstone, so no key is made later.
        sqlx::query(
            "INSERT INTO subject_keys (subject_id, wrapped_key, created_at, erased_at) \
             VALUES (?, NULL, ?, ?) ON CONFLICT (subject_id) DO NOTHING",
        )
        .bind(subject.as_str())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(destroyed)
    }

    async fn all_subject_keys(&self) -> Result<Vec<(SubjectId, StoredKey)>, StoreError> {
        let rows =
            sqlx::query("SELECT subject_id, wrapped_key FROM subject_keys ORDER BY subject_id")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            let subject: String = row.try_get(0).map_err(db)?;
            let wrapped: Option<Vec<u8>> = row.try_get(1).map_err(db)?;
            keys.push((
                SubjectId::parse(subject)?,
                wrapped.map_or(StoredKey::Erased, StoredKey::Wrapped),
            ));
        }
        Ok(keys)
    }

    async fn import_subject_keys(
        &self,
        keys: Vec<(SubjectId, StoredKey)>,
    ) -> Result<(), StoreError> {
        let now = micros(Utc::now());
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        for (subject, key) in &keys {
            let (wrapped, erased_at) = match key {
                StoredKey::Wrapped(bytes) => (Some(bytes.as_slice()), None),
                StoredKey::Erased => (None, Some(now)),
            };
            sqlx::query(
                "INSERT INTO subject_keys (subject_id, wrapped_key, created_at, erased_at) \
                 VALUES (?, ?, ?, ?) ON CONFLICT (subject_id) DO NOTHING",
            )
            .bind(subject.as_str())
            .bind(wrapped)
            .bind(now)
            .bind(erased_at)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }
}
