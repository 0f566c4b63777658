//! Stored content the API serves: WhatsApp media and call recordings. The
//! bytes are files in the tenant's directory; a row says which file a public
//! id names, its type, size and SHA-256 (the `ETag`), and whether the file was
//! pruned (`expired_at_ms`).

use super::columns::Columns;

use crate::paths::ContentKind;

/// One stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub tenant_id: String,
    pub kind: ContentKind,
    /// The public id (in the URL).
    pub id: String,
    /// The event that announced it, when there is one.
    pub event_id: Option<String>,
    /// The file's name in the tenant's directory for `kind`.
    pub file: String,
    pub mimetype: String,
    pub bytes: u64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub stored_at_ms: i64,
    /// When the file was pruned; `None` while it is served.
    pub expired_at_ms: Option<i64>,
}

/// The columns [`Content::from_columns`] reads, in order (both dialects).
pub(super) const CONTENT_COLUMNS: &str =
    "tenant_id, kind, id, event_id, file, mimetype, bytes, sha256, stored_at_ms, expired_at_ms";

impl Content {
    pub(super) fn from_columns<R: Columns>(r: &R) -> Result<Content, R::Error> {
        let kind: String = r.col(1)?;
        let bytes: i64 = r.col(6)?;
        Ok(Content {
            tenant_id: r.col(0)?,
            kind: match ContentKind::parse(&kind) {
                Some(kind) => kind,
                None => return Err(r.corrupt(1, kind)),
            },
            id: r.col(2)?,
            event_id: r.col(3)?,
            file: r.col(4)?,
            mimetype: r.col(5)?,
            bytes: u64::try_from(bytes).unwrap_or(0),
            sha256: r.col(7)?,
            stored_at_ms: r.col(8)?,
            expired_at_ms: r.col(9)?,
        })
    }
}
