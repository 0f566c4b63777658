//! Stored content rows (WhatsApp media, call recordings) on PostgreSQL; see
//! `crate::store::content`. Same functions, same semantics.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::delivery::count;
use super::events::limit;
use super::PgError;
use crate::clock::now_ms;
use crate::paths::ContentKind;
use crate::store::content::Content;
use crate::store::content::CONTENT_COLUMNS as COLUMNS;

fn from_row(row: &Row) -> Result<Content, PgError> {
    Content::from_columns(row)
}

/// Records a stored file (again, if a retried job stored it twice: the row
/// is replaced, as SQLite's `INSERT OR REPLACE` does).
pub async fn record(c: &impl GenericClient, content: &Content) -> Result<(), PgError> {
    let stmt = c
        .prepare_cached(&format!(
            "INSERT INTO content ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (tenant_id, kind, id) DO UPDATE SET
                event_id = excluded.event_id, file = excluded.file, mimetype = excluded.mimetype,
                bytes = excluded.bytes, sha256 = excluded.sha256, stored_at_ms = excluded.stored_at_ms,
                expired_at_ms = excluded.expired_at_ms"
        ))
        .await?;
    c.execute(
        &stmt,
        &[
            &content.tenant_id,
            &content.kind.as_str(),
            &content.id,
            &content.event_id,
            &content.file,
            &content.mimetype,
            &i64::try_from(content.bytes).unwrap_or(i64::MAX),
            &content.sha256,
            &content.stored_at_ms,
            &content.expired_at_ms,
        ],
    )
    .await?;
    Ok(())
}

pub async fn get(
    c: &impl GenericClient,
    tenant_id: &str,
    kind: ContentKind,
    id: &str,
) -> Result<Option<Content>, PgError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM content WHERE tenant_id = $1 AND kind = $2 AND id = $3"
        ))
        .await?;
    c.query_opt(&stmt, &[&tenant_id, &kind.as_str(), &id]).await?.as_ref().map(from_row).transpose()
}

/// Up to `limit` files stored before `cutoff_ms` and not yet pruned, oldest first.
pub async fn due_for_pruning(
    c: &impl GenericClient,
    cutoff_ms: i64,
    limit_rows: usize,
) -> Result<Vec<Content>, PgError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM content WHERE stored_at_ms < $1 AND expired_at_ms IS NULL
             ORDER BY stored_at_ms LIMIT $2"
        ))
        .await?;
    c.query(&stmt, &[&cutoff_ms, &limit(limit_rows)]).await?.iter().map(from_row).collect()
}

/// Marks a file pruned: the API answers 410 for it from now on.
pub async fn mark_expired(c: &impl GenericClient, content: &Content) -> Result<(), PgError> {
    let stmt = c
        .prepare_cached(
            "UPDATE content SET expired_at_ms = $4 WHERE tenant_id = $1 AND kind = $2 AND id = $3",
        )
        .await?;
    c.execute(&stmt, &[&content.tenant_id, &content.kind.as_str(), &content.id, &now_ms()]).await?;
    Ok(())
}

/// Forgets rows of files pruned before `cutoff_ms` (their ids then answer 404).
pub async fn forget_expired_before(c: &impl GenericClient, cutoff_ms: i64) -> Result<usize, PgError> {
    let stmt = c
        .prepare_cached("DELETE FROM content WHERE expired_at_ms IS NOT NULL AND expired_at_ms < $1")
        .await?;
    Ok(count(c.execute(&stmt, &[&cutoff_ms]).await?))
}

#[cfg(test)]
mod tests {
    use super::super::testdb::{insert_tenant, TestDb};
    use super::*;

    fn sample(id: &str, stored_at_ms: i64) -> Content {
        Content {
            tenant_id: "acme".into(),
            kind: ContentKind::WhatsappMedia,
            id: id.into(),
            event_id: Some("evt_1".into()),
            file: format!("{id}.jpg"),
            mimetype: "image/jpeg".into(),
            bytes: 3,
            sha256: "ab".repeat(32),
            stored_at_ms,
            expired_at_ms: None,
        }
    }

    #[tokio::test]
    async fn recorded_content_is_found_by_tenant_kind_and_id_then_expires() {
        let Some(db) = TestDb::create().await else { return };
        let c = db.pool.get().await.expect("client");
        insert_tenant(&c, "acme", None).await;
        record(&c, &Content { file: "first.jpg".into(), ..sample("old", 1) }).await.expect("record");
        record(&c, &sample("old", 1)).await.expect("record again replaces");
        record(&c, &sample("new", now_ms())).await.expect("record");
        let found = get(&c, "acme", ContentKind::WhatsappMedia, "old").await.expect("get");
        assert_eq!(found, Some(sample("old", 1)));
        assert_eq!(
            get(&c, "acme", ContentKind::Recording, "old").await.expect("get"),
            None,
            "a media id is not a recording id"
        );
        assert_eq!(get(&c, "other", ContentKind::WhatsappMedia, "old").await.expect("get"), None);
        let due = due_for_pruning(&c, 1000, 10).await.expect("due");
        assert_eq!(due.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["old"]);
        mark_expired(&c, &due[0]).await.expect("expire");
        let expired = get(&c, "acme", ContentKind::WhatsappMedia, "old").await.expect("get");
        assert!(expired.and_then(|c| c.expired_at_ms).is_some());
        assert!(due_for_pruning(&c, 1000, 10).await.expect("due").is_empty());
        assert_eq!(forget_expired_before(&c, i64::MAX).await.expect("forget"), 1);
    }
}
