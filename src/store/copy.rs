//! `agentlocator db copy`: a stopped SQLite deployment moved into an empty
//! PostgreSQL database, so that no tenant has to pair again.
//!
//! Every table of the daemon's schema is copied in one PostgreSQL transaction,
//! keeping its keys (`events.seq`, `jobs.id`, ...), and the row counts are
//! compared on both sides before that transaction commits. Then each tenant's
//! WhatsApp session file is imported into the session store's tables, and
//! each stored file (media, recordings) not yet pruned into chunks beside its
//! row, checked byte for byte against the row's length and counted at the end.

use std::collections::BTreeSet;
use std::path::PathBuf;

use deadpool_postgres::Transaction;
use rusqlite::types::Value;
use rusqlite::Connection;
use tokio_postgres::types::ToSql;

use super::content::{Content, CONTENT_COLUMNS};
use super::postgres::{blobs, Pg, PgError};
use super::sqlite::{files, Db};
use super::StoreError;
use crate::config::StoreConfig;
use crate::ids::TenantId;
use crate::paths::{DataDir, FileLock};

/// The target URL without its password, for the command's messages.
pub use super::postgres::redact;

/// Rows per INSERT: few round trips, statements of a modest size.
const BATCH: usize = 500;

/// How a column is read from SQLite and sent to PostgreSQL.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Int,
    Text,
    Blob,
}

/// One table of the daemon's schema and how to copy it.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    /// The `GENERATED ALWAYS AS IDENTITY` column (SQLite's AUTOINCREMENT),
    /// whose values are kept and whose sequence must then follow them.
    identity: Option<&'static str>,
}

use Kind::{Blob, Int, Text};

/// Every table copied, parents before the tables referring to them.
const TABLES: &[Table] = &[
    Table {
        name: "tenants",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("webhook_url", Text),
            ("twilio_auth_token", Text),
            ("token_hash", Text),
            ("token_rotated_at", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("wa_state", Text),
            ("wa_phone", Text),
            ("wa_state_since", Int),
            ("wa_reconnects", Int),
            ("wa_last_error", Text),
            ("voice_twiml", Text),
            ("wa_banned_until", Int),
            ("signing_key", Blob),
            ("signing_key_previous", Blob),
            ("signing_key_previous_until", Int),
            ("twilio_account_sid", Text),
        ],
        identity: None,
    },
    Table { name: "tenant_numbers", columns: &[("number", Text), ("tenant_id", Text)], identity: None },
    Table {
        name: "tenant_state_changes",
        columns: &[("seq", Int), ("tenant_id", Text), ("state", Text), ("reason", Text), ("at", Int)],
        identity: Some("seq"),
    },
    Table {
        name: "events",
        columns: &[
            ("seq", Int),
            ("id", Text),
            ("tenant_id", Text),
            ("type", Text),
            ("dedupe_key", Text),
            ("data", Text),
            ("created_at_ms", Int),
            ("status", Text),
            ("attempts", Int),
            ("next_attempt_at_ms", Int),
            ("delivered_at_ms", Int),
            ("last_error", Text),
        ],
        identity: Some("seq"),
    },
    Table {
        name: "delivery_attempts",
        columns: &[
            ("event_seq", Int),
            ("attempt", Int),
            ("at_ms", Int),
            ("status_code", Int),
            ("latency_ms", Int),
            ("error", Text),
        ],
        identity: None,
    },
    Table {
        name: "jobs",
        columns: &[
            ("id", Int),
            ("kind", Text),
            ("tenant_id", Text),
            ("event_id", Text),
            ("payload", Text),
            ("status", Text),
            ("attempts", Int),
            ("run_at_ms", Int),
            ("created_at_ms", Int),
            ("updated_at_ms", Int),
            ("last_error", Text),
        ],
        identity: Some("id"),
    },
    Table {
        name: "wa_sends",
        columns: &[
            ("tenant_id", Text),
            ("idempotency_key", Text),
            ("request_sha256", Text),
            ("status", Text),
            ("message_id", Text),
            ("error", Text),
            ("created_at", Int),
        ],
        identity: None,
    },
    Table {
        name: "content",
        columns: &[
            ("tenant_id", Text),
            ("kind", Text),
            ("id", Text),
            ("event_id", Text),
            ("file", Text),
            ("mimetype", Text),
            ("bytes", Int),
            ("sha256", Text),
            ("stored_at_ms", Int),
            ("expired_at_ms", Int),
        ],
        identity: None,
    },
];

/// SQLite tables deliberately not copied: the readiness probe's scratch row
/// and SQLite's own AUTOINCREMENT bookkeeping (carried over as the identity
/// sequences' positions instead).
const NOT_COPIED: &[&str] = &["health_probe", "sqlite_sequence"];

/// The trigger that gives a newly stored held event its job. Copied held
/// events already have theirs (copied from `jobs`), so it is off during the
/// copy.
const HELD_EVENT_TRIGGER: &str = "events_held_get_a_job";

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("a daemon is running on {}: stop the daemon first", .0.display())]
    DaemonRunning(PathBuf),
    #[error("cannot take the data directory's lock {}: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no SQLite store at {}: nothing to copy", .0.display())]
    NoSource(PathBuf),
    #[error("the target database is not empty (rows in {0}): copy only into an empty database")]
    NotEmpty(String),
    #[error("the SQLite schema does not match what this build copies: {0}")]
    Schema(String),
    #[error(
        "{table}: {sqlite} rows in SQLite but {postgres} in PostgreSQL after the copy; nothing was committed"
    )]
    Mismatch { table: &'static str, sqlite: u64, postgres: u64 },
    #[error("tenant {tenant}'s WhatsApp session: {source} (the tenants and events are already copied; drop and recreate the target database before copying again)")]
    Session {
        tenant: String,
        #[source]
        source: whatsapp_sessions::Error,
    },
    #[error("stored file {name}: {message} (the tenants, events and sessions are already copied; drop and recreate the target database before copying again)")]
    File { name: String, message: String },
    #[error("{copied} stored files with bytes were copied but {found} have chunks in PostgreSQL (drop and recreate the target database before copying again)")]
    FilesMismatch { copied: u64, found: u64 },
    #[error("tenant id in the SQLite store: {0}")]
    TenantId(#[from] crate::ids::InvalidTenantId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PgError> for CopyError {
    fn from(e: PgError) -> Self {
        CopyError::Store(StoreError::Postgres(e))
    }
}

impl From<tokio_postgres::Error> for CopyError {
    fn from(e: tokio_postgres::Error) -> Self {
        PgError::from(e).into()
    }
}

impl From<whatsapp_sessions::Error> for CopyError {
    fn from(e: whatsapp_sessions::Error) -> Self {
        CopyError::Store(StoreError::Sessions(e))
    }
}

/// An operator command that fails on this ends with exit 1 and its message.
impl crate::error::CommandFailure for CopyError {}

/// What a copy moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Rows copied per table, in copy order (equal on both sides).
    pub tables: Vec<(&'static str, u64)>,
    /// The tenants whose WhatsApp session was imported.
    pub sessions: Vec<String>,
    /// Tenants whose session file holds no device (never shown a QR code):
    /// nothing to move; they pair as before.
    pub sessions_without_device: Vec<String>,
    /// Stored files copied into the database.
    pub files: u64,
    /// Stored files whose row is live but whose file is gone from the data
    /// directory (removed by hand): their URLs answer 410, as they did.
    pub files_missing: Vec<String>,
}

/// Copies the SQLite store of `data` (whose daemon must be stopped) into the
/// empty PostgreSQL database at `url`. `settings` gives the pool size and
/// the lock timeout; its `url` is not used (the source is always SQLite).
pub async fn copy_sqlite_to_postgres(
    data: &DataDir,
    settings: &StoreConfig,
    url: &str,
) -> Result<CopyReport, CopyError> {
    // Held until the copy ends: no daemon may start on the source meanwhile.
    let _lock = take_serve_lock(data)?;
    let db_path = data.db_path();
    if !db_path.is_file() {
        return Err(CopyError::NoSource(db_path));
    }
    let source = Db::open(&db_path, settings.busy_timeout)?;
    source.run(|c| check_schema(c)).await??;
    let pg = Pg::open(url, settings.pool_size.get(), settings.busy_timeout).await?;
    whatsapp_sessions::migrate(pg.pool()).await?;
    refuse_non_empty(&pg).await?;
    let tables = copy_tables(&source, &pg).await?;
    let mut report = CopyReport { tables, ..CopyReport::default() };
    import_sessions(&source, &pg, data, &mut report).await?;
    import_files(&source, &pg, data, &mut report).await?;
    Ok(report)
}

/// The lock `serve` holds on the data directory, or why it cannot be had.
fn take_serve_lock(data: &DataDir) -> Result<FileLock, CopyError> {
    if !data.root().is_dir() {
        return Err(CopyError::NoSource(data.db_path()));
    }
    let path = data.serve_lock_path();
    match FileLock::try_exclusive(&path) {
        Ok(Some(lock)) => Ok(lock),
        Ok(None) => Err(CopyError::DaemonRunning(data.root().to_path_buf())),
        Err(source) => Err(CopyError::Lock { path, source }),
    }
}

/// Every SQLite table is either copied or deliberately left out, with the
/// columns this module names: a later migration that adds a table or a
/// column and forgets the copy fails here rather than losing data.
fn check_schema(conn: &Connection) -> rusqlite::Result<Result<(), CopyError>> {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut problems = Vec::new();
    for name in &names {
        let Some(table) = TABLES.iter().find(|t| t.name == name) else {
            if !NOT_COPIED.contains(&name.as_str()) {
                problems.push(format!("table {name} is not copied"));
            }
            continue;
        };
        let found: BTreeSet<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{}')", table.name))?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let known: BTreeSet<String> = table.columns.iter().map(|(c, _)| c.to_string()).collect();
        if found != known {
            problems.push(format!("{name} has columns {found:?}, expected {known:?}"));
        }
    }
    for table in TABLES.iter().filter(|t| !names.iter().any(|n| n == t.name)) {
        problems.push(format!("table {} is missing", table.name));
    }
    Ok(if problems.is_empty() { Ok(()) } else { Err(CopyError::Schema(problems.join("; "))) })
}

/// Refuses a target with any row in a daemon table or a WhatsApp session
/// table: copying into it would mix two deployments.
async fn refuse_non_empty(pg: &Pg) -> Result<(), CopyError> {
    let client = pg.client().await?;
    let ours: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    // The session store's tables all start with `wa_`; its version row is
    // bookkeeping, not data.
    let rows = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
               AND (table_name = ANY($1) OR table_name LIKE 'wa\\_%')
               AND table_name <> 'wa_schema_version'
             ORDER BY table_name",
            &[&ours],
        )
        .await?;
    let mut occupied = Vec::new();
    for row in rows {
        let table: String = row.get(0);
        let sql = format!("SELECT EXISTS (SELECT 1 FROM \"{table}\")");
        if client.query_one(&sql, &[]).await?.get::<_, bool>(0) {
            occupied.push(table);
        }
    }
    if occupied.is_empty() {
        Ok(())
    } else {
        Err(CopyError::NotEmpty(occupied.join(", ")))
    }
}

/// Every table in one transaction, the held-event trigger off, the identity
/// sequences moved past the copied keys, the counts compared before commit.
async fn copy_tables(source: &Db, pg: &Pg) -> Result<Vec<(&'static str, u64)>, CopyError> {
    let mut client = pg.client().await?;
    let tx = client.transaction().await?;
    // Held events arrive with their jobs (copied from `jobs`, ids kept), so
    // the trigger would add a duplicate job per held event. DISABLE TRIGGER
    // is transactional (a failed copy leaves it enabled) and needs only
    // ownership of the table, which the user that migrated the schema has;
    // `session_replication_role = replica` would need a superuser and would
    // also skip the foreign-key checks.
    tx.batch_execute(&format!("ALTER TABLE events DISABLE TRIGGER {HELD_EVENT_TRIGGER}")).await?;
    let mut counts = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let copied = copy_table(source, &tx, table).await?;
        if let Some(column) = table.identity {
            follow_identity(source, &tx, table.name, column).await?;
        }
        counts.push((table.name, copied));
    }
    tx.batch_execute(&format!("ALTER TABLE events ENABLE TRIGGER {HELD_EVENT_TRIGGER}")).await?;
    verify_counts(source, &tx, &counts).await?;
    tx.commit().await?;
    Ok(counts)
}

/// One table's rows, a batch per INSERT, in rowid order; returns how many.
async fn copy_table(source: &Db, tx: &Transaction<'_>, table: &'static Table) -> Result<u64, CopyError> {
    let insert = insert_sql(table);
    let mut after = i64::MIN;
    let mut copied = 0u64;
    loop {
        let batch = source.run(move |c| read_batch(c, table, after)).await?;
        let Some(last) = batch.last_rowid else { break };
        let params: Vec<&(dyn ToSql + Sync)> = batch.columns.iter().map(Column::param).collect();
        copied += tx.execute(&insert, &params).await?;
        after = last;
    }
    Ok(copied)
}

/// `INSERT ... SELECT * FROM UNNEST($1::type[], ...)`: one array per column.
fn insert_sql(table: &Table) -> String {
    let names: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
    let arrays: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            let ty = match kind {
                Int => "bigint",
                Text => "text",
                Blob => "bytea",
            };
            format!("${}::{ty}[]", i + 1)
        })
        .collect();
    // Keys are copied as they are, not drawn from the identity sequence.
    let overriding = if table.identity.is_some() { " OVERRIDING SYSTEM VALUE" } else { "" };
    format!(
        "INSERT INTO {} (\"{}\"){overriding} SELECT * FROM UNNEST({})",
        table.name,
        names.join("\", \""),
        arrays.join(", ")
    )
}

/// One column of a batch, as the array PostgreSQL receives.
enum Column {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
    Blob(Vec<Option<Vec<u8>>>),
}

impl Column {
    fn new(kind: Kind) -> Column {
        match kind {
            Int => Column::Int(Vec::with_capacity(BATCH)),
            Text => Column::Text(Vec::with_capacity(BATCH)),
            Blob => Column::Blob(Vec::with_capacity(BATCH)),
        }
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Column::Int(v) => v,
            Column::Text(v) => v,
            Column::Blob(v) => v,
        }
    }

    /// Appends a SQLite value; the tables are STRICT, so a value of another
    /// type than the column's cannot be stored there.
    fn push(&mut self, value: Value, column: &str) -> rusqlite::Result<()> {
        match (self, value) {
            (Column::Int(v), Value::Null) => v.push(None),
            (Column::Text(v), Value::Null) => v.push(None),
            (Column::Blob(v), Value::Null) => v.push(None),
            (Column::Int(v), Value::Integer(i)) => v.push(Some(i)),
            (Column::Text(v), Value::Text(s)) => v.push(Some(s)),
            (Column::Blob(v), Value::Blob(b)) => v.push(Some(b)),
            (_, other) => {
                return Err(rusqlite::Error::InvalidColumnType(0, column.to_string(), other.data_type()))
            }
        }
        Ok(())
    }
}

/// Up to [`BATCH`] rows after rowid `after`, and the last rowid read (`None`
/// when there were none).
struct Batch {
    columns: Vec<Column>,
    last_rowid: Option<i64>,
}

fn read_batch(conn: &mut Connection, table: &Table, after: i64) -> rusqlite::Result<Batch> {
    let names: Vec<String> = table.columns.iter().map(|(name, _)| format!("\"{name}\"")).collect();
    let sql = format!(
        "SELECT rowid, {} FROM {} WHERE rowid > ?1 ORDER BY rowid LIMIT {BATCH}",
        names.join(", "),
        table.name
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([after])?;
    let mut columns: Vec<Column> = table.columns.iter().map(|(_, kind)| Column::new(*kind)).collect();
    let mut last_rowid = None;
    while let Some(row) = rows.next()? {
        last_rowid = Some(row.get::<_, i64>(0)?);
        for (i, (column, (name, _))) in columns.iter_mut().zip(table.columns).enumerate() {
            column.push(row.get::<_, Value>(i + 1)?, name)?;
        }
    }
    Ok(Batch { columns, last_rowid })
}

/// Moves the identity sequence of `table.column` past every key SQLite ever
/// gave out: the copied maximum, or SQLite's AUTOINCREMENT counter when rows
/// with higher keys were deleted (a key is never reused: `seq` is also the
/// pull cursor, so a reused one could hide new events from a puller).
async fn follow_identity(
    source: &Db,
    tx: &Transaction<'_>,
    table: &'static str,
    column: &'static str,
) -> Result<(), CopyError> {
    let handed_out: i64 = source
        .run(move |c| {
            c.query_row("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = ?1", [table], |r| {
                r.get(0)
            })
        })
        .await?;
    let copied: i64 =
        tx.query_one(&format!("SELECT COALESCE(MAX({column}), 0) FROM {table}"), &[]).await?.get(0);
    let last = handed_out.max(copied);
    // A fresh sequence already starts at 1; setval refuses 0.
    if last > 0 {
        tx.execute("SELECT setval(pg_get_serial_sequence($1, $2), $3, true)", &[&table, &column, &last])
            .await?;
    }
    Ok(())
}

/// Counts every copied table on both sides; any difference aborts the copy.
async fn verify_counts(
    source: &Db,
    tx: &Transaction<'_>,
    counts: &[(&'static str, u64)],
) -> Result<(), CopyError> {
    for &(table, _) in counts {
        let sqlite: i64 = source
            .run(move |c| c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)))
            .await?;
        let postgres: i64 = tx.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await?.get(0);
        if sqlite != postgres {
            let (sqlite, postgres) = (sqlite.unsigned_abs(), postgres.unsigned_abs());
            return Err(CopyError::Mismatch { table, sqlite, postgres });
        }
    }
    Ok(())
}

/// Copies the WhatsApp session of every tenant that has one: its rows in
/// the shared session file, or its own file when it is still in the old
/// per-tenant layout (a deployment stopped before it ever ran this version).
async fn import_sessions(
    source: &Db,
    pg: &Pg,
    data: &DataDir,
    report: &mut CopyReport,
) -> Result<(), CopyError> {
    let ids: Vec<String> = source
        .run(|c| c.prepare("SELECT id FROM tenants ORDER BY id")?.query_map([], |r| r.get(0))?.collect())
        .await?;
    // Opened only when it exists: a copy must not create files in the source.
    let shared_path = data.sessions_db_path();
    let shared = match shared_path.exists() {
        true => Some(whatsapp_sessions::SqliteSessions::open(&shared_path).await?),
        false => None,
    };
    for id in ids {
        let legacy = data.legacy_whatsapp_db(&TenantId::parse(&id)?);
        let copied = if legacy.is_file() {
            whatsapp_sessions::import_sqlite(pg.pool(), &id, &legacy).await
        } else if let Some(shared) = &shared {
            whatsapp_sessions::copy_tenant_to_pg(shared, pg.pool(), &id).await
        } else {
            continue;
        };
        match copied {
            Ok(counts) if counts.get("wa_device") > 0 => report.sessions.push(id),
            Ok(_) => {}
            Err(whatsapp_sessions::Error::NoDevice(_)) => report.sessions_without_device.push(id),
            Err(source) => return Err(CopyError::Session { tenant: id, source }),
        }
    }
    Ok(())
}

/// Copies every stored file whose row is live into chunks, one transaction
/// per file (a file is never half there), then checks that every copied
/// file with bytes has its chunks.
async fn import_files(
    source: &Db,
    pg: &Pg,
    data: &DataDir,
    report: &mut CopyReport,
) -> Result<(), CopyError> {
    let live: Vec<Content> = source
        .run(|c| {
            c.prepare(&format!(
                "SELECT {CONTENT_COLUMNS} FROM content WHERE expired_at_ms IS NULL ORDER BY tenant_id, kind, id"
            ))?
            .query_map([], |r| Content::from_columns(r))?
            .collect()
        })
        .await?;
    // Files without bytes have no chunks.
    let mut expected = 0i64;
    for content in &live {
        match files::stored_path(data, content).filter(|p| p.is_file()) {
            Some(path) => {
                blobs::import(pg.pool(), content, &path)
                    .await
                    .map_err(|e| CopyError::File { name: file_name(content), message: e.to_string() })?;
                report.files += 1;
                expected += i64::from(content.bytes > 0);
            }
            None => report.files_missing.push(file_name(content)),
        }
    }
    let client = pg.client().await?;
    let found: i64 = client
        .query_one("SELECT count(*) FROM (SELECT DISTINCT tenant_id, kind, id FROM content_chunks) f", &[])
        .await?
        .get(0);
    if found != expected {
        return Err(CopyError::FilesMismatch {
            copied: expected.unsigned_abs(),
            found: found.unsigned_abs(),
        });
    }
    Ok(())
}

/// `tenant/kind/id`, for the report.
fn file_name(content: &Content) -> String {
    format!("{}/{}/{}", content.tenant_id, content.kind.as_str(), content.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_covers_every_table_and_column_of_the_sqlite_schema() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&tmp.path().join("a.db"), std::time::Duration::from_secs(1)).expect("open");
        db.with_conn(|c| check_schema(c)).expect("read").expect("every table and column is copied");
    }

    #[test]
    fn inserts_keep_identity_keys() {
        let events = TABLES.iter().find(|t| t.name == "events").expect("events");
        let sql = insert_sql(events);
        assert!(sql.starts_with("INSERT INTO events (\"seq\", \"id\""), "{sql}");
        assert!(
            sql.contains("OVERRIDING SYSTEM VALUE SELECT * FROM UNNEST($1::bigint[], $2::text[]"),
            "{sql}"
        );
        let numbers = TABLES.iter().find(|t| t.name == "tenant_numbers").expect("numbers");
        assert!(!insert_sql(numbers).contains("OVERRIDING"));
    }
}
