//! What the store's stored-file operations (`store.blobs(&data)`, in
//! `ops/blobs.rs`) hand out and fail with, shared by both backends: with
//! SQLite the bytes are files in the data directory (`sqlite::files`), with
//! PostgreSQL chunks in the database (`postgres::blobs`).

use std::path::PathBuf;

use bytes::Bytes;
use futures_util::stream::BoxStream;

use super::postgres::PgError;
use super::StoreError;

/// Bytes of a stored file, in order; an error ends the body.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The bytes are gone (pruned, or removed by hand).
    #[error("the stored file is gone")]
    Missing,
    /// The bytes are not what the row says (or the row names a file that is
    /// not ours).
    #[error("{0}")]
    Mismatch(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PgError> for BlobError {
    fn from(e: PgError) -> Self {
        BlobError::Store(StoreError::Postgres(e))
    }
}
