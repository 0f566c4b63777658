//! agentlocator: one binary that links tenants' WhatsApp accounts and Twilio
//! numbers to their own backends as signed, durable webhooks.
//!
//! The binary (`src/main.rs`) only calls [`cli::main`]; each module below owns
//! one concern, and its own doc comment says which.

pub mod admin;
pub mod backoff;
pub mod batch;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod content;
pub mod daemon;
pub mod delivery;
pub mod error;
pub mod health;
pub mod heap_profile;
pub mod heartbeat;
pub mod housekeeping;
pub mod http;
pub mod ids;
pub mod jobs;
pub mod outbound_error;
pub mod ownership;
pub mod paths;
pub mod qr;
pub mod secrets;
pub mod store;
pub mod supervisor;
pub mod tenants;
pub mod twilio;
pub mod upkeep;
pub mod whatsapp;
