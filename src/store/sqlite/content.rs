//! Stored content the API serves: WhatsApp media and call recordings. The
//! bytes are files in the tenant's directory; a row here says which file a
//! public id names, its type, size and SHA-256 (the `ETag`), and whether the
//! file was pruned (`expired_at_ms`).

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock::now_ms;
use crate::paths::ContentKind;
use crate::store::content::Content;
use crate::store::content::CONTENT_COLUMNS as COLUMNS;

fn from_row(row: &Row<'_>) -> rusqlite::Result<Content> {
    Content::from_columns(row)
}

/// Records a stored file (again, if a retried job stored it twice: the
/// second file replaced the first under the same name).
pub fn record(conn: &Connection, content: &Content) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO content ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            content.tenant_id,
            content.kind.as_str(),
            content.id,
            content.event_id,
            content.file,
            content.mimetype,
            i64::try_from(content.bytes).unwrap_or(i64::MAX),
            content.sha256,
            content.stored_at_ms,
            content.expired_at_ms,
        ],
    )?;
    Ok(())
}

pub fn get(
    conn: &Connection,
    tenant_id: &str,
    kind: ContentKind,
    id: &str,
) -> rusqlite::Result<Option<Content>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM content WHERE tenant_id = ?1 AND kind = ?2 AND id = ?3"),
        params![tenant_id, kind.as_str(), id],
        from_row,
    )
    .optional()
}

/// Up to `limit` files stored before `cutoff_ms` and not yet pruned, oldest first.
pub fn due_for_pruning(conn: &Connection, cutoff_ms: i64, limit: usize) -> rusqlite::Result<Vec<Content>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM content WHERE stored_at_ms < ?1 AND expired_at_ms IS NULL
         ORDER BY stored_at_ms LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![cutoff_ms, limit as i64], from_row)?;
    rows.collect()
}

/// Marks a file pruned: the API answers 410 for it from now on.
pub fn mark_expired(conn: &Connection, content: &Content) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE content SET expired_at_ms = ?4 WHERE tenant_id = ?1 AND kind = ?2 AND id = ?3",
        params![content.tenant_id, content.kind.as_str(), content.id, now_ms()],
    )?;
    Ok(())
}

/// Forgets rows of files pruned before `cutoff_ms` (their ids then answer 404).
pub fn forget_expired_before(conn: &Connection, cutoff_ms: i64) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM content WHERE expired_at_ms IS NOT NULL AND expired_at_ms < ?1", [cutoff_ms])
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn recorded_content_is_found_by_tenant_kind_and_id_then_expires() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = super::super::Db::open(&dir.path().join("t.db"), std::time::Duration::from_secs(1))
            .expect("open");
        store
            .with_conn(|c| {
                c.execute(
                    "INSERT INTO tenants (id, name, token_hash, token_rotated_at, created_at, updated_at,
                     wa_state_since) VALUES ('acme', 'acme', 'h', 0, 0, 0, 0)",
                    [],
                )?;
                record(c, &sample("old", 1))?;
                record(c, &sample("new", now_ms()))
            })
            .expect("record");
        let found = store.with_conn(|c| get(c, "acme", ContentKind::WhatsappMedia, "old")).expect("get");
        assert_eq!(found, Some(sample("old", 1)));
        let other_kind = store.with_conn(|c| get(c, "acme", ContentKind::Recording, "old")).expect("get");
        assert_eq!(other_kind, None, "a media id is not a recording id");
        let other_tenant =
            store.with_conn(|c| get(c, "other", ContentKind::WhatsappMedia, "old")).expect("get");
        assert_eq!(other_tenant, None);
        let due = store.with_conn(|c| due_for_pruning(c, 1000, 10)).expect("due");
        assert_eq!(due.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["old"]);
        store.with_conn(|c| mark_expired(c, &due[0])).expect("expire");
        let expired = store.with_conn(|c| get(c, "acme", ContentKind::WhatsappMedia, "old")).expect("get");
        assert!(expired.and_then(|c| c.expired_at_ms).is_some());
        assert!(store.with_conn(|c| due_for_pruning(c, 1000, 10)).expect("due").is_empty());
        assert_eq!(store.with_conn(|c| forget_expired_before(c, i64::MAX)).expect("forget"), 1);
    }
}
