//! What every Steward event store backend shares.
//!
//! A backend (SQLite, PostgreSQL, KurrentDB) implements two small traits:
//! [`EventLog`], the append-only log of envelopes whose personal parts are
//! already sealed, and [`KeyVault`], the table of per-subject keys. [`Store`]
//! puts them together into the public [`steward_events::EventStore`]:
//!
//! ```text
//!   writer ──NewEvent(plain personal)──▶ Store ──validate, seal──▶ EventLog
//!   reader ◀──RecordedEvent(plain | erased, upcast)── Store ◀──open── EventLog
//!                                          │
//!                                          └── subject keys ── KeyVault (wrapped by the MasterKey)
//! ```
//!
//! - [`seal`]: the cryptography (XChaCha20-Poly1305 under keys derived per
//!   event from its subjects' keys; subject keys wrapped by the master key).
//! - [`master_key`]: the master key and its key file.
//! - [`validate`]: the limits every batch must respect before anything is written.
//! - [`subscribe`]: catch-up-then-live subscriptions over any log.
//! - [`backup`]: encrypted archives of the log and the keys, and restores.
//! - [`CredentialVault`]: integration secrets sealed under the master key.

pub mod backup;
pub mod master_key;
pub mod retry;
pub mod row;
pub mod seal;
pub mod subscribe;
pub mod validate;

mod credentials;
mod key_cache;
mod log;
mod snapshot;
mod store;

pub use credentials::{CredentialInfo, CredentialVault};
pub use log::{
    CommitNotifier, EventLog, KeyVault, Rotated, SnapshotRow, StoredCredential, StoredKey,
    master_key_rotated, rotation_from_another_key,
};
pub use master_key::{KeyRotation, MasterKey, MasterKeyError};
pub use snapshot::Snapshot;
pub use store::{Store, StoreOptions};
pub use validate::Limits;
