//! [`ProtocolStore`]: sender-key distribution marks, LID mappings, base keys,
//! device lists, group metadata, tc tokens, sent messages and the
//! pending-inbound buffer.
//!
//! Batches are single statements that keep a repeated key's last occurrence
//! (see the signal module). Timestamps this store stamps itself (`updated_at`,
//! `created_at`, `inserted_at`) are the client's clock, as the expiry sweeps'
//! cutoffs are.

use async_trait::async_trait;
use wacore::store::error::Result;
use wacore::store::traits::{
    DeviceListRecord, LidPnMappingEntry, PendingInboundKey, PendingInboundRow, ProtocolStore, TcTokenEntry,
};
use wacore::time::now_secs;

use crate::codec::count_u32;
use crate::protocol_codec::{self, devices_json, DEVICE_LIST_COLUMNS, LID_COLUMNS};
use crate::store::PgSessionStore;

const SET_SENDER_KEY_STATUS: &str = "INSERT INTO wa_sender_key_devices
    (tenant, group_jid, device_jid, has_key, updated_at)
    SELECT DISTINCT ON (d) $1, $2, d, h, $5
    FROM UNNEST($3::text[], $4::bool[]) WITH ORDINALITY AS b(d, h, n)
    ORDER BY d, n DESC
    ON CONFLICT (tenant, group_jid, device_jid) DO UPDATE
        SET has_key = EXCLUDED.has_key, updated_at = EXCLUDED.updated_at";
const PUT_LID_MAPPINGS: &str = "INSERT INTO wa_lid_pn_mapping
    (tenant, lid, phone_number, created_at, learning_source, updated_at)
    SELECT DISTINCT ON (l) $1, l, p, c, s, u
    FROM UNNEST($2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[])
        WITH ORDINALITY AS b(l, p, c, s, u, n)
    ORDER BY l, n DESC
    ON CONFLICT (tenant, lid) DO UPDATE SET phone_number = EXCLUDED.phone_number,
        learning_source = EXCLUDED.learning_source, updated_at = EXCLUDED.updated_at";
const UPDATE_DEVICE_LISTS: &str = "INSERT INTO wa_device_registry
    (tenant, user_id, devices_json, timestamp, phash, raw_id, updated_at)
    SELECT DISTINCT ON (u) $1, u, j, t, p, r, $7
    FROM UNNEST($2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[])
        WITH ORDINALITY AS b(u, j, t, p, r, n)
    ORDER BY u, n DESC
    ON CONFLICT (tenant, user_id) DO UPDATE SET devices_json = EXCLUDED.devices_json,
        timestamp = EXCLUDED.timestamp, phash = EXCLUDED.phash,
        raw_id = EXCLUDED.raw_id, updated_at = EXCLUDED.updated_at";
const STORE_PENDING: &str = "INSERT INTO wa_pending_inbound_messages
    (tenant, chat, sender, id, message, inserted_at)
    SELECT DISTINCT ON (c, s, i) $1, c, s, i, m, $6
    FROM UNNEST($2::text[], $3::text[], $4::text[], $5::bytea[]) WITH ORDINALITY AS b(c, s, i, m, n)
    ORDER BY c, s, i, n DESC
    ON CONFLICT (tenant, chat, sender, id) DO UPDATE
        SET message = EXCLUDED.message, inserted_at = EXCLUDED.inserted_at";
const DELETE_PENDING: &str = "DELETE FROM wa_pending_inbound_messages AS p
    USING UNNEST($2::text[], $3::text[], $4::text[]) AS k(c, s, i)
    WHERE p.tenant = $1 AND p.chat = k.c AND p.sender = k.s AND p.id = k.i";
/// Newer-wins in one statement: the stored pair is replaced only when it is a
/// byte-less placeholder or the incoming token is at least as new; the
/// sender bucket is never touched.
const STORE_RECEIVED_TC: &str = "INSERT INTO wa_tc_tokens
    (tenant, jid, token, token_timestamp, sender_timestamp, updated_at)
    VALUES ($1, $2, $3, $4, NULL, $5)
    ON CONFLICT (tenant, jid) DO UPDATE SET token = EXCLUDED.token,
        token_timestamp = EXCLUDED.token_timestamp, updated_at = EXCLUDED.updated_at
    WHERE wa_tc_tokens.token = ''::bytea
        OR EXCLUDED.token_timestamp >= wa_tc_tokens.token_timestamp";
/// Advance-only sender bucket (GREATEST ignores NULL), inserting a byte-less
/// placeholder when the contact has no row yet.
const TOUCH_TC_SENDER: &str = "INSERT INTO wa_tc_tokens
    (tenant, jid, token, token_timestamp, sender_timestamp, updated_at)
    VALUES ($1, $2, ''::bytea, $3, $3, $4)
    ON CONFLICT (tenant, jid) DO UPDATE SET
        sender_timestamp = GREATEST(wa_tc_tokens.sender_timestamp, EXCLUDED.sender_timestamp),
        updated_at = EXCLUDED.updated_at";

fn lid_entry(r: &tokio_postgres::Row) -> LidPnMappingEntry {
    LidPnMappingEntry {
        lid: r.get(0),
        phone_number: r.get(1),
        created_at: r.get(2),
        learning_source: r.get(3),
        updated_at: r.get(4),
    }
}

fn device_record(r: &tokio_postgres::Row) -> Result<DeviceListRecord> {
    protocol_codec::device_record(r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))
}

/// Device lists as the parallel arrays [`UPDATE_DEVICE_LISTS`] binds.
struct DeviceListColumns {
    users: Vec<String>,
    json: Vec<String>,
    timestamps: Vec<i64>,
    phashes: Vec<Option<String>>,
    raw_ids: Vec<Option<i64>>,
}

impl DeviceListColumns {
    fn new(records: Vec<DeviceListRecord>) -> Result<Self> {
        let mut cols = Self {
            users: Vec::with_capacity(records.len()),
            json: Vec::with_capacity(records.len()),
            timestamps: Vec::with_capacity(records.len()),
            phashes: Vec::with_capacity(records.len()),
            raw_ids: Vec::with_capacity(records.len()),
        };
        for r in records {
            cols.json.push(devices_json(&r.devices)?);
            cols.users.push(r.user);
            cols.timestamps.push(r.timestamp);
            cols.phashes.push(r.phash);
            cols.raw_ids.push(r.raw_id.map(i64::from));
        }
        Ok(cols)
    }
}

#[async_trait]
impl ProtocolStore for PgSessionStore {
    async fn get_sender_key_devices(&self, group_jid: &str) -> Result<Vec<(String, bool)>> {
        let sql = "SELECT device_jid, has_key FROM wa_sender_key_devices
            WHERE tenant = $1 AND group_jid = $2";
        let rows = self.rows(sql, &[&group_jid]).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn set_sender_key_status(&self, group_jid: &str, entries: &[(&str, bool)]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let (jids, has): (Vec<&str>, Vec<bool>) = entries.iter().copied().unzip();
        let now = now_secs();
        self.exec(SET_SENDER_KEY_STATUS, &[&group_jid, &jids, &has, &now]).await?;
        Ok(())
    }

    async fn clear_sender_key_devices(&self, group_jid: &str) -> Result<()> {
        let sql = "DELETE FROM wa_sender_key_devices WHERE tenant = $1 AND group_jid = $2";
        self.exec(sql, &[&group_jid]).await?;
        Ok(())
    }

    async fn delete_sender_key_device_rows(&self, device_jids: &[&str]) -> Result<()> {
        if device_jids.is_empty() {
            return Ok(());
        }
        let sql = "DELETE FROM wa_sender_key_devices WHERE tenant = $1 AND device_jid = ANY($2)";
        self.exec(sql, &[&device_jids]).await?;
        Ok(())
    }

    async fn clear_all_sender_key_devices(&self) -> Result<()> {
        self.exec("DELETE FROM wa_sender_key_devices WHERE tenant = $1", &[]).await?;
        Ok(())
    }

    async fn get_lid_mapping(&self, lid: &str) -> Result<Option<LidPnMappingEntry>> {
        let sql = format!("SELECT {LID_COLUMNS} FROM wa_lid_pn_mapping WHERE tenant = $1 AND lid = $2");
        Ok(self.row(&sql, &[&lid]).await?.as_ref().map(lid_entry))
    }

    /// The most recently updated LID of `phone`.
    async fn get_pn_mapping(&self, phone: &str) -> Result<Option<LidPnMappingEntry>> {
        let sql = format!(
            "SELECT {LID_COLUMNS} FROM wa_lid_pn_mapping WHERE tenant = $1 AND phone_number = $2
             ORDER BY updated_at DESC LIMIT 1"
        );
        Ok(self.row(&sql, &[&phone]).await?.as_ref().map(lid_entry))
    }

    async fn put_lid_mapping(&self, entry: &LidPnMappingEntry) -> Result<()> {
        self.put_lid_mappings(std::slice::from_ref(entry)).await
    }

    /// `created_at` is kept from the first time a LID was learnt.
    async fn put_lid_mappings(&self, entries: &[LidPnMappingEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let lids: Vec<&str> = entries.iter().map(|e| e.lid.as_str()).collect();
        let pns: Vec<&str> = entries.iter().map(|e| e.phone_number.as_str()).collect();
        let created: Vec<i64> = entries.iter().map(|e| e.created_at).collect();
        let sources: Vec<&str> = entries.iter().map(|e| e.learning_source.as_str()).collect();
        let updated: Vec<i64> = entries.iter().map(|e| e.updated_at).collect();
        self.exec(PUT_LID_MAPPINGS, &[&lids, &pns, &created, &sources, &updated]).await?;
        Ok(())
    }

    async fn get_all_lid_mappings(&self) -> Result<Vec<LidPnMappingEntry>> {
        let sql = format!("SELECT {LID_COLUMNS} FROM wa_lid_pn_mapping WHERE tenant = $1");
        Ok(self.rows(&sql, &[]).await?.iter().map(lid_entry).collect())
    }

    async fn save_base_key(&self, address: &str, message_id: &str, base_key: &[u8]) -> Result<()> {
        let sql = "INSERT INTO wa_base_keys (tenant, address, message_id, base_key, created_at)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (tenant, address, message_id) DO UPDATE SET base_key = EXCLUDED.base_key";
        self.exec(sql, &[&address, &message_id, &base_key, &now_secs()]).await?;
        Ok(())
    }

    async fn has_same_base_key(
        &self,
        address: &str,
        message_id: &str,
        current_base_key: &[u8],
    ) -> Result<bool> {
        let sql = "SELECT EXISTS (SELECT 1 FROM wa_base_keys
            WHERE tenant = $1 AND address = $2 AND message_id = $3 AND base_key = $4)";
        self.scalar(sql, &[&address, &message_id, &current_base_key]).await
    }

    async fn delete_base_key(&self, address: &str, message_id: &str) -> Result<()> {
        let sql = "DELETE FROM wa_base_keys WHERE tenant = $1 AND address = $2 AND message_id = $3";
        self.exec(sql, &[&address, &message_id]).await?;
        Ok(())
    }

    async fn update_device_list(&self, record: DeviceListRecord) -> Result<()> {
        self.update_device_lists(vec![record]).await
    }

    async fn update_device_lists(&self, records: Vec<DeviceListRecord>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let c = DeviceListColumns::new(records)?;
        let now = now_secs();
        let params: [crate::store::Param<'_>; 6] =
            [&c.users, &c.json, &c.timestamps, &c.phashes, &c.raw_ids, &now];
        self.exec(UPDATE_DEVICE_LISTS, &params).await?;
        Ok(())
    }

    async fn get_devices(&self, user: &str) -> Result<Option<DeviceListRecord>> {
        let sql = format!(
            "SELECT {DEVICE_LIST_COLUMNS} FROM wa_device_registry WHERE tenant = $1 AND user_id = $2"
        );
        self.row(&sql, &[&user]).await?.as_ref().map(device_record).transpose()
    }

    async fn delete_devices(&self, user: &str) -> Result<()> {
        let sql = "DELETE FROM wa_device_registry WHERE tenant = $1 AND user_id = $2";
        self.exec(sql, &[&user]).await?;
        Ok(())
    }

    async fn get_group_metadata(&self, group_jid: &str) -> Result<Option<Vec<u8>>> {
        let sql = "SELECT info FROM wa_group_metadata WHERE tenant = $1 AND group_jid = $2";
        Ok(self.row(sql, &[&group_jid]).await?.map(|r| r.get(0)))
    }

    async fn put_group_metadata(&self, group_jid: &str, blob: &[u8]) -> Result<()> {
        let sql = "INSERT INTO wa_group_metadata (tenant, group_jid, info, updated_at)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (tenant, group_jid) DO UPDATE
                SET info = EXCLUDED.info, updated_at = EXCLUDED.updated_at";
        self.exec(sql, &[&group_jid, &blob, &now_secs()]).await?;
        Ok(())
    }

    async fn delete_group_metadata(&self, group_jid: &str) -> Result<()> {
        let sql = "DELETE FROM wa_group_metadata WHERE tenant = $1 AND group_jid = $2";
        self.exec(sql, &[&group_jid]).await?;
        Ok(())
    }

    async fn get_tc_token(&self, jid: &str) -> Result<Option<TcTokenEntry>> {
        let sql = "SELECT token, token_timestamp, sender_timestamp FROM wa_tc_tokens
            WHERE tenant = $1 AND jid = $2";
        Ok(self.row(sql, &[&jid]).await?.map(|r| TcTokenEntry {
            token: r.get(0),
            token_timestamp: r.get(1),
            sender_timestamp: r.get(2),
        }))
    }

    async fn put_tc_token(&self, jid: &str, entry: &TcTokenEntry) -> Result<()> {
        let sql = "INSERT INTO wa_tc_tokens
            (tenant, jid, token, token_timestamp, sender_timestamp, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (tenant, jid) DO UPDATE SET token = EXCLUDED.token,
                token_timestamp = EXCLUDED.token_timestamp,
                sender_timestamp = EXCLUDED.sender_timestamp, updated_at = EXCLUDED.updated_at";
        let params: [crate::store::Param<'_>; 5] =
            [&jid, &entry.token, &entry.token_timestamp, &entry.sender_timestamp, &now_secs()];
        self.exec(sql, &params).await?;
        Ok(())
    }

    async fn delete_tc_token(&self, jid: &str) -> Result<()> {
        let sql = "DELETE FROM wa_tc_tokens WHERE tenant = $1 AND jid = $2";
        self.exec(sql, &[&jid]).await?;
        Ok(())
    }

    async fn get_all_tc_token_jids(&self) -> Result<Vec<String>> {
        let sql = "SELECT jid FROM wa_tc_tokens WHERE tenant = $1";
        Ok(self.rows(sql, &[]).await?.iter().map(|r| r.get(0)).collect())
    }

    /// Removes a row only when both its received token and its sender bucket
    /// are expired or absent.
    async fn delete_expired_tc_tokens(&self, token_cutoff: i64, sender_cutoff: i64) -> Result<u32> {
        let sql = "DELETE FROM wa_tc_tokens WHERE tenant = $1
            AND (token = ''::bytea OR token_timestamp < $2)
            AND (sender_timestamp IS NULL OR sender_timestamp < $3)";
        Ok(count_u32(self.exec(sql, &[&token_cutoff, &sender_cutoff]).await?))
    }

    async fn touch_tc_token_sender_timestamp(&self, jid: &str, sender_timestamp: i64) -> Result<()> {
        self.exec(TOUCH_TC_SENDER, &[&jid, &sender_timestamp, &now_secs()]).await?;
        Ok(())
    }

    async fn store_received_tc_token(&self, jid: &str, token: &[u8], token_timestamp: i64) -> Result<()> {
        self.exec(STORE_RECEIVED_TC, &[&jid, &token, &token_timestamp, &now_secs()]).await?;
        Ok(())
    }

    /// A re-send of the same id replaces the payload and restarts its age.
    async fn store_sent_message(&self, chat_jid: &str, message_id: &str, payload: &[u8]) -> Result<()> {
        let sql = "INSERT INTO wa_sent_messages (tenant, chat_jid, message_id, payload, created_at)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (tenant, chat_jid, message_id) DO UPDATE
                SET payload = EXCLUDED.payload, created_at = EXCLUDED.created_at";
        self.exec(sql, &[&chat_jid, &message_id, &payload, &now_secs()]).await?;
        Ok(())
    }

    /// One DELETE .. RETURNING: two concurrent retry receipts cannot both get it.
    async fn take_sent_message(&self, chat_jid: &str, message_id: &str) -> Result<Option<Vec<u8>>> {
        let sql = "DELETE FROM wa_sent_messages
            WHERE tenant = $1 AND chat_jid = $2 AND message_id = $3 RETURNING payload";
        Ok(self.write_returning(sql, &[&chat_jid, &message_id]).await?.map(|r| r.get(0)))
    }

    async fn delete_expired_sent_messages(&self, cutoff_timestamp: i64) -> Result<u32> {
        let sql = "DELETE FROM wa_sent_messages WHERE tenant = $1 AND created_at < $2";
        Ok(count_u32(self.exec(sql, &[&cutoff_timestamp]).await?))
    }

    async fn store_pending_inbound(&self, chat: &str, sender: &str, id: &str, message: &[u8]) -> Result<()> {
        let row = PendingInboundRow { chat, sender, id, message };
        self.store_pending_inbound_batch(&[row]).await
    }

    async fn get_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<Option<Vec<u8>>> {
        let sql = "SELECT message FROM wa_pending_inbound_messages
            WHERE tenant = $1 AND chat = $2 AND sender = $3 AND id = $4";
        Ok(self.row(sql, &[&chat, &sender, &id]).await?.map(|r| r.get(0)))
    }

    async fn delete_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<()> {
        let key = PendingInboundKey { chat, sender, id };
        self.delete_pending_inbound_batch(&[key]).await
    }

    async fn delete_expired_pending_inbound(&self, cutoff_timestamp: i64) -> Result<u32> {
        let sql = "DELETE FROM wa_pending_inbound_messages WHERE tenant = $1 AND inserted_at < $2";
        Ok(count_u32(self.exec(sql, &[&cutoff_timestamp]).await?))
    }

    async fn store_pending_inbound_batch(&self, rows: &[PendingInboundRow<'_>]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let chats: Vec<&str> = rows.iter().map(|r| r.chat).collect();
        let senders: Vec<&str> = rows.iter().map(|r| r.sender).collect();
        let ids: Vec<&str> = rows.iter().map(|r| r.id).collect();
        let messages: Vec<&[u8]> = rows.iter().map(|r| r.message).collect();
        self.exec(STORE_PENDING, &[&chats, &senders, &ids, &messages, &now_secs()]).await?;
        Ok(())
    }

    async fn delete_pending_inbound_batch(&self, keys: &[PendingInboundKey<'_>]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let chats: Vec<&str> = keys.iter().map(|k| k.chat).collect();
        let senders: Vec<&str> = keys.iter().map(|k| k.sender).collect();
        let ids: Vec<&str> = keys.iter().map(|k| k.id).collect();
        self.exec(DELETE_PENDING, &[&chats, &senders, &ids]).await?;
        Ok(())
    }
}
