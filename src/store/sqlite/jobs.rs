//! Durable background jobs, in the same database as the events they work for.
//!
//! A job is `queued` until its `run_at_ms`, `running` while a worker has it,
//! and either deleted (done) or `failed` (kept, with its last error, for the
//! operator). A held event gets its job from a trigger in the same
//! transaction that stores the event (migration 3). Only one `serve` owns a
//! data directory, so jobs left
//! `running` by a crash are simply queued again at start ([`requeue_running`]).

#[cfg(test)]
use rusqlite::OptionalExtension;
use rusqlite::{params, Connection, Row};

use crate::store::jobs::Job;

use super::events;
use crate::clock::now_ms;
use crate::store::jobs::JOB_COLUMNS as COLUMNS;

fn from_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    Job::from_columns(row)
}

/// Puts jobs a previous process left `running` back in the queue, due now.
pub fn requeue_running(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE jobs SET status = 'queued', run_at_ms = ?1, updated_at_ms = ?1 WHERE status = 'running'",
        [now_ms()],
    )
}

/// Takes up to `limit` due jobs, oldest due first, marking them `running` and
/// counting the attempt.
pub fn claim_due(conn: &mut Connection, now: i64, limit: usize) -> rusqlite::Result<Vec<Job>> {
    // Most polls find nothing due: they answer from a plain read and never
    // wait for the write lock (which another process may hold for long).
    let due: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE status = 'queued' AND run_at_ms <= ?1)",
        [now],
        |r| r.get(0),
    )?;
    if !due {
        return Ok(Vec::new());
    }
    // Immediate: a read that later writes cannot wait for the write lock (a
    // commit in between makes its snapshot stale, and SQLite answers "database
    // is locked" at once); taking the lock first lets the busy timeout apply.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let jobs = {
        let mut select = tx.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE status = 'queued' AND run_at_ms <= ?1
             ORDER BY run_at_ms, id LIMIT ?2"
        ))?;
        let mut jobs =
            select.query_map(params![now, limit as i64], from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        let mut claim = tx.prepare_cached(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at_ms = ?2 WHERE id = ?1",
        )?;
        for job in &mut jobs {
            claim.execute(params![job.id, now])?;
            job.status = "running".into();
            job.attempts += 1;
        }
        jobs
    };
    tx.commit()?;
    Ok(jobs)
}

/// When the next queued job is due, if any.
pub fn next_due_ms(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT MIN(run_at_ms) FROM jobs WHERE status = 'queued'", [], |r| r.get(0))
}

/// Schedules another attempt at `run_at_ms`, remembering why this one failed.
pub fn retry_at(conn: &Connection, id: i64, run_at_ms: i64, error: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET status = 'queued', run_at_ms = ?2, last_error = ?3, updated_at_ms = ?4 WHERE id = ?1",
        params![id, run_at_ms, error, now_ms()],
    )
    .map(|_| ())
}

/// Puts a job back for later without counting the attempt it just had: it
/// could not start for a reason outside it (e.g. its tenant is offline).
pub fn defer(conn: &Connection, id: i64, run_at_ms: i64, reason: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET status = 'queued', attempts = MAX(attempts - 1, 0), run_at_ms = ?2, last_error = ?3,
         updated_at_ms = ?4 WHERE id = ?1",
        params![id, run_at_ms, reason, now_ms()],
    )
    .map(|_| ())
}

/// Ends a job in one transaction: on success it is deleted, on failure it is
/// kept as `failed` with `error`. Its held event (if any) gets `patch` merged
/// into its data and is released for delivery either way.
pub fn finish(
    conn: &mut Connection,
    job: &Job,
    error: Option<&str>,
    patch: &serde_json::Value,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    match error {
        None => {
            tx.execute("DELETE FROM jobs WHERE id = ?1", [job.id])?;
        }
        Some(error) => {
            tx.execute(
                "UPDATE jobs SET status = 'failed', last_error = ?2, updated_at_ms = ?3 WHERE id = ?1",
                params![job.id, error, now_ms()],
            )?;
        }
    }
    if let Some(event_id) = &job.event_id {
        events::release_held(&tx, event_id, patch)?;
    }
    tx.commit()
}

#[cfg(test)]
pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Job>> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"), [id], from_row).optional()
}

/// Every job not yet done (queued, running, failed), oldest first.
#[cfg(test)]
pub fn list(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<Job>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM jobs ORDER BY id LIMIT ?1"))?;
    let jobs = stmt.query_map([limit as i64], from_row)?.collect();
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::events::NewEvent;
    use crate::store::sqlite::events::insert_batch;
    use crate::store::sqlite::Db as Store;

    #[test]
    fn held_events_get_a_job_and_finishing_releases_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db"), std::time::Duration::from_secs(1)).expect("open");
        store.with_conn(|c| crate::store::sqlite::tenants::insert_bare_for_tests(c, "a")).expect("tenant");
        let event = |key: &str, held: bool| NewEvent {
            tenant_id: "a".into(),
            kind: "twilio.recording".into(),
            dedupe_key: Some(key.into()),
            data: serde_json::json!({"RecordingSid": key}),
            held,
        };
        let stored = store
            .with_conn(|c| insert_batch(c, &[event("k1", true), event("k1", true), event("k2", false)]))
            .expect("insert");
        // One job: the duplicate and the unheld event get none.
        let jobs = store.with_conn(|c| claim_due(c, now_ms() + 1, 10)).expect("claim");
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].kind, "twilio.recording");
        assert_eq!(jobs[0].event_id.as_deref(), Some(stored[0].id.as_str()));
        assert_eq!(jobs[0].attempts, 1);
        // A crash while running: queued again at start, attempt kept.
        assert_eq!(store.with_conn(|c| requeue_running(c)).expect("requeue"), 1);
        let jobs = store.with_conn(|c| claim_due(c, now_ms() + 1, 10)).expect("claim");
        assert_eq!(jobs[0].attempts, 2);
        store.with_conn(|c| retry_at(c, jobs[0].id, now_ms() + 60_000, "boom")).expect("retry");
        assert!(store.with_conn(|c| claim_due(c, now_ms(), 10)).expect("claim").is_empty());
        assert!(store.with_conn(|c| next_due_ms(c)).expect("next").is_some());
        let job = store.with_conn(|c| get(c, jobs[0].id)).expect("get").expect("job");
        assert_eq!(job.last_error.as_deref(), Some("boom"));
        store
            .with_conn(|c| finish(c, &job, None, &serde_json::json!({"recording": {"bytes": 3}})))
            .expect("finish");
        let row = store.with_conn(|c| events::get(c, &stored[0].id)).expect("get").expect("event");
        assert_eq!(row.status, "pending");
        assert_eq!(row.data["recording"]["bytes"], 3);
        assert_eq!(row.data["RecordingSid"], "k1");
        assert!(store.with_conn(|c| list(c, 10)).expect("list").is_empty());
    }
}
