//! The HTTP API driven through actix-web's test service (no socket), over
//! real stores: a SQLite file and a PostgreSQL database of its own per test.

mod approvals;
mod auth;
mod chain;
mod commands;
mod credentials;
mod erasure;
mod events;
mod health;
mod hybrid;
mod live;
mod openapi;
mod projections;
mod read_models;
mod requests;
mod support;
mod ui;
mod undo;
mod users;
mod webhooks;
