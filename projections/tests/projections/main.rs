//! The projection runner and the read models over real stores and
//! read-model databases: SQLite files in a temporary directory, and a
//! PostgreSQL database of its own per test.

mod agenda;
mod goals;
mod groceries;
mod home;
mod inbox;
mod maintenance;
mod memory_projection;
mod plans;
mod read_model_support;
mod runner;
mod shared_reads;
mod support;
mod timeline;
mod travel;
