//! The real whatsapp-rust 0.7 client against the simulator, in process: one
//! test binary, its modules sharing the `common` harness.

mod common;

mod client;
mod media;
