//! Steward's event store on PostgreSQL.
//!
//! [`PostgresStore`] is one backend for [`steward_store_core::Store`]: it
//! implements both [`EventLog`](steward_store_core::EventLog) (the append-only
//! log of sealed envelopes) and [`KeyVault`](steward_store_core::KeyVault)
//! (the per-subject keys and the master-key check). [`PostgresStore::connect`]
//! opens a pool, applies the migrations in `schemas/postgres/` and starts the
//! wake-up tasks:
//!
//! ```text
//!   append ──SELECT steward_append(..)──▶ events              (one round trip)
//!     │
//!     ├── CommitNotifier::notify()           in-process subscribers wake at once
//!     └── poke ─▶ notifier task ─NOTIFY steward_events─▶ other processes
//!                                                       │
//!   listener task ◀──LISTEN steward_events──────────────┘ ─▶ CommitNotifier::notify()
//!
//!   read_all ──▶ contiguous prefix of positions, or a barrier on the gate lock
//! ```
//!
//! The parts:
//!
//! - `append`: the batch as column arrays, the call of the `steward_append`
//!   PL/pgSQL function, and the idempotent-retry rules applied when it reports
//!   a version conflict or a duplicate event id.
//! - `read`: stream and global reads. `read_all` never returns an event past
//!   a hole that an append still in flight could fill: positions come from a
//!   sequence and commit out of order, so a reader that finds a hole waits for
//!   every append holding the shared "gate" advisory lock (taken before any
//!   position is allocated) and reads again.
//! - `row`: decoding rows into [`steward_events::RecordedEvent`].
//! - `vault`: the [`KeyVault`](steward_store_core::KeyVault) tables.
//! - `wake`: the coalescing NOTIFY sender and the LISTEN task that ticks the
//!   [`CommitNotifier`](steward_store_core::CommitNotifier); both end when the
//!   last handle on the store is dropped.
//! - [`PostgresError`]: what can go wrong here, mapped into
//!   [`StoreError::Backend`](steward_events::StoreError::Backend).
//!
//! The SQL itself (tables, the sequence, `steward_append`,
//! `steward_gate_holders`) lives in `schemas/postgres/0001_event_store.sql`,
//! which explains the locking protocol.

mod append;
mod error;
mod import;
mod lease;
mod read;
mod row;
mod snapshot;
mod store;
mod vault;
mod wake;

pub use error::PostgresError;
pub use store::{PostgresOptions, PostgresStore};
