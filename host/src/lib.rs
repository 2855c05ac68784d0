//! Castellan, a self-hosted identity provider.
//!
//! The crate is laid out by domain noun: `identity` (users, groups,
//! credentials), `token` (API tokens), `event` (the audit log), `bootstrap`
//! (first start), with the transports at the edges: `store` (SQL), `http`
//! (axum router, admin API, pages) and `cli` (the `castellan` command line).
//! `api` holds the wire types shared by the server, the CLI and the tests.

pub mod api;
pub mod blueprint;
pub mod bootstrap;
pub mod brand;
pub mod cli;
pub mod clock;
pub mod config;
pub mod event;
pub mod flow;
pub mod http;
pub mod identity;
pub mod mail;
pub mod policy;
pub mod server;
pub mod session;
pub mod stage;
pub mod store;
pub mod telemetry;
pub mod token;
