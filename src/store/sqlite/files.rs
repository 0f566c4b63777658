//! Stored files' bytes with the SQLite store: plain files (0600) under
//! `DATA_DIR/tenants/<id>/{media,recordings}/`, named by their content row.
//! A staged file becomes stored by an fsync and a rename in its directory, so
//! a crash leaves either no file or the whole one.

use std::path::{Path, PathBuf};

use crate::ids::TenantId;
use crate::paths::DataDir;
use crate::store::blobs::BlobError;
use crate::store::content::Content;

/// Where the file of a stored-content row is, or `None` when the row names
/// a file that could not be ours: rows hold plain names we wrote in the
/// tenant's directory for the kind, so anything that could leave it (or a
/// hidden `.part` file) means the database was tampered with.
pub fn stored_path(data: &DataDir, content: &Content) -> Option<PathBuf> {
    let tenant = TenantId::parse(&content.tenant_id).ok()?;
    let name = content.file.as_str();
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return None;
    }
    Some(data.content_dir(&tenant, content.kind).join(name))
}

/// The stored path of `content`, or the error for a row naming another file.
fn checked_path(data: &DataDir, content: &Content) -> Result<PathBuf, BlobError> {
    stored_path(data, content)
        .ok_or_else(|| BlobError::Mismatch(format!("stored content {} names an unsafe file", content.id)))
}

/// Moves the complete file at `staged` (in the same directory) to where
/// `content` is stored: data fsynced, renamed, directory fsynced, so a kept
/// file survives a crash. Returns where it is.
pub async fn keep(data: &DataDir, content: &Content, staged: &Path) -> Result<PathBuf, BlobError> {
    let target = checked_path(data, content)?;
    let (staged, dest) = (staged.to_path_buf(), target.clone());
    tokio::task::spawn_blocking(move || {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| BlobError::Io { path, source }
        };
        std::fs::File::open(&staged).and_then(|f| f.sync_all()).map_err(io(&staged))?;
        std::fs::rename(&staged, &dest).map_err(io(&dest))?;
        if let Some(dir) = dest.parent() {
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
        }
        Ok::<(), BlobError>(())
    })
    .await
    .map_err(|e| BlobError::Io { path: target.clone(), source: std::io::Error::other(e) })??;
    Ok(target)
}

/// The stored file of `content`, open, and its length, which must be the
/// row's: the `ETag` promises these exact bytes, so a file replaced or
/// truncated behind our back is not served under it.
pub async fn open(data: &DataDir, content: &Content) -> Result<(tokio::fs::File, u64), BlobError> {
    let path = checked_path(data, content)?;
    let file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(BlobError::Missing),
        Err(source) => return Err(BlobError::Io { path, source }),
    };
    let len = file.metadata().await.map_err(|source| BlobError::Io { path: path.clone(), source })?.len();
    if len != content.bytes {
        return Err(BlobError::Mismatch(format!(
            "{} has {len} bytes, its record says {}",
            path.display(),
            content.bytes
        )));
    }
    Ok((file, len))
}

/// Deletes the stored file of `content`; true when it is gone (or never
/// was). A row naming a file that is not ours deletes nothing and counts as
/// gone, so its row is still expired.
pub async fn delete(data: &DataDir, content: &Content) -> bool {
    let Some(path) = stored_path(data, content) else { return true };
    match tokio::fs::remove_file(&path).await {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot delete a stored file past retention");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::ContentKind;

    fn row(tenant: &str, file: &str, bytes: u64) -> Content {
        Content {
            tenant_id: tenant.into(),
            kind: ContentKind::WhatsappMedia,
            id: "m1".into(),
            event_id: None,
            file: file.into(),
            mimetype: "image/jpeg".into(),
            bytes,
            sha256: String::new(),
            stored_at_ms: 0,
            expired_at_ms: None,
        }
    }

    #[test]
    fn only_plain_names_in_the_kinds_directory_are_stored_paths() {
        let data = DataDir::new("/data");
        assert_eq!(
            stored_path(&data, &row("acme", "m1.jpg", 1)),
            Some(PathBuf::from("/data/tenants/acme/media/m1.jpg"))
        );
        for (tenant, file) in
            [("acme", ""), ("acme", "../x"), ("acme", "a/b"), ("acme", ".m1.part"), ("../x", "m1")]
        {
            assert_eq!(stored_path(&data, &row(tenant, file, 1)), None, "{tenant} {file}");
        }
    }

    #[tokio::test]
    async fn a_kept_file_opens_until_it_changes_or_is_deleted() {
        let tmp = tempfile::tempdir().expect("dir");
        let data = DataDir::new(tmp.path());
        let tenant = TenantId::parse("acme").expect("id");
        let dir = data.ensure_content_dir(&tenant, ContentKind::WhatsappMedia).expect("dir");
        let staged = dir.join("m1.part");
        std::fs::write(&staged, b"12345").expect("stage");
        let content = row("acme", "m1", 5);
        let path = keep(&data, &content, &staged).await.expect("kept");
        assert_eq!(path, dir.join("m1"));
        assert!(!staged.exists(), "the staged file became the stored one");
        assert_eq!(open(&data, &content).await.expect("open").1, 5);
        std::fs::write(&path, b"12").expect("truncate");
        assert!(matches!(open(&data, &content).await, Err(BlobError::Mismatch(_))));
        assert!(delete(&data, &content).await);
        assert!(matches!(open(&data, &content).await, Err(BlobError::Missing)));
        assert!(delete(&data, &content).await, "a file already gone counts as deleted");
    }
}
