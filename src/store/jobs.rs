//! Durable background jobs (recording fetches, media downloads): claimed,
//! retried with backoff, and finished together with the event they release.

use super::columns::{json_text, Columns};
use super::{postgres::jobs as postgres, sqlite::jobs as sqlite, Store, StoreResult};

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub tenant_id: Option<String>,
    /// The held event this job releases when it ends, if any.
    pub event_id: Option<String>,
    pub payload: serde_json::Value,
    pub status: String,
    /// Attempts started so far, this one included once claimed.
    pub attempts: i64,
    pub run_at_ms: i64,
    pub last_error: Option<String>,
}

/// The job-queue operations of a [`Store`]. Jobs are created with the held
/// event they release, by the event writer.
pub struct Jobs<'a>(&'a Store);

impl Store {
    pub fn jobs(&self) -> Jobs<'_> {
        Jobs(self)
    }
}

impl Jobs<'_> {
    /// Puts jobs left `running` by a process that died back in the queue.
    pub async fn requeue_running(&self) -> StoreResult<usize> {
        dispatch!(self.0, |c| sqlite::requeue_running(c), |p| postgres::requeue_running(p))
    }

    /// Claims up to `limit` jobs due at `now` (unix ms), marking them running.
    pub async fn claim_due(&self, now: i64, limit: usize) -> StoreResult<Vec<Job>> {
        dispatch!(self.0, |c| sqlite::claim_due(c, now, limit), |p| postgres::claim_due(p, now, limit))
    }

    /// When the next queued job is due (unix ms).
    pub async fn next_due_ms(&self) -> StoreResult<Option<i64>> {
        dispatch!(self.0, |c| sqlite::next_due_ms(c), |p| postgres::next_due_ms(p))
    }

    /// Queues the job again at `run_at_ms` after a failed attempt.
    pub async fn retry_at(&self, id: i64, run_at_ms: i64, error: &str) -> StoreResult<()> {
        let error = error.to_owned();
        dispatch!(self.0, |c| sqlite::retry_at(c, id, run_at_ms, &error), |p| postgres::retry_at(
            p, id, run_at_ms, &error
        ))
    }

    /// Queues the job again at `run_at_ms` without counting the attempt.
    pub async fn defer(&self, id: i64, run_at_ms: i64, reason: &str) -> StoreResult<()> {
        let reason = reason.to_owned();
        dispatch!(self.0, |c| sqlite::defer(c, id, run_at_ms, &reason), |p| postgres::defer(
            p, id, run_at_ms, &reason
        ))
    }

    /// Ends a job in one transaction: on success it is deleted, on failure it
    /// is kept as `failed` with `error`. Its held event (if any) gets `patch`
    /// merged into its data and is released for delivery either way.
    pub async fn finish(&self, job: &Job, error: Option<&str>, patch: &serde_json::Value) -> StoreResult<()> {
        let (job, error, patch) = (job.clone(), error.map(str::to_owned), patch.clone());
        dispatch!(self.0, |c| sqlite::finish(c, &job, error.as_deref(), &patch), |p| postgres::finish(
            p,
            &job,
            error.as_deref(),
            &patch
        ))
    }
}

/// The columns [`Job::from_columns`] reads, in order (both dialects).
pub(super) const JOB_COLUMNS: &str =
    "id, kind, tenant_id, event_id, payload, status, attempts, run_at_ms, last_error";

impl Job {
    pub(super) fn from_columns<R: Columns>(r: &R) -> Result<Job, R::Error> {
        Ok(Job {
            id: r.col(0)?,
            kind: r.col(1)?,
            tenant_id: r.col(2)?,
            event_id: r.col(3)?,
            payload: json_text(r.col(4)?),
            status: r.col(5)?,
            attempts: r.col(6)?,
            run_at_ms: r.col(7)?,
            last_error: r.col(8)?,
        })
    }
}
