//! [`MsgSecretStore`]: per-message secrets for add-on decryption (poll votes,
//! reactions, edits, bot replies).

use async_trait::async_trait;
use wacore::store::error::Result;
use wacore::store::traits::{MsgSecretEntry, MsgSecretStore};
use wacore::time::now_secs;

use crate::codec::count_u32;
use crate::store::PgSessionStore;

/// One statement per batch. Rows repeating a key inside the batch are folded
/// first with the same merge the conflict applies (the latest secret; expiry
/// "0 = never" wins, else the later deadline; the later parent time), so the
/// result is what applying the rows one by one gives.
const PUT_SECRETS: &str = "INSERT INTO wa_msg_secrets
    (tenant, chat, sender, msg_id, secret, created_at, expires_at, message_ts)
    SELECT $1, c, s, m, (array_agg(k ORDER BY n DESC))[1], $7,
        CASE WHEN bool_or(e = 0) THEN 0 ELSE max(e) END, max(t)
    FROM UNNEST($2::text[], $3::text[], $4::text[], $5::bytea[], $6::bigint[], $8::bigint[])
        WITH ORDINALITY AS b(c, s, m, k, e, t, n)
    GROUP BY c, s, m
    ORDER BY c, s, m
    ON CONFLICT (tenant, chat, sender, msg_id) DO UPDATE SET
        secret = EXCLUDED.secret,
        created_at = EXCLUDED.created_at,
        expires_at = CASE WHEN wa_msg_secrets.expires_at = 0 OR EXCLUDED.expires_at = 0 THEN 0
            ELSE GREATEST(wa_msg_secrets.expires_at, EXCLUDED.expires_at) END,
        message_ts = GREATEST(wa_msg_secrets.message_ts, EXCLUDED.message_ts)";

#[async_trait]
impl MsgSecretStore for PgSessionStore {
    async fn put_msg_secrets(&self, entries: Vec<MsgSecretEntry>) -> Result<usize> {
        if entries.is_empty() {
            return Ok(0);
        }
        let chats: Vec<&str> = entries.iter().map(|e| &*e.chat).collect();
        let senders: Vec<&str> = entries.iter().map(|e| &*e.sender).collect();
        let ids: Vec<&str> = entries.iter().map(|e| &*e.msg_id).collect();
        let secrets: Vec<&[u8]> = entries.iter().map(|e| &e.secret[..]).collect();
        let expires: Vec<i64> = entries.iter().map(|e| e.expires_at).collect();
        let ts: Vec<i64> = entries.iter().map(|e| e.message_ts).collect();
        let now = now_secs();
        let params: [crate::store::Param<'_>; 7] = [&chats, &senders, &ids, &secrets, &expires, &now, &ts];
        let stored = self.exec(PUT_SECRETS, &params).await?;
        Ok(usize::try_from(stored).unwrap_or(usize::MAX))
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
        let sql = "SELECT secret, message_ts FROM wa_msg_secrets
            WHERE tenant = $1 AND chat = $2 AND sender = $3 AND msg_id = $4";
        let row = self.row(sql, &[&chat, &sender, &msg_id]).await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// Deadlines at or before the cutoff go; `0` (never) stays.
    async fn delete_expired_msg_secrets(&self, cutoff_timestamp: i64) -> Result<u32> {
        let sql = "DELETE FROM wa_msg_secrets
            WHERE tenant = $1 AND expires_at <> 0 AND expires_at <= $2";
        Ok(count_u32(self.exec(sql, &[&cutoff_timestamp]).await?))
    }
}
