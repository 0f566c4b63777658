//! Delivery's view of the outbox: the head event of each tenant, attempts and
//! their verdicts, the pull API's cursor, and the operator's requeue and replay.

use super::columns::Columns;
use super::{postgres::delivery as postgres, sqlite::delivery as sqlite, Backend, Store, StoreResult};

use serde::Serialize;

use super::events::EventRow;

/// The next event of one tenant that has a webhook URL.
#[derive(Debug, Clone)]
pub struct Head {
    pub seq: i64,
    pub id: String,
    pub tenant_id: String,
    pub kind: String,
    /// The stored JSON text, sent as is.
    pub data: String,
    pub created_at_ms: i64,
    /// Attempts since the event was last queued (a replay starts again at 0).
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub webhook_url: String,
    /// Read with the head, so every attempt signs with the keys of the moment
    /// (a rotation counts from the next scan on) at no extra query.
    pub keys: SigningKeys,
}

/// A tenant's webhook signing keys (raw bytes).
#[derive(Debug, Clone)]
pub struct SigningKeys {
    pub current: Vec<u8>,
    /// The key a rotation replaced, and until when (unix ms) it still signs.
    pub previous: Option<(Vec<u8>, i64)>,
}

impl SigningKeys {
    /// The keys that sign at `now_ms`, the current one first.
    pub fn valid_at(&self, now_ms: i64) -> Vec<&[u8]> {
        let mut keys = vec![self.current.as_slice()];
        if let Some((previous, until_ms)) = &self.previous {
            if now_ms < *until_ms {
                keys.push(previous.as_slice());
            }
        }
        keys
    }
}

/// What to do with an event after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// The receiver answered 2xx.
    Delivered,
    /// Try again at this time (unix ms).
    RetryAt(i64),
    /// No attempts left: keep it until an operator replays it.
    Dead,
}

/// One finished attempt, to be recorded.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub seq: i64,
    pub at_ms: i64,
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub verdict: Verdict,
}

/// One recorded attempt, for `events show`.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptRow {
    pub attempt: i64,
    pub at_ms: i64,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// Why some events could not be re-queued (nothing was changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequeueError {
    #[error("no event {0}; see `agentlocator events list`")]
    Unknown(String),
    #[error("event {0} is held (a background job, e.g. a recording fetch, has not finished); it is delivered once the job completes")]
    Held(String),
}

/// A re-queued event and the status it had.
#[derive(Debug, Clone, Serialize)]
pub struct Requeued {
    pub id: String,
    pub tenant_id: String,
    pub previous_status: String,
}

/// An operator command that fails on this ends with exit 1 and its message.
impl crate::error::CommandFailure for RequeueError {}

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
                db.run(move |c| match super::sqlite::events::get(c, &id)? {
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
                match super::postgres::events::get(&client, &id).await? {
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

impl Head {
    /// From the columns of the heads query: the event's seq, id, tenant_id,
    /// type, data, created_at_ms, attempts, next_attempt_at_ms, then the
    /// tenant's webhook_url, signing_key, signing_key_previous and
    /// signing_key_previous_until.
    pub(super) fn from_columns<R: Columns>(r: &R) -> Result<Head, R::Error> {
        Ok(Head {
            seq: r.col(0)?,
            id: r.col(1)?,
            tenant_id: r.col(2)?,
            kind: r.col(3)?,
            data: r.col(4)?,
            created_at_ms: r.col(5)?,
            attempts: r.col(6)?,
            next_attempt_at_ms: r.col(7)?,
            webhook_url: r.col(8)?,
            keys: SigningKeys {
                current: r.col(9)?,
                previous: r.col::<Option<Vec<u8>>>(10)?.zip(r.col::<Option<i64>>(11)?),
            },
        })
    }
}
