//! `import_sqlite`: one tenant's whatsapp-rust SQLite session database (the
//! daemon's per-tenant `wa.db`) copied into PostgreSQL, so a paired tenant
//! moved across reconnects without pairing again.
//!
//! The Device and the two tables whatsapp-rust stores in its own encoding
//! (app-state sync keys and collection versions) are read through
//! whatsapp-rust's SQLite store; every other table is copied row by row, its
//! columns unchanged. Everything is written in one transaction into a tenant
//! that must have no rows yet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use deadpool_postgres::{Pool, Transaction};
use rusqlite::types::Value;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use wacore::store::traits::{AppSyncStore, DeviceStore};
use wacore::time::now_secs;
use whatsapp_rust_sqlite_storage::SqliteStore;

use crate::app_sync::{SET_SYNC_KEY, SET_VERSION};
use crate::codec::{encode_device, encode_version};
use crate::device::SAVE_DEVICE;
use crate::schema::tenant_has_rows;
use crate::Error;

/// What an import wrote, per PostgreSQL table, for the caller to check
/// against the source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// Whether the imported device is paired (has a phone number).
    pub paired: bool,
    /// Rows written, keyed by table (`wa_device`, `wa_sessions`, ...).
    pub rows: BTreeMap<&'static str, u64>,
}

impl ImportCounts {
    /// Rows written into `table` (0 when none).
    pub fn get(&self, table: &str) -> u64 {
        self.rows.get(table).copied().unwrap_or(0)
    }
}

/// whatsapp-rust's SQLite store keeps a database's one account under this
/// device id unless told otherwise, as the daemon does.
const SQLITE_DEVICE_ID: i64 = 1;

/// A table copied unchanged: the SQLite query (`?1` = device id) and the
/// PostgreSQL insert (`$1` = tenant, then the query's columns in order).
struct Copy {
    table: &'static str,
    select: &'static str,
    insert: &'static str,
}

/// Prekey ids are u32 written by the SQLite store as wrapping i32; `& 0xFFFFFFFF`
/// recovers the u32 this store keeps as BIGINT.
const COPIES: &[Copy] = &[
    Copy {
        table: "wa_identities",
        select: "SELECT address, key FROM identities WHERE device_id = ?1",
        insert: "INSERT INTO wa_identities (tenant, address, key) VALUES ($1, $2, $3)",
    },
    Copy {
        table: "wa_sessions",
        select: "SELECT address, record FROM sessions WHERE device_id = ?1",
        insert: "INSERT INTO wa_sessions (tenant, address, record) VALUES ($1, $2, $3)",
    },
    Copy {
        table: "wa_prekeys",
        select: "SELECT id & 4294967295, key, uploaded FROM prekeys WHERE device_id = ?1",
        insert: "INSERT INTO wa_prekeys (tenant, id, key, uploaded) VALUES ($1, $2, $3, $4)",
    },
    Copy {
        table: "wa_signed_prekeys",
        select: "SELECT id & 4294967295, record FROM signed_prekeys WHERE device_id = ?1",
        insert: "INSERT INTO wa_signed_prekeys (tenant, id, record) VALUES ($1, $2, $3)",
    },
    Copy {
        table: "wa_sender_keys",
        select: "SELECT address, record FROM sender_keys WHERE device_id = ?1",
        insert: "INSERT INTO wa_sender_keys (tenant, address, record) VALUES ($1, $2, $3)",
    },
    Copy {
        table: "wa_app_state_mutation_macs",
        select: "SELECT name, index_mac, version, value_mac FROM app_state_mutation_macs
            WHERE device_id = ?1",
        insert: "INSERT INTO wa_app_state_mutation_macs (tenant, name, index_mac, version, value_mac)
            VALUES ($1, $2, $3, $4, $5)",
    },
    Copy {
        table: "wa_base_keys",
        select: "SELECT address, message_id, base_key, created_at FROM base_keys WHERE device_id = ?1",
        insert: "INSERT INTO wa_base_keys (tenant, address, message_id, base_key, created_at)
            VALUES ($1, $2, $3, $4, $5)",
    },
    Copy {
        table: "wa_device_registry",
        select: "SELECT user_id, devices_json, timestamp, phash, raw_id, updated_at
            FROM device_registry WHERE device_id = ?1",
        insert: "INSERT INTO wa_device_registry
            (tenant, user_id, devices_json, timestamp, phash, raw_id, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)",
    },
    Copy {
        table: "wa_group_metadata",
        select: "SELECT group_jid, info, updated_at FROM group_metadata WHERE device_id = ?1",
        insert: "INSERT INTO wa_group_metadata (tenant, group_jid, info, updated_at)
            VALUES ($1, $2, $3, $4)",
    },
    Copy {
        table: "wa_lid_pn_mapping",
        select: "SELECT lid, phone_number, created_at, learning_source, updated_at
            FROM lid_pn_mapping WHERE device_id = ?1",
        insert: "INSERT INTO wa_lid_pn_mapping
            (tenant, lid, phone_number, created_at, learning_source, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6)",
    },
    Copy {
        table: "wa_sender_key_devices",
        select: "SELECT group_jid, device_jid, has_key, updated_at FROM sender_key_devices
            WHERE device_id = ?1",
        insert: "INSERT INTO wa_sender_key_devices (tenant, group_jid, device_jid, has_key, updated_at)
            VALUES ($1, $2, $3, $4, $5)",
    },
    Copy {
        table: "wa_tc_tokens",
        select: "SELECT jid, token, token_timestamp, sender_timestamp, updated_at FROM tc_tokens
            WHERE device_id = ?1",
        insert: "INSERT INTO wa_tc_tokens
            (tenant, jid, token, token_timestamp, sender_timestamp, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6)",
    },
    Copy {
        table: "wa_sent_messages",
        select: "SELECT chat_jid, message_id, payload, created_at FROM sent_messages
            WHERE device_id = ?1",
        insert: "INSERT INTO wa_sent_messages (tenant, chat_jid, message_id, payload, created_at)
            VALUES ($1, $2, $3, $4, $5)",
    },
    Copy {
        table: "wa_pending_inbound_messages",
        select: "SELECT chat, sender, id, message, inserted_at FROM pending_inbound_messages
            WHERE device_id = ?1",
        insert: "INSERT INTO wa_pending_inbound_messages
            (tenant, chat, sender, id, message, inserted_at) VALUES ($1, $2, $3, $4, $5, $6)",
    },
    Copy {
        table: "wa_msg_secrets",
        select: "SELECT chat, sender, msg_id, secret, created_at, expires_at, message_ts
            FROM msg_secrets WHERE device_id = ?1",
        insert: "INSERT INTO wa_msg_secrets
            (tenant, chat, sender, msg_id, secret, created_at, expires_at, message_ts)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    },
];

/// One SQLite value bound to whichever PostgreSQL column it copies into:
/// integers widen or narrow to the column's integer type or become a BOOLEAN
/// (SQLite stores flags as 0/1); anything else must match the column.
#[derive(Debug)]
struct Cell(Value);

impl ToSql for Cell {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(v) if *ty == Type::BOOL => (*v != 0).to_sql(ty, out),
            Value::Integer(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            Value::Integer(v) if *ty == Type::INT8 => v.to_sql(ty, out),
            Value::Text(s) if <String as ToSql>::accepts(ty) => s.to_sql(ty, out),
            Value::Blob(b) if *ty == Type::BYTEA => b.to_sql(ty, out),
            other => Err(format!("SQLite value {other:?} does not fit a {ty} column").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// The SQLite side, read before PostgreSQL is touched.
struct Source {
    device: wacore::store::Device,
    tables: Vec<(&'static Copy, Vec<Vec<Value>>)>,
    sync_keys: Vec<(Vec<u8>, wacore::store::traits::AppStateSyncKey)>,
    versions: Vec<(String, Vec<u8>)>,
}

/// Copies the whatsapp-rust SQLite session database at `sqlite_path` into
/// `tenant`'s rows. Refuses ([`Error::TenantNotEmpty`]) when the tenant has
/// any row already; writes everything or nothing. The SQLite file is opened
/// through whatsapp-rust's store, which first brings its schema up to date.
pub async fn import_sqlite(pool: &Pool, tenant: &str, sqlite_path: &Path) -> Result<ImportCounts, Error> {
    if !sqlite_path.is_file() {
        return Err(Error::SqliteMissing(sqlite_path.to_path_buf()));
    }
    let source = read_source(sqlite_path).await?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // Two imports of one tenant at once: the second waits, then finds rows.
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('wa-import:' || $1, 0))", &[&tenant]).await?;
    if tenant_has_rows(&tx, tenant).await? {
        return Err(Error::TenantNotEmpty { tenant: tenant.to_string() });
    }
    let counts = write(&tx, tenant, &source).await?;
    tx.commit().await?;
    Ok(counts)
}

async fn read_source(path: &Path) -> Result<Source, Error> {
    let path_str = path.to_str().ok_or_else(|| Error::Value(format!("{} is not UTF-8", path.display())))?;
    let store = SqliteStore::new(path_str).await?;
    let device = store.load().await?.ok_or_else(|| Error::NoDevice(path.to_path_buf()))?;
    let owned: PathBuf = path.to_path_buf();
    let RawRows { tables, key_ids, names } =
        tokio::task::spawn_blocking(move || read_rows(&owned))
            .await
            .map_err(|e| Error::Value(format!("SQLite reader stopped: {e}")))??;
    let mut sync_keys = Vec::with_capacity(key_ids.len());
    for id in key_ids {
        // An undecodable key reads as absent here as it does for the client,
        // which then asks the phone for it again.
        if let Some(key) = store.get_sync_key(&id).await? {
            sync_keys.push((id, key));
        }
    }
    let mut versions = Vec::with_capacity(names.len());
    for name in names {
        let state = store.get_version(&name).await?;
        versions.push((name, encode_version(&state)?));
    }
    Ok(Source { device, tables, sync_keys, versions })
}

/// What the importer reads from SQLite directly.
struct RawRows {
    /// Every copied table's rows.
    tables: Vec<(&'static Copy, Vec<Vec<Value>>)>,
    /// The app-state sync key ids (their keys are read through the store).
    key_ids: Vec<Vec<u8>>,
    /// The app-state collection names (their versions are read through the store).
    names: Vec<String>,
}

fn read_rows(path: &Path) -> Result<RawRows, Error> {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut tables = Vec::with_capacity(COPIES.len());
    for copy in COPIES {
        let mut stmt = conn.prepare(copy.select)?;
        let width = stmt.column_count();
        let rows = stmt
            .query_map([SQLITE_DEVICE_ID], |row| (0..width).map(|i| row.get::<_, Value>(i)).collect())?
            .collect::<Result<Vec<Vec<Value>>, _>>()?;
        tables.push((copy, rows));
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

async fn write(tx: &Transaction<'_>, tenant: &str, source: &Source) -> Result<ImportCounts, Error> {
    let mut counts = ImportCounts::default();
    let (pn, lid, data) = encode_device(&source.device)?;
    counts.paired = pn.is_some();
    tx.execute(SAVE_DEVICE, &[&tenant, &pn, &lid, &data, &now_secs()]).await?;
    counts.rows.insert("wa_device", 1);
    for (copy, rows) in &source.tables {
        let stmt = tx.prepare(copy.insert).await?;
        for row in rows {
            let cells: Vec<Cell> = row.iter().cloned().map(Cell).collect();
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tenant];
            params.extend(cells.iter().map(|c| c as &(dyn ToSql + Sync)));
            tx.execute(&stmt, &params).await?;
        }
        counts.rows.insert(copy.table, rows.len() as u64);
    }
    for (id, key) in &source.sync_keys {
        tx.execute(SET_SYNC_KEY, &[&tenant, id, &key.key_data, &key.fingerprint, &key.timestamp]).await?;
    }
    counts.rows.insert("wa_app_state_keys", source.sync_keys.len() as u64);
    for (name, state) in &source.versions {
        tx.execute(SET_VERSION, &[&tenant, name, state]).await?;
    }
    counts.rows.insert("wa_app_state_versions", source.versions.len() as u64);
    Ok(counts)
}
