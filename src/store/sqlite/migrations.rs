//! Versioned schema migrations, tracked in `PRAGMA user_version`. Append new
//! steps; never edit a step that has shipped.

use rusqlite::Connection;

const STEPS: &[&str] = &[
    // 1: tenants and their numbers, state history, the readiness probe row.
    "CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        webhook_url TEXT,
        twilio_auth_token TEXT,
        token_hash TEXT NOT NULL,
        token_rotated_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        wa_state TEXT NOT NULL DEFAULT 'unpaired',
        wa_phone TEXT,
        wa_state_since INTEGER NOT NULL,
        wa_reconnects INTEGER NOT NULL DEFAULT 0,
        wa_last_error TEXT
    ) STRICT;
    CREATE UNIQUE INDEX tenants_by_token ON tenants(token_hash);
    CREATE TABLE tenant_numbers (
        number TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX tenant_numbers_by_tenant ON tenant_numbers(tenant_id);
    CREATE TABLE tenant_state_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        state TEXT NOT NULL,
        reason TEXT NOT NULL,
        at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX tenant_state_changes_by_tenant ON tenant_state_changes(tenant_id, seq);
    CREATE TABLE health_probe (id INTEGER PRIMARY KEY, checked_at INTEGER NOT NULL) STRICT;",
    // 2: the event outbox. `seq` orders a tenant's events (delivery order and
    // the pull cursor); `id` is the public id. Status: `held` (waiting for a
    // background job, e.g. a recording fetch), `pending`, `delivered`, `dead`.
    "CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        dedupe_key TEXT,
        data TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at_ms INTEGER NOT NULL,
        delivered_at_ms INTEGER,
        last_error TEXT
    ) STRICT;
    CREATE UNIQUE INDEX events_dedupe ON events(tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
    CREATE INDEX events_by_status ON events(status, tenant_id, seq);
    CREATE INDEX events_by_tenant ON events(tenant_id, seq);
    CREATE TABLE delivery_attempts (
        event_seq INTEGER NOT NULL REFERENCES events(seq) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        at_ms INTEGER NOT NULL,
        status_code INTEGER,
        latency_ms INTEGER NOT NULL,
        error TEXT,
        PRIMARY KEY (event_seq, attempt)
    ) STRICT;",
    // 3: durable background jobs (twilio module), resumed after a restart.
    // A `held` event always gets its job in the same transaction (trigger), so
    // an acknowledged webhook can never be held with nothing to release it.
    // The job's kind is the event's type. Also each tenant's voice TwiML.
    "CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
        event_id TEXT REFERENCES events(id) ON DELETE CASCADE,
        payload TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'queued',
        attempts INTEGER NOT NULL DEFAULT 0,
        run_at_ms INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        last_error TEXT
    ) STRICT;
    CREATE INDEX jobs_due ON jobs(status, run_at_ms);
    CREATE INDEX jobs_by_event ON jobs(event_id);
    CREATE TRIGGER events_held_get_a_job AFTER INSERT ON events WHEN NEW.status = 'held'
    BEGIN
        INSERT INTO jobs (kind, tenant_id, event_id, run_at_ms, created_at_ms, updated_at_ms)
        VALUES (NEW.type, NEW.tenant_id, NEW.id, NEW.created_at_ms, NEW.created_at_ms, NEW.created_at_ms);
    END;
    ALTER TABLE tenants ADD COLUMN voice_twiml TEXT;",
    // 4: WhatsApp: when a temporary ban ends, and the sends made with an
    // Idempotency-Key (a retry with the same key returns the first answer).
    "ALTER TABLE tenants ADD COLUMN wa_banned_until INTEGER;
    CREATE TABLE wa_sends (
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        idempotency_key TEXT NOT NULL,
        request_sha256 TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
        message_id TEXT,
        error TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, idempotency_key)
    ) STRICT;
    CREATE INDEX wa_sends_by_age ON wa_sends(created_at);",
    // 5: security. Each tenant's own webhook signing key (raw bytes; shown to
    // operators as `whsec_` + base64), the previous key and when it stops
    // signing (rotation grace, unix ms). Existing tenants get a fresh key here;
    // an operator hands it to their backend by rotating it. The tenant's own
    // Twilio account SID, which goes with its own auth token for recording
    // fetches. Sends whose outcome is unknown (timed out mid-send) get their
    // own status: SQLite cannot alter a CHECK, so `wa_sends` is rebuilt.
    "ALTER TABLE tenants ADD COLUMN signing_key BLOB NOT NULL DEFAULT x'';
    UPDATE tenants SET signing_key = randomblob(32);
    ALTER TABLE tenants ADD COLUMN signing_key_previous BLOB;
    ALTER TABLE tenants ADD COLUMN signing_key_previous_until INTEGER;
    ALTER TABLE tenants ADD COLUMN twilio_account_sid TEXT;
    CREATE TABLE wa_sends_v5 (
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        idempotency_key TEXT NOT NULL,
        request_sha256 TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'unknown')),
        message_id TEXT,
        error TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, idempotency_key)
    ) STRICT;
    INSERT INTO wa_sends_v5 SELECT * FROM wa_sends;
    DROP TABLE wa_sends;
    ALTER TABLE wa_sends_v5 RENAME TO wa_sends;
    CREATE INDEX wa_sends_by_age ON wa_sends(created_at);",
    // 6: stored content the API serves (WhatsApp media, call recordings).
    // `id` is the public id in the URL (ours for media, the RecordingSid for
    // recordings); `file` is the file's name in the tenant's directory for
    // its kind. A pruned file keeps its row with `expired_at_ms` set, so the
    // API can say 410 rather than 404.
    "CREATE TABLE content (
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('whatsapp', 'recording')),
        id TEXT NOT NULL,
        event_id TEXT,
        file TEXT NOT NULL,
        mimetype TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        stored_at_ms INTEGER NOT NULL,
        expired_at_ms INTEGER,
        PRIMARY KEY (tenant_id, kind, id)
    ) STRICT;
    CREATE INDEX content_by_age ON content(stored_at_ms);",
];

#[derive(Debug)]
pub enum MigrationError {
    Sqlite(rusqlite::Error),
    TooNew(i64, i64),
}

impl From<rusqlite::Error> for MigrationError {
    fn from(e: rusqlite::Error) -> Self {
        MigrationError::Sqlite(e)
    }
}

pub fn apply(conn: &Connection) -> Result<(), MigrationError> {
    let known = STEPS.len() as i64;
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > known {
        return Err(MigrationError::TooNew(current, known));
    }
    for (index, sql) in STEPS.iter().enumerate().skip(current as usize) {
        // Each step and its version bump commit together or not at all.
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// The schema version the database has, and the newest this build knows.
pub fn schema_version(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    Ok((current, STEPS.len() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_once_and_refuses_newer_schemas() {
        let conn = Connection::open_in_memory().expect("open");
        apply(&conn).expect("first");
        apply(&conn).expect("idempotent");
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("v");
        assert_eq!(v, STEPS.len() as i64);
        conn.pragma_update(None, "user_version", 999).expect("bump");
        assert!(matches!(apply(&conn), Err(MigrationError::TooNew(999, _))));
    }

    #[test]
    fn tenants_from_before_step_5_get_their_own_signing_key() {
        let conn = Connection::open_in_memory().expect("open");
        for (index, sql) in STEPS.iter().enumerate().take(4) {
            conn.execute_batch(sql).expect("step");
            conn.pragma_update(None, "user_version", index as i64 + 1).expect("version");
        }
        for id in ["a", "b"] {
            conn.execute(
                "INSERT INTO tenants (id, name, token_hash, token_rotated_at, created_at, updated_at, wa_state_since)
                 VALUES (?1, ?1, ?1, 0, 0, 0, 0)",
                [id],
            )
            .expect("tenant");
        }
        conn.execute(
            "INSERT INTO wa_sends (tenant_id, idempotency_key, request_sha256, status, created_at)
             VALUES ('a', 'k', 'h', 'sent', 1)",
            [],
        )
        .expect("send");
        apply(&conn).expect("migrate");
        let keys: Vec<Vec<u8>> = conn
            .prepare("SELECT signing_key FROM tenants ORDER BY id")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("keys");
        assert!(keys.iter().all(|k| k.len() == 32), "every tenant has a 32-byte key");
        assert_ne!(keys[0], keys[1], "keys are per tenant");
        let kept: String = conn
            .query_row("SELECT status FROM wa_sends WHERE tenant_id = 'a'", [], |r| r.get(0))
            .expect("kept");
        assert_eq!(kept, "sent");
        conn.execute("UPDATE wa_sends SET status = 'unknown'", []).expect("unknown is a status now");
    }
}
