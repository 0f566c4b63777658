//! The legacy whatsapp-rust SQLite session database (the daemon's
//! per-tenant `whatsapp.db`) read as one tenant's rows ([`read_legacy`]), and
//! `import_sqlite`, which copies them into PostgreSQL, so a paired tenant
//! moved across reconnects without pairing again. The shared SQLite file's
//! `import_legacy` reads with the same [`read_legacy`].
//!
//! The Device and the two tables whatsapp-rust stores in its own encoding
//! (app-state sync keys and collection versions) are read through
//! whatsapp-rust's SQLite store and encoded as this crate stores them; every
//! other table is copied row by row, its columns unchanged.

use std::path::{Path, PathBuf};

use deadpool_postgres::Pool;
use rusqlite::types::Value;
use wacore::store::traits::{AppSyncStore, DeviceStore};
use wacore::time::now_secs;
use whatsapp_rust_sqlite_storage::SqliteStore;

use crate::codec::{encode_device, encode_version};
use crate::error::Error;
use crate::transfer::{read_table, write_pg, ImportCounts, TableRows, TenantRows};

/// whatsapp-rust's SQLite store keeps a database's one account under this
/// device id unless told otherwise, as the daemon does.
const SQLITE_DEVICE_ID: i64 = 1;

/// The tables copied unchanged: the `wa_` table, and the columns it takes
/// from its whatsapp-rust namesake (the name without `wa_`), which has the
/// same column names. Prekey ids are u32 written by that store as wrapping
/// i32; `& 0xFFFFFFFF` recovers the u32 this crate keeps.
const COPIES: &[(&str, &[&str])] = &[
    ("wa_identities", &["address", "key"]),
    ("wa_sessions", &["address", "record"]),
    ("wa_prekeys", &["id & 4294967295 AS id", "key", "uploaded"]),
    ("wa_signed_prekeys", &["id & 4294967295 AS id", "record"]),
    ("wa_sender_keys", &["address", "record"]),
    ("wa_app_state_mutation_macs", &["name", "index_mac", "version", "value_mac"]),
    ("wa_base_keys", &["address", "message_id", "base_key", "created_at"]),
    ("wa_device_registry", &["user_id", "devices_json", "timestamp", "phash", "raw_id", "updated_at"]),
    ("wa_group_metadata", &["group_jid", "info", "updated_at"]),
    ("wa_lid_pn_mapping", &["lid", "phone_number", "created_at", "learning_source", "updated_at"]),
    ("wa_sender_key_devices", &["group_jid", "device_jid", "has_key", "updated_at"]),
    ("wa_tc_tokens", &["jid", "token", "token_timestamp", "sender_timestamp", "updated_at"]),
    ("wa_sent_messages", &["chat_jid", "message_id", "payload", "created_at"]),
    ("wa_pending_inbound_messages", &["chat", "sender", "id", "message", "inserted_at"]),
    ("wa_msg_secrets", &["chat", "sender", "msg_id", "secret", "created_at", "expires_at", "message_ts"]),
];

/// Copies the whatsapp-rust SQLite session database at `sqlite_path` into
/// `tenant`'s rows. Refuses ([`Error::TenantNotEmpty`]) when the tenant has
/// any row already; writes everything or nothing. The SQLite file is opened
/// through whatsapp-rust's store, which first brings its schema up to date.
pub async fn import_sqlite(pool: &Pool, tenant: &str, sqlite_path: &Path) -> Result<ImportCounts, Error> {
    let source = read_legacy(sqlite_path).await?;
    write_pg(pool, tenant, &source).await
}

/// Every row of the whatsapp-rust SQLite session database at `path`, as this
/// crate's tables hold them. Refuses a missing file
/// ([`Error::SqliteMissing`]) and one without a device ([`Error::NoDevice`]).
pub(crate) async fn read_legacy(path: &Path) -> Result<TenantRows, Error> {
    if !path.is_file() {
        return Err(Error::SqliteMissing(path.to_path_buf()));
    }
    let path_str = path.to_str().ok_or_else(|| Error::Value(format!("{} is not UTF-8", path.display())))?;
    let store = SqliteStore::new(path_str).await?;
    let device = store.load().await?.ok_or_else(|| Error::NoDevice(path.to_path_buf()))?;
    let owned: PathBuf = path.to_path_buf();
    let RawRows { mut tables, key_ids, names } = tokio::task::spawn_blocking(move || read_rows(&owned))
        .await
        .map_err(|e| Error::Value(format!("SQLite reader stopped: {e}")))??;
    let (pn, lid, data) = encode_device(&device)?;
    let device_row = vec![text(pn), text(lid), Value::Blob(data), Value::Integer(now_secs())];
    tables.push(table("wa_device", &["pn", "lid", "data", "updated_at"], vec![device_row]));
    tables.push(sync_keys(&store, key_ids).await?);
    tables.push(versions(&store, names).await?);
    Ok(TenantRows { tables })
}

fn text(s: Option<String>) -> Value {
    s.map_or(Value::Null, Value::Text)
}

fn table(table: &'static str, columns: &[&str], rows: Vec<Vec<Value>>) -> TableRows {
    TableRows { table, columns: columns.iter().map(|c| c.to_string()).collect(), rows }
}

/// The app-state sync keys of `ids`, read through whatsapp-rust's store.
async fn sync_keys(store: &SqliteStore, ids: Vec<Vec<u8>>) -> Result<TableRows, Error> {
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        // An undecodable key reads as absent here as it does for the client,
        // which then asks the phone for it again.
        if let Some(key) = store.get_sync_key(&id).await? {
            let ts = Value::Integer(key.timestamp);
            rows.push(vec![Value::Blob(id), Value::Blob(key.key_data), Value::Blob(key.fingerprint), ts]);
        }
    }
    Ok(table("wa_app_state_keys", &["key_id", "key_data", "fingerprint", "timestamp"], rows))
}

/// The app-state collection versions of `names`, read through
/// whatsapp-rust's store and encoded as this crate stores them.
async fn versions(store: &SqliteStore, names: Vec<String>) -> Result<TableRows, Error> {
    let mut rows = Vec::with_capacity(names.len());
    for name in names {
        let state = store.get_version(&name).await?;
        let data = encode_version(&state)?;
        rows.push(vec![Value::Text(name), Value::Blob(data)]);
    }
    Ok(table("wa_app_state_versions", &["name", "state_data"], rows))
}

/// What the importer reads from SQLite directly.
struct RawRows {
    /// Every copied table's rows.
    tables: Vec<TableRows>,
    /// The app-state sync key ids (their keys are read through the store).
    key_ids: Vec<Vec<u8>>,
    /// The app-state collection names (their versions are read through the store).
    names: Vec<String>,
}

fn read_rows(path: &Path) -> Result<RawRows, Error> {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut tables = Vec::with_capacity(COPIES.len());
    for (name, columns) in COPIES {
        let source = name.trim_start_matches("wa_");
        let select = format!("SELECT {} FROM {source} WHERE device_id = ?1", columns.join(", "));
        tables.push(read_table(&conn, name, &select, SQLITE_DEVICE_ID, None)?);
    }
    let key_ids = column::<Vec<u8>>(&conn, "SELECT key_id FROM app_state_keys WHERE device_id = ?1")?;
    let names = column::<String>(&conn, "SELECT name FROM app_state_versions WHERE device_id = ?1")?;
    Ok(RawRows { tables, key_ids, names })
}

fn column<T: rusqlite::types::FromSql>(conn: &rusqlite::Connection, sql: &str) -> Result<Vec<T>, Error> {
    let mut stmt = conn.prepare(sql)?;
    let values = stmt.query_map([SQLITE_DEVICE_ID], |row| row.get(0))?.collect::<Result<Vec<T>, _>>()?;
    Ok(values)
}
