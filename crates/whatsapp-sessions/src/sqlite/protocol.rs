//! [`ProtocolStore`] on the shared SQLite file: sender-key distribution
//! marks, LID mappings, base keys, device lists, group metadata, tc tokens,
//! sent messages and the pending-inbound buffer, as the PostgreSQL backend
//! keeps them (same tables, same rules).
//!
//! A batch is one write transaction upserting row by row, so a key repeated
//! in the batch ends with its last occurrence, as PostgreSQL's single
//! statement keeps it. Timestamps this store stamps itself (`updated_at`,
//! `created_at`, `inserted_at`) are the client's clock, as the expiry sweeps'
//! cutoffs are.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Params, Row};
use wacore::store::error::Result;
use wacore::store::traits::{
    DeviceListRecord, LidPnMappingEntry, PendingInboundKey, PendingInboundRow, ProtocolStore, TcTokenEntry,
};
use wacore::time::now_secs;

use crate::codec::count_u32;
use crate::protocol_codec::{device_record, devices_json, DEVICE_LIST_COLUMNS, LID_COLUMNS};
use crate::sqlite::store::{exec, exists, SqlResult, SqliteSessionStore};

const SET_SENDER_KEY_STATUS: &str = "INSERT INTO wa_sender_key_devices
    (tenant, group_jid, device_jid, has_key, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (tenant, group_jid, device_jid) DO UPDATE
        SET has_key = excluded.has_key, updated_at = excluded.updated_at";
/// `created_at` is kept from the first time a LID was learnt.
const PUT_LID_MAPPING: &str = "INSERT INTO wa_lid_pn_mapping
    (tenant, lid, phone_number, created_at, learning_source, updated_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6)
    ON CONFLICT (tenant, lid) DO UPDATE SET phone_number = excluded.phone_number,
        learning_source = excluded.learning_source, updated_at = excluded.updated_at";
const UPDATE_DEVICE_LIST: &str = "INSERT INTO wa_device_registry
    (tenant, user_id, devices_json, timestamp, phash, raw_id, updated_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
    ON CONFLICT (tenant, user_id) DO UPDATE SET devices_json = excluded.devices_json,
        timestamp = excluded.timestamp, phash = excluded.phash,
        raw_id = excluded.raw_id, updated_at = excluded.updated_at";
const STORE_PENDING: &str = "INSERT INTO wa_pending_inbound_messages
    (tenant, chat, sender, id, message, inserted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
    ON CONFLICT (tenant, chat, sender, id) DO UPDATE
        SET message = excluded.message, inserted_at = excluded.inserted_at";
const DELETE_PENDING: &str = "DELETE FROM wa_pending_inbound_messages
    WHERE tenant = ?1 AND chat = ?2 AND sender = ?3 AND id = ?4";
/// Newer-wins in one statement: the stored pair is replaced only when it is a
/// byte-less placeholder or the incoming token is at least as new; the sender
/// bucket is never touched. (`length` rather than a comparison with `x''`:
/// a blob never equals a text, so it holds whichever storage class an
/// imported empty token has.)
const STORE_RECEIVED_TC: &str = "INSERT INTO wa_tc_tokens
    (tenant, jid, token, token_timestamp, sender_timestamp, updated_at)
    VALUES (?1, ?2, ?3, ?4, NULL, ?5)
    ON CONFLICT (tenant, jid) DO UPDATE SET token = excluded.token,
        token_timestamp = excluded.token_timestamp, updated_at = excluded.updated_at
    WHERE length(wa_tc_tokens.token) = 0
        OR excluded.token_timestamp >= wa_tc_tokens.token_timestamp";
/// Advance-only sender bucket, inserting a byte-less placeholder when the
/// contact has no row yet. SQLite's two-argument `max` is NULL when either
/// side is, hence the COALESCE (PostgreSQL's GREATEST ignores NULL).
const TOUCH_TC_SENDER: &str = "INSERT INTO wa_tc_tokens
    (tenant, jid, token, token_timestamp, sender_timestamp, updated_at)
    VALUES (?1, ?2, x'', ?3, ?3, ?4)
    ON CONFLICT (tenant, jid) DO UPDATE SET
        sender_timestamp = max(COALESCE(wa_tc_tokens.sender_timestamp, excluded.sender_timestamp),
            excluded.sender_timestamp),
        updated_at = excluded.updated_at";
const PUT_TC_TOKEN: &str = "INSERT INTO wa_tc_tokens
    (tenant, jid, token, token_timestamp, sender_timestamp, updated_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6)
    ON CONFLICT (tenant, jid) DO UPDATE SET token = excluded.token,
        token_timestamp = excluded.token_timestamp,
        sender_timestamp = excluded.sender_timestamp, updated_at = excluded.updated_at";
/// A re-send of the same id replaces the payload and restarts its age.
const STORE_SENT: &str = "INSERT INTO wa_sent_messages (tenant, chat_jid, message_id, payload, created_at)
    VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (tenant, chat_jid, message_id) DO UPDATE
        SET payload = excluded.payload, created_at = excluded.created_at";

/// Every row `sql` returns, mapped by `f`.
fn all<T, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> SqlResult<Vec<T>> {
    Ok(conn.prepare_cached(sql)?.query_map(params, f)?.collect::<rusqlite::Result<_>>()?)
}

/// The row `sql` returns, if any, mapped by `f`.
pub(super) fn one<T, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> SqlResult<Option<T>> {
    Ok(conn.prepare_cached(sql)?.query_row(params, f).optional()?)
}

fn lid_entry(r: &Row<'_>) -> rusqlite::Result<LidPnMappingEntry> {
    Ok(LidPnMappingEntry {
        lid: r.get(0)?,
        phone_number: r.get(1)?,
        created_at: r.get(2)?,
        learning_source: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

/// A device-list row as [`device_record`] takes it.
type DeviceListRow = (String, String, i64, Option<String>, Option<i64>);

impl SqliteSessionStore {
    /// Runs the tenant-scoped write `sql` (`?1` = tenant) with `params` after
    /// it, in a transaction of its own; returns the rows it changed.
    /// (`Value`s: the closure must own its parameters.)
    pub(super) async fn exec_values(
        &self,
        sql: &'static str,
        params: Vec<rusqlite::types::Value>,
    ) -> Result<u64> {
        self.write(move |tx, tenant| {
            let mut all = Vec::with_capacity(params.len() + 1);
            all.push(rusqlite::types::Value::Text(tenant.to_owned()));
            all.extend(params);
            exec(tx, sql, rusqlite::params_from_iter(all))
        })
        .await
    }
}

/// An owned text parameter.
fn text(s: &str) -> rusqlite::types::Value {
    rusqlite::types::Value::Text(s.to_owned())
}

/// An owned blob parameter.
fn blob(b: &[u8]) -> rusqlite::types::Value {
    rusqlite::types::Value::Blob(b.to_vec())
}

/// An integer parameter.
pub(super) fn int(v: i64) -> rusqlite::types::Value {
    rusqlite::types::Value::Integer(v)
}

#[async_trait]
impl ProtocolStore for SqliteSessionStore {
    async fn get_sender_key_devices(&self, group_jid: &str) -> Result<Vec<(String, bool)>> {
        let group = group_jid.to_owned();
        self.read(move |conn, tenant| {
            let sql = "SELECT device_jid, has_key FROM wa_sender_key_devices
                WHERE tenant = ?1 AND group_jid = ?2";
            all(conn, sql, params![tenant, group], |r| Ok((r.get(0)?, r.get(1)?)))
        })
        .await
    }

    async fn set_sender_key_status(&self, group_jid: &str, entries: &[(&str, bool)]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let group = group_jid.to_owned();
        let entries: Vec<(String, bool)> = entries.iter().map(|(d, h)| ((*d).to_owned(), *h)).collect();
        let now = now_secs();
        self.write(move |tx, tenant| {
            for (device, has_key) in &entries {
                exec(tx, SET_SENDER_KEY_STATUS, params![tenant, group, device, has_key, now])?;
            }
            Ok(())
        })
        .await
    }

    async fn clear_sender_key_devices(&self, group_jid: &str) -> Result<()> {
        let sql = "DELETE FROM wa_sender_key_devices WHERE tenant = ?1 AND group_jid = ?2";
        self.exec_values(sql, vec![text(group_jid)]).await?;
        Ok(())
    }

    async fn delete_sender_key_device_rows(&self, device_jids: &[&str]) -> Result<()> {
        if device_jids.is_empty() {
            return Ok(());
        }
        let devices: Vec<String> = device_jids.iter().map(|d| (*d).to_owned()).collect();
        self.write(move |tx, tenant| {
            let sql = "DELETE FROM wa_sender_key_devices WHERE tenant = ?1 AND device_jid = ?2";
            for device in &devices {
                exec(tx, sql, params![tenant, device])?;
            }
            Ok(())
        })
        .await
    }

    async fn clear_all_sender_key_devices(&self) -> Result<()> {
        self.exec_values("DELETE FROM wa_sender_key_devices WHERE tenant = ?1", Vec::new()).await?;
        Ok(())
    }

    async fn get_lid_mapping(&self, lid: &str) -> Result<Option<LidPnMappingEntry>> {
        let lid = lid.to_owned();
        self.read(move |conn, tenant| {
            let sql = format!("SELECT {LID_COLUMNS} FROM wa_lid_pn_mapping WHERE tenant = ?1 AND lid = ?2");
            one(conn, &sql, params![tenant, lid], lid_entry)
        })
        .await
    }

    /// The most recently updated LID of `phone`.
    async fn get_pn_mapping(&self, phone: &str) -> Result<Option<LidPnMappingEntry>> {
        let phone = phone.to_owned();
        self.read(move |conn, tenant| {
            let sql = format!(
                "SELECT {LID_COLUMNS} FROM wa_lid_pn_mapping WHERE tenant = ?1 AND phone_number = ?2
                 ORDER BY updated_at DESC LIMIT 1"
            );
            one(conn, &sql, params![tenant, phone], lid_entry)
        })
        .await
    }

    async fn put_lid_mapping(&self, entry: &LidPnMappingEntry) -> Result<()> {
        self.put_lid_mappings(std::slice::from_ref(entry)).await
    }

    async fn put_lid_mappings(&self, entries: &[LidPnMappingEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let entries = entries.to_vec();
        self.write(move |tx, tenant| {
            for e in &entries {
                let p = params![tenant, e.lid, e.phone_number, e.created_at, e.learning_source, e.updated_at];
                exec(tx, PUT_LID_MAPPING, p)?;
            }
            Ok(())
        })
        .await
    }

    async fn get_all_lid_mappings(&self) -> Result<Vec<LidPnMappingEntry>> {
        self.read(move |conn, tenant| {
            let sql = format!("SELECT {LID_COLUMNS} FROM wa_lid_pn_mapping WHERE tenant = ?1");
            all(conn, &sql, [tenant], lid_entry)
        })
        .await
    }

    async fn save_base_key(&self, address: &str, message_id: &str, base_key: &[u8]) -> Result<()> {
        let sql = "INSERT INTO wa_base_keys (tenant, address, message_id, base_key, created_at)
            VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (tenant, address, message_id) DO UPDATE SET base_key = excluded.base_key";
        self.exec_values(sql, vec![text(address), text(message_id), blob(base_key), int(now_secs())]).await?;
        Ok(())
    }

    async fn has_same_base_key(
        &self,
        address: &str,
        message_id: &str,
        current_base_key: &[u8],
    ) -> Result<bool> {
        let (address, message_id, key) =
            (address.to_owned(), message_id.to_owned(), current_base_key.to_vec());
        self.read(move |conn, tenant| {
            let sql = "SELECT 1 FROM wa_base_keys
                WHERE tenant = ?1 AND address = ?2 AND message_id = ?3 AND base_key = ?4";
            exists(conn, sql, params![tenant, address, message_id, key])
        })
        .await
    }

    async fn delete_base_key(&self, address: &str, message_id: &str) -> Result<()> {
        let sql = "DELETE FROM wa_base_keys WHERE tenant = ?1 AND address = ?2 AND message_id = ?3";
        self.exec_values(sql, vec![text(address), text(message_id)]).await?;
        Ok(())
    }

    async fn update_device_list(&self, record: DeviceListRecord) -> Result<()> {
        self.update_device_lists(vec![record]).await
    }

    async fn update_device_lists(&self, records: Vec<DeviceListRecord>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let rows = records
            .into_iter()
            .map(|r| Ok((r.user, devices_json(&r.devices)?, r.timestamp, r.phash, r.raw_id.map(i64::from))))
            .collect::<Result<Vec<DeviceListRow>>>()?;
        let now = now_secs();
        self.write(move |tx, tenant| {
            for (user, json, timestamp, phash, raw_id) in &rows {
                exec(tx, UPDATE_DEVICE_LIST, params![tenant, user, json, timestamp, phash, raw_id, now])?;
            }
            Ok(())
        })
        .await
    }

    async fn get_devices(&self, user: &str) -> Result<Option<DeviceListRecord>> {
        let user = user.to_owned();
        let row: Option<DeviceListRow> = self
            .read(move |conn, tenant| {
                let sql = format!(
                    "SELECT {DEVICE_LIST_COLUMNS} FROM wa_device_registry WHERE tenant = ?1 AND user_id = ?2"
                );
                one(conn, &sql, params![tenant, user], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
            })
            .await?;
        row.map(|(user, json, timestamp, phash, raw_id)| device_record(user, &json, timestamp, phash, raw_id))
            .transpose()
    }

    async fn delete_devices(&self, user: &str) -> Result<()> {
        let sql = "DELETE FROM wa_device_registry WHERE tenant = ?1 AND user_id = ?2";
        self.exec_values(sql, vec![text(user)]).await?;
        Ok(())
    }

    async fn get_group_metadata(&self, group_jid: &str) -> Result<Option<Vec<u8>>> {
        let group = group_jid.to_owned();
        self.read(move |conn, tenant| {
            let sql = "SELECT info FROM wa_group_metadata WHERE tenant = ?1 AND group_jid = ?2";
            one(conn, sql, params![tenant, group], |r| r.get(0))
        })
        .await
    }

    async fn put_group_metadata(&self, group_jid: &str, blob_data: &[u8]) -> Result<()> {
        let sql = "INSERT INTO wa_group_metadata (tenant, group_jid, info, updated_at)
            VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT (tenant, group_jid) DO UPDATE
                SET info = excluded.info, updated_at = excluded.updated_at";
        self.exec_values(sql, vec![text(group_jid), blob(blob_data), int(now_secs())]).await?;
        Ok(())
    }

    async fn delete_group_metadata(&self, group_jid: &str) -> Result<()> {
        let sql = "DELETE FROM wa_group_metadata WHERE tenant = ?1 AND group_jid = ?2";
        self.exec_values(sql, vec![text(group_jid)]).await?;
        Ok(())
    }

    async fn get_tc_token(&self, jid: &str) -> Result<Option<TcTokenEntry>> {
        let jid = jid.to_owned();
        self.read(move |conn, tenant| {
            let sql = "SELECT token, token_timestamp, sender_timestamp FROM wa_tc_tokens
                WHERE tenant = ?1 AND jid = ?2";
            one(conn, sql, params![tenant, jid], |r| {
                Ok(TcTokenEntry { token: r.get(0)?, token_timestamp: r.get(1)?, sender_timestamp: r.get(2)? })
            })
        })
        .await
    }

    async fn put_tc_token(&self, jid: &str, entry: &TcTokenEntry) -> Result<()> {
        let sender = entry.sender_timestamp.map_or(rusqlite::types::Value::Null, int);
        let params = vec![text(jid), blob(&entry.token), int(entry.token_timestamp), sender, int(now_secs())];
        self.exec_values(PUT_TC_TOKEN, params).await?;
        Ok(())
    }

    async fn delete_tc_token(&self, jid: &str) -> Result<()> {
        self.exec_values("DELETE FROM wa_tc_tokens WHERE tenant = ?1 AND jid = ?2", vec![text(jid)]).await?;
        Ok(())
    }

    async fn get_all_tc_token_jids(&self) -> Result<Vec<String>> {
        self.read(move |conn, tenant| {
            all(conn, "SELECT jid FROM wa_tc_tokens WHERE tenant = ?1", [tenant], |r| r.get(0))
        })
        .await
    }

    /// Removes a row only when both its received token and its sender bucket
    /// are expired or absent.
    async fn delete_expired_tc_tokens(&self, token_cutoff: i64, sender_cutoff: i64) -> Result<u32> {
        let sql = "DELETE FROM wa_tc_tokens WHERE tenant = ?1
            AND (length(token) = 0 OR token_timestamp < ?2)
            AND (sender_timestamp IS NULL OR sender_timestamp < ?3)";
        Ok(count_u32(self.exec_values(sql, vec![int(token_cutoff), int(sender_cutoff)]).await?))
    }

    async fn touch_tc_token_sender_timestamp(&self, jid: &str, sender_timestamp: i64) -> Result<()> {
        self.exec_values(TOUCH_TC_SENDER, vec![text(jid), int(sender_timestamp), int(now_secs())]).await?;
        Ok(())
    }

    async fn store_received_tc_token(&self, jid: &str, token: &[u8], token_timestamp: i64) -> Result<()> {
        let params = vec![text(jid), blob(token), int(token_timestamp), int(now_secs())];
        self.exec_values(STORE_RECEIVED_TC, params).await?;
        Ok(())
    }

    async fn store_sent_message(&self, chat_jid: &str, message_id: &str, payload: &[u8]) -> Result<()> {
        self.exec_values(STORE_SENT, vec![text(chat_jid), text(message_id), blob(payload), int(now_secs())])
            .await?;
        Ok(())
    }

    /// One DELETE .. RETURNING inside the write transaction: two concurrent
    /// retry receipts cannot both get it.
    async fn take_sent_message(&self, chat_jid: &str, message_id: &str) -> Result<Option<Vec<u8>>> {
        let (chat, id) = (chat_jid.to_owned(), message_id.to_owned());
        self.write(move |tx, tenant| {
            let sql = "DELETE FROM wa_sent_messages
                WHERE tenant = ?1 AND chat_jid = ?2 AND message_id = ?3 RETURNING payload";
            one(tx, sql, params![tenant, chat, id], |r| r.get(0))
        })
        .await
    }

    async fn delete_expired_sent_messages(&self, cutoff_timestamp: i64) -> Result<u32> {
        let sql = "DELETE FROM wa_sent_messages WHERE tenant = ?1 AND created_at < ?2";
        Ok(count_u32(self.exec_values(sql, vec![int(cutoff_timestamp)]).await?))
    }

    async fn store_pending_inbound(&self, chat: &str, sender: &str, id: &str, message: &[u8]) -> Result<()> {
        let row = PendingInboundRow { chat, sender, id, message };
        self.store_pending_inbound_batch(&[row]).await
    }

    async fn get_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<Option<Vec<u8>>> {
        let (chat, sender, id) = (chat.to_owned(), sender.to_owned(), id.to_owned());
        self.read(move |conn, tenant| {
            let sql = "SELECT message FROM wa_pending_inbound_messages
                WHERE tenant = ?1 AND chat = ?2 AND sender = ?3 AND id = ?4";
            one(conn, sql, params![tenant, chat, sender, id], |r| r.get(0))
        })
        .await
    }

    async fn delete_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<()> {
        let key = PendingInboundKey { chat, sender, id };
        self.delete_pending_inbound_batch(&[key]).await
    }

    async fn delete_expired_pending_inbound(&self, cutoff_timestamp: i64) -> Result<u32> {
        let sql = "DELETE FROM wa_pending_inbound_messages WHERE tenant = ?1 AND inserted_at < ?2";
        Ok(count_u32(self.exec_values(sql, vec![int(cutoff_timestamp)]).await?))
    }

    async fn store_pending_inbound_batch(&self, rows: &[PendingInboundRow<'_>]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let rows: Vec<[rusqlite::types::Value; 4]> =
            rows.iter().map(|r| [text(r.chat), text(r.sender), text(r.id), blob(r.message)]).collect();
        let now = now_secs();
        self.write(move |tx, tenant| {
            for [chat, sender, id, message] in &rows {
                exec(tx, STORE_PENDING, params![tenant, chat, sender, id, message, now])?;
            }
            Ok(())
        })
        .await
    }

    async fn delete_pending_inbound_batch(&self, keys: &[PendingInboundKey<'_>]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let keys: Vec<[String; 3]> =
            keys.iter().map(|k| [k.chat.to_owned(), k.sender.to_owned(), k.id.to_owned()]).collect();
        self.write(move |tx, tenant| {
            for [chat, sender, id] in &keys {
                exec(tx, DELETE_PENDING, params![tenant, chat, sender, id])?;
            }
            Ok(())
        })
        .await
    }
}
