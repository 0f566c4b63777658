//! Stored content the API serves: WhatsApp media and call recordings. The
//! bytes are files in the tenant's directory; a row says which file a public
//! id names, its type, size and SHA-256 (the `ETag`), and whether the file was
//! pruned (`expired_at_ms`).

use super::columns::Columns;
use super::{postgres::content as postgres, sqlite::content as sqlite, Backend, Store, StoreResult};

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

/// The stored-content operations of a [`Store`].
pub struct Contents<'a>(&'a Store);

impl Store {
    pub fn content(&self) -> Contents<'_> {
        Contents(self)
    }
}

impl Contents<'_> {
    /// Records a stored file (again, if a retried job stored it twice: the
    /// second file replaced the first under the same name).
    pub async fn record(&self, content: &Content) -> StoreResult<()> {
        let content = content.clone();
        dispatch!(self.0, |c| sqlite::record(c, &content), |p| postgres::record(p, &content))
    }

    pub async fn get(&self, tenant_id: &str, kind: ContentKind, id: &str) -> StoreResult<Option<Content>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        dispatch!(self.0, |c| sqlite::get(c, &tenant_id, kind, &id), |p| postgres::get(
            p, &tenant_id, kind, &id
        ))
    }

    /// Up to `limit` files stored before `cutoff_ms` and not yet pruned, oldest first.
    pub async fn due_for_pruning(&self, cutoff_ms: i64, limit: usize) -> StoreResult<Vec<Content>> {
        dispatch!(self.0, |c| sqlite::due_for_pruning(c, cutoff_ms, limit), |p| postgres::due_for_pruning(
            p, cutoff_ms, limit
        ))
    }

    /// Marks files pruned, in one transaction: the API answers 410 for them
    /// from now on.
    pub async fn mark_expired(&self, contents: Vec<Content>) -> StoreResult<()> {
        match &*self.0.backend {
            Backend::Sqlite(db) => {
                db.run(move |c| {
                    let tx = c.transaction()?;
                    for content in &contents {
                        sqlite::mark_expired(&tx, content)?;
                    }
                    tx.commit()
                })
                .await
            }
            Backend::Postgres(pg) => {
                let mut client = pg.client().await?;
                let tx = client.transaction().await.map_err(super::postgres::PgError::from)?;
                for content in &contents {
                    postgres::mark_expired(&tx, content).await?;
                }
                Ok(tx.commit().await.map_err(super::postgres::PgError::from)?)
            }
        }
    }

    /// Forgets rows of files pruned before `cutoff_ms` (their ids then answer 404).
    pub async fn forget_expired_before(&self, cutoff_ms: i64) -> StoreResult<usize> {
        dispatch!(self.0, |c| sqlite::forget_expired_before(c, cutoff_ms), |p| {
            postgres::forget_expired_before(p, cutoff_ms)
        })
    }
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
