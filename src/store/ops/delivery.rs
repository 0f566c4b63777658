//! The delivery operations of a [`Store`], each on whichever backend it has.

use crate::store::delivery::{AttemptOutcome, AttemptRow, Head, RequeueError, Requeued};
use crate::store::events::EventRow;
use crate::store::postgres::delivery as postgres;
use crate::store::sqlite::delivery as sqlite;
use crate::store::{Backend, Store, StoreResult};

/// The outbox operations of a [`Store`]: delivery's, the pull API's and the
/// operator's.
pub struct Outbox<'a>(&'a Store);

impl Store {
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox(self)
    }
}

impl Outbox<'_> {
    /// The head of every tenant that has a webhook URL and a pending event,
    /// with a token that changes whenever another connection or process
    /// commits (delivery rescans when it moves).
    pub async fn heads(&self) -> StoreResult<(i64, Vec<Head>)> {
        match &*self.0.backend {
            Backend::Sqlite(db) => db.run(|c| Ok((sqlite::data_version(c)?, sqlite::heads(c)?))).await,
            Backend::Postgres(pg) => {
                let client = pg.client().await?;
                Ok((postgres::data_version(&client).await?, postgres::heads(&client).await?))
            }
        }
    }

    /// The change token alone (see [`Outbox::heads`]); cheap to poll.
    pub async fn data_version(&self) -> StoreResult<i64> {
        dispatch!(self.0, |c| sqlite::data_version(c), |p| postgres::data_version(p))
    }

    /// Records finished attempts and their verdicts in one transaction.
    pub async fn record_attempts(&self, outcomes: Vec<AttemptOutcome>) -> StoreResult<()> {
        dispatch!(self.0, |c| sqlite::record_attempts(c, &outcomes), |p| postgres::record_attempts(
            p, &outcomes
        ))
    }

    /// An event and its attempts, for `events show`.
    pub async fn event_with_attempts(&self, id: &str) -> StoreResult<Option<(EventRow, Vec<AttemptRow>)>> {
        let id = id.to_owned();
        match &*self.0.backend {
            Backend::Sqlite(db) => {
                db.run(move |c| match crate::store::sqlite::events::get(c, &id)? {
                    Some(row) => {
                        let attempts = sqlite::attempts(c, row.seq)?;
                        Ok(Some((row, attempts)))
                    }
                    None => Ok(None),
                })
                .await
            }
            Backend::Postgres(pg) => {
                let client = pg.client().await?;
                match crate::store::postgres::events::get(&client, &id).await? {
                    Some(row) => {
                        let attempts = postgres::attempts(&client, row.seq).await?;
                        Ok(Some((row, attempts)))
                    }
                    None => Ok(None),
                }
            }
        }
    }

    /// The newest `limit` events, optionally of one tenant and one status.
    pub async fn recent(
        &self,
        tenant_id: Option<&str>,
        status: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<EventRow>> {
        let (tenant_id, status) = (tenant_id.map(str::to_owned), status.map(str::to_owned));
        match &*self.0.backend {
            Backend::Sqlite(db) => {
                db.run(move |c| sqlite::recent(c, tenant_id.as_deref(), status.as_deref(), limit)).await
            }
            Backend::Postgres(pg) => {
                Ok(postgres::recent(&pg.client().await?, tenant_id.as_deref(), status.as_deref(), limit)
                    .await?)
            }
        }
    }

    /// The pull API: acknowledges everything of the tenant up to `after`
    /// (when above 0), then returns up to `limit` events after it.
    pub async fn pull(
        &self,
        tenant_id: &str,
        after: i64,
        limit: usize,
        now_ms: i64,
    ) -> StoreResult<Vec<EventRow>> {
        let tenant_id = tenant_id.to_owned();
        match &*self.0.backend {
            Backend::Sqlite(db) => {
                db.run(move |c| {
                    if after > 0 {
                        sqlite::acknowledge_pulled(c, &tenant_id, after, now_ms)?;
                    }
                    sqlite::pull(c, &tenant_id, after, limit)
                })
                .await
            }
            Backend::Postgres(pg) => {
                let client = pg.client().await?;
                if after > 0 {
                    postgres::acknowledge_pulled(&client, &tenant_id, after, now_ms).await?;
                }
                Ok(postgres::pull(&client, &tenant_id, after, limit).await?)
            }
        }
    }

    /// Puts the events back in the queue (all or nothing).
    pub async fn requeue(
        &self,
        ids: Vec<String>,
        now_ms: i64,
    ) -> StoreResult<Result<Vec<Requeued>, RequeueError>> {
        dispatch!(self.0, |c| sqlite::requeue(c, &ids, now_ms), |p| postgres::requeue(p, &ids, now_ms))
    }

    /// Re-queues every dead event (of one tenant, or of all). Returns their ids.
    pub async fn retry_dead(&self, tenant_id: Option<&str>, now_ms: i64) -> StoreResult<Vec<String>> {
        let tenant_id = tenant_id.map(str::to_owned);
        dispatch!(self.0, |c| sqlite::retry_dead(c, tenant_id.as_deref(), now_ms), |p| postgres::retry_dead(
            p,
            tenant_id.as_deref(),
            now_ms
        ))
    }

    /// Deletes up to `batch` events delivered before `before_ms`.
    pub async fn prune_delivered(&self, before_ms: i64, batch: usize) -> StoreResult<usize> {
        dispatch!(self.0, |c| sqlite::prune_delivered(c, before_ms, batch), |p| postgres::prune_delivered(
            p, before_ms, batch
        ))
    }
}
