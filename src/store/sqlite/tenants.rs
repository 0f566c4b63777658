//! Tenant rows, their Twilio numbers and their WhatsApp state history, on SQLite.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock::now_unix;
use crate::store::tenants::{NewCredentials, StateChange, TenantRow, TenantUpdate, TwilioTenant};

const COLUMNS: &str = "id, name, webhook_url, twilio_auth_token, token_rotated_at, created_at,
    updated_at, wa_state, wa_phone, wa_state_since, wa_reconnects, wa_last_error, wa_banned_until,
    twilio_account_sid, length(signing_key) > 0, signing_key_previous_until";

fn from_row(row: &Row<'_>) -> rusqlite::Result<TenantRow> {
    TenantRow::from_columns(row)
}

pub fn exists(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT 1 FROM tenants WHERE id = ?1", [id], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
}

/// Which tenant owns `number`, if any.
pub fn number_owner(conn: &Connection, number: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT tenant_id FROM tenant_numbers WHERE number = ?1", [number], |r| r.get(0))
        .optional()
}

/// Inserts a tenant with its numbers in one transaction. The caller has
/// checked that the id and numbers are free.
pub fn insert(
    conn: &mut Connection,
    id: &str,
    name: &str,
    credentials: &NewCredentials<'_>,
    update: &TenantUpdate,
) -> rusqlite::Result<()> {
    let now = now_unix();
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO tenants (id, name, webhook_url, twilio_auth_token, token_hash,
            token_rotated_at, created_at, updated_at, wa_state_since, signing_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6, ?6, ?7)",
        params![
            id,
            name,
            update.webhook_url.clone().flatten(),
            update.twilio_auth_token.clone().flatten(),
            credentials.token_hash,
            now,
            credentials.signing_key
        ],
    )?;
    tx.execute(
        "INSERT INTO tenant_state_changes (tenant_id, state, reason, at) VALUES (?1, 'unpaired', 'tenant created', ?2)",
        params![id, now],
    )?;
    if let Some(numbers) = &update.twilio_numbers {
        replace_numbers(&tx, id, numbers)?;
    }
    if let Some(Some(twiml)) = &update.voice_twiml {
        tx.execute("UPDATE tenants SET voice_twiml = ?2 WHERE id = ?1", params![id, twiml])?;
    }
    if let Some(Some(sid)) = &update.twilio_account_sid {
        tx.execute("UPDATE tenants SET twilio_account_sid = ?2 WHERE id = ?1", params![id, sid])?;
    }
    tx.commit()
}

/// Applies `update` to an existing tenant; false when it does not exist.
pub fn update(conn: &mut Connection, id: &str, update: &TenantUpdate) -> rusqlite::Result<bool> {
    let tx = conn.transaction()?;
    if !exists(&tx, id)? {
        return Ok(false);
    }
    if let Some(name) = &update.name {
        tx.execute("UPDATE tenants SET name = ?2 WHERE id = ?1", params![id, name])?;
    }
    if let Some(url) = &update.webhook_url {
        tx.execute("UPDATE tenants SET webhook_url = ?2 WHERE id = ?1", params![id, url])?;
    }
    if let Some(token) = &update.twilio_auth_token {
        tx.execute("UPDATE tenants SET twilio_auth_token = ?2 WHERE id = ?1", params![id, token])?;
    }
    if let Some(sid) = &update.twilio_account_sid {
        tx.execute("UPDATE tenants SET twilio_account_sid = ?2 WHERE id = ?1", params![id, sid])?;
    }
    if let Some(numbers) = &update.twilio_numbers {
        replace_numbers(&tx, id, numbers)?;
    }
    if let Some(twiml) = &update.voice_twiml {
        tx.execute("UPDATE tenants SET voice_twiml = ?2 WHERE id = ?1", params![id, twiml])?;
    }
    tx.execute("UPDATE tenants SET updated_at = ?2 WHERE id = ?1", params![id, now_unix()])?;
    tx.commit()?;
    Ok(true)
}

fn twilio_tenant(row: &Row<'_>) -> rusqlite::Result<TwilioTenant> {
    TwilioTenant::from_columns(row)
}

pub fn twilio_tenant_by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<TwilioTenant>> {
    conn.prepare_cached(
        "SELECT id, twilio_auth_token, voice_twiml, twilio_account_sid FROM tenants WHERE id = ?1",
    )?
    .query_row([id], twilio_tenant)
    .optional()
}

/// The tenant whose registered Twilio number is `number`.
pub fn twilio_tenant_by_number(conn: &Connection, number: &str) -> rusqlite::Result<Option<TwilioTenant>> {
    conn.prepare_cached(
        "SELECT t.id, t.twilio_auth_token, t.voice_twiml, t.twilio_account_sid FROM tenant_numbers n
         JOIN tenants t ON t.id = n.tenant_id WHERE n.number = ?1",
    )?
    .query_row([number], twilio_tenant)
    .optional()
}

fn replace_numbers(conn: &Connection, id: &str, numbers: &[String]) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM tenant_numbers WHERE tenant_id = ?1", [id])?;
    let mut insert = conn.prepare("INSERT INTO tenant_numbers (number, tenant_id) VALUES (?1, ?2)")?;
    for number in numbers {
        insert.execute(params![number, id])?;
    }
    Ok(())
}

pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<TenantRow>> {
    let row =
        conn.query_row(&format!("SELECT {COLUMNS} FROM tenants WHERE id = ?1"), [id], from_row).optional()?;
    match row {
        Some(mut row) => {
            row.twilio_numbers = numbers_of(conn, id)?;
            Ok(Some(row))
        }
        None => Ok(None),
    }
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<TenantRow>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM tenants ORDER BY id"))?;
    let mut rows = stmt.query_map([], from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    for row in &mut rows {
        row.twilio_numbers = numbers_of(conn, &row.id)?;
    }
    Ok(rows)
}

fn numbers_of(conn: &Connection, id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT number FROM tenant_numbers WHERE tenant_id = ?1 ORDER BY number")?;
    let numbers = stmt.query_map([id], |r| r.get(0))?.collect();
    numbers
}

/// The tenant whose API token hashes to `hash`, and that hash.
pub fn by_token_hash(conn: &Connection, hash: &str) -> rusqlite::Result<Option<(String, String)>> {
    conn.query_row("SELECT id, token_hash FROM tenants WHERE token_hash = ?1", [hash], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()
}

/// Replaces the token hash; false when the tenant does not exist.
pub fn set_token_hash(conn: &Connection, id: &str, hash: &str) -> rusqlite::Result<bool> {
    let now = now_unix();
    conn.execute(
        "UPDATE tenants SET token_hash = ?2, token_rotated_at = ?3, updated_at = ?3 WHERE id = ?1",
        params![id, hash, now],
    )
    .map(|changed| changed == 1)
}

/// Makes `key` the tenant's signing key. The key it replaces keeps signing
/// until `previous_until_ms` (unix ms); `None` drops it at once. False when
/// the tenant does not exist.
pub fn rotate_signing_key(
    conn: &Connection,
    id: &str,
    key: &[u8],
    previous_until_ms: Option<i64>,
) -> rusqlite::Result<bool> {
    conn.execute(
        "UPDATE tenants SET signing_key_previous = CASE WHEN ?3 IS NULL THEN NULL ELSE signing_key END,
                signing_key_previous_until = ?3, signing_key = ?2, updated_at = ?4
         WHERE id = ?1",
        params![id, key, previous_until_ms, now_unix()],
    )
    .map(|changed| changed == 1)
}

/// Deletes the tenant and everything that references it; false when absent.
pub fn delete(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.execute("DELETE FROM tenants WHERE id = ?1", [id]).map(|changed| changed == 1)
}

/// The newest `limit` state changes, oldest first.
pub fn recent_state_changes(conn: &Connection, id: &str, limit: usize) -> rusqlite::Result<Vec<StateChange>> {
    let mut stmt = conn.prepare(
        "SELECT state, reason, at FROM (
            SELECT seq, state, reason, at FROM tenant_state_changes
            WHERE tenant_id = ?1 ORDER BY seq DESC LIMIT ?2
         ) ORDER BY seq",
    )?;
    let changes = stmt
        .query_map(params![id, limit as i64], |r| {
            Ok(StateChange { state: r.get(0)?, reason: r.get(1)?, at: r.get(2)? })
        })?
        .collect();
    changes
}

/// Test support: a bare tenant row (random-free, no numbers), for store tests
/// that need events or jobs to reference a tenant.
#[cfg(test)]
pub(crate) fn insert_bare_for_tests(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO tenants (id, name, token_hash, token_rotated_at, created_at, updated_at, wa_state_since)
         VALUES (?1, ?1, ?1, 0, 0, 0, 0)",
        [id],
    )
    .map(|_| ())
}
