//! A tenant's WhatsApp connection state (the `wa_*` columns of `tenants` and
//! the `tenant_state_changes` history) and the sends made with an
//! Idempotency-Key (`wa_sends`).

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::events::insert_within;
use crate::clock::now_unix;
use crate::store::events::NewEvent;
use crate::store::whatsapp::{Recorded, SendClaim, SendOutcome, StateUpdate};

/// Records `update` for tenant `id` with its history row and the event that
/// announces it (built by `announce` from the previous state), in one
/// transaction: a state change is never stored without its event, nor the
/// reverse. Never fenced: SQLite serves one daemon, which holds no leases.
pub fn record_state(
    conn: &mut Connection,
    id: &str,
    update: &StateUpdate,
    announce: impl FnOnce(&str) -> Option<NewEvent>,
) -> rusqlite::Result<Recorded> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let previous: Option<String> =
        tx.query_row("SELECT wa_state FROM tenants WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    let Some(previous) = previous else { return Ok(Recorded::NoTenant) };
    let now = now_unix();
    tx.execute(
        "UPDATE tenants SET
            wa_state = ?2,
            wa_state_since = CASE WHEN wa_state = ?2 THEN wa_state_since ELSE ?3 END,
            wa_phone = CASE WHEN ?4 THEN ?5 ELSE wa_phone END,
            wa_last_error = COALESCE(?6, wa_last_error),
            wa_reconnects = wa_reconnects + ?7,
            wa_banned_until = ?8
         WHERE id = ?1",
        params![
            id,
            update.state,
            now,
            update.phone.is_some(),
            update.phone.clone().flatten(),
            update.error,
            i64::from(update.reconnect),
            update.banned_until,
        ],
    )?;
    tx.execute(
        "INSERT INTO tenant_state_changes (tenant_id, state, reason, at) VALUES (?1, ?2, ?3, ?4)",
        params![id, update.state, update.reason, now],
    )?;
    if let Some(event) = announce(&previous) {
        insert_within(&tx, &[event])?;
    }
    tx.commit()?;
    Ok(Recorded::Replaced(previous))
}

/// The state and linked phone last recorded for `id` (`None` when the
/// tenant does not exist).
pub fn current_state(conn: &Connection, id: &str) -> rusqlite::Result<Option<(String, Option<String>)>> {
    conn.query_row("SELECT wa_state, wa_phone FROM tenants WHERE id = ?1", [id], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()
}

/// Claims `key` for a send whose request hashes to `request_sha256`.
pub fn claim_send(
    conn: &mut Connection,
    tenant: &str,
    key: &str,
    request_sha256: &str,
) -> rusqlite::Result<SendClaim> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let existing: Option<(String, String, Option<String>)> = tx
        .query_row(
            "SELECT request_sha256, status, message_id FROM wa_sends WHERE tenant_id = ?1 AND idempotency_key = ?2",
            params![tenant, key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let claim = match existing {
        None => {
            tx.execute(
                "INSERT INTO wa_sends (tenant_id, idempotency_key, request_sha256, status, created_at)
                 VALUES (?1, ?2, ?3, 'sending', ?4)",
                params![tenant, key, request_sha256, now_unix()],
            )?;
            SendClaim::Proceed
        }
        Some((hash, _, _)) if hash != request_sha256 => SendClaim::KeyReused,
        Some((_, status, Some(message_id))) if status == "sent" => SendClaim::AlreadySent { message_id },
        Some((_, status, _)) if status == "unknown" => SendClaim::OutcomeUnknown,
        Some((_, status, _)) if status == "failed" => {
            tx.execute(
                "UPDATE wa_sends SET status = 'sending', error = NULL WHERE tenant_id = ?1 AND idempotency_key = ?2",
                params![tenant, key],
            )?;
            SendClaim::Proceed
        }
        Some(_) => SendClaim::InProgress,
    };
    tx.commit()?;
    Ok(claim)
}

/// Records how the claimed send ended.
pub fn finish_send(
    conn: &Connection,
    tenant: &str,
    key: &str,
    outcome: &SendOutcome,
) -> rusqlite::Result<()> {
    let (status, message_id, error) = match outcome {
        SendOutcome::Sent(id) => ("sent", Some(id), None),
        SendOutcome::Failed(e) => ("failed", None, Some(e)),
        SendOutcome::Unknown(e) => ("unknown", None, Some(e)),
    };
    conn.execute(
        "UPDATE wa_sends SET status = ?3, message_id = ?4, error = ?5 WHERE tenant_id = ?1 AND idempotency_key = ?2",
        params![tenant, key, status, message_id, error],
    )?;
    Ok(())
}

/// Forgets idempotency keys older than `before` (unix seconds).
pub fn prune_sends(conn: &Connection, before: i64) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM wa_sends WHERE created_at < ?1", [before])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::tenants::insert_bare_for_tests;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.pragma_update(None, "foreign_keys", true).expect("fk");
        crate::store::sqlite::migrations::apply(&conn).expect("migrate");
        insert_bare_for_tests(&conn, "acme").expect("tenant");
        conn
    }

    fn update(state: &str, reason: &str) -> StateUpdate {
        StateUpdate {
            state: state.into(),
            reason: reason.into(),
            phone: None,
            error: None,
            reconnect: false,
            banned_until: None,
        }
    }

    #[test]
    fn states_are_recorded_with_their_history() {
        let mut conn = db();
        let previous =
            record_state(&mut conn, "acme", &update("pairing", "pairing requested"), |_| None).expect("1");
        assert_eq!(previous, Recorded::Replaced("unpaired".into()));
        let connected =
            StateUpdate { phone: Some(Some("+15550001111".into())), ..update("connected", "logged in") };
        let announce = |previous: &str| {
            Some(NewEvent {
                tenant_id: "acme".into(),
                kind: "whatsapp.connection".into(),
                dedupe_key: None,
                data: serde_json::json!({"state": "connected", "previous": previous}),
                held: false,
            })
        };
        assert_eq!(
            record_state(&mut conn, "acme", &connected, announce).expect("2"),
            Recorded::Replaced("pairing".into())
        );
        let data: String = conn
            .query_row("SELECT data FROM events WHERE type = 'whatsapp.connection'", [], |r| r.get(0))
            .expect("the change was announced in the same transaction");
        assert!(data.contains(r#""previous":"pairing""#), "{data}");
        let drop = StateUpdate {
            error: Some("socket closed".into()),
            reconnect: true,
            ..update("reconnecting", "dropped")
        };
        record_state(&mut conn, "acme", &drop, |_| None).expect("3");
        let (state, phone, reconnects, error): (String, Option<String>, i64, Option<String>) = conn
            .query_row(
                "SELECT wa_state, wa_phone, wa_reconnects, wa_last_error FROM tenants WHERE id = 'acme'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .expect("row");
        assert_eq!(state, "reconnecting");
        assert_eq!(phone.as_deref(), Some("+15550001111"), "kept when not given");
        assert_eq!(reconnects, 1);
        assert_eq!(error.as_deref(), Some("socket closed"));
        let history =
            crate::store::sqlite::tenants::recent_state_changes(&conn, "acme", 10).expect("history");
        let states: Vec<&str> = history.iter().map(|c| c.state.as_str()).collect();
        assert_eq!(states, ["pairing", "connected", "reconnecting"]);
        assert_eq!(
            record_state(&mut conn, "gone", &update("stopped", "x"), |_| None).expect("absent"),
            Recorded::NoTenant
        );
    }

    #[test]
    fn an_idempotency_key_sends_once() {
        let mut conn = db();
        assert_eq!(claim_send(&mut conn, "acme", "k1", "h1").expect("claim"), SendClaim::Proceed);
        assert_eq!(claim_send(&mut conn, "acme", "k1", "h1").expect("again"), SendClaim::InProgress);
        assert_eq!(claim_send(&mut conn, "acme", "k1", "other").expect("reuse"), SendClaim::KeyReused);
        finish_send(&conn, "acme", "k1", &SendOutcome::Sent("3EB0ABC".into())).expect("finish");
        assert_eq!(
            claim_send(&mut conn, "acme", "k1", "h1").expect("replay"),
            SendClaim::AlreadySent { message_id: "3EB0ABC".into() }
        );
        // A failed send may be retried with the same key.
        assert_eq!(claim_send(&mut conn, "acme", "k2", "h2").expect("k2"), SendClaim::Proceed);
        finish_send(&conn, "acme", "k2", &SendOutcome::Failed("not connected".into())).expect("fail");
        assert_eq!(claim_send(&mut conn, "acme", "k2", "h2").expect("retry"), SendClaim::Proceed);
        assert_eq!(prune_sends(&conn, now_unix() + 1).expect("prune"), 2);
    }

    #[test]
    fn a_send_of_unknown_outcome_is_never_claimed_again() {
        let mut conn = db();
        assert_eq!(claim_send(&mut conn, "acme", "k", "h").expect("claim"), SendClaim::Proceed);
        finish_send(&conn, "acme", "k", &SendOutcome::Unknown("no answer within 10s".into()))
            .expect("finish");
        let status: String = conn
            .query_row("SELECT status FROM wa_sends WHERE idempotency_key = 'k'", [], |r| r.get(0))
            .expect("row");
        assert_eq!(status, "unknown");
        for _ in 0..2 {
            assert_eq!(claim_send(&mut conn, "acme", "k", "h").expect("retry"), SendClaim::OutcomeUnknown);
        }
        assert_eq!(claim_send(&mut conn, "acme", "k", "other").expect("reuse"), SendClaim::KeyReused);
    }

    #[test]
    fn only_keys_older_than_the_cutoff_are_pruned() {
        let mut conn = db();
        claim_send(&mut conn, "acme", "old", "h").expect("old");
        claim_send(&mut conn, "acme", "new", "h").expect("new");
        conn.execute("UPDATE wa_sends SET created_at = created_at - 100 WHERE idempotency_key = 'old'", [])
            .expect("age");
        assert_eq!(prune_sends(&conn, now_unix() - 50).expect("prune"), 1);
        let left: Vec<String> = conn
            .prepare("SELECT idempotency_key FROM wa_sends")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("keys");
        assert_eq!(left, ["new"]);
    }
}
