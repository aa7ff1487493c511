//! The key vault: `subject_keys` and the master-key check in `store_meta`.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Transaction};
use steward_events::{StoreError, SubjectId};
use steward_store_core::{
    KeyRotation, KeyVault, Rotated, StoredCredential, StoredKey, master_key_rotated,
    rotation_from_another_key,
};

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

/// The master-key check value in force. `FOR SHARE` makes a rotation (which
/// takes the row `FOR UPDATE`) wait for this transaction, and this one wait
/// for a rotation under way and then see its new value: a key is never
/// stored under a master key that a committed rotation has retired.
async fn ensure_in_force(
    tx: &mut Transaction<'_, Postgres>,
    master_check: &[u8],
) -> Result<(), StoreError> {
    let in_force: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT value FROM store_meta WHERE key = $1 FOR SHARE")
            .bind(KEY_CHECK)
            .fetch_optional(&mut **tx)
            .await
            .map_err(query_failed)?;
    if in_force.as_deref() == Some(master_check) {
        Ok(())
    } else {
        Err(master_key_rotated())
    }
}

fn credential_row(row: &PgRow) -> Result<StoredCredential, StoreError> {
    Ok(StoredCredential {
        name: row.try_get("name").map_err(query_failed)?,
        sealed: row.try_get("sealed").map_err(query_failed)?,
        updated_at: row.try_get("updated_at").map_err(query_failed)?,
    })
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
        master_check: &[u8],
    ) -> Result<HashMap<SubjectId, StoredKey>, StoreError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let mut tx = self.pool().begin().await.map_err(query_failed)?;
        ensure_in_force(&mut tx, master_check).await?;
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
        .execute(&mut *tx)
        .await
        .map_err(query_failed)?;
        tx.commit().await.map_err(query_failed)?;
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

    async fn put_credential(
        &self,
        name: &str,
        sealed: &[u8],
        master_check: &[u8],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.map_err(query_failed)?;
        ensure_in_force(&mut tx, master_check).await?;
        sqlx::query(
            "INSERT INTO credentials (name, sealed) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed, updated_at = now()",
        )
        .bind(name)
        .bind(sealed)
        .execute(&mut *tx)
        .await
        .map_err(query_failed)?;
        tx.commit().await.map_err(query_failed)
    }

    async fn credential(&self, name: &str) -> Result<Option<StoredCredential>, StoreError> {
        sqlx::query("SELECT name, sealed, updated_at FROM credentials WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await
            .map_err(query_failed)?
            .as_ref()
            .map(credential_row)
            .transpose()
    }

    async fn credentials(&self) -> Result<Vec<StoredCredential>, StoreError> {
        sqlx::query("SELECT name, sealed, updated_at FROM credentials ORDER BY name")
            .fetch_all(self.pool())
            .await
            .map_err(query_failed)?
            .iter()
            .map(credential_row)
            .collect()
    }

    async fn remove_credential(&self, name: &str) -> Result<bool, StoreError> {
        let removed = sqlx::query("DELETE FROM credentials WHERE name = $1")
            .bind(name)
            .execute(self.pool())
            .await
            .map_err(query_failed)?
            .rows_affected();
        Ok(removed > 0)
    }

    async fn rotate_master_key(&self, rotation: &KeyRotation) -> Result<Rotated, StoreError> {
        let mut tx = self.pool().begin().await.map_err(query_failed)?;
        let in_force: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT value FROM store_meta WHERE key = $1 FOR UPDATE")
                .bind(KEY_CHECK)
                .fetch_optional(&mut *tx)
                .await
                .map_err(query_failed)?;
        if !in_force.is_some_and(|check| rotation.old_key_in_force(&check)) {
            return Err(rotation_from_another_key());
        }
        // Rows are matched on their old value too: a subject erased while
        // this ran keeps its tombstone instead of getting a key back.
        let rows = sqlx::query(
            "SELECT subject_id, wrapped_key FROM subject_keys WHERE wrapped_key IS NOT NULL",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(query_failed)?;
        let (mut subjects, mut old, mut new) = (Vec::new(), Vec::new(), Vec::new());
        for row in &rows {
            let subject: String = row.try_get("subject_id").map_err(query_failed)?;
            let wrapped: Vec<u8> = row.try_get("wrapped_key").map_err(query_failed)?;
            new.push(
                rotation
                    .rewrap_subject_key(&subject, &wrapped)
                    .map_err(|e| {
                        StoreError::MasterKey(format!("subject key of `{subject}`: {e}"))
                    })?,
            );
            subjects.push(subject);
            old.push(wrapped);
        }
        let subject_keys = sqlx::query(
            "UPDATE subject_keys AS k SET wrapped_key = n.wrapped \
             FROM unnest($1::text[], $2::bytea[], $3::bytea[]) AS n(subject_id, old, wrapped) \
             WHERE k.subject_id = n.subject_id AND k.wrapped_key = n.old",
        )
        .bind(&subjects)
        .bind(&old)
        .bind(&new)
        .execute(&mut *tx)
        .await
        .map_err(query_failed)?
        .rows_affected();

        let rows = sqlx::query("SELECT name, sealed, updated_at FROM credentials")
            .fetch_all(&mut *tx)
            .await
            .map_err(query_failed)?;
        let (mut names, mut old, mut new) = (Vec::new(), Vec::new(), Vec::new());
        for row in &rows {
            let credential = credential_row(row)?;
            new.push(
                rotation
                    .reseal_credential(&credential.name, &credential.sealed)
                    .map_err(|e| {
                        StoreError::MasterKey(format!("credential of `{}`: {e}", credential.name))
                    })?,
            );
            names.push(credential.name);
            old.push(credential.sealed);
        }
        let credentials = sqlx::query(
            "UPDATE credentials AS c SET sealed = n.sealed \
             FROM unnest($1::text[], $2::bytea[], $3::bytea[]) AS n(name, old, sealed) \
             WHERE c.name = n.name AND c.sealed = n.old",
        )
        .bind(&names)
        .bind(&old)
        .bind(&new)
        .execute(&mut *tx)
        .await
        .map_err(query_failed)?
        .rows_affected();

        sqlx::query("UPDATE store_meta SET value = $1 WHERE key = $2")
            .bind(rotation.new_check())
            .bind(KEY_CHECK)
            .execute(&mut *tx)
            .await
            .map_err(query_failed)?;
        tx.commit().await.map_err(query_failed)?;
        Ok(Rotated {
            subject_keys,
            credentials,
        })
    }
}
