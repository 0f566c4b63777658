//! The `wa_` tables in the shared SQLite file: versioned, append-only
//! migration steps, and the tenant-wide operations (wipe, is-paired, list).
//!
//! The tables, columns, keys and indexes are PostgreSQL's (`crate::schema`)
//! in SQLite's types, so a row copies between the backends column for
//! column: BYTEA is BLOB, BOOLEAN is INTEGER 0/1, BIGINT is INTEGER, and
//! addresses keep SQLite's default BINARY collation (bytewise, as
//! PostgreSQL's `COLLATE "C"`). Tables are STRICT: a value of the wrong type
//! is refused rather than stored, and key columns are NOT NULL as in
//! PostgreSQL (a plain SQLite table would accept a NULL primary key).

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::error::Error;
use crate::schema::TENANT_TABLES;

/// Append-only: step N (1-based) brings the schema to version N. Never edit a
/// shipped step; add one.
const STEPS: &[&str] = &[STEP_1];

/// The version [`migrate`] brings a file to.
pub const SQLITE_SCHEMA_VERSION: i64 = STEPS.len() as i64;

const STEP_1: &str = r#"
CREATE TABLE wa_device (
    tenant TEXT PRIMARY KEY,
    pn TEXT,
    lid TEXT,
    data BLOB NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE TABLE wa_identities (
    tenant TEXT NOT NULL, address TEXT NOT NULL, key BLOB NOT NULL,
    PRIMARY KEY (tenant, address)
) STRICT;
CREATE TABLE wa_sessions (
    tenant TEXT NOT NULL, address TEXT NOT NULL, record BLOB NOT NULL,
    PRIMARY KEY (tenant, address)
) STRICT;
CREATE TABLE wa_prekeys (
    tenant TEXT NOT NULL, id INTEGER NOT NULL, key BLOB NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, id)
) STRICT;
CREATE TABLE wa_signed_prekeys (
    tenant TEXT NOT NULL, id INTEGER NOT NULL, record BLOB NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT;
CREATE TABLE wa_sender_keys (
    tenant TEXT NOT NULL, address TEXT NOT NULL, record BLOB NOT NULL,
    PRIMARY KEY (tenant, address)
) STRICT;
CREATE TABLE wa_app_state_keys (
    tenant TEXT NOT NULL, key_id BLOB NOT NULL, key_data BLOB NOT NULL,
    fingerprint BLOB NOT NULL, timestamp INTEGER NOT NULL,
    PRIMARY KEY (tenant, key_id)
) STRICT;
CREATE TABLE wa_app_state_versions (
    tenant TEXT NOT NULL, name TEXT NOT NULL, state_data BLOB NOT NULL,
    PRIMARY KEY (tenant, name)
) STRICT;
CREATE TABLE wa_app_state_mutation_macs (
    tenant TEXT NOT NULL, name TEXT NOT NULL, index_mac BLOB NOT NULL,
    version INTEGER NOT NULL, value_mac BLOB NOT NULL,
    PRIMARY KEY (tenant, name, index_mac)
) STRICT;
CREATE TABLE wa_base_keys (
    tenant TEXT NOT NULL, address TEXT NOT NULL, message_id TEXT NOT NULL,
    base_key BLOB NOT NULL, created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, address, message_id)
) STRICT;
CREATE TABLE wa_device_registry (
    tenant TEXT NOT NULL, user_id TEXT NOT NULL, devices_json TEXT NOT NULL,
    timestamp INTEGER NOT NULL, phash TEXT, raw_id INTEGER, updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, user_id)
) STRICT;
CREATE TABLE wa_group_metadata (
    tenant TEXT NOT NULL, group_jid TEXT NOT NULL, info BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, group_jid)
) STRICT;
CREATE TABLE wa_lid_pn_mapping (
    tenant TEXT NOT NULL, lid TEXT NOT NULL, phone_number TEXT NOT NULL,
    created_at INTEGER NOT NULL, learning_source TEXT NOT NULL, updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, lid)
) STRICT;
CREATE INDEX wa_lid_pn_mapping_pn ON wa_lid_pn_mapping (tenant, phone_number, updated_at);
CREATE TABLE wa_sender_key_devices (
    tenant TEXT NOT NULL, group_jid TEXT NOT NULL, device_jid TEXT NOT NULL,
    has_key INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, group_jid, device_jid)
) STRICT;
CREATE INDEX wa_sender_key_devices_device ON wa_sender_key_devices (tenant, device_jid);
CREATE TABLE wa_tc_tokens (
    tenant TEXT NOT NULL, jid TEXT NOT NULL, token BLOB NOT NULL,
    token_timestamp INTEGER NOT NULL, sender_timestamp INTEGER, updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, jid)
) STRICT;
CREATE TABLE wa_sent_messages (
    tenant TEXT NOT NULL, chat_jid TEXT NOT NULL, message_id TEXT NOT NULL,
    payload BLOB NOT NULL, created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, chat_jid, message_id)
) STRICT;
CREATE INDEX wa_sent_messages_created ON wa_sent_messages (tenant, created_at);
CREATE TABLE wa_pending_inbound_messages (
    tenant TEXT NOT NULL, chat TEXT NOT NULL, sender TEXT NOT NULL, id TEXT NOT NULL,
    message BLOB NOT NULL, inserted_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, chat, sender, id)
) STRICT;
CREATE INDEX wa_pending_inbound_inserted ON wa_pending_inbound_messages (tenant, inserted_at);
CREATE TABLE wa_msg_secrets (
    tenant TEXT NOT NULL, chat TEXT NOT NULL, sender TEXT NOT NULL, msg_id TEXT NOT NULL,
    secret BLOB NOT NULL, created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL DEFAULT 0, message_ts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, chat, sender, msg_id)
) STRICT;
CREATE INDEX wa_msg_secrets_expires ON wa_msg_secrets (tenant, expires_at);
"#;

/// Brings the file to [`SQLITE_SCHEMA_VERSION`] and returns it. Steps run in
/// one IMMEDIATE transaction: it takes the write lock before reading the
/// version, so two processes opening a new file at once migrate it once (the
/// second waits, then finds the steps applied), and a failed step leaves the
/// file as it was.
pub(crate) fn migrate(conn: &mut Connection) -> Result<i64, Error> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS wa_schema_version (
            version INTEGER PRIMARY KEY,
            applied_at INTEGER NOT NULL DEFAULT (unixepoch())
        ) STRICT",
    )?;
    let found = version_on(&tx)?;
    if found > SQLITE_SCHEMA_VERSION {
        return Err(Error::SchemaTooNew { found, known: SQLITE_SCHEMA_VERSION });
    }
    for (version, step) in (1..).zip(STEPS).skip_while(|(v, _)| *v <= found) {
        tx.execute_batch(step)?;
        tx.execute("INSERT INTO wa_schema_version (version) VALUES (?1)", [version])?;
    }
    tx.commit()?;
    Ok(SQLITE_SCHEMA_VERSION)
}

/// The version the file is at (0 before any step).
pub(crate) fn version_on(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(version), 0) FROM wa_schema_version", [], |r| r.get(0))
}

/// Deletes every row of `tenant` on `tx`; returns how many rows went.
pub(crate) fn delete_rows(tx: &Transaction<'_>, tenant: &str) -> rusqlite::Result<u64> {
    let mut deleted = 0;
    for table in TENANT_TABLES {
        let mut stmt = tx.prepare_cached(&format!("DELETE FROM {table} WHERE tenant = ?1"))?;
        // usize to u64 never truncates on the platforms Rust supports.
        deleted += stmt.execute([tenant])? as u64;
    }
    Ok(deleted)
}

/// Whether `tenant` has a paired device stored. An unpaired device row (which
/// whatsapp-rust creates before showing its first QR) does not count.
pub(crate) fn tenant_exists(conn: &Connection, tenant: &str) -> rusqlite::Result<bool> {
    let sql = "SELECT 1 FROM wa_device WHERE tenant = ?1 AND pn IS NOT NULL";
    Ok(conn.prepare_cached(sql)?.query_row([tenant], |_| Ok(())).optional()?.is_some())
}

/// Every tenant with a device row, paired or not, sorted bytewise.
pub(crate) fn tenants(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT tenant FROM wa_device ORDER BY tenant")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}
