//! whatsapp-rust's storage traits on PostgreSQL (work in progress).
