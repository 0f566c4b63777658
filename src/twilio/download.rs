//! One HTTP GET streamed into a private staged file, never held in memory:
//! the body goes chunk by chunk into a `.part` file (0600), hashed (SHA-256)
//! and counted on the way, refused past a size cap. The caller hands the
//! complete file to the store (`store::blobs`). Any failure removes it.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::jobs::JobError;
use crate::outbound_error::describe;

/// What was downloaded.
pub struct Saved {
    /// The complete staged file, now the caller's to keep or remove.
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    pub content_type: Option<String>,
}

/// Where the body goes and how much of it is allowed.
pub struct Target<'a> {
    /// The staging directory.
    pub dir: &'a Path,
    /// The stored name: the staged file is `.<name>.<random>.part`.
    pub name: &'a str,
    pub max_bytes: u64,
}

/// GETs `url` with HTTP basic auth into `target`. Errors name the URL's path
/// only (a query or credentials must not reach the log).
pub async fn get_to_file(
    client: &reqwest::Client,
    url: url::Url,
    (user, password): (&str, &str),
    target: Target<'_>,
) -> Result<Saved, JobError> {
    let shown = format!("GET {}", url.path());
    let response = client
        .get(url)
        .basic_auth(user, Some(password))
        .send()
        .await
        .map_err(|e| JobError::retry(format!("{shown}: {}", describe(&e))))?;
    let status = response.status();
    if !status.is_success() {
        return Err(JobError::retry(format!("{shown}: HTTP {status}")));
    }
    // Refused before a byte is written when the server says it is too big.
    if response.content_length().is_some_and(|len| len > target.max_bytes) {
        return Err(too_large(target.max_bytes));
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (bytes, sha256, path) = stream_to_file(response, &target, &shown).await?;
    Ok(Saved { path, bytes, sha256, content_type })
}

/// The error of a body over the cap: permanent, a retry would get the same.
fn too_large(max_bytes: u64) -> JobError {
    JobError::permanent(format!(
        "too_large: the recording is larger than twilio.recording_max_bytes ({max_bytes} bytes); not kept"
    ))
}

async fn stream_to_file(
    mut response: reqwest::Response,
    target: &Target<'_>,
    shown: &str,
) -> Result<(u64, String, PathBuf), JobError> {
    let mut part = PartFile::create(target.dir, target.name).await?;
    let mut hasher = Sha256::new();
    let mut total: u64 = 0;
    // The server's Content-Length may lie or be absent: count what arrives.
    while let Some(chunk) =
        response.chunk().await.map_err(|e| JobError::retry(format!("{shown}: body: {}", describe(&e))))?
    {
        total = total.saturating_add(chunk.len() as u64);
        if total > target.max_bytes {
            return Err(too_large(target.max_bytes));
        }
        hasher.update(&chunk);
        part.file.write_all(&chunk).await.map_err(|e| part.io_error("write", e))?;
    }
    let path = part.finish().await?;
    Ok((total, hex::encode(hasher.finalize()), path))
}

/// A temporary file that is removed when dropped unless persisted.
struct PartFile {
    file: tokio::fs::File,
    path: PathBuf,
    kept: bool,
}

impl PartFile {
    async fn create(dir: &Path, name: &str) -> Result<PartFile, JobError> {
        remove_leftovers(dir, name).await;
        // A random suffix: two fetches of the same name never share a file.
        let path = dir.join(format!(".{name}.{:016x}.part", rand::random::<u64>()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .await
            .map_err(|e| JobError::retry(format!("cannot create {}: {e}", path.display())))?;
        Ok(PartFile { file, path, kept: false })
    }

    fn io_error(&self, what: &str, e: std::io::Error) -> JobError {
        JobError::retry(format!("cannot {what} {}: {e}", self.path.display()))
    }

    /// Flushes the data and hands the complete file over: no longer
    /// removed on drop.
    async fn finish(mut self) -> Result<PathBuf, JobError> {
        self.file.flush().await.map_err(|e| self.io_error("write", e))?;
        self.kept = true;
        Ok(self.path.clone())
    }
}

/// Removes `.part` files of `name` that an earlier fetch left behind when its
/// process died mid-download (every other failure removes its own). Only one
/// job fetches a given recording at a time, so none of them is in use.
async fn remove_leftovers(dir: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else { return };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        if file_name.starts_with(&prefix) && file_name.ends_with(".part") {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.kept {
            // Best effort: a leftover is only ever a `.part` file.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A reqwest error without the URL (it may carry more than we want logged).
#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_fetch_removes_what_a_crashed_one_left_of_the_same_recording() {
        let dir = tempfile::tempdir().expect("dir");
        let stale = dir.path().join(".RE1.wav.00000000000000ab.part");
        let other = dir.path().join(".RE2.wav.00000000000000cd.part");
        std::fs::write(&stale, b"half").expect("stale");
        std::fs::write(&other, b"half").expect("other");
        let part = PartFile::create(dir.path(), "RE1.wav").await.expect("create");
        assert!(!stale.exists(), "the leftover of RE1 is removed");
        assert!(other.exists(), "another recording's file is left alone");
        assert!(part.path.exists());
        drop(part);
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1, "only RE2's file is left");
    }
}
