//! The key-vault half of the SQLite backend.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use sqlx::Row;
use sqlx::{Sqlite, Transaction};
use steward_events::{StoreError, SubjectId};
use steward_store_core::{
    KeyRotation, KeyVault, Rotated, StoredCredential, StoredKey, master_key_rotated,
    rotation_from_another_key,
};

use crate::SqliteLog;
use crate::codec::{from_micros, micros};

const KEY_CHECK: &str = "master_key_check";

fn db(error: sqlx::Error) -> StoreError {
    StoreError::backend(error)
}

/// The master-key check value in force, read inside a writing transaction
/// (which SQLite runs one at a time, so no rotation can slip in after it).
async fn check_in_force(tx: &mut Transaction<'_, Sqlite>) -> Result<Vec<u8>, StoreError> {
    let check: Option<Vec<u8>> = sqlx::query_scalar("SELECT value FROM store_meta WHERE key = ?")
        .bind(KEY_CHECK)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    Ok(check.unwrap_or_default())
}

async fn ensure_in_force(
    tx: &mut Transaction<'_, Sqlite>,
    master_check: &[u8],
) -> Result<(), StoreError> {
    if check_in_force(tx).await? == master_check {
        Ok(())
    } else {
        Err(master_key_rotated())
    }
}

fn credential_row(row: &sqlx::sqlite::SqliteRow) -> Result<StoredCredential, StoreError> {
    Ok(StoredCredential {
        name: row.try_get(0).map_err(db)?,
        sealed: row.try_get(1).map_err(db)?,
        updated_at: from_micros(row.try_get(2).map_err(db)?)?,
    })
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
        master_check: &[u8],
    ) -> Result<HashMap<SubjectId, StoredKey>, StoreError> {
        let writer = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        ensure_in_force(&mut tx, master_check).await?;
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
        drop(writer);
        let subjects: Vec<SubjectId> = keys.into_iter().map(|(subject, _)| subject).collect();
        self.subject_keys(&subjects).await
    }

    async fn destroy_subject_key(&self, subject: &SubjectId) -> Result<bool, StoreError> {
        let now = micros(Utc::now());
        let _writer = self.write_lock.lock().await;
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
        let _writer = self.write_lock.lock().await;
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

    async fn put_credential(
        &self,
        name: &str,
        sealed: &[u8],
        master_check: &[u8],
    ) -> Result<(), StoreError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        ensure_in_force(&mut tx, master_check).await?;
        sqlx::query(
            "INSERT INTO credentials (name, sealed, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed, \
             updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(sealed)
        .bind(micros(Utc::now()))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn credential(&self, name: &str) -> Result<Option<StoredCredential>, StoreError> {
        sqlx::query("SELECT name, sealed, updated_at FROM credentials WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .as_ref()
            .map(credential_row)
            .transpose()
    }

    async fn credentials(&self) -> Result<Vec<StoredCredential>, StoreError> {
        sqlx::query("SELECT name, sealed, updated_at FROM credentials ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(credential_row)
            .collect()
    }

    async fn remove_credential(&self, name: &str) -> Result<bool, StoreError> {
        let removed = sqlx::query("DELETE FROM credentials WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(db)?
            .rows_affected();
        Ok(removed > 0)
    }

    async fn rotate_master_key(&self, rotation: &KeyRotation) -> Result<Rotated, StoreError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        if !rotation.old_key_in_force(&check_in_force(&mut tx).await?) {
            return Err(rotation_from_another_key());
        }
        let mut rotated = Rotated::default();
        let keys = sqlx::query(
            "SELECT subject_id, wrapped_key FROM subject_keys WHERE wrapped_key IS NOT NULL",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        for row in keys {
            let subject: String = row.try_get(0).map_err(db)?;
            let wrapped: Vec<u8> = row.try_get(1).map_err(db)?;
            let rewrapped = rotation
                .rewrap_subject_key(&subject, &wrapped)
                .map_err(|e| StoreError::MasterKey(format!("subject key of `{subject}`: {e}")))?;
            sqlx::query("UPDATE subject_keys SET wrapped_key = ? WHERE subject_id = ?")
                .bind(rewrapped)
                .bind(&subject)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            rotated.subject_keys += 1;
        }
        let credentials = sqlx::query("SELECT name, sealed, updated_at FROM credentials")
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        for row in &credentials {
            let credential = credential_row(row)?;
            let resealed = rotation
                .reseal_credential(&credential.name, &credential.sealed)
                .map_err(|e| {
                    StoreError::MasterKey(format!("credential of `{}`: {e}", credential.name))
                })?;
            sqlx::query("UPDATE credentials SET sealed = ? WHERE name = ?")
                .bind(resealed)
                .bind(&credential.name)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            rotated.credentials += 1;
        }
        sqlx::query("UPDATE store_meta SET value = ? WHERE key = ?")
            .bind(rotation.new_check())
            .bind(KEY_CHECK)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(rotated)
    }
}
