//! [`SignalStore`] on the shared SQLite file: identities, sessions, prekeys,
//! signed prekeys, sender keys, as on PostgreSQL.
//!
//! A batch is one transaction of row-by-row upserts, so a key repeated in a
//! batch keeps its last value, as PostgreSQL's deduplicating batches do.
//! Lists of ids are looked up or updated one id at a time inside one
//! transaction (SQLite has no array parameter), each distinct id once.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{params, OptionalExtension, Transaction};
use wacore::store::error::Result;
use wacore::store::traits::SignalStore;

use crate::codec::{id_u32, identity_key, user_address_patterns};
use crate::sqlite::store::{exec, exists, value, SqlResult, SqliteSessionStore};

const PUT_IDENTITY: &str = "INSERT INTO wa_identities (tenant, address, key) VALUES (?1, ?2, ?3)
    ON CONFLICT (tenant, address) DO UPDATE SET key = excluded.key";
const PUT_SESSION: &str = "INSERT INTO wa_sessions (tenant, address, record) VALUES (?1, ?2, ?3)
    ON CONFLICT (tenant, address) DO UPDATE SET record = excluded.record";
const PUT_SENDER_KEY: &str = "INSERT INTO wa_sender_keys (tenant, address, record) VALUES (?1, ?2, ?3)
    ON CONFLICT (tenant, address) DO UPDATE SET record = excluded.record";
const STORE_PREKEY: &str = "INSERT INTO wa_prekeys (tenant, id, key, uploaded) VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (tenant, id) DO UPDATE SET key = excluded.key, uploaded = excluded.uploaded";
/// Addresses are `user@server` (device 0) or `user:device@server`. LIKE is
/// case-sensitive on these connections, as PostgreSQL's.
const HAS_USER_STATE: &str = "SELECT EXISTS (SELECT 1 FROM wa_sessions
        WHERE tenant = ?1 AND (address LIKE ?2 ESCAPE '\\' OR address LIKE ?3 ESCAPE '\\'))
    OR EXISTS (SELECT 1 FROM wa_identities
        WHERE tenant = ?1 AND (address LIKE ?2 ESCAPE '\\' OR address LIKE ?3 ESCAPE '\\'))";

/// Upserts keyed records row by row with `sql` (`?1` tenant, `?2` key,
/// `?3` value): the last occurrence of a key wins.
fn put_each<V: AsRef<[u8]>>(
    tx: &Transaction<'_>,
    tenant: &str,
    sql: &str,
    rows: &[(Arc<str>, V)],
) -> SqlResult<()> {
    let mut stmt = tx.prepare_cached(sql)?;
    for (key, v) in rows {
        stmt.execute(params![tenant, &**key, v.as_ref()])?;
    }
    Ok(())
}

impl SqliteSessionStore {
    /// One keyed upsert of `sql` (`?1` tenant, `?2` key, `?3` value).
    async fn put_one(&self, sql: &'static str, key: &str, v: &[u8]) -> Result<()> {
        let (key, v) = (key.to_string(), v.to_vec());
        self.write(move |tx, t| exec(tx, sql, params![t, key, v])).await?;
        Ok(())
    }

    /// Batch upsert of `sql` (see [`put_each`]).
    async fn put_batch<V>(&self, sql: &'static str, rows: &[(Arc<str>, V)]) -> Result<()>
    where
        V: AsRef<[u8]> + Clone + Send + Sync + 'static,
    {
        if rows.is_empty() {
            return Ok(());
        }
        let rows = rows.to_vec();
        self.write(move |tx, t| put_each(tx, t, sql, &rows)).await
    }

    /// The first column of `sql` (`?1` tenant, `?2` key), if a row matches.
    async fn get_one<K, T>(&self, sql: &'static str, key: K) -> Result<Option<T>>
    where
        K: rusqlite::ToSql + Send + 'static,
        T: rusqlite::types::FromSql + Send + 'static,
    {
        self.read(move |c, t| value(c, sql, params![t, key])).await
    }

    /// Runs the write `sql` (`?1` tenant, `?2` key).
    async fn delete_one<K: rusqlite::ToSql + Send + 'static>(&self, sql: &'static str, key: K) -> Result<()> {
        self.write(move |tx, t| exec(tx, sql, params![t, key])).await?;
        Ok(())
    }
}

#[async_trait]
impl SignalStore for SqliteSessionStore {
    async fn put_identity(&self, address: &str, key: [u8; 32]) -> Result<()> {
        self.put_one(PUT_IDENTITY, address, &key).await
    }

    async fn put_identities_batch(&self, identities: &[(Arc<str>, [u8; 32])]) -> Result<()> {
        self.put_batch(PUT_IDENTITY, identities).await
    }

    async fn load_identity(&self, address: &str) -> Result<Option<[u8; 32]>> {
        let sql = "SELECT key FROM wa_identities WHERE tenant = ?1 AND address = ?2";
        let key: Option<Vec<u8>> = self.get_one(sql, address.to_string()).await?;
        key.map(|k| identity_key(address, k)).transpose()
    }

    async fn delete_identity(&self, address: &str) -> Result<()> {
        let sql = "DELETE FROM wa_identities WHERE tenant = ?1 AND address = ?2";
        self.delete_one(sql, address.to_string()).await
    }

    async fn get_session(&self, address: &str) -> Result<Option<Bytes>> {
        let sql = "SELECT record FROM wa_sessions WHERE tenant = ?1 AND address = ?2";
        Ok(self.get_one::<_, Vec<u8>>(sql, address.to_string()).await?.map(Bytes::from))
    }

    async fn put_session(&self, address: &str, session: &[u8]) -> Result<()> {
        self.put_one(PUT_SESSION, address, session).await
    }

    async fn put_sessions_batch(&self, sessions: &[(Arc<str>, Bytes)]) -> Result<()> {
        self.put_batch(PUT_SESSION, sessions).await
    }

    async fn delete_session(&self, address: &str) -> Result<()> {
        let sql = "DELETE FROM wa_sessions WHERE tenant = ?1 AND address = ?2";
        self.delete_one(sql, address.to_string()).await
    }

    async fn has_session(&self, address: &str) -> Result<bool> {
        let address = address.to_string();
        let sql = "SELECT 1 FROM wa_sessions WHERE tenant = ?1 AND address = ?2";
        self.read(move |c, t| exists(c, sql, [t, &address])).await
    }

    async fn has_signal_state_for_user(&self, user: &str) -> Result<bool> {
        let (at, dev) = user_address_patterns(user);
        let found = self.read(move |c, t| value(c, HAS_USER_STATE, [t, &at, &dev])).await?;
        Ok(found.unwrap_or(false))
    }

    async fn store_prekey(&self, id: u32, record: &[u8], uploaded: bool) -> Result<()> {
        let record = record.to_vec();
        self.write(move |tx, t| exec(tx, STORE_PREKEY, params![t, id, record, uploaded])).await?;
        Ok(())
    }

    async fn store_prekeys_batch(&self, keys: &[(u32, Bytes)], uploaded: bool) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let keys = keys.to_vec();
        self.write(move |tx, t| {
            let mut stmt = tx.prepare_cached(STORE_PREKEY)?;
            for (id, record) in &keys {
                stmt.execute(params![t, id, &record[..], uploaded])?;
            }
            Ok(())
        })
        .await
    }

    async fn load_prekey(&self, id: u32) -> Result<Option<Bytes>> {
        let sql = "SELECT key FROM wa_prekeys WHERE tenant = ?1 AND id = ?2";
        Ok(self.get_one::<_, Vec<u8>>(sql, id).await?.map(Bytes::from))
    }

    async fn load_prekeys_batch(&self, ids: &[u32]) -> Result<Vec<(u32, Bytes)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: BTreeSet<u32> = ids.iter().copied().collect();
        self.read(move |c, t| {
            let mut stmt = c.prepare_cached("SELECT key FROM wa_prekeys WHERE tenant = ?1 AND id = ?2")?;
            let mut found = Vec::new();
            for id in ids {
                if let Some(key) = stmt.query_row(params![t, id], |r| r.get::<_, Vec<u8>>(0)).optional()? {
                    found.push((id, Bytes::from(key)));
                }
            }
            Ok(found)
        })
        .await
    }

    /// An UPDATE, never an upsert: a key consumed since the upload snapshot
    /// stays deleted.
    async fn mark_prekeys_uploaded(&self, ids: &[u32]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        self.write(move |tx, t| {
            let mut stmt =
                tx.prepare_cached("UPDATE wa_prekeys SET uploaded = 1 WHERE tenant = ?1 AND id = ?2")?;
            for id in ids {
                stmt.execute(params![t, id])?;
            }
            Ok(())
        })
        .await
    }

    async fn remove_prekey(&self, id: u32) -> Result<()> {
        self.delete_one("DELETE FROM wa_prekeys WHERE tenant = ?1 AND id = ?2", id).await
    }

    async fn get_max_prekey_id(&self) -> Result<u32> {
        let sql = "SELECT COALESCE(MAX(id), 0) FROM wa_prekeys WHERE tenant = ?1";
        let max: Option<i64> = self.read(move |c, t| value(c, sql, [t])).await?;
        id_u32(max.unwrap_or(0))
    }

    async fn store_signed_prekey(&self, id: u32, record: &[u8]) -> Result<()> {
        let sql = "INSERT INTO wa_signed_prekeys (tenant, id, record) VALUES (?1, ?2, ?3)
            ON CONFLICT (tenant, id) DO UPDATE SET record = excluded.record";
        let record = record.to_vec();
        self.write(move |tx, t| exec(tx, sql, params![t, id, record])).await?;
        Ok(())
    }

    async fn load_signed_prekey(&self, id: u32) -> Result<Option<Vec<u8>>> {
        self.get_one("SELECT record FROM wa_signed_prekeys WHERE tenant = ?1 AND id = ?2", id).await
    }

    async fn load_all_signed_prekeys(&self) -> Result<Vec<(u32, Vec<u8>)>> {
        let sql = "SELECT id, record FROM wa_signed_prekeys WHERE tenant = ?1 ORDER BY id";
        let rows: Vec<(i64, Vec<u8>)> = self
            .read(move |c, t| {
                let mut stmt = c.prepare_cached(sql)?;
                let rows = stmt.query_map([t], |r| Ok((r.get(0)?, r.get(1)?)))?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .await?;
        rows.into_iter().map(|(id, record)| Ok((id_u32(id)?, record))).collect()
    }

    async fn remove_signed_prekey(&self, id: u32) -> Result<()> {
        self.delete_one("DELETE FROM wa_signed_prekeys WHERE tenant = ?1 AND id = ?2", id).await
    }

    async fn put_sender_key(&self, address: &str, record: &[u8]) -> Result<()> {
        self.put_one(PUT_SENDER_KEY, address, record).await
    }

    async fn put_sender_keys_batch(&self, sender_keys: &[(Arc<str>, Bytes)]) -> Result<()> {
        self.put_batch(PUT_SENDER_KEY, sender_keys).await
    }

    async fn get_sender_key(&self, address: &str) -> Result<Option<Vec<u8>>> {
        let sql = "SELECT record FROM wa_sender_keys WHERE tenant = ?1 AND address = ?2";
        self.get_one(sql, address.to_string()).await
    }

    async fn delete_sender_key(&self, address: &str) -> Result<()> {
        let sql = "DELETE FROM wa_sender_keys WHERE tenant = ?1 AND address = ?2";
        self.delete_one(sql, address.to_string()).await
    }
}
