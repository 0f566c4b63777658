//! [`AppSyncStore`]: app-state sync keys, collection versions, mutation MACs.

use std::collections::HashMap;

use async_trait::async_trait;
use wacore::appstate::hash::HashState;
use wacore::appstate::processor::AppStateMutationMAC;
use wacore::store::error::Result;
use wacore::store::traits::{AppStateSyncKey, AppSyncStore};

use crate::codec::{decode_version, encode_version, index_mac, version_i64};
use crate::store::PgSessionStore;

/// Sync key upsert.
const SET_SYNC_KEY: &str = "INSERT INTO wa_app_state_keys
    (tenant, key_id, key_data, fingerprint, timestamp) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (tenant, key_id) DO UPDATE SET key_data = EXCLUDED.key_data,
        fingerprint = EXCLUDED.fingerprint, timestamp = EXCLUDED.timestamp";
/// Version upsert.
const SET_VERSION: &str = "INSERT INTO wa_app_state_versions (tenant, name, state_data)
    VALUES ($1, $2, $3)
    ON CONFLICT (tenant, name) DO UPDATE SET state_data = EXCLUDED.state_data";
/// One statement per batch; a repeated index MAC keeps its last value (see
/// the signal module for why batches deduplicate).
const PUT_MACS: &str = "INSERT INTO wa_app_state_mutation_macs
    (tenant, name, version, index_mac, value_mac)
    SELECT DISTINCT ON (i) $1, $2, $3, i, v
    FROM UNNEST($4::bytea[], $5::bytea[]) WITH ORDINALITY AS b(i, v, n)
    ORDER BY i, n DESC
    ON CONFLICT (tenant, name, index_mac) DO UPDATE
        SET version = EXCLUDED.version, value_mac = EXCLUDED.value_mac";

#[async_trait]
impl AppSyncStore for PgSessionStore {
    async fn get_sync_key(&self, key_id: &[u8]) -> Result<Option<AppStateSyncKey>> {
        let sql = "SELECT key_data, fingerprint, timestamp FROM wa_app_state_keys
            WHERE tenant = $1 AND key_id = $2";
        let row = self.row(sql, &[&key_id]).await?;
        Ok(row.map(|r| AppStateSyncKey { key_data: r.get(0), fingerprint: r.get(1), timestamp: r.get(2) }))
    }

    async fn set_sync_key(&self, key_id: &[u8], key: AppStateSyncKey) -> Result<()> {
        let params: [crate::store::Param<'_>; 4] = [&key_id, &key.key_data, &key.fingerprint, &key.timestamp];
        self.exec(SET_SYNC_KEY, &params).await?;
        Ok(())
    }

    /// A missing or undecodable version reads as the default (see
    /// [`decode_version`]).
    async fn get_version(&self, name: &str) -> Result<HashState> {
        let sql = "SELECT state_data FROM wa_app_state_versions WHERE tenant = $1 AND name = $2";
        let Some(row) = self.row(sql, &[&name]).await? else {
            return Ok(HashState::default());
        };
        Ok(decode_version(row.get::<_, &[u8]>(0)))
    }

    async fn set_version(&self, name: &str, state: HashState) -> Result<()> {
        let data = encode_version(&state)?;
        self.exec(SET_VERSION, &[&name, &data]).await?;
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
        let (index, value): (Vec<&[u8]>, Vec<&[u8]>) =
            mutations.iter().map(|m| (&m.index_mac[..], &m.value_mac[..])).unzip();
        let version = version_i64(version)?;
        self.exec(PUT_MACS, &[&name, &version, &index, &value]).await?;
        Ok(())
    }

    async fn get_mutation_mac(&self, name: &str, index_mac: &[u8]) -> Result<Option<Vec<u8>>> {
        let sql = "SELECT value_mac FROM wa_app_state_mutation_macs
            WHERE tenant = $1 AND name = $2 AND index_mac = $3";
        let row = self.row(sql, &[&name, &index_mac]).await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn get_mutation_macs(
        &self,
        name: &str,
        index_macs: &[[u8; 32]],
    ) -> Result<HashMap<[u8; 32], Vec<u8>>> {
        if index_macs.is_empty() {
            return Ok(HashMap::new());
        }
        let keys: Vec<&[u8]> = index_macs.iter().map(|m| &m[..]).collect();
        let sql = "SELECT index_mac, value_mac FROM wa_app_state_mutation_macs
            WHERE tenant = $1 AND name = $2 AND index_mac = ANY($3)";
        let rows = self.rows(sql, &[&name, &keys]).await?;
        Ok(rows.iter().filter_map(|r| index_mac(r.get(0)).map(|k| (k, r.get(1)))).collect())
    }

    async fn delete_mutation_macs(&self, name: &str, index_macs: &[Vec<u8>]) -> Result<()> {
        if index_macs.is_empty() {
            return Ok(());
        }
        let sql = "DELETE FROM wa_app_state_mutation_macs
            WHERE tenant = $1 AND name = $2 AND index_mac = ANY($3)";
        self.exec(sql, &[&name, &index_macs]).await?;
        Ok(())
    }

    async fn clear_mutation_macs(&self, name: &str) -> Result<()> {
        let sql = "DELETE FROM wa_app_state_mutation_macs WHERE tenant = $1 AND name = $2";
        self.exec(sql, &[&name]).await?;
        Ok(())
    }

    /// The highest key id, compared bytewise as SQLite compares blobs.
    async fn get_latest_sync_key_id(&self) -> Result<Option<Vec<u8>>> {
        let sql = "SELECT key_id FROM wa_app_state_keys WHERE tenant = $1
            ORDER BY key_id DESC LIMIT 1";
        let row = self.row(sql, &[]).await?;
        Ok(row.map(|r| r.get(0)))
    }
}
