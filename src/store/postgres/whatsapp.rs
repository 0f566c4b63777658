//! A tenant's WhatsApp connection state and the sends made with an
//! Idempotency-Key, on PostgreSQL; see `crate::store::whatsapp`. Same
//! functions, same semantics.

use deadpool_postgres::GenericClient;

use super::cluster::FENCE_CHECK;
use super::delivery::count;
use super::events::{insert_within, lock_event_order};
use super::PgError;
use crate::clock::now_unix;
use crate::store::cluster::Token;
use crate::store::events::NewEvent;
use crate::store::whatsapp::{Recorded, SendClaim, SendOutcome, StateUpdate};

/// Records `update` for tenant `id` with its history row and the event that
/// announces it (built by `announce` from the previous state), in one
/// transaction. With `lease` (a cluster node's worker), only while the
/// tenant's live lease carries that token, checked in the same transaction
/// ([`FENCE_CHECK`], which holds the lease row until the commit, so a
/// takeover waits for the write or the write sees the takeover); a stale
/// token records nothing ([`Recorded::LeaseLost`]).
pub async fn record_state(
    c: &mut impl GenericClient,
    id: &str,
    update: &StateUpdate,
    lease: Option<Token>,
    announce: impl FnOnce(&str) -> Option<NewEvent>,
) -> Result<Recorded, PgError> {
    let tx = c.transaction().await?;
    // Event order, then the row: as every event insert takes them (no circle).
    lock_event_order(&tx, &[id]).await?;
    // FOR UPDATE: a concurrent change of the same tenant waits, so each
    // announcement names the state it really replaced. The tenant row is
    // locked before the lease row, the order a tenant's removal takes them.
    let select = tx.prepare_cached("SELECT wa_state FROM tenants WHERE id = $1 FOR UPDATE").await?;
    let Some(row) = tx.query_opt(&select, &[&id]).await? else { return Ok(Recorded::NoTenant) };
    let previous: String = row.try_get(0)?;
    if let Some(Token(token)) = lease {
        let check = tx.prepare_cached(FENCE_CHECK).await?;
        if tx.query_opt(&check, &[&id, &token]).await?.is_none() {
            // Dropped without a commit: rolled back, nothing changed.
            return Ok(Recorded::LeaseLost);
        }
    }
    let now = now_unix();
    let stmt = tx
        .prepare_cached(
            "UPDATE tenants SET
                wa_state = $2,
                wa_state_since = CASE WHEN wa_state = $2 THEN wa_state_since ELSE $3 END,
                wa_phone = CASE WHEN $4::boolean THEN $5::text ELSE wa_phone END,
                wa_last_error = COALESCE($6::text, wa_last_error),
                wa_reconnects = wa_reconnects + $7,
                wa_banned_until = $8
             WHERE id = $1",
        )
        .await?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
        &id,
        &update.state,
        &now,
        &update.phone.is_some(),
        &update.phone.clone().flatten(),
        &update.error,
        &i64::from(update.reconnect),
        &update.banned_until,
    ];
    tx.execute(&stmt, &params).await?;
    let history = tx
        .prepare_cached(
            "INSERT INTO tenant_state_changes (tenant_id, state, reason, at) VALUES ($1, $2, $3, $4)",
        )
        .await?;
    tx.execute(&history, &[&id, &update.state, &update.reason, &now]).await?;
    if let Some(event) = announce(&previous) {
        insert_within(&tx, &[event]).await?;
    }
    tx.commit().await?;
    Ok(Recorded::Replaced(previous))
}

/// The state and linked phone last recorded for `id` (`None` when the
/// tenant does not exist).
pub async fn current_state(
    c: &impl GenericClient,
    id: &str,
) -> Result<Option<(String, Option<String>)>, PgError> {
    let stmt = c.prepare_cached("SELECT wa_state, wa_phone FROM tenants WHERE id = $1").await?;
    match c.query_opt(&stmt, &[&id]).await? {
        Some(r) => Ok(Some((r.try_get(0)?, r.try_get(1)?))),
        None => Ok(None),
    }
}

/// Claims `key` for a send whose request hashes to `request_sha256`.
pub async fn claim_send(
    c: &mut impl GenericClient,
    tenant: &str,
    key: &str,
    request_sha256: &str,
) -> Result<SendClaim, PgError> {
    let tx = c.transaction().await?;
    // Insert first: a concurrent claim of the same key waits on the
    // conflicting row, so exactly one of two racing claims proceeds.
    let insert = tx
        .prepare_cached(
            "INSERT INTO wa_sends (tenant_id, idempotency_key, request_sha256, status, created_at)
             VALUES ($1, $2, $3, 'sending', $4) ON CONFLICT (tenant_id, idempotency_key) DO NOTHING",
        )
        .await?;
    if tx.execute(&insert, &[&tenant, &key, &request_sha256, &now_unix()]).await? == 1 {
        tx.commit().await?;
        return Ok(SendClaim::Proceed);
    }
    let select = tx
        .prepare_cached(
            "SELECT request_sha256, status, message_id FROM wa_sends
             WHERE tenant_id = $1 AND idempotency_key = $2 FOR UPDATE",
        )
        .await?;
    let row = tx.query_one(&select, &[&tenant, &key]).await?;
    let (hash, status, message_id): (String, String, Option<String>) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let claim = match (status.as_str(), message_id) {
        _ if hash != request_sha256 => SendClaim::KeyReused,
        ("sent", Some(message_id)) => SendClaim::AlreadySent { message_id },
        ("unknown", _) => SendClaim::OutcomeUnknown,
        ("failed", _) => {
            let retry = tx
                .prepare_cached(
                    "UPDATE wa_sends SET status = 'sending', error = NULL WHERE tenant_id = $1 AND idempotency_key = $2",
                )
                .await?;
            tx.execute(&retry, &[&tenant, &key]).await?;
            SendClaim::Proceed
        }
        _ => SendClaim::InProgress,
    };
    tx.commit().await?;
    Ok(claim)
}

/// Records how the claimed send ended.
pub async fn finish_send(
    c: &impl GenericClient,
    tenant: &str,
    key: &str,
    outcome: &SendOutcome,
) -> Result<(), PgError> {
    let (status, message_id, error) = match outcome {
        SendOutcome::Sent(id) => ("sent", Some(id), None),
        SendOutcome::Failed(e) => ("failed", None, Some(e)),
        SendOutcome::Unknown(e) => ("unknown", None, Some(e)),
    };
    let stmt = c
        .prepare_cached(
            "UPDATE wa_sends SET status = $3, message_id = $4, error = $5 WHERE tenant_id = $1 AND idempotency_key = $2",
        )
        .await?;
    c.execute(&stmt, &[&tenant, &key, &status, &message_id, &error]).await?;
    Ok(())
}

/// Forgets idempotency keys older than `before` (unix seconds).
pub async fn prune_sends(c: &impl GenericClient, before: i64) -> Result<usize, PgError> {
    let stmt = c.prepare_cached("DELETE FROM wa_sends WHERE created_at < $1").await?;
    Ok(count(c.execute(&stmt, &[&before]).await?))
}

#[cfg(test)]
mod tests {
    use super::super::testdb::{insert_tenant, TestDb};
    use super::*;

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

    #[tokio::test]
    async fn states_are_recorded_with_their_history_and_announcement() {
        let Some(db) = TestDb::create().await else { return };
        let mut c = db.pool.get().await.expect("client");
        insert_tenant(&c, "acme", None).await;
        let previous = record_state(&mut c, "acme", &update("pairing", "pairing requested"), None, |_| None)
            .await
            .expect("1");
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
            record_state(&mut c, "acme", &connected, None, announce).await.expect("2"),
            Recorded::Replaced("pairing".into())
        );
        let data: String = c
            .query_one("SELECT data FROM events WHERE type = 'whatsapp.connection'", &[])
            .await
            .expect("the change was announced in the same transaction")
            .get(0);
        assert!(data.contains(r#""previous":"pairing""#), "{data}");
        let drop = StateUpdate {
            error: Some("socket closed".into()),
            reconnect: true,
            ..update("reconnecting", "dropped")
        };
        record_state(&mut c, "acme", &drop, None, |_| None).await.expect("3");
        let r = c
            .query_one(
                "SELECT wa_state, wa_phone, wa_reconnects, wa_last_error FROM tenants WHERE id = 'acme'",
                &[],
            )
            .await
            .expect("row");
        assert_eq!(r.get::<_, String>(0), "reconnecting");
        assert_eq!(r.get::<_, Option<String>>(1).as_deref(), Some("+15550001111"), "kept when not given");
        assert_eq!(r.get::<_, i64>(2), 1);
        assert_eq!(r.get::<_, Option<String>>(3).as_deref(), Some("socket closed"));
        assert_eq!(
            current_state(&c, "acme").await.expect("current"),
            Some(("reconnecting".into(), Some("+15550001111".into())))
        );
        let history = super::super::tenants::recent_state_changes(&c, "acme", 2).await.expect("history");
        let states: Vec<&str> = history.iter().map(|c| c.state.as_str()).collect();
        assert_eq!(states, ["connected", "reconnecting"], "the newest two, oldest first");
        assert_eq!(
            record_state(&mut c, "gone", &update("stopped", "x"), None, |_| None).await.expect("absent"),
            Recorded::NoTenant
        );
        assert_eq!(current_state(&c, "gone").await.expect("current"), None);
    }

    /// acme's state, and how many history rows and events there are.
    async fn acme_counts(c: &impl GenericClient) -> (String, i64, i64) {
        let row = c
            .query_one(
                "SELECT (SELECT wa_state FROM tenants WHERE id = 'acme'),
                        (SELECT count(*) FROM tenant_state_changes),
                        (SELECT count(*) FROM events)",
                &[],
            )
            .await
            .expect("counts");
        (row.get(0), row.get(1), row.get(2))
    }

    /// A state change with its announcement, as a worker records one.
    fn announced(state: &'static str) -> impl FnOnce(&str) -> Option<NewEvent> {
        move |previous: &str| {
            Some(NewEvent {
                tenant_id: "acme".into(),
                kind: "whatsapp.connection".into(),
                dedupe_key: None,
                data: serde_json::json!({"state": state, "previous": previous}),
                held: false,
            })
        }
    }

    #[tokio::test]
    async fn a_state_write_with_a_stale_lease_token_changes_nothing_and_the_live_one_writes() {
        use super::super::cluster::acquire;
        use std::time::Duration;
        let Some(db) = TestDb::create().await else { return };
        let mut c = db.pool.get().await.expect("client");
        insert_tenant(&c, "acme", None).await;
        let old = acquire(&c, "n1", Duration::from_millis(200), 10).await.expect("lease")[0].1;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let live = acquire(&c, "n2", Duration::from_secs(15), 10).await.expect("take over")[0].1;
        let stale = update("stopped", "the old owner stops");
        let outcome =
            record_state(&mut c, "acme", &stale, Some(old), announced("stopped")).await.expect("stale");
        assert_eq!(outcome, Recorded::LeaseLost);
        assert_eq!(acme_counts(&c).await, ("unpaired".into(), 0, 0), "no row, history or event changed");

        let fresh = update("connecting", "the new owner connects");
        let outcome =
            record_state(&mut c, "acme", &fresh, Some(live), announced("connecting")).await.expect("live");
        assert_eq!(outcome, Recorded::Replaced("unpaired".into()));
        assert_eq!(acme_counts(&c).await, ("connecting".into(), 1, 1));

        // A lease given up: even its last token no longer writes.
        c.execute("DELETE FROM tenant_leases", &[]).await.expect("release");
        let outcome = record_state(&mut c, "acme", &stale, Some(live), |_| None).await.expect("released");
        assert_eq!(outcome, Recorded::LeaseLost);
        assert_eq!(acme_counts(&c).await.0, "connecting");
    }

    #[tokio::test]
    async fn an_idempotency_key_sends_once() {
        let Some(db) = TestDb::create().await else { return };
        let mut c = db.pool.get().await.expect("client");
        insert_tenant(&c, "acme", None).await;
        assert_eq!(claim_send(&mut c, "acme", "k1", "h1").await.expect("claim"), SendClaim::Proceed);
        assert_eq!(claim_send(&mut c, "acme", "k1", "h1").await.expect("again"), SendClaim::InProgress);
        assert_eq!(claim_send(&mut c, "acme", "k1", "other").await.expect("reuse"), SendClaim::KeyReused);
        finish_send(&c, "acme", "k1", &SendOutcome::Sent("3EB0ABC".into())).await.expect("finish");
        assert_eq!(
            claim_send(&mut c, "acme", "k1", "h1").await.expect("replay"),
            SendClaim::AlreadySent { message_id: "3EB0ABC".into() }
        );
        assert_eq!(claim_send(&mut c, "acme", "k2", "h2").await.expect("k2"), SendClaim::Proceed);
        finish_send(&c, "acme", "k2", &SendOutcome::Failed("not connected".into())).await.expect("fail");
        assert_eq!(claim_send(&mut c, "acme", "k2", "h2").await.expect("retry"), SendClaim::Proceed);
        assert_eq!(claim_send(&mut c, "acme", "k3", "h3").await.expect("k3"), SendClaim::Proceed);
        finish_send(&c, "acme", "k3", &SendOutcome::Unknown("no answer".into())).await.expect("unknown");
        for _ in 0..2 {
            assert_eq!(claim_send(&mut c, "acme", "k3", "h3").await.expect("k3"), SendClaim::OutcomeUnknown);
        }
        c.execute("UPDATE wa_sends SET created_at = created_at - 100 WHERE idempotency_key = 'k1'", &[])
            .await
            .expect("age");
        assert_eq!(prune_sends(&c, now_unix() - 50).await.expect("prune old"), 1);
        assert_eq!(prune_sends(&c, now_unix() + 1).await.expect("prune"), 2);
    }

    #[tokio::test]
    async fn racing_claims_of_one_key_let_exactly_one_proceed() {
        let Some(db) = TestDb::create().await else { return };
        insert_tenant(&db.pool.get().await.expect("client"), "acme", None).await;
        let claim = || async {
            let mut c = db.pool.get().await.expect("client");
            claim_send(&mut c, "acme", "k", "h").await.expect("claim")
        };
        let (a, b) = tokio::join!(claim(), claim());
        let mut claims = [a, b];
        claims.sort_by_key(|c| c != &SendClaim::Proceed);
        assert_eq!(claims, [SendClaim::Proceed, SendClaim::InProgress]);
    }
}
