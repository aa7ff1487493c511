//! Steward's runtime: what turns the pure crates into a running system.
//!
//! - [`config`]: layered configuration (defaults, `steward.toml`, `STEWARD_*`).
//! - [`open`]: picks the store backend the configuration names (embedded
//!   SQLite by default, PostgreSQL, KurrentDB) and finds or creates the master key.
//! - [`read_models`]: the projections this configuration runs and their database.
//! - [`cli`]: the `steward` command line (`src/main.rs` is only its entry point).
//! - [`telemetry`]: `tracing` set-up.
//!
//! The store backends themselves are nested crates beside this one
//! (`runtime/store-*`), as is the NATS relay (`runtime/bus`).

pub mod cli;
pub mod config;
pub mod open;
pub mod read_models;
pub mod telemetry;
