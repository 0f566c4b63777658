//! Media hosting as WhatsApp's CDN does it: the `media_conn` answer (auth token
//! and hosts), the upload and download HTTP routes, encryption of what contacts
//! send and decryption of what linked devices send.
//!
//! Blobs are the *encrypted* files (AES-256-CBC + a 10-byte HMAC), kept in memory
//! under their direct path. The crypto is `wacore`'s, so both ends agree by
//! construction.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Result, anyhow};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use wacore::download::{DownloadUtils, MediaType};
use wacore_binary::Node;
use wacore_binary::builder::NodeBuilder;
use waproto::whatsapp as wa;

use crate::Sim;
use crate::phone::now_secs;

/// Uploads larger than this are refused (413).
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// How long the client may cache a `media_conn` answer (seconds).
const MEDIA_CONN_TTL: u64 = 3600;

/// The host named in media URLs when the simulator has no HTTP listener.
const PLACEHOLDER_HOST: &str = "mmg.whatsapp.net";

/// What a contact sends, or what a linked device sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Video,
    /// An audio file (`AudioMessage`, `ptt` false).
    Audio,
    /// A voice note (`AudioMessage`, `ptt` true).
    Voice,
    Document,
    Sticker,
}

impl MediaKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "image" => Self::Image,
            "video" => Self::Video,
            "audio" => Self::Audio,
            "voice" => Self::Voice,
            "document" => Self::Document,
            "sticker" => Self::Sticker,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Voice => "voice",
            Self::Document => "document",
            Self::Sticker => "sticker",
        }
    }

    /// The media type whose HKDF info string expands the media key.
    pub fn media_type(self) -> MediaType {
        match self {
            Self::Image => MediaType::Image,
            Self::Video => MediaType::Video,
            Self::Audio | Self::Voice => MediaType::Audio,
            Self::Document => MediaType::Document,
            Self::Sticker => MediaType::Sticker,
        }
    }

    /// The `<enc mediatype>` WhatsApp puts on such a message.
    pub(crate) fn mediatype_attr(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Voice => "ptt",
            Self::Document => "document",
            Self::Sticker => "sticker",
        }
    }

    fn default_mimetype(self) -> &'static str {
        match self {
            Self::Image => "image/jpeg",
            Self::Video => "video/mp4",
            Self::Audio => "audio/mpeg",
            Self::Voice => "audio/ogg; codecs=opus",
            Self::Document => "application/octet-stream",
            Self::Sticker => "image/webp",
        }
    }
}

/// The directory part of a direct path, as WhatsApp's CDN names it per type.
fn path_code(mms_type: &str) -> &'static str {
    match mms_type {
        "image" => "t62.7118-24",
        "video" => "t62.7161-24",
        "audio" => "t62.7114-24",
        "document" => "t62.7119-24",
        "sticker" => "t62.15575-24",
        _ => "t62.36145-24",
    }
}

/// Media a contact sends (`Sim::send_media`).
#[derive(Debug, Clone)]
pub struct MediaSpec {
    pub kind: MediaKind,
    /// `None`: a usual type for `kind` (e.g. `image/jpeg`).
    pub mimetype: Option<String>,
    /// The plaintext file.
    pub data: Vec<u8>,
    pub caption: Option<String>,
    /// Documents: the file name the recipient sees.
    pub file_name: Option<String>,
    /// Audio, voice and video: the duration.
    pub seconds: Option<u32>,
}

/// A media message a linked device sent, as the simulator downloaded and
/// decrypted it. `error` is set (and `data` empty) when that failed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReceivedMedia {
    pub kind: Option<MediaKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mimetype: Option<String>,
    /// Plaintext size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Hex SHA-256 of the plaintext.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ptt: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u32>,
    /// The decrypted plaintext (base64 in JSON).
    #[serde(serialize_with = "ser_b64", skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn ser_b64<S: serde::Serializer>(data: &[u8], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(data))
}

/// Download faults (`POST /admin/media-fault`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct MediaFault {
    /// The next N download GETs answer `status` instead of the file.
    pub fail_next: u32,
    /// The status those failures answer (500 when 0).
    pub status: u16,
    /// Downloads stream at this rate (bytes per second); 0 = full speed.
    pub throttle_bytes_per_s: u64,
}

/// Counters of the media host (`GET /admin/media-stats`).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct MediaStats {
    /// Download GETs answered 200 whose body was sent to the end.
    pub downloads: u64,
    /// Uploads stored.
    pub uploads: u64,
    /// Downloads failed on purpose by `fail_next`.
    pub failed_injected: u64,
}

pub(crate) struct MediaState {
    /// `127.0.0.1:PORT` of the HTTP listener, once `server::serve` knows it.
    pub host: Option<String>,
    /// The `media_conn` auth token every upload and download must carry.
    pub auth: String,
    /// Encrypted blobs by direct path.
    blobs: HashMap<String, Bytes>,
    /// Direct path by the blob's SHA-256 (the same file uploaded twice is one blob).
    by_hash: HashMap<[u8; 32], String>,
    fault: MediaFault,
    stats: MediaStats,
    next: u64,
}

impl MediaState {
    pub(crate) fn new() -> Self {
        let token: [u8; 24] = rand::random();
        Self {
            host: None,
            auth: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token),
            blobs: HashMap::new(),
            by_hash: HashMap::new(),
            fault: MediaFault::default(),
            stats: MediaStats::default(),
            next: 0,
        }
    }

    fn host(&self) -> &str {
        self.host.as_deref().unwrap_or(PLACEHOLDER_HOST)
    }

    /// Stores `blob`, whose SHA-256 is `hash` (or finds it stored), and returns its direct path.
    fn store(&mut self, mms_type: &str, blob: Bytes, hash: [u8; 32]) -> String {
        if let Some(path) = self.by_hash.get(&hash) {
            return path.clone();
        }
        self.next += 1;
        let rnd: u64 = rand::random();
        let path =
            format!("/v/{}/{}{:06}_{:016x}_n.enc", path_code(mms_type), 1000 + self.next, self.next, rnd);
        self.blobs.insert(path.clone(), blob);
        self.by_hash.insert(hash, path.clone());
        path
    }
}

impl Sim {
    pub(crate) fn media(&self) -> std::sync::MutexGuard<'_, MediaState> {
        self.0.media.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Names the HTTP listener's address as the one media host (`server::serve`
    /// calls this with its `local_addr`). Media URLs are then
    /// `https://127.0.0.1:PORT/...`: a test client must fetch them over plain http.
    pub fn set_media_host(&self, addr: std::net::SocketAddr) {
        // A wildcard listener (0.0.0.0) is reachable on loopback; a URL naming
        // 0.0.0.0 would not be.
        let mut addr = addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        self.media().host = Some(addr.to_string());
    }

    /// The media host named in `media_conn` answers and media URLs (`None`
    /// until a listener is known).
    pub fn media_host(&self) -> Option<String> {
        self.media().host.clone()
    }

    /// The `media_conn` auth token (for tests that fetch media URLs themselves:
    /// append `?auth=TOKEN`).
    pub fn media_auth(&self) -> String {
        self.media().auth.clone()
    }

    /// Sets the download faults (replacing the previous setting).
    pub fn set_media_fault(&self, fault: MediaFault) {
        self.media().fault = fault;
    }

    pub fn media_stats(&self) -> MediaStats {
        self.media().stats
    }

    /// Encrypts `spec`'s file with a fresh media key, stores it on the media
    /// host, and builds the message that carries its url, direct path, key and
    /// hashes (`Sim::send_media` sends it).
    pub(crate) async fn host_media_message(&self, spec: &MediaSpec) -> Result<wa::Message> {
        let data = spec.data.clone();
        let media_type = spec.kind.media_type();
        let mut enc = tokio::task::spawn_blocking(move || wacore::upload::encrypt_media(&data, media_type))
            .await
            .map_err(|e| anyhow!("encryption task: {e}"))??;
        let (url, direct_path) = {
            let mut m = self.media();
            let blob = Bytes::from(std::mem::take(&mut enc.data_to_upload));
            let path = m.store(media_type.mms_type(), blob, enc.file_enc_sha256);
            (format!("https://{}{path}", m.host()), path)
        };
        Ok(media_message(spec, enc, url, direct_path))
    }
}

/// The message of `spec`'s kind carrying the hosted file `enc` at `url`.
fn media_message(
    spec: &MediaSpec,
    enc: wacore::upload::EncryptedMedia,
    url: String,
    direct_path: String,
) -> wa::Message {
    let mimetype = Some(spec.mimetype.clone().unwrap_or_else(|| spec.kind.default_mimetype().into()));
    let len = spec.data.len() as u64;
    let key_ts = Some(now_secs() as i64);
    // Every media message type carries the same CDN fields; each adds its own.
    macro_rules! hosted {
            ($ty:ident { $($field:ident: $value:expr),* $(,)? }) => {
                buffa::MessageField::some(wa::message::$ty {
                    url: Some(url),
                    direct_path: Some(direct_path),
                    mimetype,
                    media_key: Some(enc.media_key.to_vec()),
                    file_sha256: Some(enc.file_sha256.to_vec()),
                    file_enc_sha256: Some(enc.file_enc_sha256.to_vec()),
                    file_length: Some(len),
                    media_key_timestamp: key_ts,
                    $($field: $value,)*
                    ..Default::default()
                })
            };
        }
    let mut msg = wa::Message::default();
    match spec.kind {
        MediaKind::Image => {
            msg.image_message = hosted!(ImageMessage { caption: spec.caption.clone() });
        }
        MediaKind::Video => {
            msg.video_message = hosted!(VideoMessage {
                caption: spec.caption.clone(),
                seconds: spec.seconds,
                streaming_sidecar: enc.streaming_sidecar,
            });
        }
        MediaKind::Audio | MediaKind::Voice => {
            msg.audio_message = hosted!(AudioMessage {
                ptt: Some(spec.kind == MediaKind::Voice),
                seconds: spec.seconds,
                streaming_sidecar: enc.streaming_sidecar,
            });
        }
        MediaKind::Document => {
            msg.document_message = hosted!(DocumentMessage {
                title: spec.file_name.clone(),
                file_name: spec.file_name.clone(),
                caption: spec.caption.clone(),
            });
        }
        MediaKind::Sticker => {
            msg.sticker_message = hosted!(StickerMessage {});
        }
    }
    msg
}

/// The `<media_conn>` answer: the auth token and one host, the simulator itself.
pub(crate) fn media_conn_node(sim: &Sim) -> Node {
    let m = sim.media();
    let mut b = NodeBuilder::new("media_conn")
        .attr("auth", m.auth.clone())
        .attr("ttl", MEDIA_CONN_TTL.to_string())
        .attr("auth_ttl", MEDIA_CONN_TTL.to_string())
        .attr("max_buckets", "12");
    // Without a listener there is nothing to name; the client then reports
    // "No media hosts" on upload, which is the truth.
    if let Some(host) = &m.host {
        b = b.children([NodeBuilder::new("host")
            .attr("hostname", host.clone())
            .attr("type", "primary")
            .children([NodeBuilder::new("upload").build(), NodeBuilder::new("download").build()])
            .build()]);
    }
    b.build()
}

/// The media fields of a message, whatever its kind.
struct MediaFields {
    kind: MediaKind,
    mimetype: Option<String>,
    url: Option<String>,
    direct_path: Option<String>,
    media_key: Option<Vec<u8>>,
    file_sha256: Option<Vec<u8>>,
    file_enc_sha256: Option<Vec<u8>>,
    file_length: Option<u64>,
    caption: Option<String>,
    file_name: Option<String>,
    ptt: Option<bool>,
    seconds: Option<u32>,
}

fn media_fields(msg: &wa::Message) -> Option<MediaFields> {
    macro_rules! base {
        ($m:expr, $kind:expr) => {
            MediaFields {
                kind: $kind,
                mimetype: $m.mimetype.clone(),
                url: $m.url.clone(),
                direct_path: $m.direct_path.clone(),
                media_key: $m.media_key.clone(),
                file_sha256: $m.file_sha256.clone(),
                file_enc_sha256: $m.file_enc_sha256.clone(),
                file_length: $m.file_length,
                caption: None,
                file_name: None,
                ptt: None,
                seconds: None,
            }
        };
    }
    if let Some(m) = msg.image_message.as_option() {
        return Some(MediaFields { caption: m.caption.clone(), ..base!(m, MediaKind::Image) });
    }
    if let Some(m) = msg.video_message.as_option() {
        return Some(MediaFields {
            caption: m.caption.clone(),
            seconds: m.seconds,
            ..base!(m, MediaKind::Video)
        });
    }
    if let Some(m) = msg.audio_message.as_option() {
        let kind = if m.ptt == Some(true) { MediaKind::Voice } else { MediaKind::Audio };
        return Some(MediaFields { ptt: Some(m.ptt == Some(true)), seconds: m.seconds, ..base!(m, kind) });
    }
    let doc = msg.document_message.as_option().or_else(|| {
        msg.document_with_caption_message
            .as_option()
            .and_then(|f| f.message.as_option())
            .and_then(|m| m.document_message.as_option())
    });
    if let Some(m) = doc {
        return Some(MediaFields {
            caption: m.caption.clone(),
            file_name: m.file_name.clone(),
            ..base!(m, MediaKind::Document)
        });
    }
    if let Some(m) = msg.sticker_message.as_option() {
        return Some(base!(m, MediaKind::Sticker));
    }
    None
}

/// The path part of a media URL (`https://host/v/...?x` -> `/v/...`).
fn path_of_url(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = &rest[rest.find('/')?..];
    Some(path.split('?').next().unwrap_or(path).to_string())
}

/// Fetches and decrypts the media of `msg` from the simulator's own store, as the
/// contact's phone would download it. `None` when `msg` carries no media.
pub(crate) async fn read_media(sim: &Sim, msg: &wa::Message) -> Option<ReceivedMedia> {
    let f = media_fields(msg)?;
    let mut out = ReceivedMedia {
        kind: Some(f.kind),
        mimetype: f.mimetype.clone(),
        caption: f.caption.clone(),
        file_name: f.file_name.clone(),
        ptt: f.ptt,
        seconds: f.seconds,
        ..Default::default()
    };
    match fetch_and_decrypt(sim, &f).await {
        Ok(plain) => {
            out.bytes = Some(plain.len() as u64);
            out.sha256 = Some(hex::encode(Sha256::digest(&plain)));
            out.data = plain;
        }
        Err(e) => out.error = Some(format!("{e:#}")),
    }
    Some(out)
}

async fn fetch_and_decrypt(sim: &Sim, f: &MediaFields) -> Result<Vec<u8>> {
    let path = f
        .direct_path
        .as_deref()
        .map(|p| p.split('?').next().unwrap_or(p).to_string())
        .or_else(|| f.url.as_deref().and_then(path_of_url))
        .ok_or_else(|| anyhow!("no direct_path or url"))?;
    let blob = sim.media().blobs.get(&path).cloned().ok_or_else(|| anyhow!("{path} was never uploaded"))?;
    let key = f.media_key.clone().ok_or_else(|| anyhow!("no media_key"))?;
    let want_enc = f.file_enc_sha256.clone();
    let want_plain = f.file_sha256.clone();
    let want_len = f.file_length;
    let media_type = f.kind.media_type();
    tokio::task::spawn_blocking(move || -> Result<Vec<u8>> {
        if let Some(want) = want_enc
            && Sha256::digest(&blob).as_slice() != want.as_slice()
        {
            return Err(anyhow!("file_enc_sha256 does not match the stored file"));
        }
        let plain = DownloadUtils::verify_and_decrypt(&blob, &key, media_type)
            .map_err(|e| anyhow!("decrypt: {e}"))?;
        if let Some(want) = want_plain
            && Sha256::digest(&plain).as_slice() != want.as_slice()
        {
            return Err(anyhow!("file_sha256 does not match the decrypted file"));
        }
        if let Some(len) = want_len
            && len != plain.len() as u64
        {
            return Err(anyhow!("file_length {len} but the file has {} bytes", plain.len()));
        }
        Ok(plain)
    })
    .await
    .map_err(|e| anyhow!("decrypt task: {e}"))?
}

// --- HTTP ------------------------------------------------------------------------

/// The CDN routes: `POST /mms/{type}/{token}` (upload) and `GET /v/...` (download).
pub(crate) fn routes() -> Router<Sim> {
    use axum::routing::{get, post};
    Router::new()
        .route(
            "/mms/{mms_type}/{token}",
            post(upload).layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/v/{*rest}", get(download))
        .route("/admin/media-fault", post(set_fault))
        .route("/admin/media-stats", get(stats))
}

fn error(status: StatusCode, code: &str, message: impl ToString) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message.to_string()}}))).into_response()
}

#[derive(Deserialize)]
struct MediaQuery {
    auth: Option<String>,
    token: Option<String>,
    resume: Option<String>,
}

async fn upload(
    State(sim): State<Sim>,
    Path((mms_type, token)): Path<(String, String)>,
    Query(q): Query<MediaQuery>,
    body: Bytes,
) -> Response {
    // Hash before taking the lock: a 64 MiB body takes a while.
    let digest: [u8; 32] = Sha256::digest(&body).into();
    let mut m = sim.media();
    if q.auth.as_deref() != Some(m.auth.as_str()) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "bad or missing media auth");
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    if q.resume.is_some() {
        // A resumable upload's probe: only "complete" when this exact file exists.
        let known = b64
            .decode(&token)
            .ok()
            .and_then(|h| <[u8; 32]>::try_from(h).ok())
            .and_then(|h| m.by_hash.get(&h).cloned());
        return match known {
            Some(path) => {
                Json(json!({"resume": "complete", "url": format!("https://{}{path}", m.host()), "direct_path": path}))
                    .into_response()
            }
            None => error(StatusCode::NOT_FOUND, "not_found", "no partial upload"),
        };
    }
    // The token is the file's encrypted hash: the server refuses a body that does not match.
    if b64.encode(digest) != token || q.token.as_deref().is_some_and(|t| t != token) {
        return error(StatusCode::BAD_REQUEST, "bad_request", "token is not the body's SHA-256");
    }
    let path = m.store(&mms_type, body, digest);
    m.stats.uploads += 1;
    let url = format!("https://{}{path}", m.host());
    drop(m);
    log::debug!("wasim media: stored an upload at {path}");
    Json(json!({"url": url, "direct_path": path})).into_response()
}

async fn download(State(sim): State<Sim>, Path(rest): Path<String>, Query(q): Query<MediaQuery>) -> Response {
    let path = format!("/v/{rest}");
    let (blob, rate) = {
        let mut m = sim.media();
        if m.fault.fail_next > 0 {
            m.fault.fail_next -= 1;
            m.stats.failed_injected += 1;
            let status = StatusCode::from_u16(m.fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let status = if status.is_success() { StatusCode::INTERNAL_SERVER_ERROR } else { status };
            return error(status, "injected", "media-fault fail_next");
        }
        if q.auth.as_deref() != Some(m.auth.as_str()) {
            return error(StatusCode::UNAUTHORIZED, "unauthorized", "bad or missing media auth");
        }
        let Some(blob) = m.blobs.get(&path).cloned() else {
            return error(StatusCode::NOT_FOUND, "not_found", "no such media");
        };
        (blob, m.fault.throttle_bytes_per_s)
    };
    let _ = q.token;
    let len = blob.len();
    // The body is a stream either way, so "downloads" counts bodies handed out to
    // their last byte: a client that hangs up mid-file (throttled) is not counted.
    // (With a Content-Length, hyper stops polling after the last byte, so the
    // count happens as that chunk goes out rather than at the stream's end.)
    let step = if rate == 0 { len.max(1) } else { (rate / 20).max(1) as usize };
    let pause = if rate == 0 { Duration::ZERO } else { Duration::from_secs_f64(step as f64 / rate as f64) };
    let stream = futures_util::stream::unfold((blob, 0usize, sim), move |(blob, pos, sim)| async move {
        if pos >= blob.len() {
            return None;
        }
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let end = (pos + step).min(blob.len());
        if end == blob.len() {
            sim.media().stats.downloads += 1;
        }
        let chunk = blob.slice(pos..end);
        Some((Ok::<_, std::io::Error>(chunk), (blob, end, sim)))
    });
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

#[derive(Deserialize)]
struct FaultReq {
    fail_next: Option<u32>,
    status: Option<u16>,
    throttle_bytes_per_s: Option<u64>,
    #[serde(default)]
    reset: bool,
}

async fn set_fault(State(sim): State<Sim>, Json(req): Json<FaultReq>) -> Response {
    if let Some(s) = req.status
        && !(400..=599).contains(&s)
    {
        return error(StatusCode::BAD_REQUEST, "bad_request", "status must be 400..=599");
    }
    let mut m = sim.media();
    if req.reset {
        m.fault = MediaFault::default();
    }
    if let Some(n) = req.fail_next {
        m.fault.fail_next = n;
        m.fault.status = req.status.unwrap_or(500);
    } else if let Some(s) = req.status {
        m.fault.status = s;
    }
    if let Some(t) = req.throttle_bytes_per_s {
        m.fault.throttle_bytes_per_s = t;
    }
    Json(m.fault).into_response()
}

async fn stats(State(sim): State<Sim>) -> Response {
    Json(sim.media_stats()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hosted_file_decrypts_back_with_its_message_fields() {
        let sim = Sim::new();
        let spec = MediaSpec {
            kind: MediaKind::Voice,
            mimetype: None,
            data: b"opus frames".to_vec(),
            caption: None,
            file_name: None,
            seconds: Some(3),
        };
        let msg = sim.host_media_message(&spec).await.unwrap();
        let got = read_media(&sim, &msg).await.unwrap();
        assert_eq!(got.error, None);
        assert_eq!(got.data, b"opus frames");
        assert_eq!((got.kind, got.ptt, got.seconds), (Some(MediaKind::Voice), Some(true), Some(3)));

        // A wrong key is a MAC failure, reported, not a panic.
        let mut bad = msg.clone();
        if let Some(a) = bad.audio_message.as_option_mut() {
            a.media_key = Some(vec![0u8; 32]);
        }
        let got = read_media(&sim, &bad).await.unwrap();
        assert!(got.error.as_deref().is_some_and(|e| e.contains("decrypt")), "{got:?}");
    }

    #[test]
    fn a_wildcard_listener_is_named_by_its_loopback_address() {
        let sim = Sim::new();
        sim.set_media_host("0.0.0.0:8080".parse().unwrap());
        assert_eq!(sim.media_host().as_deref(), Some("127.0.0.1:8080"));
        let conn = media_conn_node(&sim);
        let host = conn.get_optional_child("host").unwrap();
        assert_eq!(crate::node::attr(host, "hostname").as_deref(), Some("127.0.0.1:8080"));
    }

    #[test]
    fn url_paths_drop_host_and_query() {
        assert_eq!(path_of_url("https://127.0.0.1:9/v/t62/x.enc?auth=1").as_deref(), Some("/v/t62/x.enc"));
    }
}
