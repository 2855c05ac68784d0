//! Castellan's integration tests: one binary, a module per area. Each test
//! runs on SQLite and, when `CASTELLAN_TEST_POSTGRES_URL` is set, on
//! PostgreSQL in a schema of its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
#![allow(missing_docs, reason = "tests")]

mod bad_input;
mod blueprints;
mod cli;
mod directory;
mod flows;
mod server;
mod support;
