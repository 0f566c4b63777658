//! Versioned schema migrations for PostgreSQL, tracked in `schema_version`.
//! Append new steps; never edit a step that has shipped. Step 1 is the final
//! schema of the SQLite migrations, translated; later changes get their own
//! steps in both stores.
//!
//! Several nodes may start at once against one database: each migrates inside
//! a transaction holding a transaction-level advisory lock, so the first
//! applies the steps and the others wait, then find nothing left to do.

use deadpool_postgres::{GenericClient, Pool};

use super::PgError;

/// The advisory lock key serialising migrations (any fixed value; this one
/// is "agentloc" in ASCII, unlikely to collide with another application's).
const MIGRATION_LOCK: i64 = 0x6167_656e_746c_6f63;

const STEPS: &[&str] = &[
    // 1: everything the SQLite store has after its step 6 (see the comments
    // there for what each table is for), plus `events_version`, this store's
    // stand-in for SQLite's `PRAGMA data_version`.
    "CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        webhook_url TEXT,
        twilio_auth_token TEXT,
        token_hash TEXT NOT NULL,
        token_rotated_at BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        wa_state TEXT NOT NULL DEFAULT 'unpaired',
        wa_phone TEXT,
        wa_state_since BIGINT NOT NULL,
        wa_reconnects BIGINT NOT NULL DEFAULT 0,
        wa_last_error TEXT,
        voice_twiml TEXT,
        wa_banned_until BIGINT,
        signing_key BYTEA NOT NULL DEFAULT ''::bytea,
        signing_key_previous BYTEA,
        signing_key_previous_until BIGINT,
        twilio_account_sid TEXT
    );
    CREATE UNIQUE INDEX tenants_by_token ON tenants(token_hash);
    CREATE TABLE tenant_numbers (
        number TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE
    );
    CREATE INDEX tenant_numbers_by_tenant ON tenant_numbers(tenant_id);
    CREATE TABLE tenant_state_changes (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        state TEXT NOT NULL,
        reason TEXT NOT NULL,
        at BIGINT NOT NULL
    );
    CREATE INDEX tenant_state_changes_by_tenant ON tenant_state_changes(tenant_id, seq);
    CREATE TABLE health_probe (id BIGINT PRIMARY KEY, checked_at BIGINT NOT NULL);

    CREATE TABLE events (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        dedupe_key TEXT,
        data TEXT NOT NULL,
        created_at_ms BIGINT NOT NULL,
        status TEXT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt_at_ms BIGINT NOT NULL,
        delivered_at_ms BIGINT,
        last_error TEXT
    );
    CREATE UNIQUE INDEX events_dedupe ON events(tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
    CREATE INDEX events_by_status ON events(status, tenant_id, seq);
    CREATE INDEX events_by_tenant ON events(tenant_id, seq);
    CREATE TABLE delivery_attempts (
        event_seq BIGINT NOT NULL REFERENCES events(seq) ON DELETE CASCADE,
        attempt BIGINT NOT NULL,
        at_ms BIGINT NOT NULL,
        status_code BIGINT,
        latency_ms BIGINT NOT NULL,
        error TEXT,
        PRIMARY KEY (event_seq, attempt)
    );

    CREATE TABLE jobs (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind TEXT NOT NULL,
        tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
        event_id TEXT REFERENCES events(id) ON DELETE CASCADE,
        payload TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'queued',
        attempts BIGINT NOT NULL DEFAULT 0,
        run_at_ms BIGINT NOT NULL,
        created_at_ms BIGINT NOT NULL,
        updated_at_ms BIGINT NOT NULL,
        last_error TEXT
    );
    CREATE INDEX jobs_due ON jobs(status, run_at_ms);
    CREATE INDEX jobs_by_event ON jobs(event_id);
    -- A held event always gets its job in the transaction that stores it.
    CREATE FUNCTION events_held_get_a_job() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO jobs (kind, tenant_id, event_id, run_at_ms, created_at_ms, updated_at_ms)
        VALUES (NEW.type, NEW.tenant_id, NEW.id, NEW.created_at_ms, NEW.created_at_ms, NEW.created_at_ms);
        RETURN NULL;
    END $$;
    CREATE TRIGGER events_held_get_a_job AFTER INSERT ON events
        FOR EACH ROW WHEN (NEW.status = 'held') EXECUTE FUNCTION events_held_get_a_job();

    CREATE TABLE wa_sends (
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        idempotency_key TEXT NOT NULL,
        request_sha256 TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'unknown')),
        message_id TEXT,
        error TEXT,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, idempotency_key)
    );
    CREATE INDEX wa_sends_by_age ON wa_sends(created_at);

    CREATE TABLE content (
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('whatsapp', 'recording')),
        id TEXT NOT NULL,
        event_id TEXT,
        file TEXT NOT NULL,
        mimetype TEXT NOT NULL,
        bytes BIGINT NOT NULL,
        sha256 TEXT NOT NULL,
        stored_at_ms BIGINT NOT NULL,
        expired_at_ms BIGINT,
        PRIMARY KEY (tenant_id, kind, id)
    );
    CREATE INDEX content_by_age ON content(stored_at_ms);

    -- Counters bumped by every statement that changes rows of `events`, in
    -- that statement's transaction: their sum changes exactly when such a
    -- change commits, whichever node made it (delivery polls it to notice
    -- e.g. a requeue by an operator command). Sixteen rows, picked by backend
    -- pid, so concurrent writers rarely wait for each other's counter lock.
    CREATE TABLE events_version (slot INTEGER PRIMARY KEY, n BIGINT NOT NULL);
    INSERT INTO events_version SELECT slot, 0 FROM generate_series(0, 15) AS slot;
    CREATE FUNCTION events_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM changed) THEN
            UPDATE events_version SET n = n + 1 WHERE slot = pg_backend_pid() % 16;
        END IF;
        RETURN NULL;
    END $$;
    -- One trigger per kind of change: PostgreSQL allows transition tables
    -- (which let a statement that changed nothing skip the bump) only so.
    CREATE TRIGGER events_version_insert AFTER INSERT ON events
        REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION events_version_bump();
    CREATE TRIGGER events_version_update AFTER UPDATE ON events
        REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION events_version_bump();
    CREATE TRIGGER events_version_delete AFTER DELETE ON events
        REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION events_version_bump();",
    // 2: stored files' bytes in the database, so that any node serves them.
    // A file is cut into chunks of `blobs::CHUNK_BYTES` (the last shorter),
    // numbered from 0; they go with their content row. EXTERNAL storage: no
    // compression (media and recordings are compressed already), so reading
    // a slice of a chunk fetches only that slice.
    "CREATE TABLE content_chunks (
        tenant_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        n INTEGER NOT NULL CHECK (n >= 0),
        data BYTEA NOT NULL,
        PRIMARY KEY (tenant_id, kind, id, n),
        FOREIGN KEY (tenant_id, kind, id) REFERENCES content(tenant_id, kind, id) ON DELETE CASCADE
    );
    ALTER TABLE content_chunks ALTER COLUMN data SET STORAGE EXTERNAL;",
    // 3: several nodes on this database. Each `serve` keeps a row in
    // `cluster_nodes` fresh; a tenant's worker and deliveries run on the node
    // holding its lease. Times are the database's clock (`now()`), the one
    // clock every node shares. `token` (the fencing token) comes from one
    // sequence, so a lease taken later always carries a larger one.
    "CREATE TABLE cluster_nodes (
        id TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        version TEXT NOT NULL,
        started_at TIMESTAMPTZ NOT NULL,
        last_heartbeat TIMESTAMPTZ NOT NULL
    );
    CREATE SEQUENCE lease_tokens;
    CREATE TABLE tenant_leases (
        tenant_id TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
        owner TEXT NOT NULL,
        token BIGINT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    );
    CREATE INDEX tenant_leases_by_owner ON tenant_leases(owner);",
];

/// The version this build's schema ends at.
pub fn latest() -> i64 {
    STEPS.len() as i64
}

/// Where a database's schema stands, for `agentlocator db status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaStatus {
    /// The version applied (0: an empty database).
    pub version: i64,
    /// The version this build would migrate it to.
    pub latest: i64,
}

/// Brings the schema up to date; returns the version it is at. Refuses a
/// database migrated by a newer build ([`PgError::TooNew`]).
pub async fn migrate(pool: &Pool) -> Result<i64, PgError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // Held until commit: a second node starting now waits here, then reads
    // the version the first one committed.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version BIGINT NOT NULL
         );
         INSERT INTO schema_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;",
    )
    .await?;
    let current: i64 = tx.query_one("SELECT version FROM schema_version WHERE id = 1", &[]).await?.get(0);
    let known = latest();
    if current > known {
        return Err(PgError::TooNew { found: current, known });
    }
    for (index, sql) in STEPS.iter().enumerate().skip(usize::try_from(current).unwrap_or(0)) {
        tx.batch_execute(sql).await?;
        tx.execute("UPDATE schema_version SET version = $1 WHERE id = 1", &[&(index as i64 + 1)]).await?;
    }
    tx.commit().await?;
    Ok(known)
}

/// The schema version of the database and of this build, without changing
/// anything.
pub async fn status(pool: &Pool) -> Result<SchemaStatus, PgError> {
    let client = pool.get().await?;
    let version = current_version(&client).await?;
    Ok(SchemaStatus { version, latest: latest() })
}

async fn current_version(c: &impl GenericClient) -> Result<i64, PgError> {
    let exists: bool = c.query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[]).await?.get(0);
    if !exists {
        return Ok(0);
    }
    let row = c.query_opt("SELECT version FROM schema_version WHERE id = 1", &[]).await?;
    Ok(row.map_or(0, |r| r.get(0)))
}

#[cfg(test)]
mod tests {
    use super::super::testdb::TestDb;
    use super::*;

    #[tokio::test]
    async fn two_nodes_migrating_at_once_apply_the_steps_once() {
        let Some(db) = TestDb::empty().await else { return };
        let other =
            super::super::connect(&db.url, 2, std::time::Duration::from_secs(5)).await.expect("second pool");
        assert_eq!(status(&db.pool).await.expect("status"), SchemaStatus { version: 0, latest: latest() });
        let (a, b) = tokio::join!(migrate(&db.pool), migrate(&other));
        assert_eq!((a.expect("a"), b.expect("b")), (latest(), latest()));
        assert_eq!(status(&other).await.expect("status").version, latest());
        let client = db.pool.get().await.expect("client");
        let rows: i64 =
            client.query_one("SELECT count(*) FROM schema_version", &[]).await.expect("rows").get(0);
        assert_eq!(rows, 1);
        assert_eq!(migrate(&db.pool).await.expect("again"), latest(), "idempotent");
    }

    #[tokio::test]
    async fn a_schema_newer_than_this_build_is_refused() {
        let Some(db) = TestDb::create().await else { return };
        let client = db.pool.get().await.expect("client");
        client.execute("UPDATE schema_version SET version = 999", &[]).await.expect("bump");
        let err = migrate(&db.pool).await.expect_err("too new");
        assert!(matches!(err, PgError::TooNew { found: 999, known } if known == latest()), "{err}");
        assert_eq!(status(&db.pool).await.expect("status").version, 999);
    }
}
