//! Durable background jobs on PostgreSQL; see `crate::store::jobs`. Same
//! functions, same semantics; claiming skips jobs another node is claiming
//! at the same moment instead of waiting for it.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::delivery::count;
use super::events::{self, limit};
use super::PgError;
use crate::clock::now_ms;
use crate::store::jobs::Job;
use crate::store::jobs::JOB_COLUMNS as COLUMNS;

fn from_row(row: &Row) -> Result<Job, PgError> {
    Job::from_columns(row)
}

/// Queues a job that runs at once (or at `run_at_ms`); returns its id.
#[cfg(test)]
pub async fn enqueue(
    c: &impl GenericClient,
    kind: &str,
    tenant_id: Option<&str>,
    payload: &serde_json::Value,
    run_at_ms: Option<i64>,
) -> Result<i64, PgError> {
    let now = now_ms();
    let stmt = c
        .prepare_cached(
            "INSERT INTO jobs (kind, tenant_id, payload, run_at_ms, created_at_ms, updated_at_ms)
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .await?;
    let row = c
        .query_one(&stmt, &[&kind, &tenant_id, &payload.to_string(), &run_at_ms.unwrap_or(now), &now])
        .await?;
    Ok(row.try_get(0)?)
}

/// Puts jobs a previous process left `running` back in the queue, due now.
pub async fn requeue_running(c: &impl GenericClient) -> Result<usize, PgError> {
    let stmt = c
        .prepare_cached(
            "UPDATE jobs SET status = 'queued', run_at_ms = $1, updated_at_ms = $1 WHERE status = 'running'",
        )
        .await?;
    Ok(count(c.execute(&stmt, &[&now_ms()]).await?))
}

/// Takes up to `limit` due jobs, oldest due first, marking them `running` and
/// counting the attempt. One statement (atomic on its own); `SKIP LOCKED`
/// lets two nodes claim at once without waiting for or doubling each other.
pub async fn claim_due(c: &impl GenericClient, now: i64, limit_rows: usize) -> Result<Vec<Job>, PgError> {
    let stmt = c
        .prepare_cached(&format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at_ms = $1
             WHERE id IN (SELECT id FROM jobs WHERE status = 'queued' AND run_at_ms <= $1
                          ORDER BY run_at_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING {COLUMNS}"
        ))
        .await?;
    let mut jobs = c
        .query(&stmt, &[&now, &limit(limit_rows)])
        .await?
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>, _>>()?;
    // RETURNING has no order of its own.
    jobs.sort_by_key(|j| (j.run_at_ms, j.id));
    Ok(jobs)
}

/// When the next queued job is due, if any.
pub async fn next_due_ms(c: &impl GenericClient) -> Result<Option<i64>, PgError> {
    let stmt = c.prepare_cached("SELECT MIN(run_at_ms) FROM jobs WHERE status = 'queued'").await?;
    Ok(c.query_one(&stmt, &[]).await?.try_get(0)?)
}

/// Schedules another attempt at `run_at_ms`, remembering why this one failed.
pub async fn retry_at(c: &impl GenericClient, id: i64, run_at_ms: i64, error: &str) -> Result<(), PgError> {
    let stmt = c
        .prepare_cached(
            "UPDATE jobs SET status = 'queued', run_at_ms = $2, last_error = $3, updated_at_ms = $4 WHERE id = $1",
        )
        .await?;
    c.execute(&stmt, &[&id, &run_at_ms, &error, &now_ms()]).await?;
    Ok(())
}

/// Puts a job back for later without counting the attempt it just had.
pub async fn defer(c: &impl GenericClient, id: i64, run_at_ms: i64, reason: &str) -> Result<(), PgError> {
    let stmt = c
        .prepare_cached(
            "UPDATE jobs SET status = 'queued', attempts = GREATEST(attempts - 1, 0), run_at_ms = $2,
             last_error = $3, updated_at_ms = $4 WHERE id = $1",
        )
        .await?;
    c.execute(&stmt, &[&id, &run_at_ms, &reason, &now_ms()]).await?;
    Ok(())
}

/// Ends a job in one transaction: on success it is deleted, on failure it is
/// kept as `failed` with `error`. Its held event (if any) gets `patch` merged
/// into its data and is released for delivery either way.
pub async fn finish(
    c: &mut impl GenericClient,
    job: &Job,
    error: Option<&str>,
    patch: &serde_json::Value,
) -> Result<(), PgError> {
    let tx = c.transaction().await?;
    match error {
        None => {
            let stmt = tx.prepare_cached("DELETE FROM jobs WHERE id = $1").await?;
            tx.execute(&stmt, &[&job.id]).await?;
        }
        Some(error) => {
            let stmt = tx
                .prepare_cached(
                    "UPDATE jobs SET status = 'failed', last_error = $2, updated_at_ms = $3 WHERE id = $1",
                )
                .await?;
            tx.execute(&stmt, &[&job.id, &error, &now_ms()]).await?;
        }
    }
    if let Some(event_id) = &job.event_id {
        events::release_held(&tx, event_id, patch).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
pub async fn get(c: &impl GenericClient, id: i64) -> Result<Option<Job>, PgError> {
    let stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1")).await?;
    c.query_opt(&stmt, &[&id]).await?.as_ref().map(from_row).transpose()
}

/// Every job not yet done (queued, running, failed), oldest first.
#[cfg(test)]
pub async fn list(c: &impl GenericClient, limit_rows: usize) -> Result<Vec<Job>, PgError> {
    let stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM jobs ORDER BY id LIMIT $1")).await?;
    c.query(&stmt, &[&limit(limit_rows)]).await?.iter().map(from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::super::testdb::{insert_tenant, TestDb};
    use super::*;
    use crate::store::events::NewEvent;

    #[tokio::test]
    async fn held_events_get_a_job_and_finishing_releases_them() {
        let Some(db) = TestDb::create().await else { return };
        let mut c = db.pool.get().await.expect("client");
        insert_tenant(&c, "a", None).await;
        let event = |key: &str, held: bool| NewEvent {
            tenant_id: "a".into(),
            kind: "twilio.recording".into(),
            dedupe_key: Some(key.into()),
            data: serde_json::json!({"RecordingSid": key}),
            held,
        };
        let stored =
            events::insert_batch(&mut c, &[event("k1", true), event("k1", true), event("k2", false)])
                .await
                .expect("insert");
        // One job: the duplicate and the unheld event get none.
        let jobs = claim_due(&c, now_ms() + 1, 10).await.expect("claim");
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].kind, "twilio.recording");
        assert_eq!(jobs[0].event_id.as_deref(), Some(stored[0].id.as_str()));
        assert_eq!((jobs[0].attempts, jobs[0].status.as_str()), (1, "running"));
        assert!(claim_due(&c, now_ms() + 1, 10).await.expect("claim").is_empty(), "running is not due");
        // A crash while running: queued again at start, attempt kept.
        assert_eq!(requeue_running(&c).await.expect("requeue"), 1);
        let jobs = claim_due(&c, now_ms() + 1, 10).await.expect("claim");
        assert_eq!(jobs[0].attempts, 2);
        defer(&c, jobs[0].id, now_ms() - 1, "tenant offline").await.expect("defer");
        let jobs = claim_due(&c, now_ms() + 1, 10).await.expect("claim");
        assert_eq!(jobs[0].attempts, 2, "a deferred attempt does not count");
        retry_at(&c, jobs[0].id, now_ms() + 60_000, "boom").await.expect("retry");
        assert!(claim_due(&c, now_ms(), 10).await.expect("claim").is_empty());
        assert!(next_due_ms(&c).await.expect("next").is_some());
        let job = get(&c, jobs[0].id).await.expect("get").expect("job");
        assert_eq!(job.last_error.as_deref(), Some("boom"));
        finish(&mut c, &job, None, &serde_json::json!({"recording": {"bytes": 3}})).await.expect("finish");
        let row = events::get(&c, &stored[0].id).await.expect("get").expect("event");
        assert_eq!(row.status, "pending");
        assert_eq!(row.data["recording"]["bytes"], 3);
        assert_eq!(row.data["RecordingSid"], "k1");
        assert!(list(&c, 10).await.expect("list").is_empty());
        assert_eq!(next_due_ms(&c).await.expect("next"), None);
    }

    #[tokio::test]
    async fn enqueued_jobs_run_in_due_order_and_failures_are_kept() {
        let Some(db) = TestDb::create().await else { return };
        let mut c = db.pool.get().await.expect("client");
        insert_tenant(&c, "a", None).await;
        let late =
            enqueue(&c, "x", Some("a"), &serde_json::json!({"n": 1}), Some(2_000)).await.expect("late");
        let early = enqueue(&c, "x", None, &serde_json::json!({"n": 2}), Some(1_000)).await.expect("early");
        let ids: Vec<i64> = claim_due(&c, 5_000, 10).await.expect("claim").iter().map(|j| j.id).collect();
        assert_eq!(ids, [early, late]);
        let job = get(&c, early).await.expect("get").expect("job");
        assert_eq!(job.payload, serde_json::json!({"n": 2}));
        finish(&mut c, &job, Some("gave up"), &serde_json::json!({})).await.expect("finish");
        let kept = list(&c, 10).await.expect("list");
        assert_eq!(kept.len(), 2);
        assert_eq!((kept[1].status.as_str(), kept[1].last_error.as_deref()), ("failed", Some("gave up")));
    }
}
