//! [`copy_tenant_to_pg`]: one tenant's rows from the shared SQLite file into
//! PostgreSQL, table by table over every `wa_` table, so a SQLite deployment
//! moves to PostgreSQL without its tenants pairing again.

use deadpool_postgres::Pool;
use rusqlite::Connection;

use crate::error::Error;
use crate::schema::TENANT_TABLES;
use crate::sqlite::store::{SqlResult, SqliteSessions};
use crate::transfer::{read_table, write_pg, ImportCounts, TenantRows};

/// Copies every row of `tenant` in `src` into PostgreSQL (`pool`, whose
/// schema [`crate::migrate`] set up), in one PostgreSQL transaction; the
/// SQLite rows stay. Refuses ([`Error::TenantNotEmpty`]) when the tenant has
/// any row on PostgreSQL already. The tables and columns are the same on both
/// sides; SQLite's integers become BIGINT or BOOLEAN as the column is, its
/// blobs BYTEA. A tenant without rows copies nothing: every count is 0 and
/// `paired` is false, for the caller to treat as it sees fit.
pub async fn copy_tenant_to_pg(
    src: &SqliteSessions,
    pool: &Pool,
    tenant: &str,
) -> Result<ImportCounts, Error> {
    let owned = tenant.to_string();
    let rows = src.with_reader(move |conn| read_tenant(conn, &owned)).await?;
    write_pg(pool, tenant, &rows).await
}

/// Every row of `tenant`, without the tenant column.
fn read_tenant(conn: &Connection, tenant: &str) -> SqlResult<TenantRows> {
    // One read transaction: every table as of the same commit, even while the
    // tenant's client is still writing (a copy of a running tenant is then a
    // consistent, if older, session rather than a mix of two).
    let tx = conn.unchecked_transaction()?;
    let mut tables = Vec::with_capacity(TENANT_TABLES.len());
    for table in TENANT_TABLES {
        let select = format!("SELECT * FROM {table} WHERE tenant = ?1");
        tables.push(read_table(&tx, table, &select, tenant, Some("tenant"))?);
    }
    Ok(TenantRows { tables })
}
