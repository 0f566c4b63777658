//! The operations on the bytes of stored content (WhatsApp media, call recordings), kept by the
//! store with their rows: with SQLite as files in the data directory
//! (`sqlite::files`), with PostgreSQL as chunks in the database
//! (`postgres::blobs`), so that any node of a cluster serves any file.
//!
//! Either way a download is first staged as a local file in the tenant's
//! directory (capped, hashed), then handed to [`Blobs::keep`], which makes it
//! the stored bytes and records the row. Readers get a [`Blob`]: its length
//! and a stream of any byte range, never the whole file in memory.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::ids::TenantId;
use crate::paths::{ContentKind, DataDir};
use crate::store::blobs::{BlobError, ByteStream};
use crate::store::content::Content;
use crate::store::postgres::blobs as chunks;
use crate::store::sqlite::{content as sqlite_content, files};
use crate::store::{Backend, Store, StoreResult};

/// Bytes read from a file per item of a [`ByteStream`].
const FILE_READ_BYTES: usize = 64 * 1024;

/// The stored bytes of one file, ready to be read.
pub struct Blob {
    len: u64,
    source: Source,
}

enum Source {
    File(tokio::fs::File),
    Chunks { pool: deadpool_postgres::Pool, content: Content },
}

impl Blob {
    /// A file's bytes, unchecked: for tests of what serves a blob.
    #[cfg(test)]
    pub fn from_file(file: tokio::fs::File, len: u64) -> Blob {
        Blob { len, source: Source::File(file) }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `count` bytes from `start` (within [`Self::len`]).
    pub async fn stream(self, start: u64, count: u64) -> std::io::Result<ByteStream> {
        match self.source {
            Source::File(mut file) => {
                if start > 0 {
                    file.seek(std::io::SeekFrom::Start(start)).await?;
                }
                let reader = tokio_util::io::ReaderStream::with_capacity(file.take(count), FILE_READ_BYTES);
                Ok(reader.boxed())
            }
            Source::Chunks { pool, content } => Ok(chunks::read(pool, content, start, count)),
        }
    }
}

/// The stored-file operations of a [`Store`] on the data directory `data`
/// (where downloads are staged, and where SQLite keeps the files).
pub struct Blobs<'a> {
    store: &'a Store,
    data: &'a DataDir,
}

impl Store {
    pub fn blobs<'a>(&'a self, data: &'a DataDir) -> Blobs<'a> {
        Blobs { store: self, data }
    }
}

impl Blobs<'_> {
    /// The directory to stage a download of `kind` for `tenant` in (0700,
    /// created when missing). A staged file must be named so that it never
    /// is a stored name: starting with a dot or ending in `.part`.
    pub async fn staging_dir(&self, tenant: &TenantId, kind: ContentKind) -> Result<PathBuf, BlobError> {
        let (data, tenant) = (self.data.clone(), tenant.clone());
        let dir = data.content_dir(&tenant, kind);
        tokio::task::spawn_blocking(move || data.ensure_content_dir(&tenant, kind))
            .await
            .map_err(|e| BlobError::Io { path: dir.clone(), source: std::io::Error::other(e) })?
            .map_err(|e| BlobError::Io { path: dir, source: std::io::Error::other(e) })
    }

    /// Makes the complete file at `staged` (from [`Self::staging_dir`]) the
    /// bytes of `content` and records its row; the staged file is consumed
    /// either way. Returns the stored file's path when the bytes are a file
    /// (SQLite), `None` when they are in the database.
    pub async fn keep(&self, staged: &Path, content: &Content) -> Result<Option<PathBuf>, BlobError> {
        match &*self.store.backend {
            Backend::Sqlite(_) => {
                let kept = files::keep(self.data, content, staged).await;
                let path = match kept {
                    Ok(path) => path,
                    Err(e) => {
                        let _ = tokio::fs::remove_file(staged).await;
                        return Err(e);
                    }
                };
                // Without its row no URL reaches the file and retention never
                // deletes it: it goes, and the job's retry stores it again.
                if let Err(e) = self.store.content().record(content).await {
                    let _ = tokio::fs::remove_file(&path).await;
                    return Err(e.into());
                }
                Ok(Some(path))
            }
            Backend::Postgres(pg) => {
                let kept = chunks::keep(pg.pool(), content, staged).await;
                let _ = tokio::fs::remove_file(staged).await;
                kept.map(|()| None)
            }
        }
    }

    /// The bytes of `content`, checked against its row.
    pub async fn open(&self, content: &Content) -> Result<Blob, BlobError> {
        match &*self.store.backend {
            Backend::Sqlite(_) => {
                let (file, len) = files::open(self.data, content).await?;
                Ok(Blob { len, source: Source::File(file) })
            }
            Backend::Postgres(pg) => {
                let client = pg.client().await?;
                let (chunk_count, len) = chunks::stat(&client, content).await?;
                if chunk_count == 0 && content.bytes > 0 {
                    return Err(BlobError::Missing);
                }
                if len != content.bytes {
                    return Err(BlobError::Mismatch(format!(
                        "stored content {} has {len} bytes, its record says {}",
                        content.id, content.bytes
                    )));
                }
                let source = Source::Chunks { pool: pg.pool().clone(), content: content.clone() };
                Ok(Blob { len, source })
            }
        }
    }

    /// Deletes the bytes of `due` and marks their rows expired (the API then
    /// answers 410); returns how many. A file that cannot be deleted keeps
    /// its row as it is (still served), to be tried again.
    pub async fn expire(&self, due: Vec<Content>) -> StoreResult<usize> {
        match &*self.store.backend {
            Backend::Sqlite(db) => {
                let mut deleted = Vec::with_capacity(due.len());
                for content in due {
                    if files::delete(self.data, &content).await {
                        deleted.push(content);
                    }
                }
                let n = deleted.len();
                db.run(move |c| {
                    let tx = c.transaction()?;
                    for content in &deleted {
                        sqlite_content::mark_expired(&tx, content)?;
                    }
                    tx.commit()
                })
                .await?;
                Ok(n)
            }
            Backend::Postgres(pg) => {
                chunks::expire(pg.pool(), &due).await?;
                Ok(due.len())
            }
        }
    }
}
