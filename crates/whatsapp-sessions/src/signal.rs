//! [`SignalStore`]: identities, sessions, prekeys, signed prekeys, sender keys.
//!
//! Batch writes are one statement over parallel arrays (`UNNEST`). When a key
//! repeats inside one batch PostgreSQL's upsert refuses to touch a row twice,
//! so batches keep the last occurrence (`DISTINCT ON` over `WITH ORDINALITY`),
//! which is what the row-by-row SQLite store ends up with; sorting by key
//! also gives concurrent batches one lock order.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use wacore::store::error::Result;
use wacore::store::traits::SignalStore;

use crate::codec::{id_u32, identity_key, user_address_patterns};
use crate::store::PgSessionStore;

const PUT_IDENTITY: &str = "INSERT INTO wa_identities (tenant, address, key) VALUES ($1, $2, $3)
    ON CONFLICT (tenant, address) DO UPDATE SET key = EXCLUDED.key";
const PUT_IDENTITIES: &str = "INSERT INTO wa_identities (tenant, address, key)
    SELECT DISTINCT ON (a) $1, a, k FROM UNNEST($2::text[], $3::bytea[]) WITH ORDINALITY AS b(a, k, n)
    ORDER BY a, n DESC
    ON CONFLICT (tenant, address) DO UPDATE SET key = EXCLUDED.key";
const PUT_SESSION: &str = "INSERT INTO wa_sessions (tenant, address, record) VALUES ($1, $2, $3)
    ON CONFLICT (tenant, address) DO UPDATE SET record = EXCLUDED.record";
const PUT_SESSIONS: &str = "INSERT INTO wa_sessions (tenant, address, record)
    SELECT DISTINCT ON (a) $1, a, r FROM UNNEST($2::text[], $3::bytea[]) WITH ORDINALITY AS b(a, r, n)
    ORDER BY a, n DESC
    ON CONFLICT (tenant, address) DO UPDATE SET record = EXCLUDED.record";
const PUT_SENDER_KEY: &str = "INSERT INTO wa_sender_keys (tenant, address, record) VALUES ($1, $2, $3)
    ON CONFLICT (tenant, address) DO UPDATE SET record = EXCLUDED.record";
const PUT_SENDER_KEYS: &str = "INSERT INTO wa_sender_keys (tenant, address, record)
    SELECT DISTINCT ON (a) $1, a, r FROM UNNEST($2::text[], $3::bytea[]) WITH ORDINALITY AS b(a, r, n)
    ORDER BY a, n DESC
    ON CONFLICT (tenant, address) DO UPDATE SET record = EXCLUDED.record";
const STORE_PREKEY: &str = "INSERT INTO wa_prekeys (tenant, id, key, uploaded) VALUES ($1, $2, $3, $4)
    ON CONFLICT (tenant, id) DO UPDATE SET key = EXCLUDED.key, uploaded = EXCLUDED.uploaded";
const STORE_PREKEYS: &str = "INSERT INTO wa_prekeys (tenant, id, key, uploaded)
    SELECT DISTINCT ON (i) $1, i, k, $4 FROM UNNEST($2::bigint[], $3::bytea[]) WITH ORDINALITY AS b(i, k, n)
    ORDER BY i, n DESC
    ON CONFLICT (tenant, id) DO UPDATE SET key = EXCLUDED.key, uploaded = EXCLUDED.uploaded";

/// Keyed byte records as the parallel arrays a batch statement binds.
fn split_records(batch: &[(Arc<str>, Bytes)]) -> (Vec<&str>, Vec<&[u8]>) {
    batch.iter().map(|(k, v)| (&**k, &v[..])).unzip()
}

#[async_trait]
impl SignalStore for PgSessionStore {
    async fn put_identity(&self, address: &str, key: [u8; 32]) -> Result<()> {
        self.exec(PUT_IDENTITY, &[&address, &&key[..]]).await?;
        Ok(())
    }

    async fn put_identities_batch(&self, identities: &[(Arc<str>, [u8; 32])]) -> Result<()> {
        if identities.is_empty() {
            return Ok(());
        }
        let (addresses, keys): (Vec<&str>, Vec<&[u8]>) =
            identities.iter().map(|(a, k)| (&**a, &k[..])).unzip();
        self.exec(PUT_IDENTITIES, &[&addresses, &keys]).await?;
        Ok(())
    }

    async fn load_identity(&self, address: &str) -> Result<Option<[u8; 32]>> {
        let sql = "SELECT key FROM wa_identities WHERE tenant = $1 AND address = $2";
        let Some(row) = self.row(sql, &[&address]).await? else {
            return Ok(None);
        };
        identity_key(address, row.get(0)).map(Some)
    }

    async fn delete_identity(&self, address: &str) -> Result<()> {
        let sql = "DELETE FROM wa_identities WHERE tenant = $1 AND address = $2";
        self.exec(sql, &[&address]).await?;
        Ok(())
    }

    async fn get_session(&self, address: &str) -> Result<Option<Bytes>> {
        let sql = "SELECT record FROM wa_sessions WHERE tenant = $1 AND address = $2";
        let row = self.row(sql, &[&address]).await?;
        Ok(row.map(|r| Bytes::from(r.get::<_, Vec<u8>>(0))))
    }

    async fn put_session(&self, address: &str, session: &[u8]) -> Result<()> {
        self.exec(PUT_SESSION, &[&address, &session]).await?;
        Ok(())
    }

    async fn put_sessions_batch(&self, sessions: &[(Arc<str>, Bytes)]) -> Result<()> {
        if sessions.is_empty() {
            return Ok(());
        }
        let (addresses, records) = split_records(sessions);
        self.exec(PUT_SESSIONS, &[&addresses, &records]).await?;
        Ok(())
    }

    async fn delete_session(&self, address: &str) -> Result<()> {
        let sql = "DELETE FROM wa_sessions WHERE tenant = $1 AND address = $2";
        self.exec(sql, &[&address]).await?;
        Ok(())
    }

    async fn has_session(&self, address: &str) -> Result<bool> {
        let sql = "SELECT EXISTS (SELECT 1 FROM wa_sessions WHERE tenant = $1 AND address = $2)";
        self.scalar(sql, &[&address]).await
    }

    /// Addresses are `user@server` (device 0) or `user:device@server`.
    async fn has_signal_state_for_user(&self, user: &str) -> Result<bool> {
        let sql = "SELECT EXISTS (SELECT 1 FROM wa_sessions
                WHERE tenant = $1 AND (address LIKE $2 OR address LIKE $3))
            OR EXISTS (SELECT 1 FROM wa_identities
                WHERE tenant = $1 AND (address LIKE $2 OR address LIKE $3))";
        let (at, dev) = user_address_patterns(user);
        self.scalar(sql, &[&at, &dev]).await
    }

    async fn store_prekey(&self, id: u32, record: &[u8], uploaded: bool) -> Result<()> {
        self.exec(STORE_PREKEY, &[&i64::from(id), &record, &uploaded]).await?;
        Ok(())
    }

    async fn store_prekeys_batch(&self, keys: &[(u32, Bytes)], uploaded: bool) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let (ids, records): (Vec<i64>, Vec<&[u8]>) =
            keys.iter().map(|(i, r)| (i64::from(*i), &r[..])).unzip();
        self.exec(STORE_PREKEYS, &[&ids, &records, &uploaded]).await?;
        Ok(())
    }

    async fn load_prekey(&self, id: u32) -> Result<Option<Bytes>> {
        let sql = "SELECT key FROM wa_prekeys WHERE tenant = $1 AND id = $2";
        let row = self.row(sql, &[&i64::from(id)]).await?;
        Ok(row.map(|r| Bytes::from(r.get::<_, Vec<u8>>(0))))
    }

    async fn load_prekeys_batch(&self, ids: &[u32]) -> Result<Vec<(u32, Bytes)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
        let sql = "SELECT id, key FROM wa_prekeys WHERE tenant = $1 AND id = ANY($2)";
        self.rows(sql, &[&ids])
            .await?
            .iter()
            .map(|r| Ok((id_u32(r.get(0))?, Bytes::from(r.get::<_, Vec<u8>>(1)))))
            .collect()
    }

    /// An UPDATE, never an upsert: a key consumed since the upload snapshot
    /// stays deleted.
    async fn mark_prekeys_uploaded(&self, ids: &[u32]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
        let sql = "UPDATE wa_prekeys SET uploaded = true WHERE tenant = $1 AND id = ANY($2)";
        self.exec(sql, &[&ids]).await?;
        Ok(())
    }

    async fn remove_prekey(&self, id: u32) -> Result<()> {
        let sql = "DELETE FROM wa_prekeys WHERE tenant = $1 AND id = $2";
        self.exec(sql, &[&i64::from(id)]).await?;
        Ok(())
    }

    async fn get_max_prekey_id(&self) -> Result<u32> {
        let sql = "SELECT COALESCE(MAX(id), 0) FROM wa_prekeys WHERE tenant = $1";
        id_u32(self.scalar(sql, &[]).await?)
    }

    async fn store_signed_prekey(&self, id: u32, record: &[u8]) -> Result<()> {
        let sql = "INSERT INTO wa_signed_prekeys (tenant, id, record) VALUES ($1, $2, $3)
            ON CONFLICT (tenant, id) DO UPDATE SET record = EXCLUDED.record";
        self.exec(sql, &[&i64::from(id), &record]).await?;
        Ok(())
    }

    async fn load_signed_prekey(&self, id: u32) -> Result<Option<Vec<u8>>> {
        let sql = "SELECT record FROM wa_signed_prekeys WHERE tenant = $1 AND id = $2";
        let row = self.row(sql, &[&i64::from(id)]).await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn load_all_signed_prekeys(&self) -> Result<Vec<(u32, Vec<u8>)>> {
        let sql = "SELECT id, record FROM wa_signed_prekeys WHERE tenant = $1 ORDER BY id";
        self.rows(sql, &[]).await?.iter().map(|r| Ok((id_u32(r.get(0))?, r.get(1)))).collect()
    }

    async fn remove_signed_prekey(&self, id: u32) -> Result<()> {
        let sql = "DELETE FROM wa_signed_prekeys WHERE tenant = $1 AND id = $2";
        self.exec(sql, &[&i64::from(id)]).await?;
        Ok(())
    }

    async fn put_sender_key(&self, address: &str, record: &[u8]) -> Result<()> {
        self.exec(PUT_SENDER_KEY, &[&address, &record]).await?;
        Ok(())
    }

    async fn put_sender_keys_batch(&self, sender_keys: &[(Arc<str>, Bytes)]) -> Result<()> {
        if sender_keys.is_empty() {
            return Ok(());
        }
        let (addresses, records) = split_records(sender_keys);
        self.exec(PUT_SENDER_KEYS, &[&addresses, &records]).await?;
        Ok(())
    }

    async fn get_sender_key(&self, address: &str) -> Result<Option<Vec<u8>>> {
        let sql = "SELECT record FROM wa_sender_keys WHERE tenant = $1 AND address = $2";
        let row = self.row(sql, &[&address]).await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn delete_sender_key(&self, address: &str) -> Result<()> {
        let sql = "DELETE FROM wa_sender_keys WHERE tenant = $1 AND address = $2";
        self.exec(sql, &[&address]).await?;
        Ok(())
    }
}
