//! The content operations of a [`Store`], each on whichever backend it has.

use crate::paths::ContentKind;
use crate::store::content::Content;
use crate::store::postgres::content as postgres;
use crate::store::sqlite::content as sqlite;
use crate::store::{Store, StoreResult};

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

    /// Forgets rows of files pruned before `cutoff_ms` (their ids then answer 404).
    pub async fn forget_expired_before(&self, cutoff_ms: i64) -> StoreResult<usize> {
        dispatch!(self.0, |c| sqlite::forget_expired_before(c, cutoff_ms), |p| {
            postgres::forget_expired_before(p, cutoff_ms)
        })
    }
}
