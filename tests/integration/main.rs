//! The integration tests, one binary (the crate is linked once, not once per
//! file): end-to-end modules that run the built `agentlocator` against real
//! sockets, in-process router tests (`routes`), and the one harness they share.
//! `cargo test --test integration MODULE::` runs one module.
//!
//! The end-to-end tests run on the store `AGENTLOCATOR_TEST_STORE` names
//! (`sqlite`, the default, or `postgres`); on SQLite, the test below runs
//! them all a second time on PostgreSQL (see `harness::second_run`).

mod harness;

mod architecture;
mod check_go;
mod cli;
mod cluster;
mod cluster_cli;
mod content;
mod db;
mod delivery;
mod delivery_bench;
mod health;
mod http_server;
mod pg_restart;
mod retention;
mod routes;
mod signing;
mod tenants;
mod twilio;
#[cfg(feature = "sim")]
mod whatsapp;
#[cfg(feature = "sim")]
mod whatsapp_media_in;
#[cfg(feature = "sim")]
mod whatsapp_media_out;

/// The end-to-end suite again, every daemon on PostgreSQL: one store must not
/// pass where the other fails.
#[test]
fn the_whole_suite_runs_on_postgres() {
    harness::second_run::run();
}
