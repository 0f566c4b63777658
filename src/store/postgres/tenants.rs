//! Tenant rows, their Twilio numbers and their WhatsApp state history on
//! PostgreSQL; see `crate::store::tenants`. Same functions, same semantics.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::PgError;
use crate::clock::now_unix;
use crate::store::tenants::{NewCredentials, StateChange, TenantRow, TenantUpdate, TwilioTenant};

const COLUMNS: &str = "id, name, webhook_url, twilio_auth_token, token_rotated_at, created_at,
    updated_at, wa_state, wa_phone, wa_state_since, wa_reconnects, wa_last_error, wa_banned_until,
    twilio_account_sid, octet_length(signing_key) > 0, signing_key_previous_until";

fn from_row(row: &Row) -> Result<TenantRow, PgError> {
    TenantRow::from_columns(row)
}

pub async fn exists(c: &impl GenericClient, id: &str) -> Result<bool, PgError> {
    let stmt = c.prepare_cached("SELECT 1 FROM tenants WHERE id = $1").await?;
    Ok(c.query_opt(&stmt, &[&id]).await?.is_some())
}

/// Which tenant owns `number`, if any.
pub async fn number_owner(c: &impl GenericClient, number: &str) -> Result<Option<String>, PgError> {
    let stmt = c.prepare_cached("SELECT tenant_id FROM tenant_numbers WHERE number = $1").await?;
    Ok(c.query_opt(&stmt, &[&number]).await?.map(|r| r.try_get(0)).transpose()?)
}

/// Inserts a tenant with its numbers in one transaction. The caller has
/// checked that the id and numbers are free.
pub async fn insert(
    c: &mut impl GenericClient,
    id: &str,
    name: &str,
    credentials: &NewCredentials<'_>,
    update: &TenantUpdate,
) -> Result<(), PgError> {
    let now = now_unix();
    let tx = c.transaction().await?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO tenants (id, name, webhook_url, twilio_auth_token, twilio_account_sid, voice_twiml,
                token_hash, token_rotated_at, created_at, updated_at, wa_state_since, signing_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $8, $9)",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &id,
            &name,
            &update.webhook_url.clone().flatten(),
            &update.twilio_auth_token.clone().flatten(),
            &update.twilio_account_sid.clone().flatten(),
            &update.voice_twiml.clone().flatten(),
            &credentials.token_hash,
            &now,
            &credentials.signing_key,
        ],
    )
    .await?;
    let history = tx
        .prepare_cached(
            "INSERT INTO tenant_state_changes (tenant_id, state, reason, at) VALUES ($1, 'unpaired', 'tenant created', $2)",
        )
        .await?;
    tx.execute(&history, &[&id, &now]).await?;
    if let Some(numbers) = &update.twilio_numbers {
        replace_numbers(&tx, id, numbers).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Applies `update` to an existing tenant; false when it does not exist.
pub async fn update(c: &mut impl GenericClient, id: &str, update: &TenantUpdate) -> Result<bool, PgError> {
    let tx = c.transaction().await?;
    // One statement for the columns: a `None` keeps the column (the flag
    // says whether to set it, since `Some(None)` sets NULL).
    let stmt = tx
        .prepare_cached(
            "UPDATE tenants SET
                name = COALESCE($2::text, name),
                webhook_url = CASE WHEN $3::boolean THEN $4::text ELSE webhook_url END,
                twilio_auth_token = CASE WHEN $5::boolean THEN $6::text ELSE twilio_auth_token END,
                twilio_account_sid = CASE WHEN $7::boolean THEN $8::text ELSE twilio_account_sid END,
                voice_twiml = CASE WHEN $9::boolean THEN $10::text ELSE voice_twiml END,
                updated_at = $11
             WHERE id = $1",
        )
        .await?;
    let changed = tx
        .execute(
            &stmt,
            &[
                &id,
                &update.name,
                &update.webhook_url.is_some(),
                &update.webhook_url.clone().flatten(),
                &update.twilio_auth_token.is_some(),
                &update.twilio_auth_token.clone().flatten(),
                &update.twilio_account_sid.is_some(),
                &update.twilio_account_sid.clone().flatten(),
                &update.voice_twiml.is_some(),
                &update.voice_twiml.clone().flatten(),
                &now_unix(),
            ],
        )
        .await?;
    if changed == 0 {
        return Ok(false);
    }
    if let Some(numbers) = &update.twilio_numbers {
        replace_numbers(&tx, id, numbers).await?;
    }
    tx.commit().await?;
    Ok(true)
}

fn twilio_tenant(row: &Row) -> Result<TwilioTenant, PgError> {
    TwilioTenant::from_columns(row)
}

pub async fn twilio_tenant_by_id(c: &impl GenericClient, id: &str) -> Result<Option<TwilioTenant>, PgError> {
    let stmt = c
        .prepare_cached(
            "SELECT id, twilio_auth_token, voice_twiml, twilio_account_sid FROM tenants WHERE id = $1",
        )
        .await?;
    c.query_opt(&stmt, &[&id]).await?.as_ref().map(twilio_tenant).transpose()
}

/// The tenant whose registered Twilio number is `number`.
pub async fn twilio_tenant_by_number(
    c: &impl GenericClient,
    number: &str,
) -> Result<Option<TwilioTenant>, PgError> {
    let stmt = c
        .prepare_cached(
            "SELECT t.id, t.twilio_auth_token, t.voice_twiml, t.twilio_account_sid FROM tenant_numbers n
             JOIN tenants t ON t.id = n.tenant_id WHERE n.number = $1",
        )
        .await?;
    c.query_opt(&stmt, &[&number]).await?.as_ref().map(twilio_tenant).transpose()
}

async fn replace_numbers(c: &impl GenericClient, id: &str, numbers: &[String]) -> Result<(), PgError> {
    let delete = c.prepare_cached("DELETE FROM tenant_numbers WHERE tenant_id = $1").await?;
    c.execute(&delete, &[&id]).await?;
    let insert = c
        .prepare_cached("INSERT INTO tenant_numbers (number, tenant_id) SELECT unnest($1::text[]), $2")
        .await?;
    c.execute(&insert, &[&numbers, &id]).await?;
    Ok(())
}

pub async fn get(c: &impl GenericClient, id: &str) -> Result<Option<TenantRow>, PgError> {
    let stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM tenants WHERE id = $1")).await?;
    let Some(row) = c.query_opt(&stmt, &[&id]).await? else { return Ok(None) };
    let mut row = from_row(&row)?;
    let numbers =
        c.prepare_cached("SELECT number FROM tenant_numbers WHERE tenant_id = $1 ORDER BY number").await?;
    row.twilio_numbers =
        c.query(&numbers, &[&id]).await?.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
    Ok(Some(row))
}

/// Every tenant, by id, with its numbers (two queries in all).
pub async fn list(c: &impl GenericClient) -> Result<Vec<TenantRow>, PgError> {
    let stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM tenants ORDER BY id")).await?;
    let mut rows = c.query(&stmt, &[]).await?.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let numbers = c.prepare_cached("SELECT tenant_id, number FROM tenant_numbers ORDER BY number").await?;
    let mut by_tenant: HashMap<String, Vec<String>> = HashMap::new();
    for r in c.query(&numbers, &[]).await? {
        by_tenant.entry(r.try_get(0)?).or_default().push(r.try_get(1)?);
    }
    for row in &mut rows {
        row.twilio_numbers = by_tenant.remove(&row.id).unwrap_or_default();
    }
    Ok(rows)
}

/// The tenant whose API token hashes to `hash`, and that hash.
pub async fn by_token_hash(c: &impl GenericClient, hash: &str) -> Result<Option<(String, String)>, PgError> {
    let stmt = c.prepare_cached("SELECT id, token_hash FROM tenants WHERE token_hash = $1").await?;
    match c.query_opt(&stmt, &[&hash]).await? {
        Some(row) => Ok(Some((row.try_get(0)?, row.try_get(1)?))),
        None => Ok(None),
    }
}

/// Replaces the token hash; false when the tenant does not exist.
pub async fn set_token_hash(c: &impl GenericClient, id: &str, hash: &str) -> Result<bool, PgError> {
    let stmt = c
        .prepare_cached(
            "UPDATE tenants SET token_hash = $2, token_rotated_at = $3, updated_at = $3 WHERE id = $1",
        )
        .await?;
    Ok(c.execute(&stmt, &[&id, &hash, &now_unix()]).await? == 1)
}

/// Makes `key` the tenant's signing key; the one it replaces keeps signing
/// until `previous_until_ms` (`None` drops it at once). False when absent.
pub async fn rotate_signing_key(
    c: &impl GenericClient,
    id: &str,
    key: &[u8],
    previous_until_ms: Option<i64>,
) -> Result<bool, PgError> {
    let stmt = c
        .prepare_cached(
            "UPDATE tenants SET signing_key_previous = CASE WHEN $3::bigint IS NULL THEN NULL ELSE signing_key END,
                    signing_key_previous_until = $3, signing_key = $2, updated_at = $4
             WHERE id = $1",
        )
        .await?;
    Ok(c.execute(&stmt, &[&id, &key, &previous_until_ms, &now_unix()]).await? == 1)
}

/// Deletes the tenant and everything that references it; false when absent.
pub async fn delete(c: &impl GenericClient, id: &str) -> Result<bool, PgError> {
    let stmt = c.prepare_cached("DELETE FROM tenants WHERE id = $1").await?;
    Ok(c.execute(&stmt, &[&id]).await? == 1)
}

/// The newest `limit` state changes, oldest first.
pub async fn recent_state_changes(
    c: &impl GenericClient,
    id: &str,
    limit: usize,
) -> Result<Vec<StateChange>, PgError> {
    let stmt = c
        .prepare_cached(
            "SELECT state, reason, at FROM (
                SELECT seq, state, reason, at FROM tenant_state_changes
                WHERE tenant_id = $1 ORDER BY seq DESC LIMIT $2
             ) AS recent ORDER BY seq",
        )
        .await?;
    c.query(&stmt, &[&id, &super::events::limit(limit)])
        .await?
        .iter()
        .map(|r| Ok(StateChange { state: r.try_get(0)?, reason: r.try_get(1)?, at: r.try_get(2)? }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testdb::TestDb;
    use super::*;

    fn settings() -> TenantUpdate {
        TenantUpdate {
            webhook_url: Some(Some("https://acme.example/hook".into())),
            twilio_auth_token: Some(Some("tok".into())),
            twilio_account_sid: Some(Some("AC1".into())),
            twilio_numbers: Some(vec!["+15550002".into(), "+15550001".into()]),
            voice_twiml: Some(Some("<Response/>".into())),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn tenants_are_inserted_updated_and_found_by_number() {
        let Some(db) = TestDb::create().await else { return };
        let mut c = db.pool.get().await.expect("client");
        let credentials = NewCredentials { token_hash: "h1", signing_key: &[7u8; 32] };
        insert(&mut c, "acme", "Acme", &credentials, &settings()).await.expect("insert");
        let row = get(&c, "acme").await.expect("get").expect("row");
        assert_eq!(row.twilio_numbers, ["+15550001", "+15550002"]);
        assert_eq!((row.wa_state.as_str(), row.signing_key_set), ("unpaired", true));
        assert_eq!(row.twilio_account_sid.as_deref(), Some("AC1"));
        assert!(exists(&c, "acme").await.expect("exists") && !exists(&c, "nope").await.expect("exists"));
        assert_eq!(number_owner(&c, "+15550001").await.expect("owner").as_deref(), Some("acme"));
        let t = twilio_tenant_by_number(&c, "+15550002").await.expect("by number").expect("found");
        assert_eq!((t.auth_token.as_deref(), t.voice_twiml.as_deref()), (Some("tok"), Some("<Response/>")));
        let change = TenantUpdate {
            name: Some("Acme 2".into()),
            webhook_url: Some(None),
            twilio_numbers: Some(vec!["+15550003".into()]),
            ..Default::default()
        };
        assert!(update(&mut c, "acme", &change).await.expect("update"));
        assert!(!update(&mut c, "nope", &change).await.expect("absent"));
        let row = get(&c, "acme").await.expect("get").expect("row");
        assert_eq!((row.name.as_str(), row.webhook_url.as_deref()), ("Acme 2", None));
        assert_eq!(row.twilio_auth_token.as_deref(), Some("tok"), "untouched");
        assert_eq!(number_owner(&c, "+15550001").await.expect("owner"), None);
        let t = twilio_tenant_by_id(&c, "acme").await.expect("by id").expect("found");
        assert_eq!(t.account_sid.as_deref(), Some("AC1"));
        let bare = NewCredentials { token_hash: "h2", signing_key: &[] };
        insert(&mut c, "bare", "Bare", &bare, &TenantUpdate::default()).await.expect("insert bare");
        let all = list(&c).await.expect("list");
        assert_eq!(all.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["acme", "bare"]);
        assert_eq!(all[0].twilio_numbers, ["+15550003"]);
        assert!(all[1].twilio_numbers.is_empty() && !all[1].signing_key_set);
        let history = recent_state_changes(&c, "acme", 10).await.expect("history");
        assert_eq!(history.iter().map(|h| h.reason.as_str()).collect::<Vec<_>>(), ["tenant created"]);
    }

    async fn keys(c: &deadpool_postgres::Client) -> (Vec<u8>, Option<Vec<u8>>, Option<i64>) {
        let r = c
            .query_one(
                "SELECT signing_key, signing_key_previous, signing_key_previous_until FROM tenants",
                &[],
            )
            .await
            .expect("keys");
        (r.get(0), r.get(1), r.get(2))
    }

    #[tokio::test]
    async fn tokens_and_keys_rotate_and_delete_cascades() {
        let Some(db) = TestDb::create().await else { return };
        let mut c = db.pool.get().await.expect("client");
        let credentials = NewCredentials { token_hash: "h1", signing_key: &[1u8] };
        insert(&mut c, "acme", "Acme", &credentials, &settings()).await.expect("insert");
        assert!(set_token_hash(&c, "acme", "h2").await.expect("set"));
        assert!(!set_token_hash(&c, "nope", "h3").await.expect("absent"));
        assert_eq!(by_token_hash(&c, "h2").await.expect("hash").map(|(id, _)| id).as_deref(), Some("acme"));
        assert!(rotate_signing_key(&c, "acme", &[2u8], Some(5000)).await.expect("rotate"));
        assert_eq!(keys(&c).await, (vec![2], Some(vec![1]), Some(5000)));
        assert!(rotate_signing_key(&c, "acme", &[3u8], None).await.expect("rotate"));
        assert_eq!(keys(&c).await, (vec![3], None, None));
        assert!(!rotate_signing_key(&c, "nope", &[3u8], None).await.expect("absent"));
        let event = crate::store::events::NewEvent {
            tenant_id: "acme".into(),
            kind: "twilio.sms".into(),
            dedupe_key: None,
            data: serde_json::json!({}),
            held: true,
        };
        super::super::events::insert_batch(&mut c, &[event]).await.expect("event");
        assert!(delete(&c, "acme").await.expect("delete"));
        assert!(!delete(&c, "acme").await.expect("again"));
        for table in ["tenant_numbers", "tenant_state_changes", "events", "jobs"] {
            let n: i64 =
                c.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.expect("count").get(0);
            assert_eq!(n, 0, "{table} rows went with the tenant");
        }
    }
}
