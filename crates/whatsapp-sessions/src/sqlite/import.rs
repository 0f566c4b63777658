//! [`SqliteSessions::import_legacy`]: one tenant's whatsapp-rust SQLite
//! session file (what the daemon kept per tenant before this backend) copied
//! into the shared file, so the tenant reconnects without pairing again.
//!
//! The file is read as the PostgreSQL import reads it (`read_legacy`); only
//! the write differs.

use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, TransactionBehavior};

use crate::error::Error;
use crate::import::read_legacy;
use crate::schema::TENANT_TABLES;
use crate::sqlite::store::{SqlResult, SqliteSessions};
use crate::transfer::{ImportCounts, TenantRows};

impl SqliteSessions {
    /// Copies the whatsapp-rust SQLite session file `file` into `tenant`'s
    /// rows, in one transaction, durable on disk when this returns (the
    /// caller may then delete `file`). Refuses a missing file
    /// ([`Error::SqliteMissing`]), one without a device
    /// ([`Error::NoDevice`]), and a tenant with any row already
    /// ([`Error::TenantNotEmpty`]).
    pub async fn import_legacy(&self, tenant: &str, file: &Path) -> Result<ImportCounts, Error> {
        let rows = read_legacy(file).await?;
        let counts = rows.counts();
        let owned = tenant.to_string();
        if self.with_writer(move |conn| write_durably(conn, &owned, &rows)).await? {
            Ok(counts)
        } else {
            Err(Error::TenantNotEmpty { tenant: tenant.to_string() })
        }
    }
}

/// [`write_rows`] committed with `synchronous = FULL`. The caller deletes the
/// legacy file once the import returns, so the imported rows must be on disk
/// by then, or a power cut would lose both copies of the session. Every
/// connection runs `synchronous = NORMAL`, under which a WAL commit reaches
/// the disk only at a later checkpoint; under FULL the commit itself syncs
/// the WAL. (The setting cannot change inside a transaction, hence around it.)
fn write_durably(conn: &mut Connection, tenant: &str, rows: &TenantRows) -> SqlResult<bool> {
    let before: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    let written = write_rows(conn, tenant, rows);
    // Back to what every other write runs with, whether or not this one worked.
    let restored = conn.pragma_update(None, "synchronous", before);
    let written = written?;
    restored?;
    Ok(written)
}

/// Writes `rows` as `tenant`'s in one IMMEDIATE transaction; `false` (and
/// nothing written) when the tenant has any row already. IMMEDIATE holds
/// the write lock from the check to the commit, so two imports of one tenant
/// cannot both find it empty.
fn write_rows(conn: &mut Connection, tenant: &str, rows: &TenantRows) -> SqlResult<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if tenant_has_rows(&tx, tenant)? {
        return Ok(false);
    }
    let key = Value::Text(tenant.to_string());
    for table in &rows.tables {
        if table.rows.is_empty() {
            continue;
        }
        let mut stmt = tx.prepare(&table.insert_sql(1, |i| format!("?{i}")))?;
        for row in &table.rows {
            stmt.execute(params_from_iter(std::iter::once(&key).chain(row)))?;
        }
    }
    tx.commit()?;
    Ok(true)
}

/// Whether `tenant` has any row in any table of the shared file.
fn tenant_has_rows(conn: &Connection, tenant: &str) -> SqlResult<bool> {
    for table in TENANT_TABLES {
        if conn.prepare(&format!("SELECT 1 FROM {table} WHERE tenant = ?1"))?.exists([tenant])? {
            return Ok(true);
        }
    }
    Ok(false)
}
