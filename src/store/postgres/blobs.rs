//! Stored files' bytes on PostgreSQL, so that any node serves them: each file
//! is cut into rows of `content_chunks`, [`CHUNK_BYTES`] each (the last one
//! shorter), written in one transaction with its content row. Reading asks for
//! one slice of one chunk per query: a download holds at most one chunk in
//! memory and holds no pooled connection while its client reads.

use std::path::Path;

use bytes::Bytes;
use deadpool_postgres::{GenericClient, Pool};
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

use super::content::{mark_expired, record};
use super::PgError;
use crate::store::blobs::{BlobError, ByteStream};
use crate::store::content::Content;

/// Bytes per chunk: large enough that a file is few rows and few round trips,
/// small enough that a reader holds little memory per download.
pub const CHUNK_BYTES: u64 = 256 * 1024;

/// Records `content` and makes the file at `path` its bytes, in one
/// transaction: the row is never visible without its bytes.
pub async fn keep(pool: &Pool, content: &Content, path: &Path) -> Result<(), BlobError> {
    let mut client = pool.get().await.map_err(PgError::from)?;
    let tx = client.transaction().await.map_err(PgError::from)?;
    record(&tx, content).await?;
    write_chunks(&tx, content, path).await?;
    tx.commit().await.map_err(PgError::from)?;
    Ok(())
}

/// Makes the file at `path` the bytes of `content`, whose row is already
/// there (`db copy`).
pub async fn import(pool: &Pool, content: &Content, path: &Path) -> Result<(), BlobError> {
    let mut client = pool.get().await.map_err(PgError::from)?;
    let tx = client.transaction().await.map_err(PgError::from)?;
    write_chunks(&tx, content, path).await?;
    tx.commit().await.map_err(PgError::from)?;
    Ok(())
}

/// Replaces the chunks of `content` with the file at `path`, read one chunk at
/// a time. A file whose length is not the row's fails: the `ETag` and
/// `Content-Length` served come from the row.
async fn write_chunks(c: &impl GenericClient, content: &Content, path: &Path) -> Result<(), BlobError> {
    delete_chunks(c, content).await?;
    let key = [&content.tenant_id, content.kind.as_str(), &content.id];
    let insert = c
        .prepare_cached(
            "INSERT INTO content_chunks (tenant_id, kind, id, n, data) VALUES ($1, $2, $3, $4, $5)",
        )
        .await
        .map_err(PgError::from)?;
    let io = |source| BlobError::Io { path: path.to_path_buf(), source };
    let mut file = tokio::fs::File::open(path).await.map_err(io)?;
    let mut total = 0u64;
    for n in 0i32.. {
        let mut chunk = Vec::with_capacity(CHUNK_BYTES as usize);
        (&mut file).take(CHUNK_BYTES).read_to_end(&mut chunk).await.map_err(io)?;
        if chunk.is_empty() {
            break;
        }
        total += chunk.len() as u64;
        c.execute(&insert, &[&key[0], &key[1], &key[2], &n, &chunk]).await.map_err(PgError::from)?;
    }
    if total != content.bytes {
        return Err(BlobError::Mismatch(format!(
            "{} has {total} bytes, its record says {}",
            path.display(),
            content.bytes
        )));
    }
    Ok(())
}

/// How many chunks `content` has and their total length.
pub async fn stat(c: &impl GenericClient, content: &Content) -> Result<(i64, u64), PgError> {
    let stmt = c
        .prepare_cached(
            "SELECT count(*), coalesce(sum(octet_length(data)), 0)::bigint FROM content_chunks
             WHERE tenant_id = $1 AND kind = $2 AND id = $3",
        )
        .await?;
    let row = c.query_one(&stmt, &[&content.tenant_id, &content.kind.as_str(), &content.id]).await?;
    let bytes: i64 = row.get(1);
    Ok((row.get(0), bytes.unsigned_abs()))
}

/// `count` bytes of `content` from `start`, as a stream of at most a chunk
/// per item, each fetched when the previous one has been taken.
pub fn read(pool: Pool, content: Content, start: u64, count: u64) -> ByteStream {
    let end = start.saturating_add(count);
    futures_util::stream::try_unfold(start, move |at| {
        let (pool, content) = (pool.clone(), content.clone());
        async move {
            if at >= end {
                return Ok(None);
            }
            let take = (CHUNK_BYTES - at % CHUNK_BYTES).min(end - at);
            let slice = read_slice(&pool, &content, at, take).await.map_err(std::io::Error::other)?;
            if slice.len() as u64 != take {
                return Err(std::io::Error::other(format!(
                    "stored content {} lacks bytes {at}..{}",
                    content.id,
                    at + take
                )));
            }
            Ok(Some((Bytes::from(slice), at + take)))
        }
    })
    .boxed()
}

/// `take` bytes from `at`, all within one chunk.
async fn read_slice(pool: &Pool, content: &Content, at: u64, take: u64) -> Result<Vec<u8>, PgError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT substring(data FROM $5 FOR $6) FROM content_chunks
             WHERE tenant_id = $1 AND kind = $2 AND id = $3 AND n = $4",
        )
        .await?;
    let n = i32::try_from(at / CHUNK_BYTES).unwrap_or(i32::MAX);
    // Both below CHUNK_BYTES + 1, so they fit; substring counts from 1.
    let (from, length) = ((at % CHUNK_BYTES) as i32 + 1, take as i32);
    let row = client
        .query_opt(&stmt, &[&content.tenant_id, &content.kind.as_str(), &content.id, &n, &from, &length])
        .await?;
    Ok(row.map(|r| r.get(0)).unwrap_or_default())
}

/// Deletes the bytes of `contents` and marks their rows expired, in one
/// transaction.
pub async fn expire(pool: &Pool, contents: &[Content]) -> Result<(), PgError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    for content in contents {
        delete_chunks(&tx, content).await?;
        mark_expired(&tx, content).await?;
    }
    Ok(tx.commit().await?)
}

async fn delete_chunks(c: &impl GenericClient, content: &Content) -> Result<(), PgError> {
    let stmt =
        c.prepare_cached("DELETE FROM content_chunks WHERE tenant_id = $1 AND kind = $2 AND id = $3").await?;
    c.execute(&stmt, &[&content.tenant_id, &content.kind.as_str(), &content.id]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use futures_util::TryStreamExt;

    use super::super::testdb::{insert_tenant, TestDb};
    use super::*;
    use crate::paths::ContentKind;

    fn sample(bytes: u64) -> Content {
        Content {
            tenant_id: "acme".into(),
            kind: ContentKind::Recording,
            id: "RE1".into(),
            event_id: None,
            file: "RE1.wav".into(),
            mimetype: "audio/x-wav".into(),
            bytes,
            sha256: String::new(),
            stored_at_ms: 1,
            expired_at_ms: None,
        }
    }

    async fn collect(stream: ByteStream) -> Vec<u8> {
        let chunks: Vec<Bytes> = stream.try_collect().await.expect("read");
        chunks.concat()
    }

    #[tokio::test]
    async fn a_kept_file_reads_back_in_any_range_across_chunks() {
        let Some(db) = TestDb::create().await else { return };
        insert_tenant(&db.pool.get().await.expect("client"), "acme", None).await;
        let tmp = tempfile::tempdir().expect("dir");
        let path = tmp.path().join("RE1.part");
        // Two full chunks and a part of a third.
        let data: Vec<u8> = (0..(2 * CHUNK_BYTES + 1000)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).expect("write");
        let content = sample(data.len() as u64);
        keep(&db.pool, &content, &path).await.expect("kept");
        let client = db.pool.get().await.expect("client");
        assert_eq!(stat(&client, &content).await.expect("stat"), (3, data.len() as u64));
        let all = collect(read(db.pool.clone(), content.clone(), 0, data.len() as u64)).await;
        assert!(all == data, "the whole file reads back");
        let (start, end) = (CHUNK_BYTES - 10, 2 * CHUNK_BYTES + 5);
        let middle = collect(read(db.pool.clone(), content.clone(), start, end - start)).await;
        assert!(middle == data[start as usize..end as usize], "a range across chunk borders");

        // Kept again (a retried job): the chunks are replaced, not added to.
        std::fs::write(&path, &data[..10]).expect("shorter");
        keep(&db.pool, &sample(10), &path).await.expect("kept again");
        assert_eq!(stat(&client, &content).await.expect("stat"), (1, 10));
    }

    #[tokio::test]
    async fn a_file_unlike_its_row_is_refused_and_expiry_and_tenant_removal_delete_the_bytes() {
        let Some(db) = TestDb::create().await else { return };
        let client = db.pool.get().await.expect("client");
        insert_tenant(&client, "acme", None).await;
        let tmp = tempfile::tempdir().expect("dir");
        let path = tmp.path().join("RE1.part");
        std::fs::write(&path, b"12345").expect("write");
        let refused = keep(&db.pool, &sample(4), &path).await;
        assert!(matches!(refused, Err(BlobError::Mismatch(_))), "the row says 4 bytes");
        let none: i64 = client.query_one("SELECT count(*) FROM content", &[]).await.expect("count").get(0);
        assert_eq!(none, 0, "nothing of a refused file is committed");

        keep(&db.pool, &sample(5), &path).await.expect("kept");
        expire(&db.pool, &[sample(5)]).await.expect("expired");
        assert_eq!(stat(&client, &sample(5)).await.expect("stat"), (0, 0));
        let row =
            super::super::content::get(&client, "acme", ContentKind::Recording, "RE1").await.expect("get");
        assert!(row.and_then(|r| r.expired_at_ms).is_some(), "the row stays, expired");

        keep(&db.pool, &sample(5), &path).await.expect("kept");
        client.execute("DELETE FROM tenants WHERE id = 'acme'", &[]).await.expect("remove tenant");
        let left: i64 =
            client.query_one("SELECT count(*) FROM content_chunks", &[]).await.expect("count").get(0);
        assert_eq!(left, 0, "a removed tenant's bytes go with it");
    }
}
