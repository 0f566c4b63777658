//! The event outbox on PostgreSQL; see `crate::store::events` for what it
//! holds. Same functions, same semantics.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::PgError;
use crate::clock::now_ms;
pub(super) use crate::store::events::EVENT_COLUMNS as COLUMNS;
use crate::store::events::{new_event_id, Appended, EventFilter, EventRow, EventStatus, NewEvent};

pub(super) fn from_row(row: &Row) -> Result<EventRow, PgError> {
    EventRow::from_columns(row)
}

pub(super) fn from_rows(rows: &[Row]) -> Result<Vec<EventRow>, PgError> {
    rows.iter().map(from_row).collect()
}

/// Stores `events` in one transaction (one commit for the batch). Known
/// dedupe keys are not stored again; their first event is returned.
pub async fn insert_batch(c: &mut impl GenericClient, events: &[NewEvent]) -> Result<Vec<Appended>, PgError> {
    let tx = c.transaction().await?;
    let results = insert_within(&tx, events).await?;
    tx.commit().await?;
    Ok(results)
}

/// Stores `events` on `c` (typically the caller's transaction, so they
/// commit with whatever else it writes), in input order: one multi-row
/// statement, and a second round trip only when some dedupe key was known.
pub async fn insert_within(c: &impl GenericClient, events: &[NewEvent]) -> Result<Vec<Appended>, PgError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = events.iter().map(|_| new_event_id()).collect();
    let inserted = insert_rows(c, &ids, events).await?;
    let missing: Vec<&NewEvent> =
        ids.iter().zip(events).filter(|(id, _)| !inserted.contains_key(*id)).map(|(_, e)| e).collect();
    let existing = if missing.is_empty() { HashMap::new() } else { existing_by_key(c, &missing).await? };
    let mut results = Vec::with_capacity(events.len());
    for (id, event) in ids.into_iter().zip(events) {
        if let Some(&seq) = inserted.get(&id) {
            results.push(Appended { id, seq, duplicate: false });
            continue;
        }
        // Not inserted: only a known (tenant, dedupe key) skips a row.
        let key = (event.tenant_id.clone(), event.dedupe_key.clone().unwrap_or_default());
        let Some((id, seq)) = existing.get(&key).cloned() else {
            return Err(PgError::Corrupt { column: "events.dedupe_key".into(), value: key.1 });
        };
        results.push(Appended { id, seq, duplicate: true });
    }
    Ok(results)
}

/// The advisory lock class of "adding events for a tenant" (the second key
/// is the hash of the tenant id); any fixed value, apart from the
/// migrations' single-key lock.
const EVENT_ORDER_LOCK: i32 = 0x6576_6e74;

/// Holds, until the caller's transaction ends, the right to add events for
/// each of `tenants`. `seq` is taken at insert and rows become visible at
/// commit: without this, two transactions adding events for one tenant (the
/// webhook writer and a WhatsApp state change, or two nodes during a lease
/// move) could commit in the other order, and delivery, which sends each
/// tenant's lowest committed pending seq, would send the later event first.
/// Taken in sorted order, so two batches never wait on each other in a
/// circle; taken again in the same transaction, it is already held.
pub(super) async fn lock_event_order(c: &impl GenericClient, tenants: &[&str]) -> Result<(), PgError> {
    let stmt = c
        .prepare_cached(
            "SELECT pg_advisory_xact_lock($1, k)
             FROM (SELECT DISTINCT hashtext(t) AS k FROM unnest($2::text[]) AS t ORDER BY k) keys",
        )
        .await?;
    c.query(&stmt, &[&EVENT_ORDER_LOCK, &tenants]).await?;
    Ok(())
}

/// Inserts the rows whose key is new (in input order, so `seq` follows it);
/// returns the seq of each id stored.
async fn insert_rows(
    c: &impl GenericClient,
    ids: &[String],
    events: &[NewEvent],
) -> Result<HashMap<String, i64>, PgError> {
    let tenants: Vec<&str> = events.iter().map(|e| e.tenant_id.as_str()).collect();
    lock_event_order(c, &tenants).await?;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let keys: Vec<Option<&str>> = events.iter().map(|e| e.dedupe_key.as_deref()).collect();
    let data: Vec<String> = events.iter().map(|e| e.data.to_string()).collect();
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| if e.held { EventStatus::Held } else { EventStatus::Pending }.as_str())
        .collect();
    let stmt = c
        .prepare_cached(
            "INSERT INTO events (id, tenant_id, type, dedupe_key, data, created_at_ms, status, next_attempt_at_ms)
             SELECT id, tenant_id, type, dedupe_key, data, $6, status, $6
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $7::text[])
                  WITH ORDINALITY AS n(id, tenant_id, type, dedupe_key, data, status, ord)
             ORDER BY ord
             ON CONFLICT (tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
             RETURNING id, seq",
        )
        .await?;
    let rows = c.query(&stmt, &[&ids, &tenants, &kinds, &keys, &data, &now_ms(), &statuses]).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// The stored (id, seq) of each (tenant, dedupe key) of `events`.
async fn existing_by_key(
    c: &impl GenericClient,
    events: &[&NewEvent],
) -> Result<HashMap<(String, String), (String, i64)>, PgError> {
    let tenants: Vec<&str> = events.iter().map(|e| e.tenant_id.as_str()).collect();
    let keys: Vec<Option<&str>> = events.iter().map(|e| e.dedupe_key.as_deref()).collect();
    let stmt = c
        .prepare_cached(
            "SELECT e.tenant_id, e.dedupe_key, e.id, e.seq FROM events e
             JOIN unnest($1::text[], $2::text[]) AS k(tenant_id, dedupe_key)
               ON e.tenant_id = k.tenant_id AND e.dedupe_key = k.dedupe_key",
        )
        .await?;
    let rows = c.query(&stmt, &[&tenants, &keys]).await?;
    rows.iter().map(|r| Ok(((r.try_get(0)?, r.try_get(1)?), (r.try_get(2)?, r.try_get(3)?)))).collect()
}

/// Releases a `held` event for delivery (status `pending`, due now), first
/// merging `patch` into its data (RFC 7396). False when it is not held.
pub async fn release_held(
    c: &impl GenericClient,
    id: &str,
    patch: &serde_json::Value,
) -> Result<bool, PgError> {
    // FOR UPDATE: two nodes releasing at once must not both merge into the
    // same old data.
    let select =
        c.prepare_cached("SELECT data FROM events WHERE id = $1 AND status = 'held' FOR UPDATE").await?;
    let Some(row) = c.query_opt(&select, &[&id]).await? else { return Ok(false) };
    let data: String = row.try_get(0)?;
    let mut data: serde_json::Value = serde_json::from_str(&data).unwrap_or_else(|_| serde_json::json!({}));
    json_patch::merge(&mut data, patch);
    let update = c
        .prepare_cached(
            "UPDATE events SET data = $2, status = 'pending', next_attempt_at_ms = $3
             WHERE id = $1 AND status = 'held'",
        )
        .await?;
    Ok(c.execute(&update, &[&id, &data.to_string(), &now_ms()]).await? == 1)
}

pub async fn get(c: &impl GenericClient, id: &str) -> Result<Option<EventRow>, PgError> {
    let stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM events WHERE id = $1")).await?;
    c.query_opt(&stmt, &[&id]).await?.as_ref().map(from_row).transpose()
}

/// Events matching `filter`, oldest first.
pub async fn list(c: &impl GenericClient, filter: &EventFilter) -> Result<Vec<EventRow>, PgError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events
             WHERE ($1::text IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR status = $2) AND seq > $3
             ORDER BY seq LIMIT $4"
        ))
        .await?;
    let rows = c
        .query(
            &stmt,
            &[
                &filter.tenant_id,
                &filter.status.map(EventStatus::as_str),
                &filter.after_seq.unwrap_or(0),
                &limit(filter.limit),
            ],
        )
        .await?;
    from_rows(&rows)
}

pub async fn count(c: &impl GenericClient) -> Result<i64, PgError> {
    Ok(c.query_one("SELECT COUNT(*) FROM events", &[]).await?.try_get(0)?)
}

/// A row limit as PostgreSQL takes it.
pub(super) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::super::testdb::{insert_tenant, TestDb};
    use super::*;

    fn event(tenant: &str, key: Option<&str>) -> NewEvent {
        NewEvent {
            tenant_id: tenant.into(),
            kind: "twilio.sms".into(),
            dedupe_key: key.map(String::from),
            data: serde_json::json!({"Body": "hi"}),
            held: false,
        }
    }

    /// A tenant's events become visible in the order of their seq: a second
    /// transaction adding events for the same tenant waits for the first to
    /// end, while another tenant's events do not wait.
    #[tokio::test]
    async fn a_tenants_events_commit_in_seq_order() {
        let Some(db) = TestDb::create().await else { return };
        let mut first = db.pool.get().await.expect("client");
        for t in ["a", "b"] {
            insert_tenant(&first, t, None).await;
        }
        let tx = first.transaction().await.expect("begin");
        let earlier = insert_within(&tx, &[event("a", None)]).await.expect("insert").remove(0).seq;
        let mut other = db.pool.get().await.expect("client");
        insert_batch(&mut other, &[event("b", None)]).await.expect("another tenant does not wait");
        let later = tokio::spawn(async move { insert_batch(&mut other, &[event("a", None)]).await });
        // What is asserted is that nothing happens meanwhile.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!later.is_finished(), "a's second event committed while its first was still open");
        tx.commit().await.expect("commit");
        let later = later.await.expect("join").expect("insert").remove(0).seq;
        assert!(later > earlier, "{later} after {earlier}");
    }

    #[tokio::test]
    async fn dedupe_keys_store_once_per_tenant_even_within_one_batch() {
        let Some(db) = TestDb::create().await else { return };
        let mut c = db.pool.get().await.expect("client");
        for t in ["a", "b"] {
            insert_tenant(&c, t, None).await;
        }
        let first = insert_batch(
            &mut c,
            &[event("a", Some("k")), event("a", None), event("a", Some("k")), event("b", Some("k"))],
        )
        .await
        .expect("insert");
        let dup: Vec<bool> = first.iter().map(|a| a.duplicate).collect();
        assert_eq!(dup, [false, false, true, false]);
        assert_eq!((&first[2].id, first[2].seq), (&first[0].id, first[0].seq));
        assert!(first[0].seq < first[1].seq && first[1].seq < first[3].seq, "seq follows the input order");
        let again = insert_batch(&mut c, &[event("a", Some("k")), event("a", None)]).await.expect("again");
        assert_eq!(again[0], Appended { duplicate: true, ..first[0].clone() });
        assert!(!again[1].duplicate);
        assert_eq!(count(&c).await.expect("count"), 4);
        let filter = EventFilter { tenant_id: Some("a".into()), limit: 10, ..Default::default() };
        let listed = list(&c, &filter).await.expect("list");
        assert_eq!(listed.len(), 3);
        assert!(listed.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(listed[0].data, serde_json::json!({"Body": "hi"}));
        let pending = EventFilter {
            status: Some(EventStatus::Pending),
            after_seq: Some(first[0].seq),
            limit: 1,
            ..Default::default()
        };
        assert_eq!(list(&c, &pending).await.expect("list")[0].seq, first[1].seq);
        assert!(insert_batch(&mut c, &[]).await.expect("empty").is_empty());
    }

    #[tokio::test]
    async fn releasing_a_held_event_merges_the_patch_once() {
        let Some(db) = TestDb::create().await else { return };
        let mut c = db.pool.get().await.expect("client");
        insert_tenant(&c, "a", None).await;
        let held =
            NewEvent { held: true, data: serde_json::json!({"a": 1, "b": {"c": 2}}), ..event("a", None) };
        let stored = insert_batch(&mut c, &[held]).await.expect("insert").remove(0);
        assert_eq!(get(&c, &stored.id).await.expect("get").expect("row").status, "held");
        let patch = serde_json::json!({"a": null, "b": {"d": 3}});
        assert!(release_held(&c, &stored.id, &patch).await.expect("release"));
        let row = get(&c, &stored.id).await.expect("get").expect("row");
        assert_eq!(row.status, "pending");
        assert_eq!(row.data, serde_json::json!({"b": {"c": 2, "d": 3}}));
        assert!(!release_held(&c, &stored.id, &patch).await.expect("again"), "not held any more");
        assert!(get(&c, "evt_nope").await.expect("get").is_none());
    }
}
