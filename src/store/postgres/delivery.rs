//! The outbox as delivery, the operator commands and the pull API see it,
//! on PostgreSQL; see `crate::store::delivery` for the ordering rules. Same
//! functions, same semantics.

use deadpool_postgres::GenericClient;

use super::events::{from_rows, limit, COLUMNS};
use super::PgError;
use crate::store::delivery::{AttemptOutcome, AttemptRow, Head, RequeueError, Requeued, Verdict};
use crate::store::events::EventRow;

/// The head of every tenant that has a webhook URL and a pending event, due or
/// not. One index probe per such tenant: a LATERAL subquery, because joining
/// on `e.seq = (SELECT ...)` let the planner hash the whole `events` table
/// every round (25 ms at 20 000 rows, growing with the table; delivery of a
/// backlog on PostgreSQL ran at a thirtieth of SQLite's rate for it).
pub async fn heads(c: &impl GenericClient) -> Result<Vec<Head>, PgError> {
    let stmt = c
        .prepare_cached(
            "SELECT e.seq, e.id, e.tenant_id, e.type, e.data, e.created_at_ms, e.attempts,
                    e.next_attempt_at_ms, t.webhook_url,
                    t.signing_key, t.signing_key_previous, t.signing_key_previous_until
             FROM tenants t
             CROSS JOIN LATERAL (SELECT seq, id, tenant_id, type, data, created_at_ms, attempts,
                                        next_attempt_at_ms
                                 FROM events
                                 WHERE status = 'pending' AND tenant_id = t.id
                                 ORDER BY seq LIMIT 1) e
             WHERE t.webhook_url IS NOT NULL AND t.webhook_url != ''
             ORDER BY e.seq",
        )
        .await?;
    c.query(&stmt, &[]).await?.iter().map(Head::from_columns).collect()
}

/// Changes whenever a change to `events` commits, on any connection of any
/// node (the counters of migration 1); cheap enough to poll often. Unlike
/// SQLite's `data_version` it also counts this connection's own commits:
/// a caller sees its own writes as one more reason to look again.
pub async fn data_version(c: &impl GenericClient) -> Result<i64, PgError> {
    let stmt = c.prepare_cached("SELECT sum(n)::bigint FROM events_version").await?;
    Ok(c.query_one(&stmt, &[]).await?.try_get::<_, Option<i64>>(0)?.unwrap_or(0))
}

/// Records every attempt of a batch and applies the verdicts in one
/// transaction of two statements, whatever the batch's size: a statement per
/// outcome cost the recorder two round trips per delivered event, and
/// delivery on PostgreSQL ran at a tenth of SQLite's rate for it. An event that
/// disappeared meanwhile (its tenant was removed) is skipped; one whose
/// status an operator changed meanwhile keeps it. Should one event appear
/// twice in a batch, both attempts are numbered in order and the later
/// verdict stands.
pub async fn record_attempts(c: &mut impl GenericClient, outcomes: &[AttemptOutcome]) -> Result<(), PgError> {
    const RECORD: &str = "
        WITH o AS (
            SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[],
                                 $6::text[], $7::bigint[], $8::bigint[])
                WITH ORDINALITY AS o(seq, at_ms, status_code, latency_ms, error, status, next_at, delivered_at, n)
        ), recorded AS (
            INSERT INTO delivery_attempts (event_seq, attempt, at_ms, status_code, latency_ms, error)
            SELECT o.seq,
                   COALESCE((SELECT MAX(d.attempt) FROM delivery_attempts d WHERE d.event_seq = o.seq), 0)
                     + ROW_NUMBER() OVER (PARTITION BY o.seq ORDER BY o.n),
                   o.at_ms, o.status_code, o.latency_ms, o.error
            FROM o WHERE EXISTS (SELECT 1 FROM events e WHERE e.seq = o.seq)
        )
        UPDATE events e
        SET attempts = e.attempts + last.tries, status = last.status, next_attempt_at_ms = last.next_at,
            delivered_at_ms = last.delivered_at, last_error = last.error
        FROM (SELECT DISTINCT ON (seq) seq, status, next_at, delivered_at, error,
                     COUNT(*) OVER (PARTITION BY seq) AS tries
              FROM o ORDER BY seq, n DESC) last
        WHERE e.seq = last.seq AND e.status = 'pending'";
    if outcomes.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&AttemptOutcome) -> i64| outcomes.iter().map(f).collect::<Vec<i64>>();
    let status_codes: Vec<Option<i64>> = outcomes.iter().map(|o| o.status_code.map(i64::from)).collect();
    let errors: Vec<Option<&str>> = outcomes.iter().map(|o| o.error.as_deref()).collect();
    let verdicts: Vec<(&str, i64, Option<i64>)> = outcomes.iter().map(verdict_columns).collect();
    let statuses: Vec<&str> = verdicts.iter().map(|v| v.0).collect();
    let next: Vec<i64> = verdicts.iter().map(|v| v.1).collect();
    let delivered_at: Vec<Option<i64>> = verdicts.iter().map(|v| v.2).collect();
    let seqs = column(|o| o.seq);
    let tx = c.transaction().await?;
    // Two nodes can record the same event while its tenant's lease moves:
    // holding its row first makes the later one number its attempts after
    // the earlier one's (the statement below reads MAX(attempt) from its own
    // snapshot, taken after this lock is granted). Sorted, so two batches
    // never wait on each other in a circle.
    let lock =
        tx.prepare_cached("SELECT seq FROM events WHERE seq = ANY($1) ORDER BY seq FOR UPDATE").await?;
    tx.query(&lock, &[&seqs]).await?;
    let stmt = tx.prepare_cached(RECORD).await?;
    tx.execute(
        &stmt,
        &[
            &seqs,
            &column(|o| o.at_ms),
            &status_codes,
            &column(|o| o.latency_ms),
            &errors,
            &statuses,
            &next,
            &delivered_at,
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What a verdict writes into the event: its status, when it is next due
/// and when it was delivered.
fn verdict_columns(o: &AttemptOutcome) -> (&'static str, i64, Option<i64>) {
    let done_at = o.at_ms + o.latency_ms;
    match o.verdict {
        Verdict::Delivered => ("delivered", done_at, Some(done_at)),
        Verdict::RetryAt(at) => ("pending", at, None),
        Verdict::Dead => ("dead", done_at, None),
    }
}

pub async fn attempts(c: &impl GenericClient, seq: i64) -> Result<Vec<AttemptRow>, PgError> {
    let stmt = c
        .prepare_cached(
            "SELECT attempt, at_ms, status_code, latency_ms, error FROM delivery_attempts
             WHERE event_seq = $1 ORDER BY attempt",
        )
        .await?;
    c.query(&stmt, &[&seq])
        .await?
        .iter()
        .map(|r| {
            Ok(AttemptRow {
                attempt: r.try_get(0)?,
                at_ms: r.try_get(1)?,
                status_code: r.try_get(2)?,
                latency_ms: r.try_get(3)?,
                error: r.try_get(4)?,
            })
        })
        .collect()
}

/// The newest `limit_rows` events, optionally of one tenant and one status,
/// oldest first.
pub async fn recent(
    c: &impl GenericClient,
    tenant_id: Option<&str>,
    status: Option<&str>,
    limit_rows: usize,
) -> Result<Vec<EventRow>, PgError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT * FROM (SELECT {COLUMNS} FROM events
                            WHERE ($1::text IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR status = $2)
                            ORDER BY seq DESC LIMIT $3) newest
             ORDER BY seq"
        ))
        .await?;
    from_rows(&c.query(&stmt, &[&tenant_id, &status, &limit(limit_rows)]).await?)
}

/// A page of a tenant's events after `after_seq`, oldest first, stopping
/// before its first held event.
pub async fn pull(
    c: &impl GenericClient,
    tenant_id: &str,
    after_seq: i64,
    limit_rows: usize,
) -> Result<Vec<EventRow>, PgError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events
             WHERE tenant_id = $1 AND seq > $2
               AND seq < COALESCE((SELECT MIN(seq) FROM events
                                   WHERE tenant_id = $1 AND status = 'held' AND seq > $2),
                                  9223372036854775807)
             ORDER BY seq LIMIT $3"
        ))
        .await?;
    from_rows(&c.query(&stmt, &[&tenant_id, &after_seq, &limit(limit_rows)]).await?)
}

/// Marks delivered (at `now_ms`) the pending events of a pull-only tenant up
/// to and including `up_to_seq`. Returns how many changed.
pub async fn acknowledge_pulled(
    c: &impl GenericClient,
    tenant_id: &str,
    up_to_seq: i64,
    now_ms: i64,
) -> Result<usize, PgError> {
    let stmt = c
        .prepare_cached(
            "UPDATE events SET status = 'delivered', delivered_at_ms = $3
             WHERE tenant_id = $1 AND seq <= $2 AND status = 'pending'
               AND EXISTS (SELECT 1 FROM tenants
                           WHERE id = $1 AND (webhook_url IS NULL OR webhook_url = ''))",
        )
        .await?;
    Ok(count(c.execute(&stmt, &[&tenant_id, &up_to_seq, &now_ms]).await?))
}

/// Puts the events back in the queue, due at `now_ms`, keeping their ids and
/// their attempt history; their retry budget starts again. All or nothing:
/// a refusal (inner error) changes nothing. The outer error is the database's.
pub async fn requeue(
    c: &mut impl GenericClient,
    ids: &[String],
    now_ms: i64,
) -> Result<Result<Vec<Requeued>, RequeueError>, PgError> {
    let tx = c.transaction().await?;
    let find =
        tx.prepare_cached("SELECT seq, tenant_id, status FROM events WHERE id = $1 FOR UPDATE").await?;
    let update = tx
        .prepare_cached(
            "UPDATE events SET status = 'pending', attempts = 0, next_attempt_at_ms = $2,
                    delivered_at_ms = NULL
             WHERE seq = $1",
        )
        .await?;
    let mut done = Vec::with_capacity(ids.len());
    for id in ids {
        // Returning drops `tx`, which rolls back what was changed so far.
        let Some(row) = tx.query_opt(&find, &[id]).await? else {
            return Ok(Err(RequeueError::Unknown(id.clone())));
        };
        let (seq, tenant_id, status): (i64, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        if status == "held" {
            return Ok(Err(RequeueError::Held(id.clone())));
        }
        tx.execute(&update, &[&seq, &now_ms]).await?;
        done.push(Requeued { id: id.clone(), tenant_id, previous_status: status });
    }
    tx.commit().await?;
    Ok(Ok(done))
}

/// Re-queues every dead event (of one tenant, or of all). Returns their ids
/// in `seq` order.
pub async fn retry_dead(
    c: &mut impl GenericClient,
    tenant_id: Option<&str>,
    now_ms: i64,
) -> Result<Vec<String>, PgError> {
    let stmt = c
        .prepare_cached(
            "UPDATE events SET status = 'pending', attempts = 0, next_attempt_at_ms = $2
             WHERE status = 'dead' AND ($1::text IS NULL OR tenant_id = $1)
             RETURNING id, seq",
        )
        .await?;
    // One statement: atomic without an explicit transaction.
    let mut rows: Vec<(i64, String)> = c
        .query(&stmt, &[&tenant_id, &now_ms])
        .await?
        .iter()
        .map(|r| Ok((r.try_get(1)?, r.try_get(0)?)))
        .collect::<Result<_, PgError>>()?;
    rows.sort();
    Ok(rows.into_iter().map(|(_, id)| id).collect())
}

/// Deletes up to `batch` delivered events delivered before `before_ms` (and
/// their attempts). Pending, held and dead events are never touched.
pub async fn prune_delivered(c: &impl GenericClient, before_ms: i64, batch: usize) -> Result<usize, PgError> {
    let stmt = c
        .prepare_cached(
            "DELETE FROM events WHERE seq IN (
                 SELECT seq FROM events WHERE status = 'delivered' AND delivered_at_ms < $1 LIMIT $2)",
        )
        .await?;
    Ok(count(c.execute(&stmt, &[&before_ms, &limit(batch)]).await?))
}

/// A row count as the SQLite functions return it.
pub(super) fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::super::events::{get, insert_batch};
    use super::super::testdb::{insert_tenant, TestDb};
    use super::*;
    use crate::store::events::NewEvent;

    async fn setup() -> Option<(TestDb, deadpool_postgres::Client)> {
        let db = TestDb::create().await?;
        let c = db.pool.get().await.expect("client");
        for (t, url) in [("a", Some("http://a.example/")), ("b", Some("http://b.example/")), ("c", None)] {
            insert_tenant(&c, t, url).await;
        }
        Some((db, c))
    }

    async fn add(c: &mut deadpool_postgres::Client, tenant: &str, held: bool) -> (String, i64) {
        let e = NewEvent {
            tenant_id: tenant.into(),
            kind: "twilio.sms".into(),
            dedupe_key: None,
            data: serde_json::json!({"n": 1}),
            held,
        };
        let a = insert_batch(c, &[e]).await.expect("insert").remove(0);
        (a.id, a.seq)
    }

    fn outcome(seq: i64, verdict: Verdict) -> AttemptOutcome {
        AttemptOutcome { seq, at_ms: 1000, status_code: Some(200), latency_ms: 5, error: None, verdict }
    }

    async fn head_seqs(c: &deadpool_postgres::Client) -> Vec<i64> {
        heads(c).await.expect("heads").iter().map(|h| h.seq).collect()
    }

    async fn status(c: &deadpool_postgres::Client, id: &str) -> String {
        get(c, id).await.expect("get").expect("row").status
    }

    #[tokio::test]
    async fn heads_follow_order_skip_held_and_pull_only_tenants() {
        let Some((_db, mut c)) = setup().await else { return };
        let (held_id, held) = add(&mut c, "a", true).await;
        let (_, a1) = add(&mut c, "a", false).await;
        let (_, a2) = add(&mut c, "a", false).await;
        let (_, b1) = add(&mut c, "b", false).await;
        add(&mut c, "c", false).await;
        assert_eq!(head_seqs(&c).await, [a1, b1]);
        assert_eq!(heads(&c).await.expect("heads")[0].webhook_url, "http://a.example/");
        record_attempts(&mut c, &[outcome(a1, Verdict::Delivered)]).await.expect("record");
        assert_eq!(head_seqs(&c).await, [a2, b1]);
        // A released held event is the lowest pending seq: it goes next.
        assert!(super::super::events::release_held(&c, &held_id, &serde_json::json!({}))
            .await
            .expect("release"));
        assert_eq!(head_seqs(&c).await, [held, b1]);
    }

    #[tokio::test]
    async fn heads_carry_the_keys_and_the_previous_one_signs_only_until_its_time() {
        let Some((_db, mut c)) = setup().await else { return };
        add(&mut c, "a", false).await;
        c.execute(
            "UPDATE tenants SET signing_key = '\\x01', signing_key_previous = '\\x02',
                    signing_key_previous_until = 5000 WHERE id = 'a'",
            &[],
        )
        .await
        .expect("keys");
        let keys = heads(&c).await.expect("heads").remove(0).keys;
        assert_eq!(keys.valid_at(4999), vec![&[1u8][..], &[2u8][..]], "current first, previous in grace");
        assert_eq!(keys.valid_at(5000), vec![&[1u8][..]], "grace over: the current key alone");
    }

    #[tokio::test]
    async fn attempts_are_numbered_and_verdicts_applied() {
        let Some((_db, mut c)) = setup().await else { return };
        let (id, seq) = add(&mut c, "a", false).await;
        let fail = AttemptOutcome {
            status_code: Some(500),
            error: Some("HTTP 500".into()),
            verdict: Verdict::RetryAt(5000),
            ..outcome(seq, Verdict::Delivered)
        };
        record_attempts(&mut c, std::slice::from_ref(&fail)).await.expect("1");
        record_attempts(&mut c, &[fail]).await.expect("2");
        let row = get(&c, &id).await.expect("get").expect("row");
        assert_eq!((row.status.as_str(), row.attempts, row.next_attempt_at_ms), ("pending", 2, 5000));
        assert_eq!(row.last_error.as_deref(), Some("HTTP 500"));
        record_attempts(&mut c, &[outcome(seq, Verdict::Dead)]).await.expect("3");
        assert_eq!(status(&c, &id).await, "dead");
        // Replay keeps the id and the history; the budget starts again.
        let done = requeue(&mut c, std::slice::from_ref(&id), 7000).await.expect("db").expect("ok");
        assert_eq!(done[0].previous_status, "dead");
        record_attempts(&mut c, &[outcome(seq, Verdict::Delivered)]).await.expect("4");
        let row = get(&c, &id).await.expect("get").expect("row");
        assert_eq!((row.status.as_str(), row.attempts, row.delivered_at_ms), ("delivered", 1, Some(1005)));
        let recorded = attempts(&c, seq).await.expect("attempts");
        assert_eq!(recorded.iter().map(|a| a.attempt).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(recorded[0].status_code, Some(500));
        // An event that is gone is skipped, not an error.
        record_attempts(&mut c, &[outcome(seq + 1000, Verdict::Delivered)]).await.expect("gone");
    }

    #[tokio::test]
    async fn a_batch_of_several_events_is_recorded_in_one_statement_in_order() {
        let Some((_db, mut c)) = setup().await else { return };
        let (a_id, a) = add(&mut c, "a", false).await;
        let (b_id, b) = add(&mut c, "b", false).await;
        let retry = AttemptOutcome {
            status_code: None,
            error: Some("timeout".into()),
            ..outcome(a, Verdict::RetryAt(9))
        };
        record_attempts(&mut c, &[retry, outcome(b, Verdict::Dead), outcome(a, Verdict::Delivered)])
            .await
            .expect("record");
        let row = get(&c, &a_id).await.expect("get").expect("row");
        assert_eq!(
            (row.status.as_str(), row.attempts, row.last_error),
            ("delivered", 2, None),
            "the later verdict"
        );
        let tries = attempts(&c, a).await.expect("attempts");
        let numbered: Vec<_> = tries.iter().map(|t| (t.attempt, t.status_code, t.error.clone())).collect();
        assert_eq!(numbered, [(1, None, Some("timeout".into())), (2, Some(200), None)]);
        assert_eq!(status(&c, &b_id).await, "dead");
        record_attempts(&mut c, &[]).await.expect("an empty batch");
    }

    /// Two nodes recording the same event at once (its lease moving) both
    /// succeed, their attempts numbered one after the other.
    #[tokio::test]
    async fn concurrent_recorders_of_one_event_number_its_attempts_in_turn() {
        let Some((db, mut c)) = setup().await else { return };
        let (_, seq) = add(&mut c, "a", false).await;
        let mut recorders = Vec::new();
        // Six of the test pool's eight connections (one is `c`).
        for _ in 0..6 {
            let mut other = db.pool.get().await.expect("client");
            recorders.push(tokio::spawn(async move {
                record_attempts(&mut other, &[outcome(seq, Verdict::RetryAt(9))]).await
            }));
        }
        for recorder in recorders {
            recorder.await.expect("join").expect("recorded without a key collision");
        }
        let numbers: Vec<i64> =
            attempts(&c, seq).await.expect("attempts").iter().map(|a| a.attempt).collect();
        assert_eq!(numbers, (1..=6).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn requeue_is_all_or_nothing_and_refuses_held() {
        let Some((_db, mut c)) = setup().await else { return };
        let (dead, seq) = add(&mut c, "a", false).await;
        let (held, _) = add(&mut c, "a", true).await;
        record_attempts(&mut c, &[outcome(seq, Verdict::Dead)]).await.expect("dead");
        let err = requeue(&mut c, &[dead.clone(), "evt_nope".into()], 1).await.expect("db").unwrap_err();
        assert_eq!(err, RequeueError::Unknown("evt_nope".into()));
        let err = requeue(&mut c, &[held], 1).await.expect("run").unwrap_err();
        assert!(matches!(err, RequeueError::Held(_)));
        assert_eq!(status(&c, &dead).await, "dead", "nothing changed");
        assert!(retry_dead(&mut c, Some("b"), 1).await.expect("b").is_empty());
        assert_eq!(retry_dead(&mut c, None, 1).await.expect("all"), vec![dead.clone()]);
        assert_eq!(status(&c, &dead).await, "pending");
    }

    #[tokio::test]
    async fn pruning_takes_only_old_delivered_events() {
        let Some((_db, mut c)) = setup().await else { return };
        let (old, s1) = add(&mut c, "a", false).await;
        let (young, s2) = add(&mut c, "a", false).await;
        let (dead, s3) = add(&mut c, "b", false).await;
        let (pending, _) = add(&mut c, "b", false).await;
        let at = |seq, at_ms, verdict| AttemptOutcome { at_ms, ..outcome(seq, verdict) };
        record_attempts(&mut c, &[at(s1, 1_000, Verdict::Delivered), at(s2, 9_000, Verdict::Delivered)])
            .await
            .expect("record");
        record_attempts(&mut c, &[at(s3, 1_000, Verdict::Dead)]).await.expect("record");
        assert_eq!(prune_delivered(&c, 5_000, 100).await.expect("prune"), 1);
        for (id, kept) in [(&old, false), (&young, true), (&dead, true), (&pending, true)] {
            assert_eq!(get(&c, id).await.expect("get").is_some(), kept, "{id}");
        }
        assert!(attempts(&c, s1).await.expect("attempts").is_empty());
    }

    #[tokio::test]
    async fn pulling_past_a_cursor_acknowledges_pull_only_events() {
        let Some((_db, mut c)) = setup().await else { return };
        let (c1, s1) = add(&mut c, "c", false).await;
        let (c2, s2) = add(&mut c, "c", false).await;
        let (c3, _) = add(&mut c, "c", false).await;
        let (a1, _) = add(&mut c, "a", false).await;
        assert_eq!(acknowledge_pulled(&c, "a", i64::MAX, 7).await.expect("a"), 0);
        assert_eq!(status(&c, &a1).await, "pending");
        assert_eq!(acknowledge_pulled(&c, "c", s2, 7).await.expect("c"), 2);
        assert_eq!(
            (status(&c, &c1).await, status(&c, &c2).await, status(&c, &c3).await),
            ("delivered".into(), "delivered".into(), "pending".into())
        );
        assert_eq!(get(&c, &c1).await.expect("get").expect("row").delivered_at_ms, Some(7));
        assert_eq!(prune_delivered(&c, 8, 100).await.expect("prune"), 2);
        assert!(get(&c, &c3).await.expect("get").is_some());
        assert_eq!(acknowledge_pulled(&c, "c", s1, 9).await.expect("again"), 0);
    }

    #[tokio::test]
    async fn pull_pages_stop_before_held_events() {
        let Some((_db, mut c)) = setup().await else { return };
        let (_, c1) = add(&mut c, "c", false).await;
        add(&mut c, "a", false).await;
        let (_, c2) = add(&mut c, "c", false).await;
        let (held_id, _) = add(&mut c, "c", true).await;
        add(&mut c, "c", false).await;
        let page: Vec<i64> = pull(&c, "c", 0, 10).await.expect("pull").iter().map(|e| e.seq).collect();
        assert_eq!(page, [c1, c2]);
        let page = pull(&c, "c", c1, 1).await.expect("pull");
        assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [c2]);
        super::super::events::release_held(&c, &held_id, &serde_json::json!({})).await.expect("release");
        assert_eq!(pull(&c, "c", c2, 10).await.expect("pull").len(), 2);
    }

    #[tokio::test]
    async fn the_data_version_moves_on_commits_that_change_events_only() {
        let Some((db, mut c)) = setup().await else { return };
        let other = db.pool.get().await.expect("second connection");
        let v0 = data_version(&other).await.expect("v0");
        let (id, seq) = add(&mut c, "a", false).await;
        let v1 = data_version(&other).await.expect("v1");
        assert_ne!(v1, v0, "an insert committed elsewhere is seen");
        // A statement that changes no event leaves it alone.
        assert_eq!(acknowledge_pulled(&c, "a", i64::MAX, 1).await.expect("nothing"), 0);
        assert_eq!(data_version(&other).await.expect("same"), v1);
        // Uncommitted changes are not seen; their commit is.
        let tx = c.transaction().await.expect("tx");
        tx.execute("UPDATE events SET status = 'dead' WHERE seq = $1", &[&seq]).await.expect("update");
        assert_eq!(data_version(&other).await.expect("before commit"), v1);
        tx.commit().await.expect("commit");
        let v2 = data_version(&other).await.expect("v2");
        assert_ne!(v2, v1);
        assert!(super::super::tenants::delete(&c, "a").await.expect("delete"));
        assert_ne!(data_version(&other).await.expect("v3"), v2, "a cascade delete counts too");
        assert!(get(&c, &id).await.expect("get").is_none());
    }
}
