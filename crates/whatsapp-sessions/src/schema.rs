//! The `wa_` tables: versioned, append-only migration steps, and the
//! tenant-wide operations (wipe, is-paired).
//!
//! Tables mirror whatsapp-rust's SQLite store (same names after the `wa_`
//! prefix, same columns) with `tenant` in place of its `device_id`, so a row
//! copies across unchanged. Where this store differs: ids are BIGINT (u32
//! without wrap-around), flags are BOOLEAN, the Device is one JSON document
//! (plus its `pn`/`lid` for queries), and app-state sync keys are columns
//! rather than an encoded blob.

use deadpool_postgres::{Pool, Transaction};

use crate::error::Error;

/// `pg_advisory_xact_lock` key held while migrating, so concurrent starts
/// migrate once. ASCII "wastore1"; distinct from any key the daemon's own
/// store uses.
pub const MIGRATION_LOCK_KEY: i64 = 0x7761_7374_6f72_6531;

/// Every table holding tenant rows, in both backends, the device last (the import writes it
/// first, wipes delete it last; neither order matters inside one transaction).
pub(crate) const TENANT_TABLES: &[&str] = &[
    "wa_identities",
    "wa_sessions",
    "wa_prekeys",
    "wa_signed_prekeys",
    "wa_sender_keys",
    "wa_app_state_keys",
    "wa_app_state_versions",
    "wa_app_state_mutation_macs",
    "wa_base_keys",
    "wa_device_registry",
    "wa_group_metadata",
    "wa_lid_pn_mapping",
    "wa_sender_key_devices",
    "wa_tc_tokens",
    "wa_sent_messages",
    "wa_pending_inbound_messages",
    "wa_msg_secrets",
    "wa_device",
];

/// Append-only: step N (1-based) brings the schema to version N. Never edit a
/// shipped step; add one.
const STEPS: &[&str] = &[STEP_1];

/// The version [`migrate`] brings a database to.
pub const SCHEMA_VERSION: i64 = STEPS.len() as i64;

/// Addresses are `COLLATE "C"` so the per-user prefix scan
/// (`has_signal_state_for_user`) can use the primary key index.
const STEP_1: &str = r#"
CREATE TABLE wa_device (
    tenant TEXT PRIMARY KEY,
    pn TEXT,
    lid TEXT,
    data BYTEA NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE wa_identities (
    tenant TEXT NOT NULL, address TEXT COLLATE "C" NOT NULL, key BYTEA NOT NULL,
    PRIMARY KEY (tenant, address)
);
CREATE TABLE wa_sessions (
    tenant TEXT NOT NULL, address TEXT COLLATE "C" NOT NULL, record BYTEA NOT NULL,
    PRIMARY KEY (tenant, address)
);
CREATE TABLE wa_prekeys (
    tenant TEXT NOT NULL, id BIGINT NOT NULL, key BYTEA NOT NULL,
    uploaded BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (tenant, id)
);
CREATE TABLE wa_signed_prekeys (
    tenant TEXT NOT NULL, id BIGINT NOT NULL, record BYTEA NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE TABLE wa_sender_keys (
    tenant TEXT NOT NULL, address TEXT NOT NULL, record BYTEA NOT NULL,
    PRIMARY KEY (tenant, address)
);
CREATE TABLE wa_app_state_keys (
    tenant TEXT NOT NULL, key_id BYTEA NOT NULL, key_data BYTEA NOT NULL,
    fingerprint BYTEA NOT NULL, timestamp BIGINT NOT NULL,
    PRIMARY KEY (tenant, key_id)
);
CREATE TABLE wa_app_state_versions (
    tenant TEXT NOT NULL, name TEXT NOT NULL, state_data BYTEA NOT NULL,
    PRIMARY KEY (tenant, name)
);
CREATE TABLE wa_app_state_mutation_macs (
    tenant TEXT NOT NULL, name TEXT NOT NULL, index_mac BYTEA NOT NULL,
    version BIGINT NOT NULL, value_mac BYTEA NOT NULL,
    PRIMARY KEY (tenant, name, index_mac)
);
CREATE TABLE wa_base_keys (
    tenant TEXT NOT NULL, address TEXT NOT NULL, message_id TEXT NOT NULL,
    base_key BYTEA NOT NULL, created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, address, message_id)
);
CREATE TABLE wa_device_registry (
    tenant TEXT NOT NULL, user_id TEXT NOT NULL, devices_json TEXT NOT NULL,
    timestamp BIGINT NOT NULL, phash TEXT, raw_id BIGINT, updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, user_id)
);
CREATE TABLE wa_group_metadata (
    tenant TEXT NOT NULL, group_jid TEXT NOT NULL, info BYTEA NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, group_jid)
);
CREATE TABLE wa_lid_pn_mapping (
    tenant TEXT NOT NULL, lid TEXT NOT NULL, phone_number TEXT NOT NULL,
    created_at BIGINT NOT NULL, learning_source TEXT NOT NULL, updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, lid)
);
CREATE INDEX wa_lid_pn_mapping_pn ON wa_lid_pn_mapping (tenant, phone_number, updated_at);
CREATE TABLE wa_sender_key_devices (
    tenant TEXT NOT NULL, group_jid TEXT NOT NULL, device_jid TEXT NOT NULL,
    has_key BOOLEAN NOT NULL, updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, group_jid, device_jid)
);
CREATE INDEX wa_sender_key_devices_device ON wa_sender_key_devices (tenant, device_jid);
CREATE TABLE wa_tc_tokens (
    tenant TEXT NOT NULL, jid TEXT NOT NULL, token BYTEA NOT NULL,
    token_timestamp BIGINT NOT NULL, sender_timestamp BIGINT, updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, jid)
);
CREATE TABLE wa_sent_messages (
    tenant TEXT NOT NULL, chat_jid TEXT NOT NULL, message_id TEXT NOT NULL,
    payload BYTEA NOT NULL, created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, chat_jid, message_id)
);
CREATE INDEX wa_sent_messages_created ON wa_sent_messages (tenant, created_at);
CREATE TABLE wa_pending_inbound_messages (
    tenant TEXT NOT NULL, chat TEXT NOT NULL, sender TEXT NOT NULL, id TEXT NOT NULL,
    message BYTEA NOT NULL, inserted_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, chat, sender, id)
);
CREATE INDEX wa_pending_inbound_inserted ON wa_pending_inbound_messages (tenant, inserted_at);
CREATE TABLE wa_msg_secrets (
    tenant TEXT NOT NULL, chat TEXT NOT NULL, sender TEXT NOT NULL, msg_id TEXT NOT NULL,
    secret BYTEA NOT NULL, created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL DEFAULT 0, message_ts BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, chat, sender, msg_id)
);
CREATE INDEX wa_msg_secrets_expires ON wa_msg_secrets (tenant, expires_at);
"#;

/// Brings the schema to [`SCHEMA_VERSION`] and returns it. Steps run in one
/// transaction under [`MIGRATION_LOCK_KEY`], so concurrent starts migrate once
/// and a failed step leaves the database as it was.
pub async fn migrate(pool: &Pool) -> Result<i64, Error> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY]).await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS wa_schema_version (
            version BIGINT PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .await?;
    let found: i64 =
        tx.query_one("SELECT COALESCE(MAX(version), 0) FROM wa_schema_version", &[]).await?.get(0);
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew { found, known: SCHEMA_VERSION });
    }
    for (version, step) in (1..).zip(STEPS).skip_while(|(v, _)| *v <= found) {
        tx.batch_execute(step).await?;
        tx.execute("INSERT INTO wa_schema_version (version) VALUES ($1)", &[&version]).await?;
    }
    tx.commit().await?;
    Ok(SCHEMA_VERSION)
}

/// Deletes every row of `tenant` (logout, tenant removal) in one transaction;
/// returns how many rows went. A store for the tenant then starts unpaired.
pub async fn delete_tenant(pool: &Pool, tenant: &str) -> Result<u64, Error> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let deleted = delete_rows(&tx, tenant).await?;
    tx.commit().await?;
    Ok(deleted)
}

/// Deletes every row of `tenant` on `tx`; returns how many rows went.
pub(crate) async fn delete_rows(tx: &Transaction<'_>, tenant: &str) -> Result<u64, Error> {
    let mut deleted = 0;
    for table in TENANT_TABLES {
        deleted += tx.execute(&format!("DELETE FROM {table} WHERE tenant = $1"), &[&tenant]).await?;
    }
    Ok(deleted)
}

/// Whether `tenant` has a paired device stored. An unpaired device row (which
/// whatsapp-rust creates before showing its first QR) does not count.
pub async fn tenant_exists(pool: &Pool, tenant: &str) -> Result<bool, Error> {
    let client = pool.get().await?;
    let row = client
        .query_one("SELECT EXISTS (SELECT 1 FROM wa_device WHERE tenant = $1 AND pn IS NOT NULL)", &[&tenant])
        .await?;
    Ok(row.get(0))
}

/// Whether `tenant` has any row in any table (the import's precondition).
pub(crate) async fn tenant_has_rows(
    client: &impl deadpool_postgres::GenericClient,
    tenant: &str,
) -> Result<bool, Error> {
    let sql = TENANT_TABLES
        .iter()
        .map(|t| format!("EXISTS (SELECT 1 FROM {t} WHERE tenant = $1)"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let row = client.query_one(&format!("SELECT {sql}"), &[&tenant]).await?;
    Ok(row.get(0))
}
