//! Integration credentials (IMAP, SMTP, CalDAV and MQTT passwords, API
//! keys): sealed under the master key in the vault, never in the log.

use chrono::{DateTime, Utc};
use steward_events::StoreError;
use zeroize::Zeroizing;

use crate::store::Store;

/// The credentials of integrations, kept in the store's key vault and
/// sealed under its master key (XChaCha20-Poly1305, bound to the
/// integration's name). What a credential holds is the caller's business:
/// the vault keeps bytes. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CredentialVault {
    store: Store,
}

/// A credential as listed: never what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialInfo {
    /// The integration it is for.
    pub name: String,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

impl CredentialVault {
    /// The vault of `store`, under its master key.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Keeps `secret` as `name`'s credential, replacing the one it had.
    pub async fn set(&self, name: &str, secret: &[u8]) -> Result<(), StoreError> {
        let sealed = self
            .store
            .master()
            .seal_credential(name, secret)
            .map_err(StoreError::backend)?;
        self.store
            .vault()
            .put_credential(name, &sealed, self.store.master_check())
            .await
    }

    /// `name`'s credential, opened: for the integration that uses it, never
    /// for an answer to anyone.
    pub async fn open(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let Some(stored) = self.store.vault().credential(name).await? else {
            return Ok(None);
        };
        self.store
            .master()
            .open_credential(name, &stored.sealed)
            .map(Some)
            .map_err(|e| StoreError::MasterKey(format!("credential of `{name}`: {e}")))
    }

    /// When `name`'s credential was last set, if it has one.
    pub async fn updated_at(&self, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .store
            .vault()
            .credential(name)
            .await?
            .map(|stored| stored.updated_at))
    }

    /// Every credential's name and when it was set.
    pub async fn list(&self) -> Result<Vec<CredentialInfo>, StoreError> {
        Ok(self
            .store
            .vault()
            .credentials()
            .await?
            .into_iter()
            .map(|stored| CredentialInfo {
                name: stored.name,
                updated_at: stored.updated_at,
            })
            .collect())
    }

    /// Forgets `name`'s credential; false if it had none.
    pub async fn remove(&self, name: &str) -> Result<bool, StoreError> {
        self.store.vault().remove_credential(name).await
    }
}
