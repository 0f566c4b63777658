//! The jobs operations of a [`Store`], each on whichever backend it has.

use crate::store::jobs::Job;
use crate::store::postgres::jobs as postgres;
use crate::store::sqlite::jobs as sqlite;
use crate::store::{Store, StoreResult};

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
