//! The PostgreSQL backend against a real server: the shared contract, then
//! what only PostgreSQL can get wrong (positions committing out of order,
//! NOTIFY wake-ups, session locks left behind by failures).
//!
//! Each test gets a fresh database on the server named by
//! `STEWARD_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! dropped when the test ends.

mod gaps;
mod harness;
mod locks;
mod wakeups;

steward_store_contract::contract_tests!(crate::harness::harness());
