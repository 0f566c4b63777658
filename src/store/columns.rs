//! Reading a result row by column position, the same way on both backends, so
//! each row type is built from its columns once (beside the type) rather than
//! once per driver.

/// A value both drivers can read from a column.
pub trait Column: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a> {}

impl<T: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a>> Column for T {}

/// A row of either backend.
pub trait Columns {
    type Error;
    fn col<T: Column>(&self, index: usize) -> Result<T, Self::Error>;
    /// A stored value this build cannot read (e.g. an unknown enum name).
    fn corrupt(&self, index: usize, value: String) -> Self::Error;
}

impl Columns for rusqlite::Row<'_> {
    type Error = rusqlite::Error;
    fn col<T: Column>(&self, index: usize) -> Result<T, rusqlite::Error> {
        self.get(index)
    }
    fn corrupt(&self, index: usize, value: String) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, value.into())
    }
}

impl Columns for tokio_postgres::Row {
    type Error = super::postgres::PgError;
    fn col<T: Column>(&self, index: usize) -> Result<T, Self::Error> {
        Ok(self.try_get(index)?)
    }
    fn corrupt(&self, index: usize, value: String) -> Self::Error {
        let column = self.columns().get(index).map_or("?", |c| c.name()).to_string();
        super::postgres::PgError::Corrupt { column, value }
    }
}

/// A JSON column stored as text; text that is not JSON (never written by
/// this build) is kept as a JSON string rather than failing the whole read.
pub fn json_text(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}
