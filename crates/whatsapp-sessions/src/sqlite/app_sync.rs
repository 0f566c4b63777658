//! [`AppSyncStore`] on the shared SQLite file: app-state sync keys,
//! collection versions, mutation MACs, as on PostgreSQL.
//!
//! A batch is one transaction of row-by-row upserts, so a key repeated in a
//! batch keeps its last value, as PostgreSQL's deduplicating batches do.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use wacore::appstate::hash::HashState;
use wacore::appstate::processor::AppStateMutationMAC;
use wacore::store::error::Result;
use wacore::store::traits::{AppStateSyncKey, AppSyncStore};

use crate::codec::{decode_version, encode_version, version_i64};
use crate::sqlite::store::{exec, value, SqliteSessionStore};

/// Sync key upsert, shared with the copy functions.
pub(crate) const SET_SYNC_KEY: &str = "INSERT INTO wa_app_state_keys
    (tenant, key_id, key_data, fingerprint, timestamp) VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (tenant, key_id) DO UPDATE SET key_data = excluded.key_data,
        fingerprint = excluded.fingerprint, timestamp = excluded.timestamp";
/// Version upsert, shared with the copy functions.
pub(crate) const SET_VERSION: &str = "INSERT INTO wa_app_state_versions (tenant, name, state_data)
    VALUES (?1, ?2, ?3)
    ON CONFLICT (tenant, name) DO UPDATE SET state_data = excluded.state_data";
const PUT_MAC: &str = "INSERT INTO wa_app_state_mutation_macs
    (tenant, name, version, index_mac, value_mac) VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (tenant, name, index_mac) DO UPDATE
        SET version = excluded.version, value_mac = excluded.value_mac";
const GET_MAC: &str = "SELECT value_mac FROM wa_app_state_mutation_macs
    WHERE tenant = ?1 AND name = ?2 AND index_mac = ?3";

#[async_trait]
impl AppSyncStore for SqliteSessionStore {
    async fn get_sync_key(&self, key_id: &[u8]) -> Result<Option<AppStateSyncKey>> {
        let key_id = key_id.to_vec();
        self.read(move |c, t| {
            let sql = "SELECT key_data, fingerprint, timestamp FROM wa_app_state_keys
                WHERE tenant = ?1 AND key_id = ?2";
            let mut stmt = c.prepare_cached(sql)?;
            let key = stmt.query_row(params![t, key_id], |r| {
                Ok(AppStateSyncKey { key_data: r.get(0)?, fingerprint: r.get(1)?, timestamp: r.get(2)? })
            });
            Ok(key.optional()?)
        })
        .await
    }

    async fn set_sync_key(&self, key_id: &[u8], key: AppStateSyncKey) -> Result<()> {
        let key_id = key_id.to_vec();
        self.write(move |tx, t| {
            exec(tx, SET_SYNC_KEY, params![t, key_id, key.key_data, key.fingerprint, key.timestamp])
        })
        .await?;
        Ok(())
    }

    /// A missing or undecodable version reads as the default (see
    /// [`decode_version`]).
    async fn get_version(&self, name: &str) -> Result<HashState> {
        let name = name.to_string();
        let sql = "SELECT state_data FROM wa_app_state_versions WHERE tenant = ?1 AND name = ?2";
        let data: Option<Vec<u8>> = self.read(move |c, t| value(c, sql, [t, &name])).await?;
        Ok(data.map(|d| decode_version(&d)).unwrap_or_default())
    }

    async fn set_version(&self, name: &str, state: HashState) -> Result<()> {
        let data = encode_version(&state)?;
        let name = name.to_string();
        self.write(move |tx, t| exec(tx, SET_VERSION, params![t, name, data])).await?;
        Ok(())
    }

    async fn put_mutation_macs(
        &self,
        name: &str,
        version: u64,
        mutations: &[AppStateMutationMAC],
    ) -> Result<()> {
        if mutations.is_empty() {
            return Ok(());
        }
        let version = version_i64(version)?;
        let (name, mutations) = (name.to_string(), mutations.to_vec());
        self.write(move |tx, t| {
            let mut stmt = tx.prepare_cached(PUT_MAC)?;
            for m in &mutations {
                stmt.execute(params![t, name, version, m.index_mac, m.value_mac])?;
            }
            Ok(())
        })
        .await
    }

    async fn get_mutation_mac(&self, name: &str, index_mac: &[u8]) -> Result<Option<Vec<u8>>> {
        let (name, index_mac) = (name.to_string(), index_mac.to_vec());
        self.read(move |c, t| value(c, GET_MAC, params![t, name, index_mac])).await
    }

    /// One lookup per distinct MAC on one reader (SQLite has no array
    /// parameter); a MAC asked twice is answered once, as `= ANY` does.
    async fn get_mutation_macs(
        &self,
        name: &str,
        index_macs: &[[u8; 32]],
    ) -> Result<HashMap<[u8; 32], Vec<u8>>> {
        if index_macs.is_empty() {
            return Ok(HashMap::new());
        }
        let name = name.to_string();
        let keys: BTreeSet<[u8; 32]> = index_macs.iter().copied().collect();
        self.read(move |c, t| {
            let mut stmt = c.prepare_cached(GET_MAC)?;
            let mut found = HashMap::new();
            for key in keys {
                let mac = stmt.query_row(params![t, name, &key[..]], |r| r.get(0)).optional()?;
                if let Some(mac) = mac {
                    found.insert(key, mac);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn delete_mutation_macs(&self, name: &str, index_macs: &[Vec<u8>]) -> Result<()> {
        if index_macs.is_empty() {
            return Ok(());
        }
        let (name, index_macs) = (name.to_string(), index_macs.to_vec());
        self.write(move |tx, t| {
            let sql = "DELETE FROM wa_app_state_mutation_macs
                WHERE tenant = ?1 AND name = ?2 AND index_mac = ?3";
            let mut stmt = tx.prepare_cached(sql)?;
            for mac in &index_macs {
                stmt.execute(params![t, name, mac])?;
            }
            Ok(())
        })
        .await
    }

    async fn clear_mutation_macs(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        let sql = "DELETE FROM wa_app_state_mutation_macs WHERE tenant = ?1 AND name = ?2";
        self.write(move |tx, t| exec(tx, sql, [t, &name])).await?;
        Ok(())
    }

    /// The highest key id, compared bytewise (SQLite compares blobs so).
    async fn get_latest_sync_key_id(&self) -> Result<Option<Vec<u8>>> {
        let sql = "SELECT key_id FROM wa_app_state_keys WHERE tenant = ?1 ORDER BY key_id DESC LIMIT 1";
        self.read(move |c, t| value(c, sql, [t])).await
    }
}
