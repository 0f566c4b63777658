//! Nodes and tenant leases on PostgreSQL; see `crate::store::cluster`. Every
//! expiry is computed and compared on the database's clock, so the nodes'
//! own clocks never need to agree.

use std::time::Duration;

use deadpool_postgres::GenericClient;

use super::PgError;
use crate::store::cluster::{NodeRow, Owner, Token, NODE_COLUMNS};

/// The check a fenced session write makes in its transaction ($1 tenant, $2
/// token): a row while this node's lease with that token is live. `FOR
/// SHARE` holds the lease row until the write commits, so a takeover waits
/// for it or the write sees the takeover.
pub const FENCE_CHECK: &str =
    "SELECT 1 FROM tenant_leases WHERE tenant_id = $1 AND token = $2 AND expires_at > now() FOR SHARE";

fn secs(ttl: Duration) -> f64 {
    ttl.as_secs_f64()
}

/// Records this node (again, after a restart under the same id) as alive now.
pub async fn join(c: &impl GenericClient, id: &str, address: &str, version: &str) -> Result<(), PgError> {
    c.execute(
        "INSERT INTO cluster_nodes (id, address, version, started_at, last_heartbeat)
         VALUES ($1, $2, $3, now(), now())
         ON CONFLICT (id) DO UPDATE SET address = excluded.address, version = excluded.version,
            started_at = excluded.started_at, last_heartbeat = excluded.last_heartbeat",
        &[&id, &address, &version],
    )
    .await?;
    Ok(())
}

/// This node is alive now. False when its row is gone (removed by an
/// operator): the caller joins again.
pub async fn heartbeat(c: &impl GenericClient, id: &str) -> Result<bool, PgError> {
    let stmt = c.prepare_cached("UPDATE cluster_nodes SET last_heartbeat = now() WHERE id = $1").await?;
    Ok(c.execute(&stmt, &[&id]).await? == 1)
}

/// Every node, the live ones (heartbeat within `ttl`) first, then by id.
pub async fn nodes(c: &impl GenericClient, ttl: Duration) -> Result<Vec<NodeRow>, PgError> {
    let sql = format!("SELECT {NODE_COLUMNS} FROM cluster_nodes n ORDER BY 6 DESC, n.id");
    c.query(&sql, &[&secs(ttl)]).await?.iter().map(NodeRow::from_columns).collect()
}

/// How many nodes are alive (heartbeat within `ttl`) and how many tenants
/// there are: what a fair share is computed from.
pub async fn census(c: &impl GenericClient, ttl: Duration) -> Result<(i64, i64), PgError> {
    let stmt = c
        .prepare_cached(
            "SELECT (SELECT count(*) FROM cluster_nodes WHERE last_heartbeat > now() - make_interval(secs => $1)),
                    (SELECT count(*) FROM tenants)",
        )
        .await?;
    let row = c.query_one(&stmt, &[&secs(ttl)]).await?;
    Ok((row.get(0), row.get(1)))
}

/// Takes up to `limit` tenants that no node holds (no lease, or an expired
/// one) for `node`, each with a new fencing token. Two nodes racing for one
/// tenant: the insert of one waits for the other's and then finds a live
/// lease, which it leaves alone.
pub async fn acquire(
    c: &impl GenericClient,
    node: &str,
    ttl: Duration,
    limit: i64,
) -> Result<Vec<(String, Token)>, PgError> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO tenant_leases (tenant_id, owner, token, expires_at)
             SELECT t.id, $1, nextval('lease_tokens'), now() + make_interval(secs => $2)
             FROM tenants t LEFT JOIN tenant_leases l ON l.tenant_id = t.id
             WHERE l.tenant_id IS NULL OR l.expires_at <= now()
             ORDER BY t.id
             LIMIT $3
             ON CONFLICT (tenant_id) DO UPDATE
                SET owner = excluded.owner, token = excluded.token, expires_at = excluded.expires_at
                WHERE tenant_leases.expires_at <= now()
             RETURNING tenant_id, token",
        )
        .await?;
    let rows = c.query(&stmt, &[&node, &secs(ttl), &limit.max(0)]).await?;
    Ok(rows.iter().map(|r| (r.get(0), Token(r.get(1)))).collect())
}

/// Takes back, with new tokens, the live leases recorded for `node`: they
/// belong to an earlier run of this node (a node id names one process at a
/// time), which is gone, so waiting for them to expire would only delay
/// its tenants.
pub async fn reclaim(
    c: &impl GenericClient,
    node: &str,
    ttl: Duration,
) -> Result<Vec<(String, Token)>, PgError> {
    let rows = c
        .query(
            "UPDATE tenant_leases SET token = nextval('lease_tokens'), expires_at = now() + make_interval(secs => $2)
             WHERE owner = $1 AND expires_at > now()
             RETURNING tenant_id, token",
            &[&node, &secs(ttl)],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), Token(r.get(1)))).collect())
}

/// Extends the leases `node` holds with these tokens and that have not
/// expired; returns the tenants renewed. A lease missing from the answer is
/// lost (expired, taken over, or its tenant removed).
pub async fn renew(
    c: &impl GenericClient,
    node: &str,
    ttl: Duration,
    leases: &[(String, Token)],
) -> Result<Vec<String>, PgError> {
    let (tenants, tokens): (Vec<&str>, Vec<i64>) = leases.iter().map(|(t, k)| (t.as_str(), k.0)).unzip();
    let stmt = c
        .prepare_cached(
            "UPDATE tenant_leases l SET expires_at = now() + make_interval(secs => $2)
             FROM unnest($3::text[], $4::bigint[]) AS mine(tenant_id, token)
             WHERE l.tenant_id = mine.tenant_id AND l.token = mine.token
               AND l.owner = $1 AND l.expires_at > now()
             RETURNING l.tenant_id",
        )
        .await?;
    let rows = c.query(&stmt, &[&node, &secs(ttl), &tenants, &tokens]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Gives up `node`'s leases of `tenants` (all of them when `None`), so other
/// nodes take them at once.
pub async fn release(c: &impl GenericClient, node: &str, tenants: Option<&[String]>) -> Result<u64, PgError> {
    Ok(match tenants {
        Some(tenants) => {
            c.execute(
                "DELETE FROM tenant_leases WHERE owner = $1 AND tenant_id = ANY($2)",
                &[&node, &tenants],
            )
            .await?
        }
        None => c.execute("DELETE FROM tenant_leases WHERE owner = $1", &[&node]).await?,
    })
}

/// Removes this node's row (a graceful shutdown), after its leases.
pub async fn leave(c: &impl GenericClient, node: &str) -> Result<(), PgError> {
    release(c, node, None).await?;
    c.execute("DELETE FROM cluster_nodes WHERE id = $1", &[&node]).await?;
    Ok(())
}

/// Who holds `tenant`'s live lease, if anyone.
pub async fn owner(c: &impl GenericClient, tenant: &str) -> Result<Option<Owner>, PgError> {
    let stmt = c
        .prepare_cached(
            "SELECT l.owner, coalesce(n.address, ''), l.token FROM tenant_leases l
             LEFT JOIN cluster_nodes n ON n.id = l.owner
             WHERE l.tenant_id = $1 AND l.expires_at > now()",
        )
        .await?;
    let row = c.query_opt(&stmt, &[&tenant]).await?;
    Ok(row.map(|r| Owner { node: r.get(0), address: r.get(1), token: Token(r.get(2)) }))
}

/// The node holding each tenant's live lease (tenants without one are left out).
pub async fn owners(c: &impl GenericClient) -> Result<Vec<(String, String)>, PgError> {
    let rows = c.query("SELECT tenant_id, owner FROM tenant_leases WHERE expires_at > now()", &[]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

#[cfg(test)]
mod tests {
    use super::super::testdb::{insert_tenant, TestDb};
    use super::*;

    const TTL: Duration = Duration::from_secs(15);

    #[tokio::test]
    async fn leases_are_taken_once_renewed_with_their_token_and_released() {
        let Some(db) = TestDb::create().await else { return };
        let c = db.pool.get().await.expect("client");
        for t in ["a", "b", "c"] {
            insert_tenant(&c, t, None).await;
        }
        join(&c, "n1", "http://10.0.0.1:5000", "1.0").await.expect("join");
        join(&c, "n2", "http://10.0.0.2:5000", "1.0").await.expect("join");
        assert_eq!(census(&c, TTL).await.expect("census"), (2, 3));

        let first = acquire(&c, "n1", TTL, 2).await.expect("acquire");
        assert_eq!(first.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let second = acquire(&c, "n2", TTL, 10).await.expect("acquire");
        assert_eq!(second.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["c"], "only the free one");
        assert!(second[0].1 .0 > first[1].1 .0, "tokens grow");
        assert!(acquire(&c, "n2", TTL, 10).await.expect("acquire").is_empty());

        let owner_a = owner(&c, "a").await.expect("owner").expect("owned");
        assert_eq!((owner_a.node.as_str(), owner_a.address.as_str()), ("n1", "http://10.0.0.1:5000"));
        let stale = vec![("a".to_string(), Token(first[0].1 .0 - 1)), first[1].clone()];
        assert_eq!(renew(&c, "n1", TTL, &stale).await.expect("renew"), ["b"], "a stale token renews nothing");
        assert!(renew(&c, "n2", TTL, &first).await.expect("renew").is_empty(), "not n2's leases");

        assert_eq!(release(&c, "n1", Some(&["a".to_string()])).await.expect("release"), 1);
        assert_eq!(owner(&c, "a").await.expect("owner"), None);
        let taken = acquire(&c, "n2", TTL, 10).await.expect("acquire");
        assert_eq!(taken.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["a"]);
        let nodes = nodes(&c, TTL).await.expect("nodes");
        let counts: Vec<(&str, i64)> = nodes.iter().map(|n| (n.id.as_str(), n.tenants)).collect();
        assert_eq!(counts, [("n1", 1), ("n2", 2)]);
        assert!(nodes.iter().all(|n| n.alive && n.last_heartbeat.ends_with('Z')));

        leave(&c, "n1").await.expect("leave");
        assert_eq!(owner(&c, "b").await.expect("owner"), None, "leaving releases its leases");
        assert!(!heartbeat(&c, "n1").await.expect("heartbeat"), "its row is gone");
        assert!(heartbeat(&c, "n2").await.expect("heartbeat"));
    }

    #[tokio::test]
    async fn an_expired_lease_is_taken_over_with_a_larger_token_and_cannot_be_renewed() {
        let Some(db) = TestDb::create().await else { return };
        let c = db.pool.get().await.expect("client");
        insert_tenant(&c, "a", None).await;
        let short = Duration::from_millis(200);
        let old = acquire(&c, "n1", short, 10).await.expect("acquire");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(owner(&c, "a").await.expect("owner"), None, "expired");
        let new = acquire(&c, "n2", TTL, 10).await.expect("take over");
        assert!(new[0].1 .0 > old[0].1 .0);
        assert!(renew(&c, "n1", TTL, &old).await.expect("renew").is_empty(), "the old owner lost it");
        c.execute("DELETE FROM tenants WHERE id = 'a'", &[]).await.expect("remove tenant");
        assert!(renew(&c, "n2", TTL, &new).await.expect("renew").is_empty(), "a removed tenant's lease goes");
    }
}
