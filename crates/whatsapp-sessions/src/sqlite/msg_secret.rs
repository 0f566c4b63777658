//! [`MsgSecretStore`] on the shared SQLite file: per-message secrets for
//! add-on decryption (poll votes, reactions, edits, bot replies).

use async_trait::async_trait;
use rusqlite::params;
use wacore::store::error::Result;
use wacore::store::traits::{MsgSecretEntry, MsgSecretStore};
use wacore::time::now_secs;

use super::protocol::{int, one};
use crate::codec::count_u32;
use crate::protocol_codec::distinct_secret_keys;
use crate::sqlite::store::{exec, SqliteSessionStore};

/// One upsert per row, all in one write transaction. The conflict applies
/// the merge of the PostgreSQL backend (the latest secret; expiry "0 = never"
/// wins, else the later deadline; the later parent time), so rows repeating
/// a key inside a batch end as PostgreSQL's folded batch does.
const PUT_SECRET: &str = "INSERT INTO wa_msg_secrets
    (tenant, chat, sender, msg_id, secret, created_at, expires_at, message_ts)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
    ON CONFLICT (tenant, chat, sender, msg_id) DO UPDATE SET
        secret = excluded.secret,
        created_at = excluded.created_at,
        expires_at = CASE WHEN wa_msg_secrets.expires_at = 0 OR excluded.expires_at = 0 THEN 0
            ELSE max(wa_msg_secrets.expires_at, excluded.expires_at) END,
        message_ts = max(wa_msg_secrets.message_ts, excluded.message_ts)";

#[async_trait]
impl MsgSecretStore for SqliteSessionStore {
    /// Reports one row per distinct key, as the PostgreSQL backend does.
    async fn put_msg_secrets(&self, entries: Vec<MsgSecretEntry>) -> Result<usize> {
        if entries.is_empty() {
            return Ok(0);
        }
        let stored = distinct_secret_keys(&entries);
        let now = now_secs();
        self.write(move |tx, tenant| {
            for e in &entries {
                let (chat, sender, id, secret) = (&*e.chat, &*e.sender, &*e.msg_id, &e.secret[..]);
                exec(
                    tx,
                    PUT_SECRET,
                    params![tenant, chat, sender, id, secret, now, e.expires_at, e.message_ts],
                )?;
            }
            Ok(())
        })
        .await?;
        Ok(stored)
    }

    async fn get_msg_secret(&self, chat: &str, sender: &str, msg_id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get_msg_secret_with_ts(chat, sender, msg_id).await?.map(|(secret, _)| secret))
    }

    async fn get_msg_secret_with_ts(
        &self,
        chat: &str,
        sender: &str,
        msg_id: &str,
    ) -> Result<Option<(Vec<u8>, i64)>> {
        let (chat, sender, id) = (chat.to_owned(), sender.to_owned(), msg_id.to_owned());
        self.read(move |conn, tenant| {
            let sql = "SELECT secret, message_ts FROM wa_msg_secrets
                WHERE tenant = ?1 AND chat = ?2 AND sender = ?3 AND msg_id = ?4";
            one(conn, sql, params![tenant, chat, sender, id], |r| Ok((r.get(0)?, r.get(1)?)))
        })
        .await
    }

    /// Deadlines at or before the cutoff go; `0` (never) stays.
    async fn delete_expired_msg_secrets(&self, cutoff_timestamp: i64) -> Result<u32> {
        let sql = "DELETE FROM wa_msg_secrets
            WHERE tenant = ?1 AND expires_at <> 0 AND expires_at <= ?2";
        Ok(count_u32(self.exec_values(sql, vec![int(cutoff_timestamp)]).await?))
    }
}
