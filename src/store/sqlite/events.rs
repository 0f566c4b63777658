//! The event outbox: every event a tenant's backend must receive, stored
//! before anything is acknowledged, and kept until delivered (then pruned
//! after the retention period) or dead (kept until replayed).

use crate::clock::now_ms;
pub(super) use crate::store::events::EVENT_COLUMNS as COLUMNS;
use crate::store::events::{new_event_id, Appended, EventFilter, EventRow, EventStatus, NewEvent};
use rusqlite::{params, Connection, OptionalExtension, Row};

pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<EventRow> {
    EventRow::from_columns(row)
}

/// Stores `events` in one transaction (one commit, one fsync for the batch).
/// Known dedupe keys are not stored again; their first event is returned.
pub fn insert_batch(conn: &mut Connection, events: &[NewEvent]) -> rusqlite::Result<Vec<Appended>> {
    let tx = conn.transaction()?;
    let results = insert_within(&tx, events)?;
    tx.commit()?;
    Ok(results)
}

/// Stores `events` inside the caller's transaction, so they commit together
/// with whatever else it writes (e.g. the state change they announce).
pub fn insert_within(tx: &Connection, events: &[NewEvent]) -> rusqlite::Result<Vec<Appended>> {
    let now = now_ms();
    let mut results = Vec::with_capacity(events.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO events (id, tenant_id, type, dedupe_key, data, created_at_ms, status, next_attempt_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6)
             ON CONFLICT (tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING",
        )?;
        let mut existing =
            tx.prepare_cached("SELECT id, seq FROM events WHERE tenant_id = ?1 AND dedupe_key = ?2")?;
        for event in events {
            let id = new_event_id();
            let status = if event.held { EventStatus::Held } else { EventStatus::Pending };
            let inserted = insert.execute(params![
                id,
                event.tenant_id,
                event.kind,
                event.dedupe_key,
                event.data.to_string(),
                now,
                status.as_str()
            ])?;
            if inserted == 1 {
                results.push(Appended { id, seq: tx.last_insert_rowid(), duplicate: false });
            } else {
                let (id, seq) = existing
                    .query_row(params![event.tenant_id, event.dedupe_key], |r| Ok((r.get(0)?, r.get(1)?)))?;
                results.push(Appended { id, seq, duplicate: true });
            }
        }
    }
    Ok(results)
}

/// Releases a `held` event for delivery (status `pending`, due now), first
/// applying `patch` (e.g. a background job's result or its error) to the
/// event's data as a JSON merge patch (RFC 7396): objects merge key by key,
/// null removes a key, anything else replaces it. False when the event is not held
/// (already released, or gone).
pub fn release_held(conn: &Connection, id: &str, patch: &serde_json::Value) -> rusqlite::Result<bool> {
    let data: Option<String> = conn
        .query_row("SELECT data FROM events WHERE id = ?1 AND status = 'held'", [id], |r| r.get(0))
        .optional()?;
    let Some(data) = data else { return Ok(false) };
    let mut data: serde_json::Value = serde_json::from_str(&data).unwrap_or_else(|_| serde_json::json!({}));
    json_patch::merge(&mut data, patch);
    conn.execute(
        "UPDATE events SET data = ?2, status = 'pending', next_attempt_at_ms = ?3 WHERE id = ?1 AND status = 'held'",
        params![id, data.to_string(), now_ms()],
    )
    .map(|changed| changed == 1)
}

pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<EventRow>> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM events WHERE id = ?1"), [id], from_row).optional()
}

/// Events matching `filter`, oldest first.
pub fn list(conn: &Connection, filter: &EventFilter) -> rusqlite::Result<Vec<EventRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM events
         WHERE (?1 IS NULL OR tenant_id = ?1) AND (?2 IS NULL OR status = ?2) AND seq > ?3
         ORDER BY seq LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![
            filter.tenant_id,
            filter.status.map(EventStatus::as_str),
            filter.after_seq.unwrap_or(0),
            filter.limit as i64
        ],
        from_row,
    )?;
    rows.collect()
}

pub fn count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::Db as Store;

    fn event(tenant: &str, key: Option<&str>) -> NewEvent {
        NewEvent {
            tenant_id: tenant.into(),
            kind: "twilio.sms".into(),
            dedupe_key: key.map(String::from),
            data: serde_json::json!({"Body": "hi"}),
            held: false,
        }
    }

    #[test]
    fn dedupe_keys_store_once_per_tenant() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db"), std::time::Duration::from_secs(1)).expect("open");
        store
            .with_conn(|c| {
                for t in ["a", "b"] {
                    crate::store::sqlite::tenants::insert_bare_for_tests(c, t)?;
                }
                Ok(())
            })
            .expect("tenants");
        let first = store
            .with_conn(|c| {
                insert_batch(c, &[event("a", Some("k")), event("a", Some("k")), event("b", Some("k"))])
            })
            .expect("insert");
        assert!(!first[0].duplicate && first[1].duplicate && !first[2].duplicate);
        assert_eq!(first[0].id, first[1].id);
        let again =
            store.with_conn(|c| insert_batch(c, &[event("a", Some("k")), event("a", None)])).expect("again");
        assert_eq!(again[0].id, first[0].id);
        assert!(!again[1].duplicate);
        assert_eq!(store.with_conn(|c| count(c)).expect("count"), 3);
        let listed = store
            .with_conn(|c| {
                list(c, &EventFilter { tenant_id: Some("a".into()), limit: 10, ..Default::default() })
            })
            .expect("list");
        assert_eq!(listed.len(), 2);
        assert!(listed[0].seq < listed[1].seq);
    }
}
