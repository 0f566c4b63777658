//! One tenant's rows moving between stores, written once for every source
//! and target: the rows as plain SQLite values per `wa_` table
//! ([`TenantRows`]), read from a SQLite file ([`read_table`]), and written
//! into PostgreSQL ([`write_pg`], through [`Cell`], which converts each
//! value to its column's type). The shared SQLite file is written with the
//! same [`TableRows::insert_sql`].
//!
//! Both targets refuse a tenant that has rows already and write everything
//! in one transaction, so a failed move leaves the target as it was.

use std::collections::BTreeMap;

use bytes::BytesMut;
use deadpool_postgres::{Pool, Transaction};
use rusqlite::types::Value;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use crate::error::Error;
use crate::schema::tenant_has_rows;

/// What a move wrote, per table, for the caller to check against the source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// Whether the moved device is paired (has a phone number).
    pub paired: bool,
    /// Rows written, keyed by table (`wa_device`, `wa_sessions`, ...).
    pub rows: BTreeMap<&'static str, u64>,
}

impl ImportCounts {
    /// Rows written into `table` (0 when none).
    pub fn get(&self, table: &str) -> u64 {
        self.rows.get(table).copied().unwrap_or(0)
    }
}

/// One table's rows for a tenant, without the tenant column.
#[derive(Debug)]
pub(crate) struct TableRows {
    /// The `wa_` table the rows go into.
    pub table: &'static str,
    /// Its columns, in the order of each row's values.
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl TableRows {
    /// `INSERT INTO table (tenant, columns..)` of `rows` rows, with the
    /// placeholders `placeholder(n)` gives (`$n` for PostgreSQL, `?n` for
    /// SQLite): the tenant is parameter 1 in every row, then each row's
    /// values in order.
    pub fn insert_sql(&self, rows: usize, placeholder: fn(usize) -> String) -> String {
        let width = self.columns.len();
        let tuples: Vec<String> = (0..rows)
            .map(|r| {
                let values = (0..width).map(|c| placeholder(2 + r * width + c));
                let marks: Vec<String> = std::iter::once(placeholder(1)).chain(values).collect();
                format!("({})", marks.join(", "))
            })
            .collect();
        format!(
            "INSERT INTO {} (tenant, {}) VALUES {}",
            self.table,
            self.columns.join(", "),
            tuples.join(", ")
        )
    }
}

/// Every row of one tenant, table by table.
#[derive(Debug, Default)]
pub(crate) struct TenantRows {
    pub tables: Vec<TableRows>,
}

impl TenantRows {
    /// What writing these rows writes: the row count of every table, and
    /// whether the device row has a phone number.
    pub fn counts(&self) -> ImportCounts {
        let rows = self.tables.iter().map(|t| (t.table, t.rows.len() as u64)).collect();
        ImportCounts { paired: self.paired(), rows }
    }

    fn paired(&self) -> bool {
        let Some(device) = self.tables.iter().find(|t| t.table == "wa_device") else {
            return false;
        };
        let Some(pn) = device.columns.iter().position(|c| c == "pn") else {
            return false;
        };
        device.rows.iter().any(|row| !matches!(row.get(pn), None | Some(Value::Null)))
    }
}

/// Reads every row `select` returns for `key` (its `?1`) as the rows of
/// `table`, named by the statement's columns (so `expr AS name` renames),
/// leaving out the column `skip` if given (the source's own key column).
pub(crate) fn read_table(
    conn: &rusqlite::Connection,
    table: &'static str,
    select: &str,
    key: impl rusqlite::ToSql,
    skip: Option<&str>,
) -> rusqlite::Result<TableRows> {
    let mut stmt = conn.prepare(select)?;
    let names: Vec<String> = stmt.column_names().into_iter().map(str::to_string).collect();
    let keep: Vec<usize> = (0..names.len()).filter(|&i| Some(names[i].as_str()) != skip).collect();
    let columns = keep.iter().map(|&i| names[i].clone()).collect();
    let rows = stmt
        .query_map([key], |row| keep.iter().map(|&i| row.get::<_, Value>(i)).collect())?
        .collect::<rusqlite::Result<Vec<Vec<Value>>>>()?;
    Ok(TableRows { table, columns, rows })
}

/// Writes `rows` as `tenant`'s in one PostgreSQL transaction. Refuses
/// ([`Error::TenantNotEmpty`]) when the tenant has any row already.
pub(crate) async fn write_pg(pool: &Pool, tenant: &str, rows: &TenantRows) -> Result<ImportCounts, Error> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // Two moves of one tenant at once: the second waits, then finds rows.
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('wa-import:' || $1, 0))", &[&tenant]).await?;
    if tenant_has_rows(&tx, tenant).await? {
        return Err(Error::TenantNotEmpty { tenant: tenant.to_string() });
    }
    for table in &rows.tables {
        insert_pg(&tx, tenant, table).await?;
    }
    tx.commit().await?;
    Ok(rows.counts())
}

/// Rows per PostgreSQL INSERT: a round trip per chunk rather than per row,
/// with at most 8 columns a row far below the 65 535 parameters a statement
/// may carry.
const ROWS_PER_INSERT: usize = 500;

async fn insert_pg(tx: &Transaction<'_>, tenant: &str, table: &TableRows) -> Result<(), Error> {
    for chunk in table.rows.chunks(ROWS_PER_INSERT) {
        let cells: Vec<Cell<'_>> = chunk.iter().flatten().map(Cell).collect();
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(cells.len() + 1);
        params.push(&tenant);
        params.extend(cells.iter().map(|c| c as &(dyn ToSql + Sync)));
        tx.execute(&table.insert_sql(chunk.len(), |i| format!("${i}")), &params).await?;
    }
    Ok(())
}

/// One SQLite value bound to whichever PostgreSQL column it copies into:
/// integers widen or narrow to the column's integer type or become a BOOLEAN
/// (SQLite stores flags as 0/1); anything else must match the column.
#[derive(Debug)]
struct Cell<'a>(&'a Value);

impl ToSql for Cell<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(v) if *ty == Type::BOOL => (*v != 0).to_sql(ty, out),
            Value::Integer(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            Value::Integer(v) if *ty == Type::INT8 => v.to_sql(ty, out),
            Value::Text(s) if <String as ToSql>::accepts(ty) => s.to_sql(ty, out),
            Value::Blob(b) if *ty == Type::BYTEA => b.to_sql(ty, out),
            other => Err(format!("SQLite value {other:?} does not fit a {ty} column").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: Vec<Vec<Value>>) -> TableRows {
        TableRows { table: "wa_device", columns: vec!["pn".into(), "data".into()], rows }
    }

    #[test]
    fn inserts_bind_the_tenant_once_and_every_value_in_order() {
        let t = table(Vec::new());
        assert_eq!(
            t.insert_sql(1, |i| format!("?{i}")),
            "INSERT INTO wa_device (tenant, pn, data) VALUES (?1, ?2, ?3)"
        );
        assert_eq!(
            t.insert_sql(2, |i| format!("${i}")),
            "INSERT INTO wa_device (tenant, pn, data) VALUES ($1, $2, $3), ($1, $4, $5)"
        );
    }

    #[test]
    fn paired_means_a_device_row_with_a_phone_number() {
        let unpaired = TenantRows { tables: vec![table(vec![vec![Value::Null, Value::Blob(Vec::new())]])] };
        assert!(!unpaired.counts().paired);
        let paired = TenantRows { tables: vec![table(vec![vec![Value::Text("1@s".into()), Value::Null]])] };
        let counts = paired.counts();
        assert!(counts.paired);
        assert_eq!((counts.get("wa_device"), counts.get("wa_sessions")), (1, 0));
        assert!(!TenantRows::default().counts().paired);
    }
}
