//! Durable background jobs (recording fetches, media downloads): claimed,
//! retried with backoff, and finished together with the event they release.

use super::columns::{json_text, Columns};

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
