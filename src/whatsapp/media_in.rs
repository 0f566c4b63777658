//! Inbound media: a contact's image, video, audio (voice notes included),
//! document or sticker is downloaded, decrypted and stored before its
//! `whatsapp.message` event goes out, so the backend gets the content, not
//! a note that it exists.
//!
//! The inbound hook stores the event `held`, with what a download needs
//! under [`DOWNLOAD_KEY`] (the durable job the store creates for a held
//! event carries nothing else). The job ([`MediaFetch`]) downloads through
//! the tenant's live client (whatsapp-rust checks the MAC and hashes),
//! streaming to a staged `.part` file under the size cap, hands it to the
//! store (`store::blobs`: a file with SQLite, chunks with PostgreSQL) with its
//! content row, and releases the event with `media.status` `stored` and its
//! URL, or `too_large` / `failed` with the reason. A restart resumes the job;
//! keeping the same media again replaces it, so a repeat stores one file.
//!
//! A contact writes the message, so only its path and keys are taken from it:
//! the host comes from WhatsApp's server (the client's `media_conn`), never
//! a URL in the message (`static_url` is ignored), and the path must be a
//! plain absolute path.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use whatsapp_rust::download::{DownloadParams, DownloadWriter};

use super::media_out::MediaKind;
use super::{Shared, WaState};
use crate::clock::now_ms;
use crate::content::{valid_id, PublicUrls};
use crate::jobs::{BoxFuture, JobError, JobHandler};
use crate::paths::ContentKind;
use crate::store::content::Content;
use crate::store::jobs::Job;
use crate::tenants::TenantId;

/// The key of a held event's data that holds its download; removed when the
/// event is released.
pub const DOWNLOAD_KEY: &str = "media_download";

/// How often a download waiting for its tenant to connect looks again.
const OFFLINE_RECHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// Longest direct path accepted (WhatsApp's are about 150 characters).
const MAX_DIRECT_PATH: usize = 2048;

/// What a download needs, as stored in the held event (keys and hashes in base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadRef {
    /// Our id for the stored file (the content API's `{id}`).
    pub id: String,
    pub kind: MediaKind,
    pub direct_path: String,
    pub media_key: String,
    pub file_sha256: String,
    pub file_enc_sha256: String,
    pub file_length: u64,
}

/// The CDN fields of one media message, whatever its type.
pub struct MediaFields<'a> {
    pub kind: MediaKind,
    pub direct_path: Option<&'a str>,
    pub media_key: Option<&'a [u8]>,
    pub file_sha256: Option<&'a [u8]>,
    pub file_enc_sha256: Option<&'a [u8]>,
    pub file_length: Option<u64>,
}

/// What to do with an inbound media message.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Hold the event and download.
    Download(DownloadRef),
    /// Release the event at once with this status and reason.
    Refuse { status: &'static str, error: String },
}

impl MediaFields<'_> {
    /// Checks what the contact's message says before anything is fetched.
    pub fn plan(&self, max_bytes: u64) -> Plan {
        let failed = |error: &str| Plan::Refuse { status: "failed", error: error.to_string() };
        let Some(direct_path) = self.direct_path.filter(|p| is_plain_path(p)) else {
            return failed("the message has no usable media path");
        };
        let key = |bytes: Option<&[u8]>| bytes.filter(|b| b.len() == 32).map(|b| B64.encode(b));
        let (Some(media_key), Some(file_sha256), Some(file_enc_sha256)) =
            (key(self.media_key), key(self.file_sha256), key(self.file_enc_sha256))
        else {
            return failed("the message lacks the media key or hashes needed to download and check it");
        };
        let file_length = self.file_length.unwrap_or(0);
        if file_length > max_bytes {
            return Plan::Refuse {
                status: "too_large",
                error: format!("{file_length} bytes is over whatsapp.media_max_bytes ({max_bytes})"),
            };
        }
        Plan::Download(DownloadRef {
            id: ulid::Ulid::new().to_string(),
            kind: self.kind,
            direct_path: direct_path.to_string(),
            media_key,
            file_sha256,
            file_enc_sha256,
            file_length,
        })
    }
}

/// An absolute path with nothing that could change the host it is appended
/// to (`//host`, a backslash, spaces or control characters).
fn is_plain_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && path.len() <= MAX_DIRECT_PATH
        && path.chars().all(|c| c.is_ascii_graphic() && c != '\\' && c != '#')
}

/// A held download reference that cannot be used: retrying cannot help.
#[derive(Debug, thiserror::Error)]
#[error("the stored {name} is not base64: {source}")]
struct BadReference {
    name: &'static str,
    source: base64::DecodeError,
}

impl From<BadReference> for JobError {
    fn from(e: BadReference) -> Self {
        JobError::permanent(e.to_string())
    }
}

/// A stored file that could not be read back: worth a retry.
#[derive(Debug, thiserror::Error)]
enum HashError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Task(#[from] tokio::task::JoinError),
}

impl From<HashError> for JobError {
    fn from(e: HashError) -> Self {
        JobError::retry(e.to_string())
    }
}

impl DownloadRef {
    fn params(&self) -> Result<DownloadParams, BadReference> {
        let decode = |name: &'static str, value: &str| {
            B64.decode(value).map_err(|source| BadReference { name, source })
        };
        Ok(DownloadParams::encrypted(
            self.direct_path.clone(),
            &decode("media key", &self.media_key)?,
            &decode("file hash", &self.file_sha256)?,
            &decode("encrypted file hash", &self.file_enc_sha256)?,
            self.file_length,
            self.kind.media_type(),
        ))
    }
}

/// Downloads the media of held `whatsapp.message` events; register it for
/// [`super::inbound::MESSAGE_EVENT`] jobs.
#[derive(Clone)]
pub struct MediaFetch {
    shared: Arc<Shared>,
    urls: PublicUrls,
}

impl MediaFetch {
    pub(super) fn new(shared: Arc<Shared>, urls: PublicUrls) -> Self {
        Self { shared, urls }
    }
}

impl JobHandler for MediaFetch {
    fn run(&self, job: Job) -> BoxFuture<Result<Value, JobError>> {
        let this = self.clone();
        Box::pin(async move { this.fetch(job).await })
    }

    fn failure_patch(&self, job: &Job, error: &str) -> Value {
        json!({
            "media": {"status": "failed", "error": error, "attempts": job.attempts},
            DOWNLOAD_KEY: null,
        })
    }
}

/// The patch that releases an event whose media was not stored.
fn refused(status: &str, error: &str) -> Value {
    json!({"media": {"status": status, "error": error}, DOWNLOAD_KEY: null})
}

impl MediaFetch {
    async fn fetch(&self, job: Job) -> Result<Value, JobError> {
        let (tenant, event_id, reference) = self.load(&job).await?;
        let max_bytes = self.shared.settings.media_max_bytes;
        if reference.file_length > max_bytes {
            let error =
                format!("{} bytes is over whatsapp.media_max_bytes ({max_bytes})", reference.file_length);
            return Ok(refused("too_large", &error));
        }
        let params = reference.params()?;
        let client = self.connected_client(&tenant)?;
        let blobs = self.shared.store.blobs(&self.shared.data);
        let dir = blobs
            .staging_dir(&tenant, ContentKind::WhatsappMedia)
            .await
            .map_err(|e| JobError::retry(e.to_string()))?;
        let part = dir.join(format!("{}.part", reference.id));
        let over_cap = Arc::new(AtomicBool::new(false));
        let writer = CappedFile::create(&part, max_bytes, over_cap.clone())
            .map_err(|e| JobError::retry(format!("cannot create {}: {e}", part.display())))?;
        if let Err(e) = client.download_to_writer(&params, writer).await {
            let _ = tokio::fs::remove_file(&part).await;
            if over_cap.load(Ordering::SeqCst) {
                let error = format!("the file grew over whatsapp.media_max_bytes ({max_bytes})");
                return Ok(refused("too_large", &error));
            }
            return Err(classify(&e));
        }
        let (bytes, sha256) = match hash_file(&part).await {
            Ok(hashed) => hashed,
            Err(e) => {
                let _ = tokio::fs::remove_file(&part).await;
                return Err(e.into());
            }
        };
        let mimetype = self.mimetype(&event_id).await;
        let row = Content {
            tenant_id: tenant.as_str().to_string(),
            kind: ContentKind::WhatsappMedia,
            id: reference.id.clone(),
            event_id: Some(event_id),
            file: reference.id.clone(),
            mimetype,
            bytes,
            sha256: sha256.clone(),
            stored_at_ms: now_ms(),
            expired_at_ms: None,
        };
        blobs.keep(&part, &row).await.map_err(|e| JobError::retry(format!("cannot store the media: {e}")))?;
        metrics::counter!("agentlocator_whatsapp_media_stored_total").increment(1);
        Ok(json!({
            "media": {
                "status": "stored",
                "url": self.urls.of(ContentKind::WhatsappMedia, &tenant, &reference.id),
                "bytes": bytes,
                "sha256": sha256,
                "attempts": job.attempts,
            },
            DOWNLOAD_KEY: null,
        }))
    }

    /// The tenant's live client. While it is not connected the job waits
    /// (without using up its attempts) unless the device was unlinked: then
    /// no client will ever download this media.
    fn connected_client(&self, tenant: &TenantId) -> Result<Arc<whatsapp_rust::Client>, JobError> {
        let slot = self.shared.slot(tenant);
        match (slot.state(), slot.client()) {
            (Some(WaState::Connected), Some(client)) => Ok(client),
            (Some(state @ (WaState::LoggedOut | WaState::Unpaired)), _) => Err(JobError::permanent(format!(
                "tenant `{tenant}` is {state}: no linked device can download this media any more"
            ))),
            (state, _) => Err(JobError::wait(
                format!(
                    "tenant `{tenant}` is not connected to WhatsApp ({}); the download waits for it",
                    state.map_or("starting", WaState::as_str)
                ),
                OFFLINE_RECHECK,
            )),
        }
    }

    /// The job's tenant, event id and download reference.
    async fn load(&self, job: &Job) -> Result<(TenantId, String, DownloadRef), JobError> {
        let event_id = job.event_id.clone().ok_or_else(|| JobError::permanent("the job names no event"))?;
        let event = self
            .shared
            .store
            .events()
            .get(&event_id)
            .await
            .map_err(|e| JobError::retry(e.to_string()))?
            .ok_or_else(|| JobError::permanent(format!("event {event_id} is gone")))?;
        let tenant = TenantId::parse(&event.tenant_id).map_err(|e| JobError::permanent(e.to_string()))?;
        let reference = event
            .data
            .get(DOWNLOAD_KEY)
            .cloned()
            .and_then(|v| serde_json::from_value::<DownloadRef>(v).ok())
            .filter(|r| is_plain_path(&r.direct_path) && valid_id(ContentKind::WhatsappMedia, &r.id))
            .ok_or_else(|| JobError::permanent("the event holds no valid media download"))?;
        Ok((tenant, event_id, reference))
    }

    /// The mimetype the message declared (shown as `Content-Type` when served).
    async fn mimetype(&self, event_id: &str) -> String {
        let event = self.shared.store.events().get(event_id).await.ok().flatten();
        event
            .and_then(|e| e.data.pointer("/media/mimetype").and_then(Value::as_str).map(str::to_string))
            .filter(|m| is_mimetype(m))
            .unwrap_or_else(|| "application/octet-stream".to_string())
    }
}

/// `type/subtype` with an optional `; parameter`: shown as `Content-Type`,
/// so nothing that could split a header.
fn is_mimetype(m: &str) -> bool {
    m.len() <= 255 && m.contains('/') && m.chars().all(|c| c.is_ascii_graphic() || c == ' ')
}

/// A 404 or 410 from the media host means WhatsApp no longer has the file
/// (it keeps media for a limited time): retrying cannot help.
fn classify(error: &anyhow::Error) -> JobError {
    let gone = error
        .chain()
        .filter_map(|e| e.downcast_ref::<whatsapp_rust::http::HttpStatusError>())
        .any(|s| matches!(s.status, 404 | 410));
    let message = format!("the media download failed: {error:#}");
    if gone {
        JobError::permanent(message)
    } else {
        JobError::retry(message)
    }
}

/// Size and hex SHA-256 of a stored file, read in blocks.
async fn hash_file(path: &Path) -> Result<(u64, String), HashError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let cannot_read = |source| HashError::Read { path: path.clone(), source };
        let mut file = std::fs::File::open(&path).map_err(cannot_read)?;
        let mut hasher = Sha256::new();
        let bytes = std::io::copy(&mut file, &mut hasher).map_err(cannot_read)?;
        Ok((bytes, hex::encode(hasher.finalize())))
    })
    .await?
}

/// A file (mode 0600) that refuses to grow past a cap, so a host sending
/// more than it announced cannot fill the disk; `over_cap` says why a write
/// failed.
struct CappedFile {
    file: std::fs::File,
    position: u64,
    cap: u64,
    over_cap: Arc<AtomicBool>,
}

impl CappedFile {
    fn create(path: &Path, cap: u64, over_cap: Arc<AtomicBool>) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        // Truncated: a `.part` left by a crashed attempt starts over.
        let file =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
        Ok(Self { file, position: 0, cap, over_cap })
    }
}

impl Write for CappedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.position.saturating_add(buf.len() as u64) > self.cap {
            self.over_cap.store(true, Ordering::SeqCst);
            return Err(std::io::Error::other("the media is larger than whatsapp.media_max_bytes"));
        }
        let written = self.file.write(buf)?;
        self.position += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Seek for CappedFile {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.position = self.file.seek(to)?;
        Ok(self.position)
    }
}

impl DownloadWriter for CappedFile {
    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.file.set_len(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(path: Option<&'static str>, length: u64) -> MediaFields<'static> {
        static KEY: [u8; 32] = [7; 32];
        MediaFields {
            kind: MediaKind::Image,
            direct_path: path,
            media_key: Some(&KEY),
            file_sha256: Some(&KEY),
            file_enc_sha256: Some(&KEY),
            file_length: Some(length),
        }
    }

    #[test]
    fn only_plain_paths_on_whatsapps_host_are_downloaded() {
        let ok = fields(Some("/v/t62.7118-24/123_456.enc?ccb=11-4&oh=01&oe=02&_nc_sid=5e03e0"), 10);
        assert!(
            matches!(ok.plan(100), Plan::Download(r) if r.file_length == 10 && valid_id(ContentKind::WhatsappMedia, &r.id))
        );
        for bad in
            ["//evil.example/x", "https://evil.example/x", "@evil.example/x", "/a b", "/a\\b", "/x#y", ""]
        {
            let plan = fields(Some(bad), 10).plan(100);
            assert!(matches!(plan, Plan::Refuse { status: "failed", .. }), "{bad:?} must be refused");
        }
        assert!(matches!(fields(None, 10).plan(100), Plan::Refuse { status: "failed", .. }));
    }

    #[test]
    fn declared_size_over_the_cap_is_too_large_without_a_download() {
        let plan = fields(Some("/v/x.enc"), 101).plan(100);
        assert!(matches!(plan, Plan::Refuse { status: "too_large", .. }));
    }

    #[test]
    fn short_keys_are_refused() {
        let mut f = fields(Some("/v/x.enc"), 1);
        f.media_key = Some(&[1, 2, 3]);
        assert!(matches!(f.plan(100), Plan::Refuse { status: "failed", .. }));
    }

    #[test]
    fn the_capped_file_refuses_to_grow_past_its_cap_and_starts_over_when_truncated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.part");
        let over = Arc::new(AtomicBool::new(false));
        let mut file = CappedFile::create(&path, 4, over.clone()).expect("create");
        file.write_all(b"abcd").expect("up to the cap");
        assert!(file.write_all(b"e").is_err());
        assert!(over.load(Ordering::SeqCst));
        file.truncate(0).expect("truncate");
        file.rewind().expect("rewind");
        file.write_all(b"xy").expect("after a restart of the attempt");
        drop(file);
        assert_eq!(std::fs::read(&path).expect("read"), b"xy");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
