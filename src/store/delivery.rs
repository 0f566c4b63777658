//! Delivery's view of the outbox: the head event of each tenant, attempts and
//! their verdicts, the pull API's cursor, and the operator's requeue and replay.

use super::columns::Columns;

use serde::Serialize;

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
