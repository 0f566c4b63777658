//! Outbound media: a file a tenant's backend sends (never fetched from a URL
//! it names) is staged to a private temp file in the tenant's directory while
//! it arrives (hashed and capped on the way, so memory stays flat whatever
//! its size), checked against what it claims to be, encrypted to a second
//! temp file, uploaded from there, and sent as the message of its kind. Both
//! temp files are removed when their guards drop: after the send, and on
//! every error path.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use whatsapp_rust::download::MediaType;
use whatsapp_rust::prelude::*;
use whatsapp_rust::upload::UploadResponse;

/// The first bytes kept for sniffing the content's type (the magic numbers
/// `infer` knows sit well within this).
const HEAD_BYTES: usize = 16 * 1024;

/// Temp files left behind by a crash are removed once this old.
const STALE_AFTER: Duration = Duration::from_secs(24 * 3600);

/// WhatsApp shows about this many characters of a caption.
const MAX_CAPTION_CHARS: usize = 1024;
const MAX_FILE_NAME_CHARS: usize = 255;
const MAX_MIMETYPE_LEN: usize = 128;

/// What a media message carries (sent, or received: a contact's voice note
/// arrives as `Audio` with its `voice_note` flag, the keys being the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    /// Audio shown as a voice note (`ptt`).
    Voice,
    Document,
    Sticker,
}

impl MediaKind {
    pub const NAMES: &'static str = "image, video, audio, voice, document or sticker";

    pub fn parse(s: &str) -> Option<MediaKind> {
        Some(match s {
            "image" => MediaKind::Image,
            "video" => MediaKind::Video,
            "audio" => MediaKind::Audio,
            "voice" => MediaKind::Voice,
            "document" => MediaKind::Document,
            "sticker" => MediaKind::Sticker,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Voice => "voice",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }

    /// The key-derivation and upload path the file is encrypted for.
    pub(super) fn media_type(self) -> MediaType {
        match self {
            MediaKind::Image => MediaType::Image,
            MediaKind::Video => MediaType::Video,
            MediaKind::Audio | MediaKind::Voice => MediaType::Audio,
            MediaKind::Document => MediaType::Document,
            MediaKind::Sticker => MediaType::Sticker,
        }
    }

    fn takes_caption(self) -> bool {
        matches!(self, MediaKind::Image | MediaKind::Video | MediaKind::Document)
    }

    /// Whether a mimetype (its base, lower case) may be sent as this kind.
    fn allows(self, base: &str) -> bool {
        match self {
            MediaKind::Image => matches!(base, "image/jpeg" | "image/png" | "image/webp"),
            MediaKind::Sticker => base == "image/webp",
            MediaKind::Audio | MediaKind::Voice => base.starts_with("audio/"),
            MediaKind::Video => base.starts_with("video/"),
            MediaKind::Document => true,
        }
    }

    fn expected(self) -> &'static str {
        match self {
            MediaKind::Image => "image/jpeg, image/png or image/webp",
            MediaKind::Sticker => "image/webp",
            MediaKind::Audio | MediaKind::Voice => "audio/*",
            MediaKind::Video => "video/*",
            MediaKind::Document => "any type",
        }
    }
}

/// Why a file cannot be sent (before anything reached WhatsApp).
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the file is larger than the {0}-byte limit (whatsapp.media_max_bytes)")]
    TooLarge(u64),
    #[error("{0}")]
    Invalid(String),
    /// The declared mimetype does not match the content or the kind.
    #[error("{0}")]
    Mismatch(String),
    #[error("cannot stage the file: {0}")]
    Io(String),
}

/// Removes its file when dropped.
#[derive(Debug)]
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %self.0.display(), error = %e, "cannot remove a media temp file");
            }
        }
    }
}

/// Where a tenant's outgoing files are staged: `DATA_DIR/tenants/<id>/outgoing`.
pub(super) fn staging_dir(tenant_dir: &Path) -> PathBuf {
    tenant_dir.join("outgoing")
}

/// A 0600 file that cannot exist yet (a fresh ULID name, `create_new`).
fn new_private_file(dir: &Path, suffix: &str) -> std::io::Result<(std::fs::File, TempPath)> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(format!("{}.{suffix}", ulid::Ulid::new()));
    let file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    Ok((file, TempPath(path)))
}

/// Removes temp files a crashed process left (each send removes its own).
fn sweep_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let now = std::time::SystemTime::now();
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|at| now.duration_since(at).ok())
            .is_some_and(|age| age > STALE_AFTER);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A file being received: written as it arrives, hashed, capped.
pub struct StagingFile {
    file: tokio::fs::File,
    path: TempPath,
    hasher: Sha256,
    len: u64,
    head: Vec<u8>,
    max_bytes: u64,
}

impl StagingFile {
    /// A new temp file in `dir` (created 0700 if missing) for at most `max_bytes`.
    pub(super) fn create(dir: &Path, max_bytes: u64) -> Result<StagingFile, MediaError> {
        crate::paths::create_private_dir(dir).map_err(|e| MediaError::Io(e.to_string()))?;
        sweep_stale(dir);
        let (file, path) = new_private_file(dir, "upload").map_err(|e| MediaError::Io(e.to_string()))?;
        Ok(StagingFile {
            file: tokio::fs::File::from_std(file),
            path,
            hasher: Sha256::new(),
            len: 0,
            head: Vec::new(),
            max_bytes,
        })
    }

    /// Appends `chunk`; refuses (and the file goes) once past the cap.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), MediaError> {
        self.len = self.len.saturating_add(chunk.len() as u64);
        if self.len > self.max_bytes {
            return Err(MediaError::TooLarge(self.max_bytes));
        }
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        self.file.write_all(chunk).await.map_err(|e| MediaError::Io(e.to_string()))
    }

    /// The whole file, on disk.
    pub async fn finish(mut self) -> Result<Staged, MediaError> {
        self.file.flush().await.map_err(|e| MediaError::Io(e.to_string()))?;
        self.file.sync_all().await.map_err(|e| MediaError::Io(e.to_string()))?;
        if self.len == 0 {
            return Err(MediaError::Invalid("the file is empty".into()));
        }
        Ok(Staged { path: self.path, len: self.len, sha256: self.hasher.finalize().into(), head: self.head })
    }
}

/// A received file, staged on disk (removed when this drops).
#[derive(Debug)]
pub struct Staged {
    path: TempPath,
    len: u64,
    sha256: [u8; 32],
    head: Vec<u8>,
}

impl Staged {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// What the first bytes say the content is, when they say anything.
    pub fn detected_mimetype(&self) -> Option<&'static str> {
        infer::get(&self.head).map(|t| t.mime_type())
    }
}

/// A media message to send.
#[derive(Debug)]
pub struct MediaSend {
    /// `+E164` or a JID.
    pub to: String,
    pub kind: MediaKind,
    /// As declared (already checked against the content): see [`check`].
    pub mimetype: String,
    pub caption: Option<String>,
    pub file_name: Option<String>,
    pub file: Staged,
    pub idempotency_key: Option<String>,
}

/// Checks the declared parts of a media send against each other and the
/// content: returns the mimetype to send (the declared one, else what the
/// content was recognised as) and the file name (documents always get one).
pub fn check(
    kind: MediaKind,
    declared: Option<&str>,
    caption: Option<&str>,
    file_name: Option<&str>,
    file: &Staged,
) -> Result<(String, Option<String>), MediaError> {
    if let Some(caption) = caption {
        check_caption(kind, caption)?;
    }
    if let Some(name) = file_name {
        check_file_name(kind, name)?;
    }
    let detected = file.detected_mimetype();
    let mimetype = mimetype_to_send(declared, detected)?;
    let base = base_type(&mimetype);
    if !base.contains('/') {
        return Err(MediaError::Invalid(format!("`mimetype` `{mimetype}` is not a type/subtype media type")));
    }
    if !kind.allows(&base) {
        return Err(MediaError::Mismatch(format!(
            "a {} must be {}; `{mimetype}` was declared",
            kind.as_str(),
            kind.expected()
        )));
    }
    check_content(kind, &mimetype, &base, detected)?;
    let file_name = match (kind, file_name) {
        (MediaKind::Document, None) => Some(default_file_name(file, &base)),
        (_, name) => name.map(str::to_string),
    };
    Ok((mimetype, file_name))
}

fn check_caption(kind: MediaKind, caption: &str) -> Result<(), MediaError> {
    if !kind.takes_caption() {
        return Err(MediaError::Invalid(format!("a {} takes no caption", kind.as_str())));
    }
    if caption.chars().count() > MAX_CAPTION_CHARS {
        return Err(MediaError::Invalid(format!("`caption` is longer than {MAX_CAPTION_CHARS} characters")));
    }
    Ok(())
}

fn check_file_name(kind: MediaKind, name: &str) -> Result<(), MediaError> {
    let bad = name.is_empty()
        || name.chars().count() > MAX_FILE_NAME_CHARS
        || name.chars().any(|c| c.is_control() || c == '/' || c == '\\')
        || name == "."
        || name == "..";
    if bad {
        return Err(MediaError::Invalid(format!(
            "`file_name` must be 1 to {MAX_FILE_NAME_CHARS} characters, without slashes or control characters"
        )));
    }
    if kind != MediaKind::Document {
        return Err(MediaError::Invalid(format!("a {} takes no file_name (documents do)", kind.as_str())));
    }
    Ok(())
}

/// The declared mimetype (checked to be a plausible header value), else
/// what the content was recognised as.
fn mimetype_to_send(declared: Option<&str>, detected: Option<&str>) -> Result<String, MediaError> {
    match declared.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => {
            if m.len() > MAX_MIMETYPE_LEN || !m.is_ascii() || m.chars().any(|c| c.is_ascii_control()) {
                return Err(MediaError::Invalid("`mimetype` is not a valid media type".into()));
            }
            Ok(m.to_string())
        }
        None => detected.map(str::to_string).ok_or_else(|| {
            MediaError::Invalid(
                "no `mimetype` given and the content's type is not recognisable; declare it".into(),
            )
        }),
    }
}

/// Whether the content is what `mimetype` (whose base type is `base`) says.
fn check_content(
    kind: MediaKind,
    mimetype: &str,
    base: &str,
    detected: Option<&str>,
) -> Result<(), MediaError> {
    let found = detected.unwrap_or("nothing recognisable");
    match (kind, detected) {
        // A document may be anything; only a declared type the sniffer
        // knows (and so would have recognised) must agree with the content.
        (MediaKind::Document, None) => Ok(()),
        (MediaKind::Document, Some(d)) => {
            if infer::is_mime_supported(base) && !same_format(base, d) {
                return Err(MediaError::Mismatch(format!(
                    "`{mimetype}` was declared but the content is {d}"
                )));
            }
            Ok(())
        }
        (_, Some(d)) if same_format(base, d) => Ok(()),
        _ => Err(MediaError::Mismatch(format!(
            "`{mimetype}` was declared but the content is {found}; a {} must be {}",
            kind.as_str(),
            kind.expected()
        ))),
    }
}

/// `audio/ogg; codecs=opus` → `audio/ogg`.
fn base_type(mimetype: &str) -> String {
    mimetype.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// Whether a declared type and a sniffed one name the same format. The
/// sniffer has one name per container where callers use several (an Opus
/// voice note is `audio/ogg`, an m4a file `audio/mp4`).
fn same_format(declared: &str, detected: &str) -> bool {
    fn family(t: &str) -> &str {
        match t {
            "image/jpg" | "image/pjpeg" => "image/jpeg",
            "audio/opus" | "audio/ogg" | "application/ogg" | "video/ogg" => "ogg",
            "audio/mp4" | "audio/m4a" | "audio/x-m4a" | "video/mp4" | "video/x-m4v" | "audio/aac-mp4" => {
                "mp4"
            }
            "audio/mpeg" | "audio/mp3" | "audio/x-mp3" | "audio/mpeg3" => "mp3",
            "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => "wav",
            "audio/webm" | "video/webm" => "webm",
            "audio/flac" | "audio/x-flac" => "flac",
            "audio/aac" | "audio/x-aac" => "aac",
            "audio/amr" | "audio/3gpp" => "amr",
            other => other,
        }
    }
    family(declared) == family(detected)
}

/// `document.<ext>`: the extension of what the content was recognised as,
/// else of a few common declared types.
fn default_file_name(file: &Staged, base: &str) -> String {
    let extension = infer::get(&file.head).map(|t| t.extension()).or(match base {
        "application/pdf" => Some("pdf"),
        "text/plain" => Some("txt"),
        "text/csv" => Some("csv"),
        "application/json" => Some("json"),
        _ => None,
    });
    match extension {
        Some(ext) => format!("document.{ext}"),
        None => "document".to_string(),
    }
}

/// The idempotency fingerprint of a media send: everything that makes it
/// this message.
pub(super) fn fingerprint(to: &Jid, media: &MediaSend) -> String {
    let parts = serde_json::json!([
        "media",
        to.to_string(),
        media.kind.as_str(),
        media.file.sha256_hex(),
        media.caption,
        media.file_name,
        media.mimetype,
    ]);
    hex::encode(Sha256::digest(parts.to_string()))
}

/// `text` with every URL query string (`?auth=...&token=...`) cut out.
pub(super) fn redact_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_query = false;
    for c in text.chars() {
        if in_query && (c.is_whitespace() || matches!(c, '"' | '\'' | ')' | ']' | '>' | ',')) {
            in_query = false;
        }
        if !in_query && c == '?' {
            in_query = true;
            out.push_str("?…");
            continue;
        }
        if !in_query {
            out.push(c);
        }
    }
    out
}

/// The encrypted file, re-readable from any offset (the upload retries and
/// resumes).
struct FileSource {
    path: PathBuf,
    len: u64,
}

impl whatsapp_rust::wacore::upload::UploadSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn reader_from(&self, offset: u64) -> std::io::Result<Box<dyn Read + Send>> {
        let mut file = std::fs::File::open(&self.path)?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(Box::new(std::io::BufReader::with_capacity(64 * 1024, file)))
    }
}

/// Encrypts the staged file (streaming, to a temp file beside it), uploads
/// it and builds the message that points at it. Any error means nothing was
/// sent.
pub(super) async fn upload(client: &Client, media: &MediaSend) -> anyhow::Result<wa::Message> {
    let plain = media.file.path.0.clone();
    let media_type = media.kind.media_type();
    let dir = plain.parent().map(Path::to_path_buf).unwrap_or_default();
    let (encrypted, info, seconds) = tokio::task::spawn_blocking(move || {
        let (out, path) = new_private_file(&dir, "enc")?;
        let reader = std::io::BufReader::with_capacity(64 * 1024, std::fs::File::open(&plain)?);
        let mut writer = std::io::BufWriter::with_capacity(64 * 1024, out);
        let info = whatsapp_rust::wacore::upload::encrypt_media_streaming(reader, &mut writer, media_type)?;
        let out = writer.into_inner().map_err(|e| e.into_error())?;
        out.sync_all()?;
        let seconds = if media_type == MediaType::Audio { ogg_opus_seconds(&plain) } else { None };
        anyhow::Ok((path, info, seconds))
    })
    .await??;
    let len = std::fs::metadata(&encrypted.0)?.size();
    let source = FileSource { path: encrypted.0.clone(), len };
    let uploaded = client.upload_stream(source, info, media_type).await?;
    drop(encrypted);
    Ok(message(media, uploaded, seconds))
}

/// The message of the media's kind, pointing at the upload.
fn message(media: &MediaSend, up: UploadResponse, seconds: Option<u32>) -> wa::Message {
    use wa::message as m;
    use whatsapp_rust::buffa::MessageField;
    let caption = media.caption.clone();
    // Every media message type carries the same CDN fields; each adds its own.
    macro_rules! uploaded {
        ($field:ident: $ty:ident { $($extra:ident $(: $value:expr)?),* $(,)? }) => {
            wa::Message {
                $field: MessageField::some(m::$ty {
                    url: Some(up.url),
                    direct_path: Some(up.direct_path),
                    media_key: Some(up.media_key.to_vec()),
                    file_sha256: Some(up.file_sha256.to_vec()),
                    file_enc_sha256: Some(up.file_enc_sha256.to_vec()),
                    file_length: Some(up.file_length),
                    mimetype: Some(media.mimetype.clone()),
                    media_key_timestamp: Some(up.media_key_timestamp),
                    $($extra $(: $value)?,)*
                    ..Default::default()
                }),
                ..Default::default()
            }
        };
    }
    match media.kind {
        MediaKind::Image => uploaded!(image_message: ImageMessage { caption }),
        MediaKind::Video => uploaded!(video_message: VideoMessage {
            caption,
            seconds,
            streaming_sidecar: up.streaming_sidecar,
        }),
        MediaKind::Audio | MediaKind::Voice => uploaded!(audio_message: AudioMessage {
            seconds,
            ptt: Some(media.kind == MediaKind::Voice),
            streaming_sidecar: up.streaming_sidecar,
        }),
        MediaKind::Document => uploaded!(document_message: DocumentMessage {
            caption,
            title: media.file_name.clone(),
            file_name: media.file_name.clone(),
        }),
        MediaKind::Sticker => uploaded!(sticker_message: StickerMessage {}),
    }
}

/// The length of an Ogg Opus file, from the granule position (48 kHz
/// samples) of its last page, less the pre-skip; `None` for anything else.
/// Players show it on the voice-note bubble before downloading.
fn ogg_opus_seconds(path: &Path) -> Option<u32> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut head = [0u8; 47];
    file.read_exact(&mut head).ok()?;
    if &head[..4] != b"OggS" || &head[28..36] != b"OpusHead" {
        return None;
    }
    let pre_skip = u64::from(u16::from_le_bytes([head[38], head[39]]));
    // The last page starts within its maximum size (27 + 255 + 255*255) of the end.
    let len = file.metadata().ok()?.len();
    let tail_len = len.min(27 + 255 + 255 * 255);
    file.seek(SeekFrom::Start(len - tail_len)).ok()?;
    let mut tail = Vec::with_capacity(tail_len as usize);
    file.take(tail_len).read_to_end(&mut tail).ok()?;
    let at = tail.windows(4).rposition(|w| w == b"OggS")?;
    let granule = tail.get(at + 6..at + 14)?;
    let granule = u64::from_le_bytes(granule.try_into().ok()?);
    if granule == u64::MAX {
        return None;
    }
    u32::try_from(granule.saturating_sub(pre_skip).div_ceil(48_000)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const PNG: &[u8] =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

    /// A minimal Ogg Opus stream: the `OpusHead` page and one last page whose
    /// granule position says 96,000 + 312 samples (2 s after the pre-skip).
    pub(crate) fn ogg_opus() -> Vec<u8> {
        fn page(granule: u64, body: &[u8]) -> Vec<u8> {
            let mut p = b"OggS\0\x02".to_vec();
            p.extend_from_slice(&granule.to_le_bytes());
            p.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, body.len() as u8]);
            p.extend_from_slice(body);
            p
        }
        let mut head = b"OpusHead\x01\x01".to_vec();
        head.extend_from_slice(&312u16.to_le_bytes());
        head.extend_from_slice(&48_000u32.to_le_bytes());
        head.extend_from_slice(&[0, 0, 0]);
        let mut file = page(0, &head);
        file.extend(page(96_312, &[0x55; 40]));
        file
    }

    async fn staged(dir: &Path, bytes: &[u8]) -> Staged {
        let mut file = StagingFile::create(dir, 1 << 20).expect("create");
        file.write(bytes).await.expect("write");
        file.finish().await.expect("finish")
    }

    #[tokio::test]
    async fn staging_is_private_capped_hashed_and_cleaned_up() {
        let root = tempfile::tempdir().expect("tmp");
        let dir = staging_dir(root.path());
        let mut file = StagingFile::create(&dir, 10).expect("create");
        let path = file.path.0.clone();
        assert_eq!(std::fs::metadata(&path).expect("meta").mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&dir).expect("dir").mode() & 0o777, 0o700);
        file.write(b"0123456789").await.expect("at the cap");
        assert!(matches!(file.write(b"x").await, Err(MediaError::TooLarge(10))));
        drop(file);
        assert!(!path.exists(), "a refused file is removed");

        let done = staged(&dir, b"hello").await;
        assert_eq!(done.len(), 5);
        assert_eq!(done.sha256_hex(), hex::encode(Sha256::digest(b"hello")));
        let path = done.path.0.clone();
        assert_eq!(std::fs::read(&path).expect("read"), b"hello");
        drop(done);
        assert!(!path.exists(), "a sent (or failed) file is removed");
        let empty = StagingFile::create(&dir, 10).expect("create").finish().await;
        assert!(matches!(empty, Err(MediaError::Invalid(_))));
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 0, "nothing left behind");
    }

    #[tokio::test]
    async fn mimetypes_are_checked_against_the_content_and_the_kind() {
        let root = tempfile::tempdir().expect("tmp");
        let png = staged(root.path(), PNG).await;
        let ogg = staged(root.path(), &ogg_opus()).await;
        let text = staged(root.path(), b"just some notes\n").await;

        let ok = check(MediaKind::Image, Some("image/png"), Some("a cat"), None, &png).expect("png image");
        assert_eq!(ok, ("image/png".to_string(), None));
        assert_eq!(check(MediaKind::Image, None, None, None, &png).expect("sniffed").0, "image/png");
        let voice = check(MediaKind::Voice, Some("audio/ogg; codecs=opus"), None, None, &ogg).expect("voice");
        assert_eq!(voice.0, "audio/ogg; codecs=opus");

        // A PNG declared as audio: the error names what was found.
        let err = check(MediaKind::Audio, Some("audio/ogg"), None, None, &png).expect_err("png as audio");
        assert!(matches!(&err, MediaError::Mismatch(m) if m.contains("image/png")), "{err}");
        let err = check(MediaKind::Image, Some("audio/ogg"), None, None, &ogg).expect_err("kind");
        assert!(matches!(&err, MediaError::Mismatch(m) if m.contains("image/jpeg")), "{err}");
        let err = check(MediaKind::Sticker, Some("image/png"), None, None, &png).expect_err("sticker");
        assert!(matches!(err, MediaError::Mismatch(_)));
        let err = check(MediaKind::Image, Some("image/png"), None, None, &text).expect_err("not an image");
        assert!(matches!(&err, MediaError::Mismatch(m) if m.contains("nothing recognisable")), "{err}");
        assert!(matches!(
            check(MediaKind::Voice, Some("audio/ogg"), Some("hi"), None, &ogg),
            Err(MediaError::Invalid(_))
        ));
        assert!(matches!(check(MediaKind::Document, None, None, None, &text), Err(MediaError::Invalid(_))));

        // Documents: anything, named; a known declared type must still agree.
        let doc =
            check(MediaKind::Document, Some("text/plain"), None, Some("notes.txt"), &text).expect("doc");
        assert_eq!(doc, ("text/plain".to_string(), Some("notes.txt".to_string())));
        let unnamed = check(MediaKind::Document, Some("image/png"), None, None, &png).expect("named");
        assert_eq!(unnamed.1.as_deref(), Some("document.png"));
        let err = check(MediaKind::Document, Some("application/pdf"), None, None, &png).expect_err("pdf");
        assert!(matches!(&err, MediaError::Mismatch(m) if m.contains("image/png")), "{err}");
        assert!(matches!(
            check(MediaKind::Document, Some("text/plain"), None, Some("../x"), &text),
            Err(MediaError::Invalid(_))
        ));
    }

    #[test]
    fn media_host_tokens_are_cut_from_errors() {
        let error = "POST https://mmg.example/mms/image/x?auth=SECRET&token=T failed: timed out (Some(\"https://h/?auth=S2\"))";
        let shown = redact_queries(error);
        assert!(!shown.contains("SECRET") && !shown.contains("S2") && !shown.contains("token=T"), "{shown}");
        assert!(shown.contains("failed: timed out"), "{shown}");
        assert_eq!(redact_queries("no query here"), "no query here");
    }

    #[tokio::test]
    async fn a_voice_note_knows_its_length() {
        let root = tempfile::tempdir().expect("tmp");
        let ogg = staged(root.path(), &ogg_opus()).await;
        assert_eq!(ogg_opus_seconds(&ogg.path.0), Some(2));
        let png = staged(root.path(), PNG).await;
        assert_eq!(ogg_opus_seconds(&png.path.0), None);
    }

    #[test]
    fn the_fingerprint_covers_every_part() {
        let to: Jid = "15551234567@s.whatsapp.net".parse().expect("jid");
        let root = tempfile::tempdir().expect("tmp");
        let file = |bytes: &[u8]| {
            let path = root.path().join(ulid::Ulid::new().to_string());
            std::fs::write(&path, bytes).expect("write");
            Staged {
                path: TempPath(path),
                len: bytes.len() as u64,
                sha256: Sha256::digest(bytes).into(),
                head: bytes.to_vec(),
            }
        };
        let base = || MediaSend {
            to: "+15551234567".into(),
            kind: MediaKind::Image,
            mimetype: "image/png".into(),
            caption: None,
            file_name: None,
            file: file(PNG),
            idempotency_key: None,
        };
        let one = fingerprint(&to, &base());
        assert_eq!(one, fingerprint(&to, &base()));
        let changed = [
            MediaSend { caption: Some("x".into()), ..base() },
            MediaSend { kind: MediaKind::Sticker, ..base() },
            MediaSend { mimetype: "image/webp".into(), ..base() },
            MediaSend { file_name: Some("a.png".into()), ..base() },
            MediaSend { file: file(b"other bytes"), ..base() },
        ];
        for other in changed {
            assert_ne!(one, fingerprint(&to, &other), "{other:?}");
        }
        let elsewhere: Jid = "15550000000@s.whatsapp.net".parse().expect("jid");
        assert_ne!(one, fingerprint(&elsewhere, &base()));
    }
}
