//! The store's operations, one file per area, each dispatching to the SQLite
//! or PostgreSQL function (the row types live in `store::<area>`, which both
//! backends use, so the backends never import the dispatch).

mod blobs;
mod cluster;

pub use blobs::{Blob, Blobs};
mod content;
mod delivery;
mod events;
mod jobs;
mod tenants;
mod whatsapp;
