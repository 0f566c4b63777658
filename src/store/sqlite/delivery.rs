//! The outbox as the delivery workers, the operator commands and the pull API
//! see it: which event each tenant must receive next, the outcome of every
//! attempt, re-queueing (replay), retention pruning and the pull cursor.
//!
//! Order: a tenant's events go out by `seq`. Its *head* is its lowest-`seq`
//! pending event; nothing behind the head is attempted before the head is
//! delivered or dead. Held events (waiting for a background job) and dead
//! events do not block the head; a held event released later is then the
//! lowest pending `seq` and goes next.

use crate::store::delivery::{AttemptOutcome, AttemptRow, Head, RequeueError, Requeued, Verdict};
use rusqlite::{params, Connection, OptionalExtension};

use super::events::{from_row, COLUMNS};
use crate::store::events::EventRow;

/// The head of every tenant that has a webhook URL and a pending event, due or
/// not. One index probe per such tenant.
pub fn heads(conn: &Connection) -> rusqlite::Result<Vec<Head>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.seq, e.id, e.tenant_id, e.type, e.data, e.created_at_ms, e.attempts,
                e.next_attempt_at_ms, t.webhook_url,
                t.signing_key, t.signing_key_previous, t.signing_key_previous_until
         FROM tenants t
         JOIN events e ON e.seq = (SELECT seq FROM events
                                   WHERE status = 'pending' AND tenant_id = t.id
                                   ORDER BY seq LIMIT 1)
         WHERE t.webhook_url IS NOT NULL AND t.webhook_url != ''
         ORDER BY e.seq",
    )?;
    let rows = stmt.query_map([], |r| Head::from_columns(r))?;
    rows.collect()
}

/// Changes whenever *another* connection (or process) commits to the
/// database; cheap enough to poll often.
pub fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0))
}

/// Records a batch of attempts and applies their verdicts, in one
/// transaction. An event that disappeared meanwhile (its tenant was removed)
/// is skipped; one whose status an operator changed meanwhile keeps it.
pub fn record_attempts(conn: &mut Connection, outcomes: &[AttemptOutcome]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut attempt = tx.prepare_cached(
            "INSERT INTO delivery_attempts (event_seq, attempt, at_ms, status_code, latency_ms, error)
             SELECT ?1, COALESCE((SELECT MAX(attempt) FROM delivery_attempts WHERE event_seq = ?1), 0) + 1,
                    ?2, ?3, ?4, ?5
             WHERE EXISTS (SELECT 1 FROM events WHERE seq = ?1)",
        )?;
        let mut update = tx.prepare_cached(
            "UPDATE events SET attempts = attempts + 1, status = ?2, next_attempt_at_ms = ?3,
                    delivered_at_ms = ?4, last_error = ?5
             WHERE seq = ?1 AND status = 'pending'",
        )?;
        for o in outcomes {
            attempt.execute(params![o.seq, o.at_ms, o.status_code, o.latency_ms, o.error])?;
            let done_at = o.at_ms + o.latency_ms;
            let (status, next, delivered_at) = match o.verdict {
                Verdict::Delivered => ("delivered", done_at, Some(done_at)),
                Verdict::RetryAt(at) => ("pending", at, None),
                Verdict::Dead => ("dead", done_at, None),
            };
            update.execute(params![o.seq, status, next, delivered_at, o.error])?;
        }
    }
    tx.commit()
}

pub fn attempts(conn: &Connection, seq: i64) -> rusqlite::Result<Vec<AttemptRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT attempt, at_ms, status_code, latency_ms, error FROM delivery_attempts
         WHERE event_seq = ?1 ORDER BY attempt",
    )?;
    let rows = stmt.query_map([seq], |r| {
        Ok(AttemptRow {
            attempt: r.get(0)?,
            at_ms: r.get(1)?,
            status_code: r.get(2)?,
            latency_ms: r.get(3)?,
            error: r.get(4)?,
        })
    })?;
    rows.collect()
}

/// The most recent `limit` events matching the filters, oldest first.
pub fn recent(
    conn: &Connection,
    tenant_id: Option<&str>,
    status: Option<&str>,
    limit: usize,
) -> rusqlite::Result<Vec<EventRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT * FROM (SELECT {COLUMNS} FROM events
                        WHERE (?1 IS NULL OR tenant_id = ?1) AND (?2 IS NULL OR status = ?2)
                        ORDER BY seq DESC LIMIT ?3)
         ORDER BY seq"
    ))?;
    let rows = stmt.query_map(params![tenant_id, status, limit as i64], from_row)?;
    rows.collect()
}

/// A tenant's events after `after_seq`, in order, for the pull API. The page
/// stops before the first held event: a puller's cursor never moves past an
/// event whose data is still being completed.
pub fn pull(
    conn: &Connection,
    tenant_id: &str,
    after_seq: i64,
    limit: usize,
) -> rusqlite::Result<Vec<EventRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM events
         WHERE tenant_id = ?1 AND seq > ?2
           AND seq < COALESCE((SELECT MIN(seq) FROM events
                               WHERE tenant_id = ?1 AND status = 'held' AND seq > ?2),
                              9223372036854775807)
         ORDER BY seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![tenant_id, after_seq, limit as i64], from_row)?;
    rows.collect()
}

/// Marks delivered (at `now_ms`) the pending events of a pull-only tenant
/// (one without a webhook URL) up to and including `up_to_seq`: a puller that
/// asks for what comes after a cursor has stored everything before it, and
/// delivered events are what retention prunes. A tenant with a webhook URL
/// is left alone (its webhook is how its events are delivered); held events
/// are never touched (a page never moves past one). Returns how many changed.
pub fn acknowledge_pulled(
    conn: &Connection,
    tenant_id: &str,
    up_to_seq: i64,
    now_ms: i64,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE events SET status = 'delivered', delivered_at_ms = ?3
         WHERE tenant_id = ?1 AND seq <= ?2 AND status = 'pending'
           AND EXISTS (SELECT 1 FROM tenants
                       WHERE id = ?1 AND (webhook_url IS NULL OR webhook_url = ''))",
    )?
    .execute(params![tenant_id, up_to_seq, now_ms])
}

/// Puts the events back in the queue, due at `now_ms`, keeping their ids and
/// their attempt history; their retry budget starts again. All or nothing: a
/// refused id leaves every event as it was.
pub fn requeue(
    conn: &mut Connection,
    ids: &[String],
    now_ms: i64,
) -> rusqlite::Result<Result<Vec<Requeued>, RequeueError>> {
    let tx = conn.transaction()?;
    let mut done = Vec::with_capacity(ids.len());
    {
        let mut find = tx.prepare_cached("SELECT seq, tenant_id, status FROM events WHERE id = ?1")?;
        let mut update = tx.prepare_cached(
            "UPDATE events SET status = 'pending', attempts = 0, next_attempt_at_ms = ?2,
                    delivered_at_ms = NULL
             WHERE seq = ?1",
        )?;
        for id in ids {
            let found: Option<(i64, String, String)> =
                find.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()?;
            let Some((seq, tenant_id, status)) = found else {
                return Ok(Err(RequeueError::Unknown(id.clone())));
            };
            if status == "held" {
                return Ok(Err(RequeueError::Held(id.clone())));
            }
            update.execute(params![seq, now_ms])?;
            done.push(Requeued { id: id.clone(), tenant_id, previous_status: status });
        }
    }
    tx.commit()?;
    Ok(Ok(done))
}

/// Re-queues every dead event (of one tenant, or of all). Returns their ids.
pub fn retry_dead(
    conn: &mut Connection,
    tenant_id: Option<&str>,
    now_ms: i64,
) -> rusqlite::Result<Vec<String>> {
    let tx = conn.transaction()?;
    let ids = {
        let mut stmt = tx.prepare_cached(
            "UPDATE events SET status = 'pending', attempts = 0, next_attempt_at_ms = ?2
             WHERE status = 'dead' AND (?1 IS NULL OR tenant_id = ?1)
             RETURNING id, seq",
        )?;
        let mut rows: Vec<(i64, String)> = stmt
            .query_map(params![tenant_id, now_ms], |r| Ok((r.get(1)?, r.get(0)?)))?
            .collect::<Result<_, _>>()?;
        rows.sort();
        rows.into_iter().map(|(_, id)| id).collect()
    };
    tx.commit()?;
    Ok(ids)
}

/// Deletes up to `batch` delivered events delivered before `before_ms` (and
/// their attempts). Pending, held and dead events are never touched.
pub fn prune_delivered(conn: &Connection, before_ms: i64, batch: usize) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM events WHERE seq IN (
             SELECT seq FROM events WHERE status = 'delivered' AND delivered_at_ms < ?1 LIMIT ?2)",
        params![before_ms, batch as i64],
    )
}

/// A busy handler for connections that write often (the event writer, the
/// delivery recorder). SQLite's own sleeps up to 100 ms between tries, which
/// under a steady stream of commits from the other writer adds tens of
/// milliseconds to a write that needed to wait a fraction of one; this one
/// tries again every half millisecond, for about 5 s in all.
pub fn short_busy_waits(tries: i32) -> bool {
    if tries >= 10_000 {
        return false;
    }
    std::thread::sleep(std::time::Duration::from_micros(500));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::events::NewEvent;
    use crate::store::sqlite::events::{get, insert_batch};
    use crate::store::sqlite::Db as Store;

    fn setup() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db"), std::time::Duration::from_secs(1)).expect("open");
        store
            .with_conn(|c| {
                for (t, url) in [("a", Some("http://a.example/")), ("b", Some("http://b.example/")), ("c", None)] {
                    c.execute(
                        "INSERT INTO tenants (id, name, webhook_url, token_hash, token_rotated_at, created_at, updated_at, wa_state_since)
                         VALUES (?1, ?1, ?2, ?1, 0, 0, 0, 0)",
                        params![t, url],
                    )?;
                }
                Ok(())
            })
            .expect("tenants");
        (dir, store)
    }

    fn add(store: &Store, tenant: &str, held: bool) -> (String, i64) {
        let e = NewEvent {
            tenant_id: tenant.into(),
            kind: "twilio.sms".into(),
            dedupe_key: None,
            data: serde_json::json!({"n": 1}),
            held,
        };
        let a = store.with_conn(|c| insert_batch(c, &[e])).expect("insert").remove(0);
        (a.id, a.seq)
    }

    fn outcome(seq: i64, verdict: Verdict) -> AttemptOutcome {
        AttemptOutcome { seq, at_ms: 1000, status_code: Some(200), latency_ms: 5, error: None, verdict }
    }

    #[test]
    fn heads_follow_order_skip_held_and_pull_only_tenants() {
        let (_dir, store) = setup();
        let (_, held) = add(&store, "a", true);
        let (_, a1) = add(&store, "a", false);
        let (_, a2) = add(&store, "a", false);
        let (_, b1) = add(&store, "b", false);
        add(&store, "c", false);
        let found = store.with_conn(|c| heads(c)).expect("heads");
        let seqs: Vec<i64> = found.iter().map(|h| h.seq).collect();
        assert_eq!(seqs, vec![a1, b1]);
        assert_eq!(found[0].webhook_url, "http://a.example/");

        store.with_conn(|c| record_attempts(c, &[outcome(a1, Verdict::Delivered)])).expect("record");
        let seqs: Vec<i64> = store.with_conn(|c| heads(c)).expect("heads").iter().map(|h| h.seq).collect();
        assert_eq!(seqs, vec![a2, b1]);

        // A released held event is the lowest pending seq: it goes next.
        store
            .with_conn(|c| c.execute("UPDATE events SET status = 'pending' WHERE seq = ?1", [held]))
            .expect("release");
        let seqs: Vec<i64> = store.with_conn(|c| heads(c)).expect("heads").iter().map(|h| h.seq).collect();
        assert_eq!(seqs, vec![held, b1]);
    }

    #[test]
    fn heads_carry_the_keys_and_the_previous_one_signs_only_until_its_time() {
        let (_dir, store) = setup();
        add(&store, "a", false);
        store
            .with_conn(|c| {
                c.execute(
                    "UPDATE tenants SET signing_key = x'01', signing_key_previous = x'02',
                            signing_key_previous_until = 5000 WHERE id = 'a'",
                    [],
                )
            })
            .expect("keys");
        let keys = store.with_conn(|c| heads(c)).expect("heads").remove(0).keys;
        assert_eq!(keys.valid_at(4999), vec![&[1u8][..], &[2u8][..]], "current first, previous in grace");
        assert_eq!(keys.valid_at(5000), vec![&[1u8][..]], "grace over: the current key alone");
    }

    #[test]
    fn attempts_are_numbered_and_verdicts_applied() {
        let (_dir, store) = setup();
        let (id, seq) = add(&store, "a", false);
        let fail = AttemptOutcome {
            status_code: Some(500),
            error: Some("HTTP 500".into()),
            verdict: Verdict::RetryAt(5000),
            ..outcome(seq, Verdict::Delivered)
        };
        store.with_conn(|c| record_attempts(c, std::slice::from_ref(&fail))).expect("1");
        store.with_conn(|c| record_attempts(c, &[fail])).expect("2");
        let row = store.with_conn(|c| get(c, &id)).expect("get").expect("row");
        assert_eq!((row.status.as_str(), row.attempts, row.next_attempt_at_ms), ("pending", 2, 5000));
        store.with_conn(|c| record_attempts(c, &[outcome(seq, Verdict::Dead)])).expect("3");
        let row = store.with_conn(|c| get(c, &id)).expect("get").expect("row");
        assert_eq!(row.status, "dead");
        // Replay keeps the id and the history; the budget starts again.
        let done = store.with_conn(|c| requeue(c, std::slice::from_ref(&id), 7000)).expect("rq").expect("ok");
        assert_eq!(done[0].previous_status, "dead");
        store.with_conn(|c| record_attempts(c, &[outcome(seq, Verdict::Delivered)])).expect("4");
        let row = store.with_conn(|c| get(c, &id)).expect("get").expect("row");
        assert_eq!((row.status.as_str(), row.attempts), ("delivered", 1));
        let numbers: Vec<i64> =
            store.with_conn(|c| attempts(c, seq)).expect("attempts").iter().map(|a| a.attempt).collect();
        assert_eq!(numbers, vec![1, 2, 3, 4]);
    }

    #[test]
    fn requeue_is_all_or_nothing_and_refuses_held() {
        let (_dir, store) = setup();
        let (dead, seq) = add(&store, "a", false);
        let (held, _) = add(&store, "a", true);
        store.with_conn(|c| record_attempts(c, &[outcome(seq, Verdict::Dead)])).expect("dead");
        let err =
            store.with_conn(|c| requeue(c, &[dead.clone(), "evt_nope".into()], 1)).expect("run").unwrap_err();
        assert_eq!(err, RequeueError::Unknown("evt_nope".into()));
        let err = store.with_conn(|c| requeue(c, &[held], 1)).expect("run").unwrap_err();
        assert!(matches!(err, RequeueError::Held(_)));
        assert_eq!(store.with_conn(|c| get(c, &dead)).expect("get").expect("row").status, "dead");
        let ids = store.with_conn(|c| retry_dead(c, Some("b"), 1)).expect("b");
        assert!(ids.is_empty());
        let ids = store.with_conn(|c| retry_dead(c, None, 1)).expect("all");
        assert_eq!(ids, vec![dead.clone()]);
        assert_eq!(store.with_conn(|c| get(c, &dead)).expect("get").expect("row").status, "pending");
    }

    #[test]
    fn pruning_takes_only_old_delivered_events() {
        let (_dir, store) = setup();
        let (old, s1) = add(&store, "a", false);
        let (young, s2) = add(&store, "a", false);
        let (dead, s3) = add(&store, "b", false);
        let (pending, _) = add(&store, "b", false);
        let at = |seq, at_ms, verdict| AttemptOutcome { at_ms, ..outcome(seq, verdict) };
        store
            .with_conn(|c| {
                record_attempts(c, &[at(s1, 1_000, Verdict::Delivered), at(s2, 9_000, Verdict::Delivered)])?;
                record_attempts(c, &[at(s3, 1_000, Verdict::Dead)])
            })
            .expect("record");
        let pruned = store.with_conn(|c| prune_delivered(c, 5_000, 100)).expect("prune");
        assert_eq!(pruned, 1);
        let exists = |id: &str| store.with_conn(|c| get(c, id)).expect("get").is_some();
        assert!(!exists(&old) && exists(&young) && exists(&dead) && exists(&pending));
        assert!(store.with_conn(|c| attempts(c, s1)).expect("attempts").is_empty());
    }

    #[test]
    fn pulling_past_a_cursor_acknowledges_pull_only_events() {
        let (_dir, store) = setup();
        let (c1, s1) = add(&store, "c", false);
        let (c2, s2) = add(&store, "c", false);
        let (c3, _) = add(&store, "c", false);
        let (a1, _) = add(&store, "a", false);
        let status = |id: &str| store.with_conn(|c| get(c, id)).expect("get").expect("row").status;
        // Tenant "a" has a webhook: its webhook delivers, a pull acknowledges nothing.
        assert_eq!(store.with_conn(|c| acknowledge_pulled(c, "a", i64::MAX, 7)).expect("a"), 0);
        assert_eq!(status(&a1), "pending");
        assert_eq!(store.with_conn(|c| acknowledge_pulled(c, "c", s2, 7)).expect("c"), 2);
        assert_eq!(
            (status(&c1), status(&c2), status(&c3)),
            ("delivered".into(), "delivered".into(), "pending".into())
        );
        let row = store.with_conn(|c| get(c, &c1)).expect("get").expect("row");
        assert_eq!(row.delivered_at_ms, Some(7));
        // Acknowledged events are pruned like delivered ones; the others stay.
        assert_eq!(store.with_conn(|c| prune_delivered(c, 8, 100)).expect("prune"), 2);
        assert!(store.with_conn(|c| get(c, &c3)).expect("get").is_some());
        assert_eq!(store.with_conn(|c| acknowledge_pulled(c, "c", s1, 9)).expect("again"), 0);
    }

    #[test]
    fn pull_pages_stop_before_held_events() {
        let (_dir, store) = setup();
        let (_, c1) = add(&store, "c", false);
        add(&store, "a", false);
        let (_, c2) = add(&store, "c", false);
        let (_, held) = add(&store, "c", true);
        add(&store, "c", false);
        let page: Vec<i64> =
            store.with_conn(|c| pull(c, "c", 0, 10)).expect("pull").iter().map(|e| e.seq).collect();
        assert_eq!(page, vec![c1, c2]);
        let page = store.with_conn(|c| pull(c, "c", c1, 1)).expect("pull");
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].seq, c2);
        store
            .with_conn(|c| c.execute("UPDATE events SET status = 'pending' WHERE seq = ?1", [held]))
            .expect("release");
        assert_eq!(store.with_conn(|c| pull(c, "c", c2, 10)).expect("pull").len(), 2);
    }
}
